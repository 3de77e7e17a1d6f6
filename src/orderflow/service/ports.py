"""Database-backed ports: the order machines' effects, written in the transition's own transaction.

    scope = TransactionScope()
    ports = database_ports(scope)
    machines = {name: load_machine(name, ports=ports) for name in ("sale", "fulfilment")}
    service = WorkflowService(Session, machines, scope=scope)

A port is bound to a machine when the machine is created, long before any
transaction exists, so a port is given a *source* of sessions, not a
session: any callable returning the session to use.  The service binds its
transaction's session to a :class:`TransactionScope` while it runs a send,
so a capture, a reservation or a credit snapshot reads and writes inside
that transaction and rolls back with it.  Outside the service, pass
``lambda: session``.

The tables are in ``orderflow.store.ports_tables``.  What the ports promise
is what the in-memory ports (``orderflow.orders.in_memory``) promise, with
one difference that the database makes possible: a capture reported twice
under one reference is recorded once (and a second, different amount under
that reference is refused), so a replayed effect never takes money twice.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from pydantic import TypeAdapter
from sqlalchemy import Table, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from orderflow.orders.ports import (
    CreditSnapshot,
    InventoryError,
    PaymentError,
    Ports,
    ReservationResult,
    StockShortage,
)
from orderflow.orders.ports import StockReservation as Reserved
from orderflow.orders.values import StockLine, money
from orderflow.store import (
    CustomerCreditProfile,
    CustomerSalesAgg,
    OutboxEvent,
    PaymentLedgerEntry,
    StockLevel,
    StockReservation,
)
from orderflow.store.base import utcnow
from orderflow.store.ports_tables import CAPTURE, COMMITTED, HELD, REFUND, RELEASED
from orderflow.store.workflow_tables import PENDING

SessionSource = Callable[[], Session]

#: turns a notification's data into plain JSON (Decimal as a string, as contexts dump it)
_PLAIN_JSON: TypeAdapter[dict[str, Any]] = TypeAdapter(dict[str, Any])

#: the ``record_type`` of outbox rows the notification port writes (each its own record)
NOTIFICATIONS = "orderflow.notifications"
#: ``session.info`` key of the outbox rows an effect wrote itself in this step: the service
#: gives them the step's log row (an effect handler writing outbox rows appends them here)
OUTBOX_WRITTEN = "orderflow.outbox_written"


class TransactionScope:
    """The session of the transaction running now, for ports bound long before it began.

    The service binds its session for the length of a send (:meth:`bind`);
    calling the scope returns it.  Each thread and task sees its own.
    """

    def __init__(self) -> None:
        self._current: ContextVar[Callable[[], Session] | None] = ContextVar(
            "orderflow_session", default=None
        )

    def __call__(self) -> Session:
        source = self._current.get()
        if source is None:
            raise RuntimeError(
                "a database-backed port was used outside a WorkflowService transaction; "
                "run the effect through the service, or give the port a session of your own"
            )
        return source()

    @contextmanager
    def bind(self, session: Session | Callable[[], Session]) -> Iterator[None]:
        """Ports called in the block use ``session`` (or the one a callable makes on first use)."""
        source = session if callable(session) else (lambda: session)
        token = self._current.set(source)
        try:
            yield
        finally:
            self._current.reset(token)


def _insert_once(session: Session, table: Table, values: Mapping[str, Any]) -> None:
    """``INSERT ... ON CONFLICT DO NOTHING``: a row another transaction wrote first wins."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        session.execute(postgresql.insert(table).values(**values).on_conflict_do_nothing())
    elif dialect == "sqlite":
        session.execute(sqlite.insert(table).values(**values).on_conflict_do_nothing())
    else:
        raise NotImplementedError(f"orderflow's ports run on SQLite and PostgreSQL, not {dialect}")


