"""The order machines on the database-backed ports: effects write in the transition's transaction.

A paid order captures into the ledger, reserves stock and queues its
e-mail and webhook, all in the one transaction of its MARK_PAID; an effect
that fails takes every one of those writes with it.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from orderflow.errors import EffectError
from orderflow.service import Principal, WorkflowService, database_ports, order_service
from orderflow.store import OutboxEvent, PaymentLedgerEntry, StockReservation, TransitionLog
from workflow_db import NO_POSTGRES, POSTGRES_URL, Database, Ticket, open_database

CLERK = Principal("u-7", "Clara Clerk", frozenset({"order.change"}))
ORDER = {
    "order_id": "O-1", "customer_email": "ana@example.com", "currency": "EUR",
    "total": "99.90", "lines": [{"sku": "CHAIR", "quantity": 2}],
}  # fmt: skip


@pytest.fixture(params=["sqlite-memory", "postgresql"])
def orders_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    if request.param == "postgresql" and POSTGRES_URL is None:
        pytest.skip(NO_POSTGRES)
    with open_database(request.param, tmp_path) as database:
        with database.Session() as session:
            database_ports(lambda: session).inventory.add_stock("CHAIR", 5)
            session.commit()
        yield database


@pytest.fixture
def service(orders_db: Database) -> WorkflowService:
    return order_service(orders_db.Session, machines=("order",))


def new_order(service: WorkflowService) -> Ticket:
    order = Ticket(title="order", workflow_machine="order")
    assert service.start(order, input=ORDER)
    return order


def paid(reference: str = "PSP-1", amount: str = "99.90") -> dict[str, Any]:
    # who pays is the service's word: the actor= argument, never the payload
    return {"type": "MARK_PAID", "payment_reference": reference, "amount": amount}


def count(session: Session, model: Any) -> int:
    return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_a_paid_order_captures_reserves_and_queues_its_messages_in_one_transaction(
    service: WorkflowService, orders_db: Database
) -> None:
    order = new_order(service)
    result = service.send(order, paid(), actor=CLERK)
    assert result.success and result.steps == 2, result.reason  # MARK_PAID, INVENTORY_RESERVED
    assert service.snapshot(order).context.inventory_reserved
    with orders_db.Session() as session:
        ledger = session.scalars(select(PaymentLedgerEntry)).one()
        assert (ledger.kind, ledger.entry_id, ledger.amount) == (
            "capture",
            "PSP-1",
            Decimal("99.90"),
        )
        (held,) = session.scalars(select(StockReservation)).all()
        assert (held.owner, held.sku, held.quantity, held.status) == ("O-1", "CHAIR", 2, "held")
        types = sorted(session.scalars(select(OutboxEvent.event_type)))
        assert types == ["orderflow.notify", "orderflow.webhook"]
        assert database_ports(lambda: session).inventory.available("CHAIR") == 3


def test_an_effect_that_fails_takes_every_port_write_with_it(
    service: WorkflowService, orders_db: Database
) -> None:
    with orders_db.Session() as session:  # the PSP reference is already booked at another amount
        database_ports(lambda: session).payments.capture("PSP-1", Decimal("10.00"), "EUR")
        session.commit()
    order = new_order(service)
    with pytest.raises(EffectError, match="capture_payment"):
        service.send(order, paid(), actor=CLERK)
    with orders_db.Session() as session:
        assert count(session, PaymentLedgerEntry) == 1
        assert count(session, StockReservation) == count(session, OutboxEvent) == 0
        assert count(session, TransitionLog) == 1  # the start only
    assert service.snapshot(order).value == "pending"


def test_a_replayed_request_captures_once(service: WorkflowService, orders_db: Database) -> None:
    order = new_order(service)
    first = service.send(order, paid(), actor=CLERK, idempotency_key="pay-1")
    again = service.send(order, paid(), actor=CLERK, idempotency_key="pay-1")
    assert first.success and again.idempotent
    with orders_db.Session() as session:
        assert count(session, PaymentLedgerEntry) == 1
