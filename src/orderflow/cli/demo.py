"""``orderflow demo``: the whole order flow, on a real database, in one process.

It creates customers (credit profiles) and stock, then runs ``count``
quotations through the service, the PhaseCoordinator, the timer worker and
the outbox relay, on a simulated clock so that validity, backorder and
return-window timers fire in seconds.  Each quotation follows one of eight
stories, in turn:

===  ============  ==========================================================
 #   story         what happens
===  ============  ==========================================================
 0   card          accepted; paid by card in two captures; shipped, delivered;
                   the return window closes (a timer)
 1   approval      a 15 % discount needs a sales approver; paid on account
                   within the customer's credit (the credit check is a durable
                   invocation: the invocation worker runs it and clears the sale)
 2   credit        on account over the credit limit: the worker's credit check
                   holds the sale, a credit override is requested and approved
                   by a credit controller
 3   admin         card chosen, then an admin override clears the sale unpaid
 4   backorder     no stock: backordered until the warehouse restocks
 5   return        delivered, returned, refunded from the captures
 6   expiry        sent and never answered: the validity timer expires it
 7   declined      the customer declines the quotation
===  ============  ==========================================================

Nothing here is special to the demo: it calls the same public API a
service would (:func:`~orderflow.service.order_service`,
:meth:`~orderflow.service.WorkflowService.send`, ``request_override``,
``decide_override``, :func:`~orderflow.workers.fire_due_timers`,
:func:`~orderflow.workers.run_due_invocations`, :func:`~orderflow.workers.relay_outbox`).
"""

from __future__ import annotations

import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from orderflow.service import (
    PhaseCoordinator,
    Principal,
    TransitionResult,
    WorkflowService,
    database_ports,
    order_service,
)
from orderflow.store import Fulfillment, Quotation, SaleOrder, TransitionLog
from orderflow.store.base import utcnow
from orderflow.workers import OutboxMessage, fire_due_timers, relay_outbox, run_due_invocations

STORIES = ("card", "approval", "credit", "admin", "backorder", "return", "expiry", "declined")

CLERK = Principal("u-clerk", "Clara Clerk", frozenset({"sale.create"}))
CONTROLLER = Principal("u-credit", "Carl Controller", frozenset({"sale.override.credit"}))
ADMIN = Principal("u-admin", "Ada Admin", frozenset({"sale.override.admin"}))
WAREHOUSE = Principal("u-warehouse", "Wim Warehouse")
PAYMENT_PROVIDER = Principal("psp", "payment provider")
#: a sales approver: the permission grants the role (Policies.role_grants), never the payload
APPROVER = Principal("u-approver", "Abe Approver", frozenset({"quotation.approve"}))