class DatabasePayments:
    """The payment ledger: captures (once per reference) and refunds."""

    def __init__(self, session: SessionSource, *, clock: Callable[[], datetime] = utcnow) -> None:
        self._session = session
        self._clock = clock

    def capture(self, reference: str, amount: Decimal, currency: str) -> None:
        if amount <= 0:
            raise PaymentError(f"a capture must be positive, not {amount} {currency}")
        session = self._session()
        _insert_once(
            session,
            PaymentLedgerEntry.__table__,  # type: ignore[arg-type]
            {
                "kind": CAPTURE, "entry_id": reference, "reference": reference,
                "amount": money(amount), "currency": currency, "created_at": self._clock(),
            },
        )  # fmt: skip
        recorded = session.execute(
            select(PaymentLedgerEntry.amount, PaymentLedgerEntry.currency).where(
                PaymentLedgerEntry.kind == CAPTURE, PaymentLedgerEntry.entry_id == reference
            )
        ).one()
        if (recorded.amount, recorded.currency) != (money(amount), currency):
            raise PaymentError(
                f"capture '{reference}' is already recorded as {recorded.amount} "
                f"{recorded.currency}, not {amount} {currency}"
            )

    def refund(self, reference: str, amount: Decimal, currency: str) -> str:
        if amount <= 0:
            raise PaymentError(f"a refund must be positive, not {amount} {currency}")
        session = self._session()
        captured = session.scalar(
            select(PaymentLedgerEntry.amount).where(
                PaymentLedgerEntry.kind == CAPTURE, PaymentLedgerEntry.entry_id == reference
            )
        )
        if captured is not None:
            refunded = session.scalar(
                select(func.coalesce(func.sum(PaymentLedgerEntry.amount), 0)).where(
                    PaymentLedgerEntry.kind == REFUND, PaymentLedgerEntry.reference == reference
                )
            )
            if Decimal(refunded or 0) + amount > captured:
                raise PaymentError(
                    f"cannot refund {amount} {currency} on capture '{reference}': "
                    f"{refunded} of {captured} is refunded already"
                )
        refund_id = f"RF-{uuid.uuid4().hex[:12]}"
        session.add(
            PaymentLedgerEntry(
                kind=REFUND, entry_id=refund_id, reference=reference, amount=money(amount),
                currency=currency, created_at=self._clock(),
            )
        )  # fmt: skip
        session.flush()
        return refund_id

    def captured(self, reference: str) -> Decimal:
        """What is recorded as captured under ``reference`` (0 when nothing is)."""
        found = self._session().scalar(
            select(PaymentLedgerEntry.amount).where(
                PaymentLedgerEntry.kind == CAPTURE, PaymentLedgerEntry.entry_id == reference
            )
        )
        return Decimal(0) if found is None else Decimal(found)

    def refundable(self, reference: str) -> Decimal:
        """What is left to refund on the capture ``reference`` (0 when it is no capture)."""
        captured = self.captured(reference)
        return Decimal(0) if captured == 0 else captured - self.refunded(reference)

    def refunded(self, reference: str) -> Decimal:
        """The sum of the refunds against ``reference``."""
        found = self._session().scalar(
            select(func.coalesce(func.sum(PaymentLedgerEntry.amount), 0)).where(
                PaymentLedgerEntry.kind == REFUND, PaymentLedgerEntry.reference == reference
            )
        )
        return Decimal(found or 0)


