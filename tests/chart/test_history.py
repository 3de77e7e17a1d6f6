"""History states: shallow and deep memory, defaults, history in parallel states, and persistence."""

from __future__ import annotations

import json
from typing import Any

import pytest
from chart_support import noop

import orderflow
from orderflow.errors import DefinitionError
from orderflow.export import to_xstate


def history_machine(kind: str, default: str | None = None) -> orderflow.Machine:
    history: dict[str, Any] = {"type": "history", "history": kind}
    if default is not None:
        history["target"] = default
    config = {
        "id": "m",
        "initial": "editing",
        "states": {
            "editing": {
                "initial": "draft",
                "on": {"PAUSE": "paused"},
                "states": {
                    "hist": history,
                    "draft": {"on": {"NEXT": "review"}},
                    "review": {
                        "initial": "first",
                        "on": {"NEXT": "approved"},
                        "states": {"first": {"on": {"SECOND": "second"}}, "second": {}},
                    },
                    "approved": {},
                },
            },
            "paused": {"on": {"RESUME": "editing.hist", "RESTART": "editing"}},
        },
    }
    return orderflow.create_machine(config)


def run(machine: orderflow.Machine, *events: str) -> orderflow.Snapshot:
    snapshot, _ = machine.initial_transition()
    for event in events:
        snapshot, _ = machine.transition(snapshot, event)
    return snapshot


def test_shallow_history_remembers_last_child() -> None:
    machine = history_machine("shallow")
    snapshot = run(machine, "NEXT", "NEXT", "PAUSE", "RESUME")
    assert snapshot.value == {"editing": "approved"}


def test_shallow_history_enters_a_remembered_compound_child_at_its_initial_state() -> None:
    machine = history_machine("shallow")
    snapshot = run(machine, "NEXT", "SECOND", "PAUSE", "RESUME")
    assert snapshot.value == {"editing": {"review": "first"}}


def test_deep_history_remembers_the_nested_atomic_state() -> None:
    machine = history_machine("deep")
    snapshot = run(machine, "NEXT", "SECOND", "PAUSE", "RESUME")
    assert snapshot.value == {"editing": {"review": "second"}}


def test_history_without_memory_enters_the_parents_initial_state() -> None:
    config = {
        "initial": "outside",
        "states": {
            "outside": {"on": {"ENTER": "inside.hist"}},
            "inside": {
                "initial": "one",
                "states": {"hist": {"type": "history"}, "one": {"on": {"N": "two"}}, "two": {}},
            },
        },
    }
    machine = orderflow.create_machine(config)
    snapshot = run(machine, "ENTER")
    assert snapshot.value == {"inside": "one"}


def test_history_without_memory_takes_its_default_target() -> None:
    config = {
        "initial": "outside",
        "states": {
            "outside": {"on": {"ENTER": "inside.hist"}},
            "inside": {
                "initial": "one",
                "states": {
                    "hist": {"type": "history", "target": "two"},
                    "one": {"on": {"N": "two"}},
                    "two": {},
                },
            },
        },
    }
    machine = orderflow.create_machine(config)
    snapshot = run(machine, "ENTER")
    assert snapshot.value == {"inside": "two"}


def test_a_deep_history_default_target_can_be_a_nested_state() -> None:
    config = {
        "initial": "outside",
        "states": {
            "outside": {"on": {"ENTER": "inside.hist"}},
            "inside": {
                "initial": "one",
                "states": {
                    "hist": {"type": "history", "history": "deep", "target": "two.deeper"},
                    "one": {"on": {"N": "two"}},
                    "two": {
                        "initial": "shallow",
                        "states": {"shallow": {"on": {"D": "deeper"}}, "deeper": {}},
                    },
                },
            },
        },
    }
    machine = orderflow.create_machine(config)
    snapshot = run(machine, "ENTER")
    assert snapshot.value == {"inside": {"two": "deeper"}}


def test_memory_wins_over_the_default_target() -> None:
    config = {
        "initial": "inside",
        "states": {
            "outside": {"on": {"ENTER": "inside.hist"}},
            "inside": {
                "initial": "one",
                "on": {"LEAVE": "outside"},
                "states": {
                    "hist": {"type": "history", "target": "two"},
                    "one": {"on": {"N": "two"}},
                    "two": {},
                },
            },
        },
    }
    machine = orderflow.create_machine(config)
    snapshot = run(machine, "LEAVE", "ENTER")
    assert snapshot.value == {"inside": "one"}


