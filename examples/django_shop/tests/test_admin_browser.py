"""The admin's "send event" action in a real headless Chromium (Debian's, driven by Playwright).

pytest-django's ``live_server`` serves the shop on the test database; a
superuser signs in, selects three orders, previews PAY as a dry run (two
would move, the draft one is refused with its reason, nothing written),
then sends it and reads the per-record refusal among the messages.  The
browser is the system's (``CHROMIUM``, default ``/usr/bin/chromium``);
Playwright never downloads one.  Without either, the tests skip and say why.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Iterator
from typing import Any

import pytest
from shop.models import Order

from orderflow.django.models import TransitionLog

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")


def _missing() -> str | None:
    if importlib.util.find_spec("playwright") is None:
        return "Playwright for Python is not installed (pip install playwright; no browser download needed)"
    if not os.access(CHROMIUM, os.X_OK):
        return f"no Chromium at {CHROMIUM} (apt-get install -y chromium, as .ci/run does)"
    return None


pytestmark = [
    pytest.mark.skipif(_missing() is not None, reason=str(_missing())),
    pytest.mark.django_db(transaction=True),
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an event loop in this thread; the test's own database calls
    # are still plain synchronous code, which Django would otherwise refuse to run beside it
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
            try:
                yield chromium
            finally:
                chromium.close()
    finally:
        del os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"]


@pytest.fixture
def page(browser: Any, live_server: Any, boss: Any) -> Iterator[Any]:
    """A signed-in superuser's page on the shop's order list."""
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(20_000)
    page.goto(f"{live_server.url}/admin/login/?next=/admin/shop/order/")
    page.fill("#id_username", "boss")
    page.fill("#id_password", "pw")
    page.click("input[type=submit]")
    page.wait_for_selector("#changelist")
    try:
        yield page
    finally:
        context.close()


def test_the_bulk_action_previews_then_sends_and_lists_the_refusal(
    page: Any, new_order: Any
) -> None:
    placed = [new_order(f"P-{n}", placed=True) for n in range(2)]
    draft = new_order("P-9")
    page.reload()
    page.check("#action-toggle")
    page.select_option("select[name=action]", "send_event")
    page.click("button[name=index]")

    page.wait_for_selector("#orderflow-send-event")
    page.select_option("#id_event", "PAY")
    page.fill("#id_payload", '{"amount": "10.00"}')
    page.click("button[value=preview]")

    summary = page.text_content("#orderflow-preview-summary") or ""
    assert "2 of 3 would move" in summary and "Nothing has been written yet" in summary
    assert page.locator("#orderflow-preview tr.moves").count() == 2
    refused = page.text_content(f"#orderflow-preview tr[data-record='{draft.pk}']") or ""
    assert "refused" in refused and "PAY" in refused
    assert not TransitionLog.objects.filter(event="PAY").exists()  # a preview writes nothing

    page.click("button[value=send]")
    page.wait_for_selector("#changelist")
    notes = page.text_content("ul.messagelist") or ""
    assert "PAY: 2 of 3 records moved." in notes
    assert f"Order {draft.pk} refused" in notes
    assert sorted(Order.objects.filter(pk__in=[o.pk for o in placed]).values_list("status", flat=True)) == [
        "paid", "paid",
    ]  # fmt: skip
    assert Order.objects.get(pk=draft.pk).status == "new"
    assert TransitionLog.objects.filter(event="PAY").count() == 2


def test_the_change_page_shows_the_state_the_diagram_and_the_log(
    page: Any, live_server: Any, new_order: Any
) -> None:
    order = new_order("Q-1", placed=True)
    page.goto(f"{live_server.url}/admin/shop/order/{order.pk}/change/")
    assert page.text_content(".orderflow-state") == '"placed"'
    assert page.locator(".orderflow-event[data-event=PAY]").count() == 1
    assert page.locator(".orderflow-diagram").count() == 1
    assert "PLACE" in (page.text_content(".orderflow-log") or "")
