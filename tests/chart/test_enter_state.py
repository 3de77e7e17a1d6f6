"""``Machine.enter_state``: a state given with a context starts its states' invocations, and nothing else.

The service's adopt and backfill put a record into its workflow part-way
through ``enter_state``; a state that invokes a child must have that child
running afterwards, exactly as if a transition had entered it.
"""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

import orderflow
from orderflow.chart.actions import spawn_child
from orderflow.runtime import SimulatedClock

LAMP = orderflow.create_machine({
    "id": "lamp", "initial": "off", "context": {"watts": 0},
    "states": {
        "off": {"on": {"FLIP": "on"}},
        "on": {"after": {"500": "off"}, "on": {"FLIP": "off", "BREAK": "broken"}},
        "broken": {"type": "final"},
    },
})  # fmt: skip

FINISHED = orderflow.create_machine({
    "id": "finished", "initial": "f", "states": {"f": {"type": "final"}}, "output": {"ok": True},
})  # fmt: skip


def quote(input: dict[str, Any]) -> dict[str, Any]:
    return {"price": input["qty"] * 3}


def workshop(entry: Any = None) -> orderflow.Machine:
    """A user's own machine whose states invoke machines and a function, nested and in parallel."""
    return orderflow.setup(
        actors={"lamp": LAMP, "quote": quote, "finished": FINISHED},
        inputs={"qtyOf": lambda context, event: {"qty": context["qty"]}},
        actions={"spawnExtra": spawn_child("lamp", id="extra")},
    ).create_machine({
        "id": "shop", "initial": "idle", "context": {"qty": 2},
        "on": {"GO_IDLE": ".idle"},
        "states": {
            "idle": {"on": {
                "GO_WORK": "#shop.work", "GO_QUOTE": "#shop.work.quoting",
                "GO_BOTH": "#shop.both", "GO_DONE": "#shop.closing",
            }},
            "work": {
                "initial": "lit",
                "invoke": {"id": "hall", "src": "lamp"},
                "states": {
                    "lit": {"invoke": {"id": "desk", "src": "lamp"}, **({"entry": entry} if entry else {})},
                    "quoting": {"invoke": {"id": "price", "src": "quote", "inputFrom": "qtyOf"},
                                "after": {"1000": "lit"}},
                },
            },
            "both": {
                "type": "parallel",
                "states": {
                    "left": {"initial": "l", "states": {"l": {"invoke": {"id": "a", "src": "lamp"}}}},
                    "right": {"initial": "r", "states": {"r": {"invoke": {"id": "b", "src": "lamp"}}}},
                },
            },
            "closing": {"invoke": {"id": "closer", "src": "finished", "onDone": "closed"}},
            "closed": {"type": "final"},
        },
    })  # fmt: skip


GOING = {
    "GO_WORK": {"work": "lit"},
    "GO_QUOTE": {"work": "quoting"},
    "GO_BOTH": {"both": {"left": "l", "right": "r"}},
    "GO_DONE": "closing",
}


def _by_transition(machine: orderflow.Machine, event: str, context: dict[str, Any]) -> Any:
    idle, _ = machine.initial_transition()
    idle = machine.resolve_snapshot({**idle.to_json(), "context": context})
    return machine.step(idle, event)


def _started(actions: list[orderflow.Action]) -> list[tuple[str, str, Any]]:
    return [(a.type, a.actor, a.params) for a in actions if a.type != "schedule" or a.actor]


def test_entering_a_state_that_invokes_a_machine_starts_that_child() -> None:
    step = workshop().enter_state({"work": "lit"}, {"qty": 2})
    children = step.snapshot.children
    assert sorted(children) == ["desk", "hall"]
    assert children["hall"].snapshot is not None and children["hall"].snapshot.value == "off"
    assert step.snapshot.to_json()["children"]["desk"]["src"] == "lamp"


def test_a_function_actor_of_an_entered_state_is_a_start_record_with_its_input() -> None:
    machine = workshop()
    step = machine.enter_state({"work": "quoting"}, {"qty": 5})
    starts = [a for a in step.actions if a.type == "start_actor"]
    assert [(a.params["id"], a.params["input"]) for a in starts] == [("price", {"qty": 5})]
    # its answer comes back as to any started function actor, once
    after, _ = machine.transition(step.snapshot, {"type": "xstate.done.actor.price", "output": 1})
    assert after.children["price"].status == "done"