class DatabaseInventory:
    """Stock levels and reservations, all or nothing; the level rows are locked while they change."""

    def __init__(self, session: SessionSource, *, clock: Callable[[], datetime] = utcnow) -> None:
        self._session = session
        self._clock = clock

    def add_stock(self, sku: str, quantity: int, warehouse: str = "main") -> None:
        session = self._session()
        _insert_once(
            session,
            StockLevel.__table__,  # type: ignore[arg-type]
            {"warehouse": warehouse, "sku": sku, "on_hand": 0, "reserved": 0,
             "updated_at": self._clock()},
        )  # fmt: skip
        session.execute(
            update(StockLevel)
            .where(StockLevel.warehouse == warehouse, StockLevel.sku == sku)
            .values(on_hand=StockLevel.on_hand + quantity, updated_at=self._clock())
        )

    def available(self, sku: str, warehouse: str = "main") -> int:
        level = (
            self._session()
            .execute(
                select(StockLevel.on_hand - StockLevel.reserved).where(
                    StockLevel.warehouse == warehouse, StockLevel.sku == sku
                )
            )
            .scalar_one_or_none()
        )
        return int(level or 0)

    def reserve(self, owner: str, lines: Sequence[StockLine], warehouse: str) -> ReservationResult:
        session = self._session()
        skus = sorted({line.sku for line in lines})
        already = session.scalars(
            select(StockReservation.sku).where(
                StockReservation.owner == owner,
                StockReservation.sku.in_(skus),
                StockReservation.status != RELEASED,
            )
        ).first()
        if already is not None:
            raise InventoryError(f"'{owner}' already has stock of '{already}' reserved")
        # locked in sku order, so two reservations of the same skus cannot deadlock
        levels = {
            level.sku: level.on_hand - level.reserved
            for level in session.execute(
                select(StockLevel.sku, StockLevel.on_hand, StockLevel.reserved)
                .where(StockLevel.warehouse == warehouse, StockLevel.sku.in_(skus))
                .order_by(StockLevel.sku)
                .with_for_update()
            )
        }
        wanted: dict[str, int] = {}
        for line in lines:
            wanted[line.sku] = wanted.get(line.sku, 0) + line.quantity
        shortages = tuple(
            StockShortage(
                sku=line.sku, requested=line.quantity, available=max(0, levels.get(line.sku, 0))
            )
            for line in lines
            if levels.get(line.sku, 0) < wanted[line.sku]
        )
        if shortages:
            return ReservationResult(shortages=shortages)
        now = self._clock()
        reserved = []
        for line in lines:
            reservation_id = f"RSV-{uuid.uuid4().hex[:12]}"
            session.add(
                StockReservation(
                    reservation_id=reservation_id, owner=owner, warehouse=warehouse,
                    sku=line.sku, quantity=line.quantity, status=HELD, created_at=now,
                )
            )  # fmt: skip
            self._hold(session, warehouse, line.sku, line.quantity)
            reserved.append(
                Reserved(reservation_id=reservation_id, sku=line.sku, quantity=line.quantity)
            )
        session.flush()
        return ReservationResult(reservations=tuple(reserved))

    def commit(self, reservation_ids: Sequence[str]) -> None:
        session = self._session()
        for held in self._held(session, reservation_ids):
            self._settle(session, held, COMMITTED)
            session.execute(
                update(StockLevel)
                .where(StockLevel.warehouse == held.warehouse, StockLevel.sku == held.sku)
                .values(on_hand=StockLevel.on_hand - held.quantity)
            )

    def release(self, reservation_ids: Sequence[str]) -> None:
        session = self._session()
        for held in self._held(session, reservation_ids):
            self._settle(session, held, RELEASED)

    def restock(self, sku: str, quantity: int, warehouse: str) -> None:
        self.add_stock(sku, quantity, warehouse)

    def _hold(self, session: Session, warehouse: str, sku: str, quantity: int) -> None:
        session.execute(
            update(StockLevel)
            .where(StockLevel.warehouse == warehouse, StockLevel.sku == sku)
            .values(reserved=StockLevel.reserved + quantity, updated_at=self._clock())
        )

    def _settle(self, session: Session, held: StockReservation, status: str) -> None:
        """The reservation stops holding stock: it shipped (committed) or was released."""
        held.status = status
        held.settled_at = self._clock()
        session.execute(
            update(StockLevel)
            .where(StockLevel.warehouse == held.warehouse, StockLevel.sku == held.sku)
            .values(reserved=StockLevel.reserved - held.quantity, updated_at=self._clock())
        )

    def _held(self, session: Session, reservation_ids: Sequence[str]) -> list[StockReservation]:
        rows = {
            row.reservation_id: row
            for row in session.scalars(
                select(StockReservation)
                .where(StockReservation.reservation_id.in_(list(reservation_ids)))
                .with_for_update()
            )
        }
        found = []
        for reservation_id in reservation_ids:
            row = rows.get(reservation_id)
            if row is None or row.status != HELD:
                raise InventoryError(f"reservation '{reservation_id}' is not held")
            found.append(row)
        return found


