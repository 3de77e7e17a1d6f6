"""The database-backed ports keep the in-memory ports' promises (one contract, run on both).

Each contract test runs on the in-memory ports and on the database-backed
ones (SQLite, and PostgreSQL when configured), the latter inside one
session the way the service runs them.  The tests after the contract are
what only the database gives: a capture recorded once, a rollback that
takes the effects with it.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from orderflow.orders import in_memory_ports
from orderflow.orders.ports import InventoryError, PaymentError, Ports
from orderflow.orders.values import StockLine
from orderflow.service import DatabasePorts, database_ports
from orderflow.store import OutboxEvent, PaymentLedgerEntry, StockLevel
from workflow_db import NO_POSTGRES, POSTGRES_URL, open_database

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def lines(**quantities: int) -> list[StockLine]:
    return [StockLine(sku=sku, quantity=quantity) for sku, quantity in quantities.items()]


@pytest.fixture
def session_of(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Session | None]:
    """None for the in-memory ports; else a session on a fresh database of that kind."""
    kind = request.param
    if kind == "in-memory":
        yield None
        return
    if kind == "postgresql" and POSTGRES_URL is None:
        pytest.skip(NO_POSTGRES)
    with open_database(kind, tmp_path) as database, database.Session() as session:
        yield session


@pytest.fixture
def ports(session_of: Session | None) -> Ports:
    if session_of is None:
        return in_memory_ports(now=lambda: NOW)
    session = session_of
    return database_ports(lambda: session, clock=lambda: NOW)


def stocked(ports: Any, **quantities: int) -> Any:
    for sku, quantity in quantities.items():
        ports.inventory.add_stock(sku, quantity)
    return ports.inventory


IMPLEMENTATIONS = pytest.mark.parametrize(
    "session_of", ["in-memory", "sqlite-memory", "postgresql"], indirect=True
)
DATABASES = pytest.mark.parametrize("session_of", ["sqlite-memory", "postgresql"], indirect=True)


@IMPLEMENTATIONS
def test_a_reservation_is_all_or_nothing(ports: Ports) -> None:
    inventory = stocked(ports, CHAIR=10, DESK=2)
    short = inventory.reserve("S-1", lines(CHAIR=3, DESK=5), "main")
    assert short.reservations == ()
    assert [(s.sku, s.requested, s.available) for s in short.shortages] == [("DESK", 5, 2)]
    assert (inventory.available("CHAIR"), inventory.available("DESK")) == (10, 2)
    held = inventory.reserve("S-1", lines(CHAIR=3, DESK=2), "main")
    assert [(r.sku, r.quantity) for r in held.reservations] == [("CHAIR", 3), ("DESK", 2)]
    assert len({r.reservation_id for r in held.reservations}) == 2
    assert (inventory.available("CHAIR"), inventory.available("DESK")) == (7, 0)


@IMPLEMENTATIONS
def test_an_unknown_sku_is_short_of_everything(ports: Ports) -> None:
    inventory = stocked(ports, CHAIR=1)
    result = inventory.reserve("S-1", lines(GHOST=1), "main")
    assert [(s.sku, s.available) for s in result.shortages] == [("GHOST", 0)]


@IMPLEMENTATIONS
def test_one_owner_never_holds_the_same_sku_twice(ports: Ports) -> None:
    inventory = stocked(ports, CHAIR=10)
    inventory.reserve("S-1", lines(CHAIR=1), "main")
    with pytest.raises(InventoryError, match="already has stock of 'CHAIR' reserved"):
        inventory.reserve("S-1", lines(CHAIR=1), "main")
    assert inventory.reserve("S-2", lines(CHAIR=1), "main").reservations


@IMPLEMENTATIONS
def test_release_frees_the_stock_and_commit_takes_it_off_the_shelf(ports: Ports) -> None:
    inventory = stocked(ports, CHAIR=10, LAMP=4)
    (chair,) = inventory.reserve("S-1", lines(CHAIR=4), "main").reservations
    (lamp,) = inventory.reserve("S-1", lines(LAMP=4), "main").reservations
    inventory.release([chair.reservation_id])
    assert inventory.available("CHAIR") == 10
    inventory.commit([lamp.reservation_id])
    assert inventory.available("LAMP") == 0
    inventory.restock("LAMP", 1, "main")
    assert inventory.available("LAMP") == 1
    for settled in (chair, lamp):
        with pytest.raises(InventoryError, match="is not held"):
            inventory.release([settled.reservation_id])
    # released stock may be reserved again by the same owner
    assert inventory.reserve("S-1", lines(CHAIR=2), "main").reservations


def authorised(ports: Any, reference: str, amount: str) -> None:
    """What a checkout does before a capture, for the provider simulation (the ledger needs none)."""
    if hasattr(ports.payments, "authorize"):
        ports.payments.authorize(reference, Decimal(amount))


@IMPLEMENTATIONS
def test_a_capture_is_recorded_once_per_reference(ports: Ports) -> None:
    authorised(ports, "PSP-1", "40.00")
    ports.payments.capture("PSP-1", Decimal("40.00"), "EUR")
    ports.payments.capture("PSP-1", Decimal("40.00"), "EUR")  # a replayed effect: no-op
    assert ports.payments.refundable("PSP-1") == Decimal("40.00")
    with pytest.raises(PaymentError, match=r"already recorded as 40\.00 EUR"):
        ports.payments.capture("PSP-1", Decimal("41.00"), "EUR")
    with pytest.raises(PaymentError, match="must be positive"):
        ports.payments.capture("PSP-2", Decimal("-1"), "EUR")
    assert ports.payments.refundable("PSP-2") == 0


@IMPLEMENTATIONS
def test_a_capture_is_never_refunded_beyond_what_it_took(ports: Ports) -> None:
    authorised(ports, "PSP-1", "40.00")
    ports.payments.capture("PSP-1", Decimal("40.00"), "EUR")
    ports.payments.refund("PSP-1", Decimal("30.00"), "EUR")
    assert ports.payments.refundable("PSP-1") == Decimal("10.00")
    with pytest.raises(PaymentError, match=r"30\.00 of 40\.00 is refunded already"):
        ports.payments.refund("PSP-1", Decimal("10.01"), "EUR")
    ports.payments.refund("PSP-1", Decimal("10.00"), "EUR")
    assert ports.payments.refundable("PSP-1") == 0


@IMPLEMENTATIONS
def test_refunds_get_their_own_ids_and_must_be_positive(ports: Ports) -> None:
    first = ports.payments.refund("S-1", Decimal("10.00"), "EUR")
    second = ports.payments.refund("S-1", Decimal("5.00"), "EUR")
    assert first != second
    with pytest.raises(PaymentError, match="must be positive"):
        ports.payments.refund("S-1", Decimal("0"), "EUR")


@IMPLEMENTATIONS
def test_the_credit_snapshot_reads_the_profile_and_the_open_balance(ports: Any) -> None:
    unknown = ports.credit.credit_snapshot("C-0", "EUR")
    assert (unknown.limit, unknown.open_balance, unknown.available) == (0, 0, 0)
    ports.credit.set_profile(
        "C-1", Decimal("1000"), overdue=Decimal("50"), open_balance=Decimal("300.5")
    )
    snapshot = ports.credit.credit_snapshot("C-1", "EUR")
    assert (snapshot.limit, snapshot.open_balance, snapshot.overdue, snapshot.available) == (
        Decimal("1000.00"), Decimal("300.50"), Decimal("50.00"), Decimal("699.50"),
    )  # fmt: skip
    assert snapshot.taken_at == NOW


# -- what only the database gives -------------------------------------------------------------


@DATABASES
def test_a_capture_reported_twice_is_one_ledger_row(
    ports: DatabasePorts, session_of: Session
) -> None:
    ports.payments.capture("PSP-1", Decimal("40.00"), "EUR")
    ports.payments.capture("PSP-1", Decimal("40.00"), "EUR")
    count = session_of.scalar(select(func.count()).select_from(PaymentLedgerEntry))
    assert count == 1
    assert ports.payments.captured("PSP-1") == Decimal("40.00")


@DATABASES
def test_notifications_wait_in_the_outbox_for_the_commit(
    ports: DatabasePorts, session_of: Session
) -> None:
    ports.notifications.notify(
        "role:admin", "sale.admin_override_requested", {"total": Decimal("1.50")}
    )
    ports.notifications.publish_webhook("order.shipped", {"order_id": "O-1"})
    rows = session_of.scalars(select(OutboxEvent).order_by(OutboxEvent.id)).all()
    assert [r.event_type for r in rows] == ["orderflow.notify", "orderflow.webhook"]
    assert rows[0].payload["data"] == {"total": "1.50"} and rows[0].status == "pending"


@DATABASES
def test_a_rollback_takes_the_port_writes_with_it(
    ports: DatabasePorts, session_of: Session
) -> None:
    stocked(ports, CHAIR=5)
    session_of.commit()
    ports.inventory.reserve("S-1", lines(CHAIR=5), "main")
    ports.payments.capture("PSP-1", Decimal("40.00"), "EUR")
    session_of.rollback()
    assert ports.inventory.available("CHAIR") == 5
    assert ports.payments.captured("PSP-1") == 0
    level = session_of.get(StockLevel, ("main", "CHAIR"))
    assert level is not None and (level.on_hand, level.reserved) == (5, 0)
