"""The fulfilment machine, path by path, through the pure core (the caller plays the effects' answers)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from orderflow.chart import Action, Machine, Snapshot
from orderflow.orders import DAY_MS
from orderflow.orders.walks import FULFILMENT_START

RESERVATIONS: list[dict[str, Any]] = [
    {"reservation_id": "RSV-1", "sku": "CHAIR", "quantity": 4},
    {"reservation_id": "RSV-2", "sku": "DESK", "quantity": 1},
]
RESERVED = {"type": "STOCK_RESERVED", "reservations": RESERVATIONS}
SHORT = {"type": "STOCK_SHORT", "shortages": [{"sku": "DESK", "requested": 1, "available": 0}]}
SHIP = {"type": "SHIP", "carrier": "DHL", "tracking": "JD014600003"}
RETURN_ONE_CHAIR = {
    "type": "REQUEST_RETURN",
    "reason": "scratched",
    "lines": [{"sku": "CHAIR", "quantity": 1}],
}
TO_DELIVERED = (RESERVED, "PICKED", "PACKED", SHIP, "DELIVER")


def run(machine: Machine, *events: Any) -> Snapshot:
    snapshot, _ = machine.initial_transition(input=FULFILMENT_START)
    for event in events:
        snapshot, _ = machine.transition(snapshot, event)
    return snapshot


def types(actions: list[Action]) -> list[str]:
    return [a.params["event"]["type"] if a.type == "emit" else a.type for a in actions]


def timer(snapshot: Snapshot, timer_id: str) -> dict[str, Any]:
    return next(dict(t.event) for t in snapshot.timers if timer_id in t.id)


def test_a_new_fulfilment_is_allocating_and_asks_for_stock(fulfilment: Machine) -> None:
    snapshot, actions = fulfilment.initial_transition(input=FULFILMENT_START)
    assert snapshot.value == "allocating"  # pending hands over at once
    assert types(actions) == ["reserve_stock"]


def test_reserved_stock_moves_to_picking(fulfilment: Machine) -> None:
    snapshot = run(fulfilment, RESERVED)
    assert snapshot.value == "picking"
    assert [r.reservation_id for r in snapshot.context.reservations] == ["RSV-1", "RSV-2"]


def test_reservations_that_do_not_match_the_lines_are_refused(fulfilment: Machine) -> None:
    snapshot = run(fulfilment)
    partial = {"type": "STOCK_RESERVED", "reservations": RESERVATIONS[:1]}
    twice = {"type": "STOCK_RESERVED", "reservations": RESERVATIONS * 2}
    assert "do not match the lines" in str(fulfilment.explain(snapshot, partial))
    assert "cannot be reserved twice" in str(fulfilment.explain(snapshot, twice))


def test_short_stock_is_backordered_and_overdue_after_the_wait(fulfilment: Machine) -> None:
    snapshot, actions = fulfilment.transition(run(fulfilment), SHORT)
    assert snapshot.value == "backordered"
    assert types(actions) == ["fulfilment.backordered", "schedule"]
    assert snapshot.timers[0].delay == 7 * DAY_MS
    snapshot, actions = fulfilment.transition(snapshot, timer(snapshot, "backordered"))
    assert snapshot.value == "backordered"  # it stays
    assert snapshot.context.backorder_overdue
    assert types(actions) == ["fulfilment.backorder_overdue", "notify_backorder_overdue"]
    assert snapshot.timers == ()


def test_restocking_allocates_again(fulfilment: Machine) -> None:
    snapshot, actions = fulfilment.transition(run(fulfilment, SHORT), "RESTOCKED")
    assert snapshot.value == "allocating"
    assert types(actions) == ["cancel", "reserve_stock"]
    assert run(fulfilment, SHORT, "RESTOCKED", RESERVED).value == "picking"


def test_pick_pack_ship_deliver(fulfilment: Machine) -> None:
    snapshot = run(fulfilment, RESERVED, "PICKED")
    assert snapshot.value == "packing"
    snapshot, _ = fulfilment.transition(snapshot, "PACKED")
    assert snapshot.value == "ready_to_ship"
    snapshot, actions = fulfilment.transition(snapshot, SHIP)
    assert snapshot.value == "shipped"
    assert types(actions) == ["commit_reservations", "fulfilment.shipped", "notify_shipped"]
    assert (snapshot.context.carrier, snapshot.context.tracking_number) == ("DHL", "JD014600003")
    assert snapshot.context.reservations_committed
    snapshot, actions = fulfilment.transition(snapshot, "DELIVER")
    assert snapshot.value == "delivered"
    assert types(actions) == ["schedule", "fulfilment.delivered"]
    (window,) = snapshot.timers
    assert (window.id, window.delay) == ("return_window", 30 * DAY_MS)


def test_when_the_return_window_closes_the_fulfilment_completes(fulfilment: Machine) -> None:
    snapshot = run(fulfilment, *TO_DELIVERED)
    snapshot, actions = fulfilment.transition(snapshot, timer(snapshot, "return_window"))
    assert (snapshot.value, snapshot.status) == ("completed", "done")
    assert types(actions) == ["fulfilment.completed"]


def test_a_return_is_requested_approved_received_and_accepted(fulfilment: Machine) -> None:
    snapshot = run(fulfilment, *TO_DELIVERED, RETURN_ONE_CHAIR)
    assert snapshot.value == "return_requested"
    assert snapshot.context.return_request.lines[0].sku == "CHAIR"
    snapshot, actions = fulfilment.transition(snapshot, "APPROVE_RETURN")
    assert snapshot.value == "awaiting_return"
    assert "notify_return_approved" in types(actions)
    snapshot, _ = fulfilment.transition(snapshot, "RETURN_RECEIVED")
    assert snapshot.value == "inspecting"
    snapshot, actions = fulfilment.transition(snapshot, "ACCEPT_RETURN")
    assert (snapshot.value, snapshot.status) == ("returned", "done")
    assert snapshot.context.refund_amount == Decimal("114.00")  # 120.00 less the sale's 5 %
    assert types(actions) == [
        "restock_returned_items",
        "refund_return",
        "cancel",
        "fulfilment.returned",
    ]
    assert snapshot.timers == ()  # the return window timer is gone with the record


def test_a_return_of_more_than_was_delivered_is_refused(fulfilment: Machine) -> None:
    snapshot = run(fulfilment, *TO_DELIVERED)
    greedy = {**RETURN_ONE_CHAIR, "lines": [{"sku": "CHAIR", "quantity": 5}]}
    assert "4 were delivered" in str(fulfilment.explain(snapshot, greedy))
    stranger = {**RETURN_ONE_CHAIR, "lines": [{"sku": "SOFA", "quantity": 1}]}
    assert not snapshot.can(stranger)


def test_a_rejected_return_goes_back_to_delivered_with_the_window_still_running(
    fulfilment: Machine,
) -> None:
    delivered = run(fulfilment, *TO_DELIVERED)
    snapshot = run(fulfilment, *TO_DELIVERED, RETURN_ONE_CHAIR, "REJECT_RETURN")
    assert snapshot.value == "delivered"
    assert snapshot.context.return_request.status == "rejected"
    assert snapshot.timers == delivered.timers  # not restarted


def test_a_return_decided_after_the_window_closed_completes(fulfilment: Machine) -> None:
    snapshot = run(fulfilment, *TO_DELIVERED, RETURN_ONE_CHAIR)
    snapshot, _ = fulfilment.transition(snapshot, timer(snapshot, "return_window"))
    assert snapshot.value == "return_requested"  # a pending request is still decided
    assert snapshot.context.return_window_closed
    snapshot, _ = fulfilment.transition(snapshot, "REJECT_RETURN")
    assert (snapshot.value, snapshot.status) == ("completed", "done")


def test_rejected_items_go_back_to_delivered(fulfilment: Machine) -> None:
    snapshot = run(fulfilment, *TO_DELIVERED, RETURN_ONE_CHAIR, "APPROVE_RETURN", "RETURN_RECEIVED")
    snapshot, actions = fulfilment.transition(snapshot, "REJECT_RETURN_ITEMS")
    assert snapshot.value == "delivered"
    assert snapshot.context.return_request.status == "items_rejected"
    assert types(actions) == ["notify_return_items_rejected"]


def test_a_return_that_never_arrives_counts_as_abandoned(fulfilment: Machine) -> None:
    snapshot = run(fulfilment, *TO_DELIVERED, RETURN_ONE_CHAIR, "APPROVE_RETURN")
    wait = next(t for t in snapshot.timers if t.id.startswith("xstate.after."))
    assert wait.delay == 14 * DAY_MS
    snapshot, _ = fulfilment.transition(snapshot, dict(wait.event))
    assert snapshot.value == "delivered"
    assert snapshot.context.return_request.status == "abandoned"


@pytest.mark.parametrize(
    "events",
    [(), (SHORT,), (RESERVED,), (RESERVED, "PICKED"), (RESERVED, "PICKED", "PACKED")],
    ids=["allocating", "backordered", "picking", "packing", "ready_to_ship"],
)
def test_cancel_before_shipping_releases_the_reservation(
    fulfilment: Machine, events: tuple[Any, ...]
) -> None:
    snapshot, actions = fulfilment.transition(
        run(fulfilment, *events), {"type": "CANCEL", "reason": "sale voided"}
    )
    assert (snapshot.value, snapshot.status) == ("cancelled", "done")
    assert "release_reservations" in types(actions)
    assert types(actions)[-1] == "fulfilment.cancelled"
    assert snapshot.timers == ()


def test_cancel_after_shipping_is_not_possible(fulfilment: Machine) -> None:
    for events in [(*TO_DELIVERED[:-1],), TO_DELIVERED]:
        assert not run(fulfilment, *events).can("CANCEL")


def test_shipping_needs_every_line_reserved(fulfilment: Machine) -> None:
    snapshot = run(fulfilment, RESERVED, "PICKED", "PACKED")
    assert snapshot.can(SHIP)
    shipped = fulfilment.transition(snapshot, SHIP)[0]
    assert shipped.context.reservations_committed


def test_a_fulfilment_survives_persistence_with_its_return_window(fulfilment: Machine) -> None:
    snapshot = run(fulfilment, *TO_DELIVERED, RETURN_ONE_CHAIR)
    restored = fulfilment.resolve_snapshot(snapshot.to_json())
    assert restored == snapshot
    closed, _ = fulfilment.transition(restored, timer(restored, "return_window"))
    assert closed.context.return_window_closed
