"""The order machines run by an actor: effects reach the in-memory ports, effects answer with events,
``after`` timers fire on a simulated clock, and one phase hands over to the next."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from orderflow.chart import Machine
from orderflow.orders import (
    DAY_MS,
    InMemoryPorts,
    PaymentError,
    fulfilment_input_from,
    load_machine,
    sale_input_from,
)
from orderflow.orders.ports import CreditSnapshot, InventoryError, Ports
from orderflow.orders.walks import (
    ADMIN,
    CLERK,
    FULFILMENT_START,
    ORDER_START,
    SALE_START,
    SALES_APPROVER,
)
from orderflow.runtime import Actor, SimulatedClock, create_actor


def start(
    machine: Machine, clock: SimulatedClock, input: dict[str, Any]
) -> tuple[Actor, list[Any]]:
    actor = create_actor(machine, clock=clock, input=input)
    published: list[Any] = []
    actor.on("*", published.append)
    return actor.start(), published


def test_a_quotation_is_approved_sent_and_expires_on_the_clock(
    quotation: Machine, ports: InMemoryPorts
) -> None:
    clock = SimulatedClock()
    actor, published = start(
        quotation, clock, {"quotation_id": "Q-1", "customer_id": "C-1", "currency": "EUR"}
    )
    actor.send({"type": "ADD_LINE", "sku": "TABLE", "quantity": 10, "unit_price": "1500.00"})
    actor.send("SUBMIT")
    assert ports.notifications.sent[-1].recipient == "role:sales-approver"
    actor.send({"type": "APPROVE", "actor": SALES_APPROVER})
    assert actor.get_snapshot().value == "sent"
    assert ports.notifications.sent[-1].recipient == "customer:C-1"
    assert actor.get_snapshot().timers[0].due == 30 * DAY_MS
    clock.advance(30 * DAY_MS - 1)
    assert actor.get_snapshot().value == "sent"
    clock.advance(1)
    assert actor.get_snapshot().value == "expired"
    assert [e["type"] for e in published] == [
        "quotation.approval_requested",
        "quotation.sent",
        "quotation.expired",
    ]


def test_on_account_within_the_limit_clears_in_the_same_send(
    sale: Machine, ports: InMemoryPorts
) -> None:
    ports.credit.set_profile("C-1", Decimal("5000"), open_balance=Decimal("1000"))
    actor, published = start(sale, SimulatedClock(), SALE_START)
    snapshot = actor.send({"type": "SELECT_PAYMENT_METHOD", "method": "on_account"})
    assert snapshot.value == "cleared"  # check_credit answered CREDIT_CHECKED, processed next
    assert snapshot.context.credit.available == Decimal("4000.00")
    assert published[-1]["clearance"] == {"basis": "credit_limit", "by": None, "override_id": None}


class CreditServiceDown:
    def credit_snapshot(self, customer_id: str, currency: str) -> CreditSnapshot:
        raise ConnectionError("the credit bureau does not answer")


def test_a_credit_check_that_raises_holds_the_sale_with_the_reason(ports: InMemoryPorts) -> None:
    down = Ports(ports.payments, ports.inventory, CreditServiceDown(), ports.notifications)
    actor, _ = start(load_machine("sale", ports=down), SimulatedClock(), SALE_START)
    snapshot = actor.send({"type": "SELECT_PAYMENT_METHOD", "method": "on_account"})
    assert snapshot.matches("processing.credit_hold")  # the runtime delivered its error event
    assert snapshot.context.credit_check_error == (
        "ConnectionError: the credit bureau does not answer"
    )


def test_on_account_above_the_limit_holds_until_a_credit_approver_overrides(
    sale: Machine, ports: InMemoryPorts
) -> None:
    ports.credit.set_profile("C-1", Decimal("500"))
    actor, published = start(sale, SimulatedClock(), SALE_START)
    actor.send({"type": "SELECT_PAYMENT_METHOD", "method": "on_account"})
    assert actor.get_snapshot().matches("processing.credit_hold")
    actor.send({"type": "REQUEST_CREDIT_OVERRIDE", "reason": "good payer", "actor": CLERK})
    assert ports.notifications.sent[-1].recipient == "role:credit-approver"
    approval = {"type": "CREDIT_OVERRIDE_APPROVED", "request_id": "credit-1", "actor": ADMIN}
    assert actor.send(approval).matches("processing.credit_override_pending")  # not his call
    approval["actor"] = {"id": "carl", "roles": ["credit-approver"]}
    assert actor.send(approval).value == "cleared"
    assert [e["type"] for e in published] == [
        "sale.override_requested",
        "sale.override_decided",
        "sale.cleared",
    ]


def test_cancelling_a_sale_refunds_every_capture_it_booked(
    sale: Machine, ports: InMemoryPorts
) -> None:
    ports.payments.authorize("PSP-1", Decimal("100.00"))
    ports.payments.authorize("PSP-2", Decimal("50.00"))
    actor, _ = start(sale, SimulatedClock(), SALE_START)
    actor.send({"type": "SELECT_PAYMENT_METHOD", "method": "card"})
    actor.send({"type": "CAPTURE", "amount": "100.00", "reference": "PSP-1"})
    actor.send({"type": "CAPTURE", "amount": "50.00", "reference": "PSP-2"})
    assert ports.payments.captured == {"PSP-1": Decimal("100.00"), "PSP-2": Decimal("50.00")}
    actor.send({"type": "CANCEL", "reason": "void"})
    assert actor.get_snapshot().value == "cancelled"
    assert [(r.reference, r.amount) for r in ports.payments.refunds] == [
        ("PSP-1", Decimal("100.00")),
        ("PSP-2", Decimal("50.00")),
    ]


def test_a_capture_the_provider_never_authorised_puts_the_sale_actor_in_error(
    sale: Machine, ports: InMemoryPorts
) -> None:
    actor, _ = start(sale, SimulatedClock(), SALE_START)
    actor.send({"type": "SELECT_PAYMENT_METHOD", "method": "card"})
    actor.send({"type": "CAPTURE", "amount": "100.00", "reference": "PSP-9"})
    assert actor.get_snapshot().status == "error"
    assert "0 is authorised" in str(actor.get_snapshot().error)
    assert ports.payments.captured == {}


def test_a_fulfilment_reserves_ships_and_completes_on_the_clock(
    fulfilment: Machine, ports: InMemoryPorts
) -> None:
    clock = SimulatedClock()
    actor, published = start(fulfilment, clock, FULFILMENT_START)
    assert actor.get_snapshot().value == "picking"  # reserve_stock answered STOCK_RESERVED
    assert ports.inventory.available("CHAIR") == 6
    for event in ("PICKED", "PACKED", {"type": "SHIP", "carrier": "DHL", "tracking": "T1"}):
        actor.send(event)
    assert ports.inventory.on_hand["main", "CHAIR"] == 6  # committed: the stock left
    actor.send("DELIVER")
    clock.advance(30 * DAY_MS)
    assert actor.get_snapshot().value == "completed"
    assert [e["type"] for e in published] == [
        "fulfilment.shipped",
        "fulfilment.delivered",
        "fulfilment.completed",
    ]


def test_short_stock_waits_reports_overdue_and_allocates_once_restocked(
    fulfilment: Machine, ports: InMemoryPorts
) -> None:
    ports.inventory.on_hand["main", "DESK"] = 0
    clock = SimulatedClock()
    actor, published = start(fulfilment, clock, FULFILMENT_START)
    assert actor.get_snapshot().value == "backordered"
    assert ports.inventory.available("CHAIR") == 10  # all or nothing: no chair is held
    clock.advance(7 * DAY_MS)
    assert actor.get_snapshot().value == "backordered"
    assert [e["type"] for e in published] == [
        "fulfilment.backordered",
        "fulfilment.backorder_overdue",
    ]
    assert ports.notifications.templates() == ["fulfilment.backorder_overdue"]
    ports.inventory.add_stock("DESK", 1)
    assert actor.send("RESTOCKED").value == "picking"


def returned(fulfilment: Machine, clock: SimulatedClock, input: dict[str, Any]) -> Actor:
    """A fulfilment delivered, two chairs (228.00 after the 5 % discount) returned and accepted."""
    actor, _ = start(fulfilment, clock, input)
    for event in (
        "PICKED",
        "PACKED",
        {"type": "SHIP", "carrier": "DHL", "tracking": "T1"},
        "DELIVER",
    ):
        actor.send(event)
    clock.advance(10 * DAY_MS)
    actor.send(
        {"type": "REQUEST_RETURN", "reason": "wobbly", "lines": [{"sku": "CHAIR", "quantity": 2}]}
    )
    for event in ("APPROVE_RETURN", "RETURN_RECEIVED", "ACCEPT_RETURN"):
        actor.send(event)
    return actor


def test_a_return_on_account_restocks_and_credits_the_sale(
    fulfilment: Machine, ports: InMemoryPorts
) -> None:
    clock = SimulatedClock()
    actor = returned(fulfilment, clock, FULFILMENT_START)
    assert actor.get_snapshot().value == "returned"
    assert ports.inventory.on_hand["main", "CHAIR"] == 8
    (refund,) = ports.payments.refunds
    assert (refund.reference, refund.amount) == ("S-1", Decimal("228.00"))
    assert clock.pending == 0  # the return window timer went with the record


def test_a_return_is_refunded_from_the_sales_captures_newest_first(
    fulfilment: Machine, ports: InMemoryPorts
) -> None:
    for reference, amount in (("PSP-1", "200.00"), ("PSP-2", "100.00")):
        ports.payments.authorize(reference, Decimal(amount))
        ports.payments.capture(reference, Decimal(amount), "EUR")
    captures = [{"reference": "PSP-1", "amount": "200.00"}, {"reference": "PSP-2", "amount": "100.00"}]
    actor = returned(fulfilment, SimulatedClock(), {**FULFILMENT_START, "captures": captures})
    assert actor.get_snapshot().value == "returned"
    assert [(r.reference, r.amount) for r in ports.payments.refunds] == [
        ("PSP-2", Decimal("100.00")),
        ("PSP-1", Decimal("128.00")),
    ]


def test_a_return_the_captures_cannot_cover_refunds_nothing(
    fulfilment: Machine, ports: InMemoryPorts
) -> None:
    ports.payments.authorize("PSP-1", Decimal("300.00"))
    ports.payments.capture("PSP-1", Decimal("300.00"), "EUR")
    ports.payments.refund("PSP-1", Decimal("200.00"), "EUR")  # another return took most of it
    captures = [{"reference": "PSP-1", "amount": "300.00"}]
    actor = returned(fulfilment, SimulatedClock(), {**FULFILMENT_START, "captures": captures})
    assert actor.get_snapshot().status == "error"
    assert "only 100.00 left to refund" in str(actor.get_snapshot().error)
    assert len(ports.payments.refunds) == 1


def test_the_inventory_never_reserves_one_line_twice(ports: InMemoryPorts) -> None:
    from orderflow.orders.values import StockLine

    ports.inventory.reserve("S-1", [StockLine(sku="CHAIR", quantity=1)], "main")
    with pytest.raises(InventoryError, match="already has stock of 'CHAIR' reserved"):
        ports.inventory.reserve("S-1", [StockLine(sku="CHAIR", quantity=1)], "main")


def test_an_order_captures_reserves_and_ships(order: Machine, ports: InMemoryPorts) -> None:
    ports.payments.authorize("PAY-1", Decimal("99.90"))
    actor, _ = start(order, SimulatedClock(), ORDER_START)
    paid = {"type": "MARK_PAID", "payment_reference": "PAY-1", "amount": "99.90", "actor": CLERK}
    snapshot = actor.send(paid)
    assert snapshot.value == "paid"
    assert snapshot.context.inventory_reserved  # reserve_inventory answered INVENTORY_RESERVED
    assert ports.payments.captured == {"PAY-1": Decimal("99.90")}
    actor.send({"type": "SHIP", "tracking_number": "T1", "actor": CLERK})
    assert ports.inventory.on_hand["main", "LAMP"] == 3
    assert ports.notifications.templates() == ["order.paid", "order.shipped"]
    assert [topic for topic, _ in ports.notifications.webhooks] == ["order.paid", "order.shipped"]


def test_a_capture_the_provider_refuses_puts_the_actor_in_error(
    order: Machine, ports: InMemoryPorts
) -> None:
    actor, _ = start(order, SimulatedClock(), ORDER_START)
    paid = {"type": "MARK_PAID", "payment_reference": "PAY-X", "amount": "99.90", "actor": CLERK}
    snapshot = actor.send(paid)
    assert snapshot.status == "error"
    assert isinstance(actor.error, PaymentError)


def test_a_quotation_becomes_a_sale_and_then_a_fulfilment(ports: InMemoryPorts) -> None:
    clock = SimulatedClock()
    quotation = create_actor(
        load_machine("quotation", ports=ports),
        clock=clock,
        input={"quotation_id": "Q-9", "customer_id": "C-9", "currency": "EUR"},
    ).start()
    quotation.send({"type": "ADD_LINE", "sku": "CHAIR", "quantity": 2, "unit_price": "120.00"})
    quotation.send({"type": "SET_DISCOUNT", "percent": "5"})
    quotation.send("SUBMIT")
    approved = quotation.send("ACCEPT")
    assert approved.output == {"next_phase": "sale"}

    sale = create_actor(
        load_machine("sale", ports=ports),
        clock=clock,
        input=sale_input_from(approved, sale_id="S-9"),
    ).start()
    sale.send({"type": "SELECT_PAYMENT_METHOD", "method": "card"})
    ports.payments.authorize("PSP-9", Decimal("228.00"))  # the customer's checkout
    cleared = sale.send({"type": "CAPTURE", "amount": "228.00", "reference": "PSP-9"})
    assert cleared.value == "cleared"

    fulfilment = create_actor(
        load_machine("fulfilment", ports=ports), clock=clock, input=fulfilment_input_from(cleared)
    ).start()
    assert fulfilment.get_snapshot().value == "picking"
    assert fulfilment.get_snapshot().context.lines[0].unit_price == Decimal("120.00")
    assert ports.inventory.available("CHAIR") == 8


def test_a_restored_actor_resumes_its_timer(quotation: Machine) -> None:
    clock = SimulatedClock()
    actor, _ = start(
        quotation, clock, {"customer_id": "C-1", "currency": "EUR", "validity_ms": 1000}
    )
    actor.send({"type": "ADD_LINE", "sku": "A", "quantity": 1, "unit_price": "1"})
    actor.send("SUBMIT")
    persisted = actor.get_persisted_snapshot()
    actor.stop()
    clock.advance(400)
    resumed = create_actor(quotation, persisted, clock=clock).start()
    clock.advance(599)
    assert resumed.get_snapshot().value == "sent"
    clock.advance(1)
    assert resumed.get_snapshot().value == "expired"
