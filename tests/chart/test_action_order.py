"""Action order: SCXML's — exits innermost first, then transition actions, then entries outermost first.

Every returned action carries its params and the event that caused it;
``assign`` and ``raise`` are applied by the engine and never returned.
"""

from __future__ import annotations

from typing import Any

from chart_support import noop

import orderflow
from orderflow import Action, TypedEvent


def named(name: str, **params: Any) -> dict[str, Any]:
    return {"type": name, "params": params}


ORDER = {
    "id": "m",
    "initial": "a",
    "entry": ["enterRoot"],
    "states": {
        "a": {
            "initial": "a1",
            "entry": [named("enter", state="a")],
            "exit": [named("exit", state="a")],
            "states": {
                "a1": {
                    "initial": "a11",
                    "entry": [named("enter", state="a1")],
                    "exit": [named("exit", state="a1")],
                    "states": {
                        "a11": {
                            "entry": [named("enter", state="a11")],
                            "exit": [named("exit", state="a11")],
                            "on": {
                                "GO": {
                                    "target": "#m.b.b1",
                                    "actions": [named("go", step=1), named("go", step=2)],
                                }
                            },
                        }
                    },
                }
            },
        },
        "b": {
            "initial": "b1",
            "entry": [named("enter", state="b")],
            "exit": [named("exit", state="b")],
            "states": {
                "b1": {
                    "initial": "b11",
                    "entry": [named("enter", state="b1")],
                    "states": {"b11": {"entry": [named("enter", state="b11")]}},
                }
            },
        },
    },
}


def order_machine() -> orderflow.Machine:
    return orderflow.setup(
        actions={"enter": noop, "exit": noop, "go": noop, "enterRoot": noop}
    ).create_machine(ORDER)


def test_initial_entry_actions_run_outermost_first() -> None:
    machine = order_machine()
    _, actions = machine.initial_transition()
    init = TypedEvent.internal({"type": "xstate.init"})
    assert actions == [
        Action("enterRoot", None, init),
        Action("enter", {"state": "a"}, init),
        Action("enter", {"state": "a1"}, init),
        Action("enter", {"state": "a11"}, init),
    ]


def test_exits_innermost_first_then_transition_actions_then_entries_outermost_first() -> None:
    machine = order_machine()
    snapshot, _ = machine.initial_transition()
    event = TypedEvent.internal({"type": "GO", "order": 7})
    snapshot, actions = machine.transition(snapshot, event)
    assert snapshot.value == {"b": {"b1": "b11"}}
    assert actions == [
        Action("exit", {"state": "a11"}, event),
        Action("exit", {"state": "a1"}, event),
        Action("exit", {"state": "a"}, event),
        Action("go", {"step": 1}, event),
        Action("go", {"step": 2}, event),
        Action("enter", {"state": "b"}, event),
        Action("enter", {"state": "b1"}, event),
        Action("enter", {"state": "b11"}, event),
    ]


def test_actions_serialise_to_plain_json() -> None:
    machine = order_machine()
    snapshot, _ = machine.initial_transition()
    _, actions = machine.transition(snapshot, "GO")
    assert actions[0].to_json() == {
        "type": "exit",
        "params": {"state": "a11"},
        "event": {"type": "GO"},
    }


def test_assign_is_applied_by_the_engine_and_not_returned() -> None:
    config = {
        "initial": "a",
        "context": {"n": 0},
        "states": {
            "a": {
                "on": {
                    "GO": {
                        "target": "b",
                        "actions": [{"type": "assign", "params": {"n": 1}}, "notify"],
                    }
                }
            },
            "b": {},
        },
    }
    machine = orderflow.setup(actions={"notify": noop}).create_machine(config)
    snapshot, _ = machine.initial_transition()
    snapshot, actions = machine.transition(snapshot, "GO")
    assert snapshot.context == {"n": 1}
    assert [a.type for a in actions] == ["notify"]


def test_a_raised_event_is_processed_after_the_current_microstep_with_its_own_event() -> None:
    config = {
        "initial": "a",
        "states": {
            "a": {
                "on": {
                    "GO": {
                        "target": "b",
                        "actions": [
                            {
                                "type": "raise",
                                "params": {"event": {"type": "NEXT", "why": "raised"}},
                            },
                            "first",
                        ],
                    }
                }
            },
            "b": {"entry": ["enterB"], "on": {"NEXT": {"target": "c", "actions": ["second"]}}},
            "c": {},
        },
    }
    machine = orderflow.setup(
        actions={"first": noop, "enterB": noop, "second": noop}
    ).create_machine(config)
    snapshot, _ = machine.initial_transition()
    snapshot, actions = machine.transition(snapshot, "GO")
    assert snapshot.value == "c"
    assert [(a.type, a.event.type) for a in actions] == [
        ("first", "GO"),
        ("enterB", "GO"),
        ("second", "NEXT"),
    ]
    assert actions[2].event.data == {"type": "NEXT", "why": "raised"}


def test_raised_events_are_processed_in_the_order_they_were_raised() -> None:
    config = {
        "initial": "a",
        "states": {
            "a": {
                "entry": [
                    {"type": "raise", "params": {"event": "ONE"}},
                    {"type": "raise", "params": {"event": "TWO"}},
                ],
                "on": {"ONE": {"actions": ["one"]}, "TWO": {"actions": ["two"]}},
            }
        },
    }
    machine = orderflow.setup(actions={"one": noop, "two": noop}).create_machine(config)
    _, actions = machine.initial_transition()
    assert [a.type for a in actions] == ["one", "two"]


