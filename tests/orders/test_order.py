"""The simple order machine, path by path, through the pure core."""

from __future__ import annotations

from typing import Any

import pytest

from orderflow.chart import Action, Machine, Snapshot
from orderflow.orders import DAY_MS, Policies, load_machine
from orderflow.orders.walks import ADMIN, CLERK, NOBODY, ORDER_START

PAID = {"type": "MARK_PAID", "payment_reference": "PAY-1", "amount": "99.90", "actor": CLERK}
RESERVED = {
    "type": "INVENTORY_RESERVED",
    "reservations": [{"reservation_id": "RSV-1", "sku": "LAMP", "quantity": 2}],
}
UNAVAILABLE = {
    "type": "INVENTORY_UNAVAILABLE",
    "shortages": [{"sku": "LAMP", "requested": 2, "available": 1}],
}
SHIP = {"type": "SHIP", "tracking_number": "JD1", "actor": CLERK}
FULFILL = {"type": "FULFILL", "actor": CLERK}


def run(machine: Machine, *events: Any) -> Snapshot:
    snapshot, _ = machine.initial_transition(input=ORDER_START)
    for event in events:
        snapshot, _ = machine.transition(snapshot, event)
    return snapshot


def effects(actions: list[Action]) -> list[Any]:
    return [(a.type, a.params) if a.params else a.type for a in actions]


def test_marking_an_authorised_payment_paid_captures_it_and_reserves_stock(order: Machine) -> None:
    snapshot, actions = order.transition(run(order), PAID)
    assert snapshot.value == "paid"
    assert snapshot.context.payment_reference == "PAY-1"
    assert effects(actions) == [
        "capture_payment",
        ("send_email", {"template": "order.paid"}),
        ("emit_webhook", {"topic": "order.paid"}),
        "reserve_inventory",
    ]


def test_a_payment_that_does_not_cover_the_total_is_not_authorised(order: Machine) -> None:
    snapshot = run(order)
    short = {**PAID, "amount": "10.00"}
    assert "does not match the total 99.90" in str(order.explain(snapshot, short))


@pytest.mark.parametrize(
    ("actor", "reason"),
    [(NOBODY, "nick lacks the permission order.change"), (None, "names no actor")],
)
def test_role_allowed_asks_for_order_change_by_default(
    order: Machine, actor: Any, reason: str
) -> None:
    event = {**PAID, "actor": actor}
    assert reason in str(order.explain(run(order), event))


def test_a_role_may_grant_the_permission() -> None:
    policies = Policies(role_permissions={"shop": ("order.change",)})
    machine = load_machine("order", policies=policies)
    assert run(machine, {**PAID, "actor": {"id": "sam", "roles": ["shop"]}}).value == "paid"


def test_shipping_waits_for_the_reservation(order: Machine) -> None:
    snapshot = run(order, PAID)
    assert "stock is not reserved" in str(order.explain(snapshot, SHIP))
    snapshot, actions = order.transition(run(order, PAID, RESERVED), SHIP)
    assert snapshot.value == "shipped"
    assert effects(actions)[:2] == [
        "commit_inventory",
        ("send_email", {"template": "order.shipped"}),
    ]


def test_unavailable_stock_may_be_reserved_again(order: Machine) -> None:
    snapshot = run(order, PAID, UNAVAILABLE)
    assert snapshot.value == "paid"
    assert snapshot.context.shortages
    snapshot, actions = order.transition(snapshot, {"type": "RETRY_RESERVATION", "actor": CLERK})
    assert effects(actions) == ["reserve_inventory"]
    assert not run(order, PAID, RESERVED).can({"type": "RETRY_RESERVATION", "actor": CLERK})


def test_ship_fulfil_and_the_return_window_completes_the_order(order: Machine) -> None:
    snapshot = run(order, PAID, RESERVED, SHIP, FULFILL)
    assert snapshot.value == "fulfilled"
    (window,) = snapshot.timers
    assert window.delay == 30 * DAY_MS
    snapshot, _ = order.transition(snapshot, dict(window.event))
    assert (snapshot.value, snapshot.status) == ("completed", "done")


def test_a_refund_needs_the_refund_permission(order: Machine) -> None:
    snapshot = run(order, PAID, RESERVED, SHIP, FULFILL)
    assert "lacks the permission order.refund" in str(
        order.explain(snapshot, {"type": "REFUND", "actor": CLERK})
    )
    snapshot, actions = order.transition(snapshot, {"type": "REFUND", "actor": ADMIN})
    assert (snapshot.value, snapshot.status) == ("refunded", "done")
    assert effects(actions)[1] == "refund_payment"  # after the timer's cancel


def test_a_fulfilled_order_may_be_returned(order: Machine) -> None:
    snapshot, actions = order.transition(
        run(order, PAID, RESERVED, SHIP, FULFILL), {"type": "RETURN", "actor": CLERK}
    )
    assert snapshot.value == "returned"
    assert "refund_payment" in effects(actions)


def test_cancel_from_pending_refunds_nothing(order: Machine) -> None:
    snapshot, actions = order.transition(run(order), {"type": "CANCEL", "actor": CLERK})
    assert snapshot.value == "cancelled"
    assert "refund_payment" not in effects(actions)


def test_cancel_from_paid_refunds_and_releases(order: Machine) -> None:
    snapshot, actions = order.transition(
        run(order, PAID, RESERVED), {"type": "CANCEL", "actor": CLERK, "reason": "fraud"}
    )
    assert snapshot.value == "cancelled"
    assert snapshot.context.cancel_reason == "fraud"
    assert effects(actions) == [
        "refund_payment",
        "release_inventory",
        ("send_email", {"template": "order.cancelled"}),
        ("emit_webhook", {"topic": "order.cancelled"}),
    ]


def test_a_shipped_order_cannot_be_cancelled(order: Machine) -> None:
    assert not run(order, PAID, RESERVED, SHIP).can({"type": "CANCEL", "actor": CLERK})