def test_entering_the_parent_directly_ignores_history() -> None:
    machine = history_machine("deep")
    snapshot = run(machine, "NEXT", "SECOND", "PAUSE", "RESTART")
    assert snapshot.value == {"editing": "draft"}


def test_history_is_recorded_every_time_the_parent_exits() -> None:
    machine = history_machine("shallow")
    snapshot = run(machine, "NEXT", "PAUSE", "RESUME", "NEXT", "PAUSE", "RESUME")
    assert snapshot.value == {"editing": "approved"}


def test_the_snapshot_holds_history_values_by_history_state_id() -> None:
    machine = history_machine("deep")
    snapshot = run(machine, "NEXT", "SECOND", "PAUSE")
    assert dict(snapshot.history) == {"m.editing.hist": ("m.editing.review.second",)}
    assert snapshot.to_json()["history"] == {"m.editing.hist": ["m.editing.review.second"]}


def test_history_survives_persisting_and_restoring_the_snapshot() -> None:
    machine = history_machine("deep")
    paused = run(machine, "NEXT", "SECOND", "PAUSE")
    restored = machine.resolve_snapshot(paused.to_json())
    snapshot, _ = machine.transition(restored, "RESUME")
    assert snapshot.value == {"editing": {"review": "second"}}


def test_deep_history_of_a_parallel_state_restores_every_region() -> None:
    config = {
        "id": "m",
        "initial": "p",
        "states": {
            "p": {
                "type": "parallel",
                "on": {"LEAVE": "off"},
                "states": {
                    "hist": {"type": "history", "history": "deep"},
                    "a": {"initial": "a1", "states": {"a1": {"on": {"A": "a2"}}, "a2": {}}},
                    "b": {"initial": "b1", "states": {"b1": {"on": {"B": "b2"}}, "b2": {}}},
                },
            },
            "off": {"on": {"BACK": "p.hist"}},
        },
    }
    machine = orderflow.create_machine(config)
    snapshot = run(machine, "A", "B", "LEAVE")
    assert snapshot.value == "off"
    snapshot, _ = machine.transition(snapshot, "BACK")
    assert snapshot.value == {"p": {"a": "a2", "b": "b2"}}


def test_shallow_history_of_a_parallel_state_restarts_its_regions() -> None:
    config = {
        "initial": "p",
        "states": {
            "p": {
                "type": "parallel",
                "on": {"LEAVE": "off"},
                "states": {
                    "hist": {"type": "history"},
                    "a": {"initial": "a1", "states": {"a1": {"on": {"A": "a2"}}, "a2": {}}},
                    "b": {},
                },
            },
            "off": {"on": {"BACK": "p.hist"}},
        },
    }
    machine = orderflow.create_machine(config)
    snapshot = run(machine, "A", "LEAVE", "BACK")
    assert snapshot.value == {"p": {"a": "a1", "b": {}}}


def test_history_entry_runs_entry_actions_of_the_restored_states_outermost_first() -> None:
    config = {
        "initial": "inside",
        "states": {
            "outside": {"on": {"ENTER": "inside.hist"}},
            "inside": {
                "initial": "one",
                "entry": ["enterInside"],
                "on": {"LEAVE": "outside"},
                "states": {
                    "hist": {"type": "history", "history": "deep"},
                    "one": {"on": {"N": "two"}},
                    "two": {
                        "entry": ["enterTwo"],
                        "initial": "x",
                        "states": {"x": {"on": {"Y": "y"}}, "y": {"entry": ["enterY"]}},
                    },
                },
            },
        },
    }
    names = ("enterInside", "enterTwo", "enterY")
    machine = orderflow.setup(actions=dict.fromkeys(names, noop)).create_machine(config)
    snapshot = run(machine, "N", "Y", "LEAVE")
    snapshot, actions = machine.transition(snapshot, "ENTER")
    assert snapshot.value == {"inside": {"two": "y"}}
    assert [a.type for a in actions] == ["enterInside", "enterTwo", "enterY"]


def test_a_history_state_is_never_part_of_the_value() -> None:
    machine = history_machine("shallow")
    snapshot = run(machine, "PAUSE", "RESUME")
    assert snapshot.value == {"editing": "draft"}
    assert not snapshot.matches("editing.hist")


