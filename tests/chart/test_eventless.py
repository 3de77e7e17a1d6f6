"""Eventless (``always``) transitions: taken as soon as their guard holds, before raised events."""

from __future__ import annotations

from chart_support import noop

import orderflow


def test_an_unguarded_always_transition_is_taken_on_entry() -> None:
    machine = orderflow.create_machine({"initial": "a", "states": {"a": {"always": "b"}, "b": {}}})
    snapshot, _ = machine.initial_transition()
    assert snapshot.value == "b"


def test_always_transitions_chain_within_one_macrostep() -> None:
    config = {
        "initial": "idle",
        "states": {
            "idle": {"on": {"GO": "a"}},
            "a": {"always": "b"},
            "b": {"always": "c"},
            "c": {},
        },
    }
    machine = orderflow.setup(actions={"enterB": noop}).create_machine(config)
    snapshot, _ = machine.initial_transition()
    snapshot, _ = machine.transition(snapshot, "GO")
    assert snapshot.value == "c"


def test_a_guarded_always_transition_waits_until_its_guard_holds() -> None:
    config = {
        "initial": "counting",
        "context": {"count": 0},
        "states": {
            "counting": {
                "always": {"target": "enough", "guard": "atLeastThree"},
                "on": {"ADD": {"actions": ["add"]}},
            },
            "enough": {},
        },
    }
    machine = orderflow.setup(
        guards={"atLeastThree": lambda c, e, p: c["count"] >= 3},
        actions={"add": orderflow.assign(lambda c, e, p: {"count": c["count"] + 1})},
    ).create_machine(config)
    snapshot, _ = machine.initial_transition()
    for _ in range(2):
        snapshot, _ = machine.transition(snapshot, "ADD")
        assert snapshot.value == "counting"
    snapshot, _ = machine.transition(snapshot, "ADD")
    assert snapshot.value == "enough"
    assert snapshot.context == {"count": 3}


def test_a_targetless_always_transition_repeats_while_it_changes_the_context() -> None:
    config = {
        "initial": "a",
        "context": {"count": 0},
        "states": {"a": {"always": {"guard": "belowFive", "actions": ["add"]}}},
    }
    machine = orderflow.setup(
        guards={"belowFive": lambda c, e, p: c["count"] < 5},
        actions={"add": orderflow.assign(lambda c, e, p: {"count": c["count"] + 1})},
    ).create_machine(config)
    snapshot, _ = machine.initial_transition()
    assert snapshot.context == {"count": 5}
    assert snapshot.value == "a"


def test_the_first_always_transition_whose_guard_passes_wins() -> None:
    config = {
        "initial": "route",
        "context": {"amount": 500},
        "states": {
            "route": {
                "always": [
                    {"target": "large", "guard": {"type": "over", "params": {"limit": 1000}}},
                    {"target": "medium", "guard": {"type": "over", "params": {"limit": 100}}},
                    {"target": "small"},
                ]
            },
            "large": {},
            "medium": {},
            "small": {},
        },
    }
    machine = orderflow.setup(
        guards={"over": lambda c, e, p: c["amount"] > p["limit"]}
    ).create_machine(config)
    assert machine.initial_transition()[0].value == "medium"
    assert machine.initial_transition(input={"amount": 5000})[0].value == "large"
    assert machine.initial_transition(input={"amount": 5})[0].value == "small"


def test_an_ancestors_always_transition_applies_to_its_descendants() -> None:
    config = {
        "initial": "p",
        "context": {"closed": False},
        "states": {
            "p": {
                "initial": "a",
                "always": {"target": "closed", "guard": "isClosed"},
                "states": {"a": {"on": {"CLOSE": {"actions": ["close"]}}}},
            },
            "closed": {},
        },
    }
    machine = orderflow.setup(
        guards={"isClosed": lambda c, e, p: c["closed"]},
        actions={"close": orderflow.assign({"closed": True})},
    ).create_machine(config)
    snapshot, _ = machine.initial_transition()
    assert snapshot.value == {"p": "a"}
    snapshot, _ = machine.transition(snapshot, "CLOSE")
    assert snapshot.value == "closed"


def test_eventless_transitions_are_taken_before_raised_events() -> None:
    # Entering b raises R and b's always goes to c first; c is the one that handles R.
    config = {
        "initial": "a",
        "states": {
            "a": {"on": {"GO": "b"}},
            "b": {
                "entry": [{"type": "raise", "params": {"event": {"type": "R"}}}],
                "always": "c",
                "on": {"R": "wrong"},
            },
            "c": {"on": {"R": "d"}},
            "d": {},
            "wrong": {},
        },
    }
    machine = orderflow.create_machine(config)
    snapshot, _ = machine.initial_transition()
    snapshot, _ = machine.transition(snapshot, "GO")
    assert snapshot.value == "d"


def test_always_transitions_of_several_regions_are_taken_together() -> None:
    config = {
        "type": "parallel",
        "states": {
            "a": {"initial": "a1", "states": {"a1": {"always": "a2"}, "a2": {}}},
            "b": {"initial": "b1", "states": {"b1": {"always": "b2"}, "b2": {}}},
        },
    }
    machine = orderflow.create_machine(config)
    snapshot, _ = machine.initial_transition()
    assert snapshot.value == {"a": "a2", "b": "b2"}


def test_always_actions_carry_the_event_that_started_the_macrostep() -> None:
    config = {
        "initial": "a",
        "states": {
            "a": {"on": {"GO": "b"}},
            "b": {"always": {"target": "c", "actions": ["passing"]}},
            "c": {},
        },
    }
    machine = orderflow.setup(actions={"passing": noop}).create_machine(config)
    snapshot, _ = machine.initial_transition()
    _, actions = machine.transition(snapshot, {"type": "GO", "n": 1})
    assert [(a.type, a.event.data) for a in actions] == [("passing", {"type": "GO", "n": 1})]


def test_always_guards_are_evaluated_with_every_event_even_an_unhandled_one() -> None:
    # Checked against xstate 5.33.3: the macrostep selects eventless transitions after any event.
    config = {
        "initial": "a",
        "states": {"a": {"always": {"target": "b", "guard": "isKick"}}, "b": {}},
    }
    machine = orderflow.setup(guards={"isKick": lambda c, e, p: e.type == "KICK"}).create_machine(
        config
    )
    snapshot, _ = machine.initial_transition()
    assert snapshot.value == "a"
    snapshot, _ = machine.transition(snapshot, "OTHER")
    assert snapshot.value == "a"
    snapshot, _ = machine.transition(snapshot, "KICK")
    assert snapshot.value == "b"