class DemoClock:
    """The service's clock: real time at the start, moved forward by the demo."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or utcnow()

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


class CountingPublisher:
    """Where the relay publishes in the demo: it counts the events by type."""

    def __init__(self) -> None:
        self.by_type: Counter[str] = Counter()

    def publish(self, message: OutboxMessage) -> None:
        self.by_type[message.event_type] += 1


@dataclass
class DemoReport:
    """What a demo run did: the records of each story, counts, and how long it took."""

    run: str
    stories: dict[str, list[tuple[str, int]]] = field(default_factory=dict)
    transitions: int = 0
    timers_fired: int = 0
    invocations_delivered: int = 0
    events_published: int = 0
    refused: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def transitions_per_second(self) -> float:
        return self.transitions / self.seconds if self.seconds else 0.0


class DemoFailed(Exception):
    """A step the demo expected to succeed was refused: a bug, said plainly."""


class Demo:
    """One run of the stories against ``Session``'s database (see the module doc)."""

    def __init__(self, Session: sessionmaker[Session], clock: DemoClock | None = None) -> None:
        self.Session = Session
        self.clock = clock or DemoClock()
        self.service: WorkflowService = order_service(
            Session, finish_hooks=[PhaseCoordinator.for_orders()], clock=self.clock
        )
        self.publisher = CountingPublisher()
        self.run_id = uuid.uuid4().hex[:6].upper()
        self.report = DemoReport(self.run_id)

    # -- set-up --------------------------------------------------------------------------------

    def prepare(self) -> None:
        """Customers with credit profiles, and stock for the catalogue."""
        with self.Session() as session:
            ports = database_ports(lambda: session, clock=self.clock)
            ports.credit.set_profile(self.customer("good"), Decimal("50000"))
            ports.credit.set_profile(self.customer("tight"), Decimal("100"))
            for sku in ("CHAIR", "LAMP", "DESK"):
                ports.inventory.add_stock(sku, 1000)
            session.commit()

    def customer(self, kind: str) -> str:
        return f"C-{self.run_id}-{kind}"

    # -- the stories ---------------------------------------------------------------------------

    def run(self, count: int, progress: Callable[[int], None] | None = None) -> DemoReport:
        started = time.perf_counter()
        rows_before = self._log_rows()
        self.prepare()
        for number in range(count):
            story = STORIES[number % len(STORIES)]
            getattr(self, f"story_{story}")(number)
            self.clock.advance(minutes=7)
            if number % 8 == 7:
                self.relay()
            if progress is not None:
                progress(number + 1)
        # a month later: quotations expire, return windows close, backorders report overdue
        self.fire_timers(days=31)
        self.relay()
        self.report.seconds = time.perf_counter() - started
        self.report.transitions = self._log_rows() - rows_before
        self.report.events_published = sum(self.publisher.by_type.values())
        return self.report

    def story_card(self, number: int) -> None:
        _, sale = self.accepted(number, "card", lines=[("CHAIR", 4, "120.00")])
        self.pay_by_card(sale, captures=2)
        self.ship(self.fulfilment_of(sale))

    def story_approval(self, number: int) -> None:
        quotation = self.quotation(number, "approval", [("DESK", 2, "450.00")], discount="15")
        self.send(quotation, {"type": "APPROVE", "reason": "key account"}, actor=APPROVER)
        sale = self.accept(quotation)
        self.send(sale, {"type": "SELECT_PAYMENT_METHOD", "method": "on_account"}, actor=CLERK)
        self.run_invocations()  # the credit check: within the limit, so the sale clears
        self.ship(self.fulfilment_of(sale))

    def story_credit(self, number: int) -> None:
        _, sale = self.accepted(number, "credit", lines=[("LAMP", 3, "80.00")], customer="tight")
        self.send(sale, {"type": "SELECT_PAYMENT_METHOD", "method": "on_account"}, actor=CLERK)
        self.run_invocations()  # the credit check: over the limit, so the sale is on credit hold
        self.expect(
            self.service.request_override(sale, "credit", "pays late, pays always", actor=CLERK)
        )
        self.expect(self.service.decide_override(sale, "credit-1", approve=True,
                                                 actor=CONTROLLER, note="one-off"))  # fmt: skip
        self.ship(self.fulfilment_of(sale))

    def story_admin(self, number: int) -> None:
        _, sale = self.accepted(number, "admin", lines=[("CHAIR", 1, "120.00")])
        self.send(sale, {"type": "SELECT_PAYMENT_METHOD", "method": "card"}, actor=CLERK)
        self.expect(self.service.request_override(sale, "admin", "replacement part", actor=CLERK))
        self.expect(self.service.decide_override(sale, "admin-1", approve=True, actor=ADMIN))
        self.ship(self.fulfilment_of(sale))

    def story_backorder(self, number: int) -> None:
        rare = f"RARE-{self.run_id}-{number}"
        _, sale = self.accepted(number, "backorder", lines=[(rare, 2, "300.00")])
        self.pay_by_card(sale, captures=1)
        fulfilment = self.fulfilment_of(sale)
        with self.Session() as session:
            database_ports(lambda: session, clock=self.clock).inventory.add_stock(rare, 5)
            session.commit()
        self.clock.advance(days=2)
        self.send(fulfilment, "RESTOCKED", actor=WAREHOUSE)
        self.ship(fulfilment)

    def story_return(self, number: int) -> None:
        _, sale = self.accepted(number, "return", lines=[("CHAIR", 2, "120.00"),
                                                         ("LAMP", 1, "80.00")])  # fmt: skip
        self.pay_by_card(sale, captures=2)
        fulfilment = self.fulfilment_of(sale)
        self.ship(fulfilment)
        self.clock.advance(days=3)
        self.send(fulfilment, {"type": "REQUEST_RETURN", "reason": "wrong colour",
                               "lines": [{"sku": "CHAIR", "quantity": 2}]}, actor=CLERK)  # fmt: skip
        for event in ("APPROVE_RETURN", "RETURN_RECEIVED", "ACCEPT_RETURN"):
            self.clock.advance(days=1)
            self.send(fulfilment, event, actor=WAREHOUSE)

    def story_expiry(self, number: int) -> None:
        self.quotation(number, "expiry", [("LAMP", 10, "80.00")])

    def story_declined(self, number: int) -> None:
        quotation = self.quotation(number, "declined", [("DESK", 1, "450.00")])
        self.send(quotation, {"type": "DECLINE", "reason": "too expensive"}, actor=CLERK)

    # -- steps ---------------------------------------------------------------------------------

    def quotation(
        self,
        number: int,
        story: str,
        lines: list[tuple[str, int, str]],
        *,
        customer: str = "good",
        discount: str | None = None,
    ) -> Quotation:
        reference = f"Q-{self.run_id}-{number:04d}"
        record = Quotation(reference=reference, customer_id=self.customer(customer),
                           workflow_machine="quotation")  # fmt: skip
        self.expect(self.service.start(record, input={
            "quotation_id": reference, "customer_id": self.customer(customer), "currency": "EUR",
        }, actor=CLERK))  # fmt: skip
        for sku, quantity, price in lines:
            self.send(record, {"type": "ADD_LINE", "sku": sku, "quantity": quantity,
                               "unit_price": price}, actor=CLERK)  # fmt: skip
        if discount is not None:
            self.send(record, {"type": "SET_DISCOUNT", "percent": discount}, actor=CLERK)
        self.send(record, "SUBMIT", actor=CLERK)
        self.report.stories.setdefault(story, []).append(("quotations", record.id))
        return record

    def accept(self, quotation: Quotation) -> SaleOrder:
        self.send(quotation, "ACCEPT", actor=CLERK)
        with self.Session() as session:
            sale = session.scalars(
                select(SaleOrder).where(SaleOrder.quotation_id == quotation.id)
            ).one()
        return sale

    def accepted(
        self, number: int, story: str, *, lines: list[tuple[str, int, str]], customer: str = "good"
    ) -> tuple[Quotation, SaleOrder]:
        quotation = self.quotation(number, story, lines, customer=customer)
        return quotation, self.accept(quotation)

    def pay_by_card(self, sale: SaleOrder, *, captures: int) -> None:
        self.send(sale, {"type": "SELECT_PAYMENT_METHOD", "method": "card"}, actor=CLERK)
        total = Decimal(self.service.snapshot(sale).context.total)
        first = (total / captures).quantize(Decimal("0.01"))
        amounts = [first] * (captures - 1) + [total - first * (captures - 1)]
        for index, amount in enumerate(amounts, start=1):
            self.clock.advance(hours=1)
            self.send(sale, {"type": "CAPTURE", "amount": str(amount),
                             "reference": f"PSP-{sale.reference}-{index}"},
                      actor=PAYMENT_PROVIDER)  # fmt: skip

    def fulfilment_of(self, sale: SaleOrder) -> Fulfillment:
        with self.Session() as session:
            return session.scalars(
                select(Fulfillment).where(Fulfillment.sale_order_id == sale.id)
            ).one()

    def ship(self, fulfilment: Fulfillment) -> None:
        for event in ("PICKED", "PACKED"):
            self.send(fulfilment, event, actor=WAREHOUSE)
        self.clock.advance(hours=4)
        self.send(fulfilment, {"type": "SHIP", "carrier": "DHL",
                               "tracking": f"TRK-{fulfilment.reference}"}, actor=WAREHOUSE)  # fmt: skip
        self.clock.advance(days=2)
        self.send(fulfilment, "DELIVER", actor=WAREHOUSE)

    def send(self, record: Any, event: Any, *, actor: Principal | None = None) -> TransitionResult:
        return self.expect(self.service.send(record, event, actor=actor))

    def expect(self, result: TransitionResult) -> TransitionResult:
        if not result.success:
            raise DemoFailed(
                f"{result.record_type} {result.record_id}: {result.event} was refused: {result.reason}"
            )
        return result

    # -- workers ---------------------------------------------------------------------------------

    def fire_timers(self, **delta: float) -> None:
        now = self.clock.advance(**delta)
        while True:
            firings = fire_due_timers(self.service, self.Session, now=now, batch=100)
            self.report.timers_fired += sum(1 for f in firings if f.outcome == "fired")
            if not firings:
                return

    def run_invocations(self) -> None:
        """Run the due function actors (the sale's credit check) as ``orderflow worker`` would."""
        while True:
            runs = run_due_invocations(self.service, self.Session, now=self.clock())
            for run in runs:
                if run.outcome != "delivered":
                    raise DemoFailed(f"invocation {run.actor_id} of {run.record_type} "
                                     f"{run.record_id} was {run.outcome}: {run.detail}")  # fmt: skip
            self.report.invocations_delivered += len(runs)
            if not runs:
                return

    def relay(self) -> None:
        while relay_outbox(self.Session, self.publisher, batch=200, now=self.clock()):
            pass

    # -- what it did -------------------------------------------------------------------------------

    def _log_rows(self) -> int:
        with self.Session() as session:
            return int(session.scalar(select(func.count()).select_from(TransitionLog)) or 0)

    def records(self) -> dict[str, list[Any]]:
        """This run's records by machine: its quotations, their sales, the sales' fulfilments."""
        ids = [record_id for story in self.report.stories.values() for _, record_id in story]
        with self.Session() as session:
            quotations = list(session.scalars(select(Quotation).where(Quotation.id.in_(ids))))
            sales = list(session.scalars(select(SaleOrder).where(SaleOrder.quotation_id.in_(ids))))
            fulfilments = list(session.scalars(select(Fulfillment).where(
                Fulfillment.sale_order_id.in_([s.id for s in sales]))))  # fmt: skip
        return {"quotation": quotations, "sale": sales, "fulfilment": fulfilments}

    def audit_trail(self, story: str = "return") -> list[TransitionLog]:
        """The log of one order of ``story`` across its quotation, sale and fulfilment, in order."""
        chosen = self.report.stories.get(story) or next(iter(self.report.stories.values()), [])
        if not chosen:
            return []
        quotation_id = chosen[0][1]
        with self.Session() as session:
            keys = [("quotations", str(quotation_id))]
            sale = session.scalars(
                select(SaleOrder).where(SaleOrder.quotation_id == quotation_id)
            ).first()
            if sale is not None:
                keys.append(("sale_orders", str(sale.id)))
                keys += [("fulfillments", str(f.id)) for f in session.scalars(
                    select(Fulfillment).where(Fulfillment.sale_order_id == sale.id))]  # fmt: skip
            rows: list[TransitionLog] = []
            for record_type, record_id in keys:
                rows += session.scalars(select(TransitionLog).where(
                    TransitionLog.record_type == record_type, TransitionLog.record_id == record_id))  # fmt: skip
        return sorted(rows, key=lambda row: row.id)