def test_the_parents_timers_are_armed_before_the_children_start() -> None:
    step = workshop().enter_state({"work": "quoting"}, {"qty": 1})
    types = [a.type for a in step.actions]
    assert types[0] == "schedule" and "start_actor" in types
    assert step.snapshot.timers and step.snapshot.timers[0].delay == 1000


def test_an_entry_action_that_spawns_is_not_run() -> None:
    step = workshop(entry="spawnExtra").enter_state({"work": "lit"}, {"qty": 2})
    assert "extra" not in step.snapshot.children
    assert sorted(step.snapshot.children) == ["desk", "hall"]


def test_a_child_that_finishes_at_once_moves_its_parent_on_as_a_transition_would() -> None:
    machine = workshop()
    entered = machine.enter_state("closing", {"qty": 2})
    moved = _by_transition(machine, "GO_DONE", {"qty": 2})
    assert entered.snapshot.value == moved.snapshot.value == "closed"
    assert entered.snapshot.status == "done"


def test_a_state_without_invocations_spawns_nothing() -> None:
    step = workshop().enter_state("idle", {"qty": 2})
    assert step.snapshot.children == {} and step.actions == []


def test_an_input_function_that_raises_fails_the_snapshot_and_arms_nothing() -> None:
    broken = orderflow.setup(
        actors={"quote": quote},
        inputs={"qtyOf": lambda context, event: {"qty": context["missing"]}},
    ).create_machine({
        "id": "b", "initial": "q", "context": {},
        "states": {"q": {"invoke": {"id": "p", "src": "quote", "inputFrom": "qtyOf"},
                         "after": {"10": "q"}}},
    })  # fmt: skip
    failed = broken.enter_state("q", {})
    assert failed.snapshot.status == "error" and failed.actions == []
    assert "missing" in failed.snapshot.error["message"]


def test_the_entered_snapshot_persists_and_restores_with_its_children() -> None:
    machine = workshop()
    step = machine.enter_state({"both": {"left": "l", "right": "r"}}, {"qty": 2})
    restored = machine.resolve_snapshot(step.snapshot.to_json())
    assert sorted(restored.children) == ["a", "b"]
    after, _ = machine.transition(restored, "FLIP", to="a")
    assert after.children["a"].snapshot.value == "on"  # type: ignore[union-attr]
    assert after.children["b"].snapshot.value == "off"  # type: ignore[union-attr]


@settings(max_examples=40, deadline=None)
@given(event=st.sampled_from(sorted(GOING)), qty=st.integers(0, 50))
def test_enter_state_starts_what_entering_by_a_transition_starts(event: str, qty: int) -> None:
    """The children, their snapshots and what they ask the caller to do are the same."""
    machine = workshop()
    entered = machine.enter_state(GOING[event], {"qty": qty})
    moved = _by_transition(machine, event, {"qty": qty})
    assert entered.snapshot.value == moved.snapshot.value
    assert entered.snapshot.to_json().get("children") == moved.snapshot.to_json().get("children")
    assert _started(entered.actions) == _started(moved.actions)
    assert [p for p, _ in entered.deliveries if p] == [p for p, _ in moved.deliveries if p]


def test_a_runtime_actor_started_from_an_entered_snapshot_runs_the_children() -> None:
    clock = SimulatedClock()
    machine = workshop()
    step = machine.enter_state({"work": "lit"}, {"qty": 2})
    actor = orderflow.create_actor(machine, step.snapshot.to_json(), clock=clock).start()
    actor.send_to("desk", "FLIP")
    assert actor.get_snapshot().children["desk"].snapshot.value == "on"  # type: ignore[union-attr]
    clock.advance(600)
    assert actor.get_snapshot().children["desk"].snapshot.value == "off"  # type: ignore[union-attr]


def test_a_machine_without_actors_only_arms_its_timers() -> None:
    plain = orderflow.create_machine({
        "id": "p", "initial": "a", "context": {},
        "states": {"a": {"after": {"5": "b"}}, "b": {}},
    })  # fmt: skip
    step = plain.enter_state("a", {})
    assert [a.type for a in step.actions] == ["schedule"] and step.snapshot.children == {}