class DatabaseCredit:
    """Credit control from ``customer_credit_profiles`` and ``customer_sales_agg``.

    A customer without a profile has no credit; one without an aggregate has nothing open.
    """

    def __init__(self, session: SessionSource, *, clock: Callable[[], datetime] = utcnow) -> None:
        self._session = session
        self._clock = clock

    def set_profile(
        self,
        customer_id: str,
        limit: Decimal,
        *,
        overdue: Decimal = Decimal(0),
        open_balance: Decimal = Decimal(0),
        currency: str = "EUR",
    ) -> None:
        """Write the profile and the aggregate (what the in-memory port's ``set_profile`` does)."""
        session = self._session()
        now = self._clock()
        session.merge(
            CustomerCreditProfile(
                customer_id=customer_id, currency=currency, credit_limit=money(Decimal(limit)),
                updated_at=now,
            )
        )  # fmt: skip
        session.merge(
            CustomerSalesAgg(
                customer_id=customer_id, currency=currency, open_balance=money(Decimal(open_balance)),
                overdue=money(Decimal(overdue)), open_sales=0, updated_at=now,
            )
        )  # fmt: skip
        session.flush()

    def credit_snapshot(self, customer_id: str, currency: str) -> CreditSnapshot:
        session = self._session()
        row = session.execute(
            select(
                CustomerCreditProfile.credit_limit, CustomerSalesAgg.open_balance,
                CustomerSalesAgg.overdue,
            )
            .select_from(CustomerCreditProfile)
            .outerjoin(
                CustomerSalesAgg,
                (CustomerSalesAgg.customer_id == CustomerCreditProfile.customer_id)
                & (CustomerSalesAgg.currency == CustomerCreditProfile.currency),
            )
            .where(
                CustomerCreditProfile.customer_id == customer_id,
                CustomerCreditProfile.currency == currency,
            )
        ).one_or_none()  # fmt: skip
        limit = Decimal(0) if row is None else Decimal(row.credit_limit)
        open_balance = Decimal(0) if row is None else Decimal(row.open_balance or 0)
        overdue = Decimal(0) if row is None else Decimal(row.overdue or 0)
        return CreditSnapshot(
            limit=money(limit),
            open_balance=money(open_balance),
            overdue=money(overdue),
            available=money(limit - open_balance),
            taken_at=self._clock(),
        )


class DatabaseNotifications:
    """Messages and webhooks as outbox rows, sent by the relay only if the transaction commits."""

    def __init__(self, session: SessionSource, *, clock: Callable[[], datetime] = utcnow) -> None:
        self._session = session
        self._clock = clock

    def notify(self, recipient: str, template: str, data: Mapping[str, Any]) -> None:
        self._write(
            "orderflow.notify", {"recipient": recipient, "template": template, "data": data}
        )

    def publish_webhook(self, topic: str, payload: Mapping[str, Any]) -> None:
        self._write("orderflow.webhook", {"topic": topic, "payload": payload})

    def _write(self, event_type: str, payload: dict[str, Any]) -> None:
        event_id = str(uuid.uuid4())
        session = self._session()
        row = OutboxEvent(
            event_id=event_id, record_type=NOTIFICATIONS, record_id=event_id, sequence=1,
            event_type=event_type, payload={"type": event_type, **_PLAIN_JSON.dump_python(payload, mode="json")},
            status=PENDING, attempts=0, available_at=self._clock(), created_at=self._clock(),
        )  # fmt: skip
        session.add(row)
        session.info.setdefault(OUTBOX_WRITTEN, []).append(row)


def database_ports(
    session: SessionSource, *, clock: Callable[[], datetime] = utcnow
) -> DatabasePorts:
    """The four database-backed ports, each reading ``session()`` when it runs."""
    return DatabasePorts(
        payments=DatabasePayments(session, clock=clock),
        inventory=DatabaseInventory(session, clock=clock),
        credit=DatabaseCredit(session, clock=clock),
        notifications=DatabaseNotifications(session, clock=clock),
    )


@dataclass(frozen=True)
class DatabasePorts(Ports):
    """:class:`Ports` with the database-backed implementations, typed as such."""

    payments: DatabasePayments
    inventory: DatabaseInventory
    credit: DatabaseCredit
    notifications: DatabaseNotifications
