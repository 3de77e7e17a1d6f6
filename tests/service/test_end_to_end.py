"""The whole order flow, driven only through the service, the coordinator and the workers.

A quotation is accepted (the coordinator creates its sale), the sale is
paid in two captures (the coordinator creates its fulfilment, which finds
no stock and is backordered), the backorder wait passes (the timer worker
fires it), stock arrives, the parcel ships, is delivered and comes back.
Then every record is where it should be, the log tells the story step by
step, the ledger holds the captures and the refund, and the relay publishes
every domain event to an in-memory publisher, in order per record.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from order_flow import CLERK, add_stock, flow_service, fulfilments, history, sales, sent_quotation
from sqlalchemy import select

from orderflow.service import database_ports
from orderflow.store import OutboxEvent, PaymentLedgerEntry, ScheduledEvent
from orderflow.store.base import utcnow
from orderflow.workers import OutboxMessage, fire_due_timers, relay_outbox
from workflow_db import Database


class InMemoryPublisher:
    def __init__(self) -> None:
        self.messages: list[OutboxMessage] = []

    def publish(self, message: OutboxMessage) -> None:
        self.messages.append(message)


class Clock:
    """The service's clock, moved by the test."""

    def __init__(self) -> None:
        self.now = utcnow()

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


def test_a_quotation_becomes_a_paid_sale_and_a_returned_fulfilment(database: Database) -> None:
    clock = Clock()
    service = flow_service(database.Session, clock=clock)

    quotation = sent_quotation(service)
    service.send(quotation, "ACCEPT", actor=CLERK)
    (sale,) = sales(database.Session)

    service.send(sale, {"type": "SELECT_PAYMENT_METHOD", "method": "card"}, actor=CLERK)
    service.send(sale, {"type": "CAPTURE", "amount": "100.00", "reference": "PSP-1"})
    service.send(sale, {"type": "CAPTURE", "amount": "140.00", "reference": "PSP-2"})
    (fulfilment,) = fulfilments(database.Session)
    assert service.snapshot(fulfilment).value == "backordered"  # no chair in stock

    fired = fire_due_timers(service, database.Session, now=clock.advance(days=8))
    assert [(f.record_id, f.outcome) for f in fired] == [(str(fulfilment.id), "fired")]
    assert service.snapshot(fulfilment).context.backorder_overdue

    add_stock(database.Session, "CHAIR", 5)
    for event in (
        "RESTOCKED",
        "PICKED",
        "PACKED",
        {"type": "SHIP", "carrier": "DHL", "tracking": "T-1"},
        "DELIVER",
        {"type": "REQUEST_RETURN", "reason": "too big", "lines": [{"sku": "CHAIR", "quantity": 2}]},
        "APPROVE_RETURN",
        "RETURN_RECEIVED",
        "ACCEPT_RETURN",
    ):
        clock.advance(hours=1)
        result = service.send(fulfilment, event, actor=CLERK)
        assert result.success, (event, result.reason)
    assert fire_due_timers(service, database.Session, now=clock.advance(days=90)) == []

    # the three records
    assert service.snapshot(quotation).value == "approved"
    assert service.snapshot(sale).value == "cleared"
    assert service.snapshot(sale).context.captured_total == Decimal("240.00")
    final = service.snapshot(fulfilment)
    assert (final.value, final.context.refund_amount) == ("returned", Decimal("240.00"))

    # the log explains every step
    assert history(database.Session, "quotations", quotation.id) == [
        "xstate.init -> draft",
        "ADD_LINE -> draft",
        "SUBMIT -> sent",
        "ACCEPT -> approved",
        "orderflow.handoff -> approved",
    ]
    assert history(database.Session, "sale_orders", sale.id) == [
        "xstate.init -> processing.awaiting_payment_method",
        "orderflow.handoff -> processing.awaiting_payment_method",
        "SELECT_PAYMENT_METHOD -> processing.awaiting_payment.unpaid",
        "CAPTURE -> processing.awaiting_payment.partially_paid",
        "CAPTURE -> cleared",
        "orderflow.handoff -> cleared",
        "orderflow.handoff -> cleared",
    ]
    assert history(database.Session, "fulfillments", fulfilment.id) == [
        "xstate.init -> allocating",
        "STOCK_SHORT -> backordered",
        "orderflow.handoff -> backordered",
        "xstate.after.backorder_wait.fulfilment.backordered -> backordered",
        "RESTOCKED -> allocating",
        "STOCK_RESERVED -> picking",
        "PICKED -> packing",
        "PACKED -> ready_to_ship",
        "SHIP -> shipped",
        "DELIVER -> delivered",
        "REQUEST_RETURN -> return_requested",
        "APPROVE_RETURN -> awaiting_return",
        "RETURN_RECEIVED -> inspecting",
        "ACCEPT_RETURN -> returned",
        "orderflow.handoff -> returned",
    ]

    with database.Session() as session:
        ledger = session.execute(
            select(
                PaymentLedgerEntry.kind, PaymentLedgerEntry.reference, PaymentLedgerEntry.amount
            ).order_by(PaymentLedgerEntry.id)
        ).all()
        assert [tuple(row) for row in ledger] == [
            ("capture", "PSP-1", Decimal("100.00")),
            ("capture", "PSP-2", Decimal("140.00")),
            ("refund", "PSP-2", Decimal("140.00")),  # the return, drawn from the captures,
            ("refund", "PSP-1", Decimal("100.00")),  # newest first
        ]
        assert (
            database_ports(lambda: session).inventory.available("CHAIR") == 5
        )  # back on the shelf
        timers = session.execute(select(ScheduledEvent.timer_id, ScheduledEvent.status)).all()
        assert {status for _, status in timers} <= {"fired", "cancelled"}
        domain_events = session.scalars(
            select(OutboxEvent.event_type)
            .where(OutboxEvent.record_type != "orderflow.notifications")
            .order_by(OutboxEvent.id)
        ).all()
    assert domain_events == [
        "quotation.sent",
        "quotation.accepted",
        "sale.payment_captured",
        "sale.payment_captured",
        "sale.cleared",
        "fulfilment.backordered",
        "fulfilment.backorder_overdue",
        "fulfilment.shipped",
        "fulfilment.delivered",
        "fulfilment.returned",
        "sale.fulfilment_returned",
    ]

    # the relay publishes every outbox row, in order per record
    publisher = InMemoryPublisher()
    while relay_outbox(database.Session, publisher, now=clock()).published:
        pass
    with database.Session() as session:
        statuses = set(session.scalars(select(OutboxEvent.status)))
        total = len(session.scalars(select(OutboxEvent.id)).all())
    assert statuses == {"published"}
    assert len(publisher.messages) == total == len({m.event_id for m in publisher.messages})
    assert [
        m.event_type for m in publisher.messages if m.record_type != "orderflow.notifications"
    ] == domain_events
    by_record: dict[tuple[str, str], list[int]] = {}
    for message in publisher.messages:
        by_record.setdefault((message.record_type, message.record_id), []).append(message.sequence)
    assert all(sequences == sorted(sequences) for sequences in by_record.values())
