"""Properties of random legal event sequences (hypothesis), checked after every step.

- the captured total never exceeds the total;
- a sale is cleared only after full capture, within the credit limit, or by an approved override;
- stock is never reserved twice for one line, nor shipped unreserved;
- an override is decided only by an actor with the role;
- from wherever a random run stops, a final state is still reachable (no trap).

Each run starts where ``order_walks`` starts a machine and draws every next
event from the events that walk offers there which the snapshot accepts
(``snapshot.can``), with random capture amounts for the sale.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orderflow.chart import Snapshot
from orderflow.orders import MACHINE_NAMES, Policies, in_memory_ports, load_machine
from orderflow.orders.values import money
from orderflow.orders.walks import FULFILMENT_START, POOR_CREDIT, WALKS, Event
from orderflow.runtime import SimulatedClock, create_actor
from orderflow.testing.paths import shortest_paths

MACHINES = {name: load_machine(name) for name in MACHINE_NAMES}
POLICIES = Policies()
PROPERTY = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
ROLE_FOR_KIND = {"credit": POLICIES.credit_approver_role, "admin": POLICIES.admin_role}
SHIPPED = {"shipped", "delivered", "return_requested", "awaiting_return", "inspecting", "returned"}

Step = tuple[Snapshot, Event, Snapshot]


#: where runs start besides the machine's start: the sale on credit hold, so that credit
#: overrides are requested and decided often (from the start, admin overrides crowd them out)
OPENINGS: dict[str, tuple[str, list[Event]]] = {
    **{name: (name, []) for name in MACHINE_NAMES},
    "sale-on-credit-hold": (
        "sale",
        [
            {"type": "SELECT_PAYMENT_METHOD", "method": "on_account"},
            {"type": "CREDIT_CHECKED", "credit": POOR_CREDIT},
        ],
    ),
}


def random_run(
    name: str, data: st.DataObject, max_steps: int = 40, opening: list[Event] | None = None
) -> Iterator[Step]:
    """Steps of a random run: (before, event, after), until the machine finishes or stops."""
    machine, walk = MACHINES[name], WALKS[name]
    snapshot = walk.start(machine)
    for event in opening or []:
        snapshot, _ = machine.transition(snapshot, event)
    for _ in range(data.draw(st.integers(min_value=0, max_value=max_steps), label="steps")):
        if snapshot.status != "active":
            return
        offered = walk.events(snapshot)
        if name == "sale":
            offered.append(random_capture(snapshot, data))
        # Only events that would do something: a refused one cannot break an invariant, and a
        # wrongly allowed one is still drawn, since its guard lets it through.
        legal = [event for event in offered if snapshot.can(event)]
        onward = [event for event in legal if _type(event) != "CANCEL"]
        if onward and data.draw(st.integers(min_value=0, max_value=9), label="go on") > 0:
            legal = onward  # cancel one time in ten, so most runs get somewhere first
        event = data.draw(st.sampled_from(legal), label="event")
        after, _ = machine.transition(snapshot, event)
        assert after.status != "error", (event, after.error)
        yield snapshot, event, after
        snapshot = after


def _type(event: Event | str) -> str:
    return event if isinstance(event, str) else str(event["type"])


def random_capture(snapshot: Snapshot, data: st.DataObject) -> Event:
    amount = data.draw(
        st.decimals(min_value=-5, max_value=snapshot.context.total + 5, places=2),
        label="capture amount",
    )
    return {
        "type": "CAPTURE",
        "amount": str(amount),
        "reference": f"R{len(snapshot.context.captures)}",
    }


# -- sale ------------------------------------------------------------------------------------------


def check_sale(before: Snapshot, event: Event, after: Snapshot) -> None:
    context = after.context
    assert context.captured_total <= context.total
    assert context.captured_total == sum((c.amount for c in context.captures), Decimal(0))
    if after.value == "cleared":
        clearance = context.clearance
        if clearance.basis == "full_payment":
            assert context.outstanding <= POLICIES.capture_tolerance
        elif clearance.basis == "credit_limit":
            assert context.credit is not None
            assert context.credit.available + POLICIES.credit_tolerance >= context.total
            assert context.credit.overdue == 0
        else:
            kind = clearance.basis.removesuffix("_override")
            (request,) = [o for o in context.overrides if o.id == clearance.override_id]
            assert (request.kind, request.status, request.decided_by) == (
                kind,
                "approved",
                clearance.by,
            )
    else:
        assert context.clearance is None
    opened = {o.id for o in before.context.overrides if o.status == "open"}
    for request in context.overrides:
        if request.id in opened and request.status in ("approved", "rejected"):
            assert ROLE_FOR_KIND[request.kind] in event["actor"]["roles"], (request, event)
            assert request.decided_by == event["actor"]["id"]


# -- fulfilment ------------------------------------------------------------------------------------


def check_fulfilment(before: Snapshot, event: Event, after: Snapshot) -> None:
    context = after.context
    skus = [r.sku for r in context.reservations]
    assert len(skus) == len(set(skus)), "a line is reserved twice"
    if before.context.reservations:
        assert context.reservations == before.context.reservations, "reserved again"
    if context.reservations_committed or after.value in SHIPPED or after.value in ("completed",):
        reserved = {r.sku: r.quantity for r in context.reservations}
        assert reserved == {line.sku: line.quantity for line in context.lines}, "shipped unreserved"
        assert context.reservations_committed


# -- quotation and order ---------------------------------------------------------------------------


def check_quotation(before: Snapshot, event: Event, after: Snapshot) -> None:
    context = after.context
    assert context.subtotal == money(sum((line.amount for line in context.lines), Decimal(0)))
    assert context.total == context.subtotal - context.discount
    assert context.revision == 1 + sum(r.kind in ("rejected", "revised") for r in context.reasons)
    needs_approval = (
        context.discount_percent > POLICIES.approval_discount_percent
        or context.total > POLICIES.approval_total
    )
    if after.value in ("sent", "approved") and needs_approval:
        assert context.approver is not None


def check_order(before: Snapshot, event: Event, after: Snapshot) -> None:
    if after.value in ("shipped", "fulfilled", "completed", "refunded", "returned"):
        assert after.context.inventory_reserved
        assert after.context.payment_reference is not None


CHECKS: dict[str, Callable[[Snapshot, Event, Snapshot], None]] = {
    "quotation": check_quotation,
    "sale": check_sale,
    "fulfilment": check_fulfilment,
    "order": check_order,
}


@pytest.mark.parametrize("opening", OPENINGS)
@PROPERTY
@given(data=st.data())
def test_random_legal_runs_keep_the_invariants(opening: str, data: st.DataObject) -> None:
    name, events = OPENINGS[opening]
    for before, event, after in random_run(name, data, opening=events):
        CHECKS[name](before, event, after)


@pytest.mark.parametrize("name", MACHINE_NAMES)
@settings(max_examples=15, deadline=None)
@given(data=st.data())
def test_wherever_a_random_run_stops_a_final_state_is_reachable(
    name: str, data: st.DataObject
) -> None:
    snapshot = WALKS[name].start(MACHINES[name])
    for _, _, after in random_run(name, data, max_steps=15):
        snapshot = after
    machine, walk = MACHINES[name], WALKS[name]
    finished = shortest_paths(
        machine, lambda s: s.status == "done", events=walk.events, key=walk.key, start=snapshot
    )
    assert finished, f"{snapshot.value} is a trap"


# -- through an actor and the in-memory inventory --------------------------------------------------

WAREHOUSE_EVENTS: list[Any] = [
    "RESTOCKED",
    "PICKED",
    "PACKED",
    {"type": "SHIP", "carrier": "DHL", "tracking": "T"},
    "DELIVER",
    {"type": "CANCEL", "reason": "void"},
    "ADD_STOCK",
    "WAIT",
]


@settings(max_examples=60, deadline=None)
@given(
    desks=st.integers(min_value=0, max_value=2),
    script=st.lists(st.sampled_from(range(len(WAREHOUSE_EVENTS))), max_size=20),
)
def test_the_warehouse_never_holds_a_line_twice_nor_ships_it_unreserved(
    desks: int, script: list[int]
) -> None:
    ports = in_memory_ports(stock={"CHAIR": 4, "DESK": desks})
    clock = SimulatedClock()
    actor = create_actor(
        load_machine("fulfilment", ports=ports), clock=clock, input=FULFILMENT_START
    )
    actor.start()
    for index in script:
        event = WAREHOUSE_EVENTS[index]
        if event == "ADD_STOCK":
            ports.inventory.add_stock("DESK", 1)
        elif event == "WAIT":
            clock.advance(8 * 24 * 60 * 60 * 1000)
        elif actor.get_snapshot().status == "active":
            actor.send(event)
        snapshot = actor.get_snapshot()
        assert snapshot.status != "error", actor.error
        live = [
            (r.owner, r.sku)
            for r in ports.inventory.reservations.values()
            if r.status != "released"
        ]
        assert len(live) == len(set(live))
        if snapshot.context.reservations_committed:
            committed = [
                r for r in ports.inventory.reservations.values() if r.status == "committed"
            ]
            assert sorted(r.sku for r in committed) == ["CHAIR", "DESK"]
