"""The inspector in a real headless Chromium (Debian's, driven by Playwright for Python).

uvicorn serves the app from a background thread on a free port, over a
SQLite file database in ``tmp_path``.  An admin opens a sale that waits for
an override, approves it and sees the state change; a clerk sees why they
may not, forces the disabled button anyway and is refused with nothing
written.  The browser is the system's (``CHROMIUM``, default
``/usr/bin/chromium``); Playwright never downloads one.  Without either,
the tests skip and say why.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Iterator
from typing import Any

import pytest
from api_support import ADMIN, CLERK, SECRET, sale_awaiting_admin_override, serving, tally

from orderflow.api import create_app, issue_token
from orderflow.service import Principal, WorkflowService
from orderflow.store import SaleOrder

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")


def _missing() -> str | None:
    if importlib.util.find_spec("playwright") is None:
        return "Playwright for Python is not installed (pip install playwright; no browser download needed)"
    if not os.access(CHROMIUM, os.X_OK):
        return f"no Chromium at {CHROMIUM} (apt-get install -y chromium, as .ci/run does)"
    return None


pytestmark = pytest.mark.skipif(_missing() is not None, reason=str(_missing()))


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def server(service: WorkflowService) -> Iterator[str]:
    """The app on a free port of 127.0.0.1, served by uvicorn in a thread."""
    with serving(create_app(service=service, secret=SECRET)) as url:
        yield url


@pytest.fixture
def sale(service: WorkflowService) -> SaleOrder:
    return sale_awaiting_admin_override(service)


def open_sale_as(browser: Any, server: str, actor: Principal) -> Any:
    """Sign in with ``actor``'s token on the sign-in form and open the sale from the list."""
    page = browser.new_context().new_page()
    page.goto(server + "/")
    page.fill("#token", issue_token(SECRET, actor))
    with page.expect_navigation():
        page.click("button:has-text('Sign in')")
    page.click('section[data-machine="sale"] >> text=S-1')
    page.wait_for_selector("#state")
    return page


def active_states(page: Any) -> list[str]:
    """The states the diagram draws as active: SVG nodes from Graphviz, or the fallback tree."""
    svg = page.locator("svg g.node.state.active > title")
    if svg.count():
        return [svg.nth(i).text_content() for i in range(svg.count())]
    tree = page.locator(".state-tree li.active:not(:has(li.active))")
    return [tree.nth(i).get_attribute("data-state") for i in range(tree.count())]


def test_an_admin_approves_the_override_and_sees_the_sale_clear(
    browser: Any, server: str, sale: SaleOrder, service: WorkflowService
) -> None:
    page = open_sale_as(browser, server, ADMIN)
    assert page.text_content("#state").strip() == "admin_override_pending"
    assert active_states(page) == ["sale.admin_override_pending"]
    approve = page.locator('button[value="ADMIN_OVERRIDE_APPROVED"]')
    assert approve.is_enabled()
    approve.click()
    page.wait_for_selector(".flash.ok")
    assert "admin_override_pending → cleared" in page.text_content(".flash.ok")
    assert page.text_content("#state").strip() == "cleared"
    assert active_states(page) == ["sale.cleared"]
    approved = page.locator("#log tr", has_text="ADMIN_OVERRIDE_APPROVED")
    assert "Ada Admin" in approved.text_content()
    assert page.locator("#log tr", has_text="on_sale_cleared: sale -> fulfilment").count() == 1
    assert service.snapshot(sale).value == "cleared"
    assert service.override_requests(sale)[0].decided_by == "u-admin"


def test_a_clerk_is_shown_why_not_and_a_forced_approval_is_refused(
    browser: Any, server: str, sale: SaleOrder, service: WorkflowService
) -> None:
    page = open_sale_as(browser, server, CLERK)
    approve = page.locator('button[value="ADMIN_OVERRIDE_APPROVED"]')
    assert approve.is_disabled()
    row = page.locator('tr[data-event="ADMIN_OVERRIDE_APPROVED"]')
    assert "Clara Clerk may not decide admin overrides" in row.text_content()
    before = tally(service)
    approve.evaluate("button => { button.disabled = false }")  # as a tampered page would
    with page.expect_navigation() as navigation:
        approve.click()
    assert navigation.value.status == 403
    assert "Clara Clerk may not decide admin overrides" in page.text_content(".flash.error")
    assert page.text_content("#state").strip() == "admin_override_pending"
    assert tally(service) == before
    assert service.snapshot(sale).value == "admin_override_pending"
