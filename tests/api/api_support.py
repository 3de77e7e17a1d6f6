"""A database with sales in known states, the actors who act on them, and a GraphQL runner."""

from __future__ import annotations

import html
import re
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from orderflow.api import ApiContext, RecordTypes, create_schema
from orderflow.service import (
    DatabaseCredit,
    PhaseCoordinator,
    Principal,
    WorkflowService,
    order_service,
)
from orderflow.store import OverrideRequest, Quotation, SaleOrder, TransitionLog
from orderflow.workers import run_due_invocations

CLERK = Principal("u-clerk", "Clara Clerk", frozenset({"sale.create"}))
ADMIN = Principal("u-admin", "Ada Admin", frozenset({"sale.override.admin"}))
CONTROLLER = Principal("u-credit", "Carl Controller", frozenset({"sale.override.credit"}))

SECRET = "a-test-secret-that-is-long-enough"

SCHEMA = create_schema()


def flow_service(Session: sessionmaker[Session]) -> WorkflowService:
    """The shipped order machines with their hand-offs, as ``orderflow serve`` runs them."""
    return order_service(Session, finish_hooks=[PhaseCoordinator.for_orders()])


def set_credit(service: WorkflowService, customer_id: str, limit: str) -> None:
    with service.session_factory() as session:
        DatabaseCredit(lambda: session).set_profile(customer_id, Decimal(limit))
        session.commit()


def sale_on_credit_hold(
    service: WorkflowService, reference: str = "S-1", customer_id: str = "C-1"
) -> SaleOrder:
    """An on-account sale of a customer without credit: it waits in ``processing.credit_hold``
    once the invocation worker has run its credit check (returned as the row now reads)."""
    set_credit(service, customer_id, "0")
    sale = SaleOrder(reference=reference, customer_id=customer_id, workflow_machine="sale")
    assert service.start(
        sale,
        input={
            "customer_id": customer_id,
            "currency": "EUR",
            "total": "500.00",
            "sale_id": reference,
            "lines": [{"sku": "CHAIR", "quantity": 2, "unit_price": "250.00"}],
        },
    )
    moved = service.send(
        sale, {"type": "SELECT_PAYMENT_METHOD", "method": "on_account"}, actor=CLERK
    )
    assert moved.to_state == {"processing": "credit_check"}, moved
    (checked,) = run_due_invocations(service, service.session_factory)
    assert checked.outcome == "delivered", checked
    with service.session_factory() as session:
        held = session.get_one(SaleOrder, sale.id)
    assert held.workflow_state["value"] == {"processing": "credit_hold"}
    return held


def sale_awaiting_admin_override(
    service: WorkflowService, reference: str = "S-1", reason: str = "a loyal customer"
) -> SaleOrder:
    """A sale whose clerk asked for an admin override (``admin-1``): it waits in ``admin_override_pending``."""
    sale = sale_on_credit_hold(service, reference)
    asked = service.request_override(sale, "admin", reason, actor=CLERK)
    assert asked.to_state == "admin_override_pending", asked
    return sale


def sent_quotation(service: WorkflowService, reference: str = "Q-1") -> Quotation:
    """A quotation sent to the customer: it waits for an answer, with its validity timer pending."""
    quotation = Quotation(reference=reference, customer_id="C-1", workflow_machine="quotation")
    assert service.start(
        quotation, input={"quotation_id": reference, "customer_id": "C-1", "currency": "EUR"}
    )
    line = {"type": "ADD_LINE", "sku": "CHAIR", "quantity": 2, "unit_price": "120.00"}
    assert service.send(quotation, line, actor=CLERK)
    assert service.send(quotation, "SUBMIT", actor=CLERK).to_state == "sent"
    return quotation


@dataclass(frozen=True)
class Tally:
    """What a refused request must leave as it was."""

    log_rows: int
    versions: dict[str, int]
    open_requests: int


def tally(service: WorkflowService) -> Tally:
    with service.session_factory() as session:
        logs = session.scalar(select(func.count()).select_from(TransitionLog)) or 0
        versions = {s.reference: s.workflow_version for s in session.scalars(select(SaleOrder))}
        open_requests = (
            session.scalar(
                select(func.count())
                .select_from(OverrideRequest)
                .where(OverrideRequest.status == "open")
            )
            or 0
        )
    return Tally(int(logs), versions, int(open_requests))


def graphql(
    service: WorkflowService,
    query: str,
    variables: dict[str, Any] | None = None,
    *,
    actor: Principal | None = None,
    authentication_error: str | None = None,
) -> Any:
    """Run ``query`` on the schema with strawberry's ``execute_sync``, as ``actor``."""
    context = ApiContext(service, RecordTypes(), actor, authentication_error)
    return SCHEMA.execute_sync(query, variable_values=variables, context_value=context)


def error_codes(result: Any) -> list[tuple[str | None, str]]:
    return [((e.extensions or {}).get("code"), e.message) for e in result.errors or ()]


def form_fields(page: str, event: str) -> dict[str, str]:
    """The hidden fields of the form that sends ``event`` on a record page."""
    match = re.search(
        r'<form method="post" action="[^"]+">((?:(?!</form>).)*?name="event" value="'
        + re.escape(event) + r'"(?:(?!</form>).)*)</form>', page, re.S,
    )  # fmt: skip
    assert match, f"no form for {event}"
    fields = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)">', match.group(1)))
    return {name: html.unescape(value) for name, value in fields.items()}


@contextmanager
def serving(app: Any) -> Iterator[str]:
    """``app`` on a free port of 127.0.0.1, served by uvicorn in a thread; yields its base URL."""
    import uvicorn

    listening = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listening.bind(("127.0.0.1", 0))
    port = listening.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listening]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(15)
        listening.close()