def test_emit_and_log_are_returned_as_records_in_place() -> None:
    config = {
        "initial": "a",
        "states": {
            "a": {
                "exit": [{"type": "log", "params": {"message": "leaving a"}}],
                "on": {
                    "PAY": {
                        "target": "b",
                        "actions": [
                            {"type": "emit", "params": {"event": {"type": "order.paid", "id": 7}}}
                        ],
                    }
                },
            },
            "b": {"entry": ["notify"]},
        },
    }
    machine = orderflow.setup(actions={"notify": noop}).create_machine(config)
    snapshot, _ = machine.initial_transition()
    _, actions = machine.transition(snapshot, "PAY")
    pay = TypedEvent.internal({"type": "PAY"})
    assert actions == [
        Action("log", {"message": "leaving a"}, pay),
        Action("emit", {"event": {"type": "order.paid", "id": 7}}, pay),
        Action("notify", None, pay),
    ]


def test_xstate_spelled_built_ins_are_understood() -> None:
    config = {
        "initial": "a",
        "context": {"n": 0},
        "states": {
            "a": {
                "on": {
                    "GO": {
                        "actions": [
                            {"type": "xstate.assign", "params": {"n": 2}},
                            {"type": "xstate.raise", "params": {"event": {"type": "DONE"}}},
                        ]
                    },
                    "DONE": "b",
                }
            },
            "b": {},
        },
    }
    machine = orderflow.create_machine(config)
    snapshot, _ = machine.initial_transition()
    snapshot, actions = machine.transition(snapshot, "GO")
    assert snapshot.value == "b"
    assert snapshot.context == {"n": 2}
    assert actions == []


def test_a_named_action_implemented_by_a_built_in_is_applied_by_the_engine() -> None:
    config = {
        "initial": "a",
        "context": {"count": 0},
        "states": {
            "a": {"on": {"ADD": {"actions": [{"type": "add", "params": {"by": 5}}, "notify"]}}}
        },
    }
    machine = orderflow.setup(
        actions={
            "add": orderflow.assign(lambda c, e, p: {"count": c["count"] + p["by"]}),
            "notify": noop,
        }
    ).create_machine(config)
    snapshot, _ = machine.initial_transition()
    snapshot, actions = machine.transition(snapshot, "ADD")
    assert snapshot.context == {"count": 5}
    assert [a.type for a in actions] == ["notify"]


def test_assign_is_visible_to_later_actions_in_the_same_step() -> None:
    seen: list[Any] = []

    def remember(context: Any, event: Any, params: Any) -> dict[str, Any]:
        seen.append(dict(context))
        return {}

    config = {
        "initial": "a",
        "context": {"n": 0},
        "states": {
            "a": {
                "exit": [{"type": "assign", "params": {"n": 1}}],
                "on": {"GO": {"target": "b", "actions": ["check"]}},
            },
            "b": {"entry": [{"type": "assign", "params": {"n": 2}}, "check"]},
        },
    }
    machine = orderflow.setup(actions={"check": orderflow.assign(remember)}).create_machine(config)
    snapshot, _ = machine.initial_transition()
    snapshot, _ = machine.transition(snapshot, "GO")
    assert seen == [{"n": 1}, {"n": 2}]
    assert snapshot.context == {"n": 2}


def test_entry_actions_of_parallel_regions_follow_document_order_and_exits_reverse_it() -> None:
    config = {
        "initial": "p",
        "states": {
            "p": {
                "type": "parallel",
                "on": {"OUT": "q"},
                "states": {
                    "x": {"entry": [named("enter", s="x")], "exit": [named("exit", s="x")]},
                    "y": {"entry": [named("enter", s="y")], "exit": [named("exit", s="y")]},
                    "z": {"entry": [named("enter", s="z")], "exit": [named("exit", s="z")]},
                },
            },
            "q": {},
        },
    }
    machine = orderflow.setup(actions={"enter": noop, "exit": noop}).create_machine(config)
    snapshot, actions = machine.initial_transition()
    assert [a.params for a in actions] == [{"s": "x"}, {"s": "y"}, {"s": "z"}]
    _, actions = machine.transition(snapshot, "OUT")
    assert [(a.type, a.params) for a in actions] == [
        ("exit", {"s": "z"}),
        ("exit", {"s": "y"}),
        ("exit", {"s": "x"}),
    ]


def test_a_transition_to_a_sibling_runs_only_the_siblings_exit_and_entry() -> None:
    config = {
        "initial": "p",
        "states": {
            "p": {
                "initial": "a",
                "entry": ["enterP"],
                "exit": ["exitP"],
                "states": {
                    "a": {"exit": ["exitA"], "on": {"GO": {"target": "b", "actions": ["go"]}}},
                    "b": {"entry": ["enterB"]},
                },
            }
        },
    }
    machine = orderflow.setup(
        actions=dict.fromkeys(("enterP", "exitP", "exitA", "go", "enterB"), noop)
    ).create_machine(config)
    snapshot, _ = machine.initial_transition()
    _, actions = machine.transition(snapshot, "GO")
    assert [a.type for a in actions] == ["exitA", "go", "enterB"]