def test_history_of_a_parallel_state_without_memory_enters_every_region() -> None:
    # Checked against xstate 5.33.3.
    config = {
        "initial": "q",
        "states": {
            "q": {"on": {"GO": "p.hist"}},
            "p": {
                "type": "parallel",
                "states": {
                    "hist": {"type": "history"},
                    "a": {"initial": "a1", "states": {"a1": {}}},
                    "b": {},
                },
            },
        },
    }
    machine = orderflow.create_machine(config)
    snapshot = run(machine, "GO")
    assert snapshot.value == {"p": {"a": "a1", "b": {}}}


def test_history_true_is_xstates_spelling_of_shallow_history() -> None:
    spelled_true = history_machine(True)  # type: ignore[arg-type]
    shallow = history_machine("shallow")
    assert spelled_true.state("m.editing.hist").history == "shallow"
    assert spelled_true.version == shallow.version  # one definition, two spellings
    for events in (("NEXT", "NEXT", "PAUSE", "RESUME"), ("NEXT", "SECOND", "PAUSE", "RESUME")):
        assert run(spelled_true, *events).to_json() == run(shallow, *events).to_json()


def test_history_true_without_a_type_makes_a_history_state() -> None:
    config = {
        "initial": "outside",
        "states": {
            "outside": {"on": {"BACK": "inside.hist"}},
            "inside": {
                "initial": "one",
                "on": {"OUT": "outside"},
                "states": {"hist": {"history": True}, "one": {"on": {"N": "two"}}, "two": {}},
            },
        },
    }
    machine = orderflow.create_machine(config)
    snapshot = run(machine, "BACK", "N", "OUT", "BACK")
    assert snapshot.value == {"inside": "two"}
    persisted = machine.resolve_snapshot(run(machine, "BACK", "N", "OUT").to_json())
    assert machine.transition(persisted, "BACK")[0].value == {"inside": "two"}


@pytest.mark.parametrize("kind", [False, "shalow", 1, None])
def test_any_other_history_value_is_refused_at_its_path(kind: Any) -> None:
    with pytest.raises(DefinitionError) as caught:
        history_machine(kind)
    (problem,) = caught.value.problems
    assert problem.path == "$.states.editing.states.hist.history"
    assert problem.message == "history must be 'shallow', 'deep' or true (shallow)"


def test_xstate_json_export_writes_history_true_as_shallow_and_loads_back_the_same() -> None:
    machine = history_machine(True)  # type: ignore[arg-type]
    exported = json.loads(json.dumps(to_xstate(machine)))
    assert exported["states"]["editing"]["states"]["hist"]["history"] == "shallow"
    again = orderflow.create_machine(exported)
    assert again.version == machine.version
    assert to_xstate(again) == exported
    events = ("NEXT", "SECOND", "PAUSE", "RESUME")
    assert run(again, *events).to_json() == run(machine, *events).to_json()


# -- a history state outside the transition's source -------------------------------------------

ROOT_HISTORY_FROM_A_REGION = {
    "id": "m",
    "initial": "p",
    "states": {
        "p": {
            "type": "parallel",
            "states": {
                "left": {"initial": "one", "states": {"one": {"on": {"A": "two"}}, "two": {}}},
                "right": {"initial": "x", "on": {"D": "#m.h"}, "states": {"x": {}}},
            },
        },
        "h": {"type": "history", "target": "p.right.x"},
    },
}


def _legal(snapshot: orderflow.Snapshot) -> bool:
    """Every active compound state has exactly one active child; a parallel one all of them."""
    active = snapshot.configuration
    for node in active:
        children = [c for c in node.children if c.type != "history"]
        if not children:
            continue
        on = [c for c in children if c in active]
        if len(on) != (len(children) if node.type == "parallel" else 1):
            return False
    return True


def test_a_history_state_of_an_ancestor_taken_from_inside_a_region_exits_what_it_enters() -> None:
    """The root's history, remembering nothing, defaults into one region of the parallel
    state; entering it enters the other regions' defaults too, so they must be exited first
    (once a region stayed in `two` while `one` was entered: two active children)."""
    machine = orderflow.create_machine(ROOT_HISTORY_FROM_A_REGION)
    snapshot, _ = machine.transition(machine.initial_transition()[0], "A")
    assert snapshot.value == {"p": {"left": "two", "right": "x"}}
    for trace in (False, True):  # the stored plan and the whole algorithm
        after = machine.step(snapshot, {"type": "D"}, trace=trace).snapshot
        assert _legal(after)
        assert after.value == {"p": {"left": "one", "right": "x"}}
