"""What bad definitions and failing user code get: every problem with its JSON path, warnings, error status."""

from __future__ import annotations

import warnings
from typing import Any

import pytest
from chart_support import noop

import orderflow
from orderflow.errors import (
    DefinitionError,
    InfiniteLoopError,
    MissingImplementationError,
    OrderflowError,
)


def problems_of(config: Any, **implementations: Any) -> dict[str, str]:
    with pytest.raises(DefinitionError) as caught:
        orderflow.setup(**implementations).create_machine(config)
    return {p.path: p.message for p in caught.value.problems}


BROKEN = {
    "id": "m",
    "initial": "a",
    "states": {
        "a": {
            "on": {
                "GO": "nowhere",
                "PAY": {"target": "b", "guard": "unknownGuard", "actions": ["unknownAction"]},
                "JUMP": "#missing",
            },
            "after": {"unknownDelay": "b"},
        },
        "b": {"states": {"x": {}, "y": {}}, "on": {"BACK": "a"}},
        "c": {"type": "final", "states": {"z": {}}},
        "d": {"id": "twin"},
        "e": {"id": "twin"},
    },
}


def test_every_definition_problem_is_reported_at_once_with_its_json_path() -> None:
    problems = problems_of(BROKEN, guards={"known": lambda c, e, p: True}, actions={"known": noop})
    assert set(problems) == {
        "$.states.a.on.GO.target",
        "$.states.a.on.PAY.guard",
        "$.states.a.on.PAY.actions[0]",
        "$.states.a.on.JUMP.target",
        "$.states.a.after.unknownDelay",
        "$.states.b.initial",
        "$.states.c.states",
        "$.states.e.id",
    }
    assert "nowhere" in problems["$.states.a.on.GO.target"]
    assert "unknownGuard" in problems["$.states.a.on.PAY.guard"]
    assert "unknownAction" in problems["$.states.a.on.PAY.actions[0]"]
    assert "missing" in problems["$.states.a.on.JUMP.target"]
    assert "unknownDelay" in problems["$.states.a.after.unknownDelay"]
    assert "twin" in problems["$.states.e.id"]


def test_the_definition_error_message_lists_every_problem() -> None:
    with pytest.raises(DefinitionError) as caught:
        orderflow.setup(guards={"known": lambda c, e, p: True}).create_machine(BROKEN)
    message = str(caught.value)
    assert f"{len(caught.value.problems)} problems" in message
    for problem in caught.value.problems:
        assert problem.path in message


def test_an_unknown_target_names_the_missing_state() -> None:
    problems = problems_of({"initial": "a", "states": {"a": {"on": {"GO": "b.c"}}, "b": {}}})
    assert list(problems) == ["$.states.a.on.GO.target"]
    assert "'c'" in problems["$.states.a.on.GO.target"]


def test_an_unknown_target_inside_a_transition_list_has_its_index() -> None:
    problems = problems_of(
        {"initial": "a", "states": {"a": {"on": {"GO": [{"target": "a"}, {"target": "zzz"}]}}}}
    )
    assert list(problems) == ["$.states.a.on.GO[1].target"]


def test_a_compound_state_without_initial_is_a_problem() -> None:
    problems = problems_of({"initial": "p", "states": {"p": {"states": {"a": {}}}}})
    assert list(problems) == ["$.states.p.initial"]


def test_an_initial_state_that_is_not_a_child_is_a_problem() -> None:
    problems = problems_of({"initial": "zzz", "states": {"a": {}}})
    assert list(problems) == ["$.initial"]


def test_a_history_state_outside_a_compound_is_a_problem() -> None:
    problems = problems_of(
        {"initial": "a", "states": {"a": {"type": "atomic", "states": {"h": {"type": "history"}}}}}
    )
    assert "$.states.a.states.h" in problems
    assert "history" in problems["$.states.a.states.h"]


def test_a_history_default_outside_its_parent_is_a_problem() -> None:
    config = {
        "id": "m",
        "initial": "a",
        "states": {
            "a": {"initial": "x", "states": {"x": {}, "h": {"type": "history", "target": "#m.b"}}},
            "b": {},
        },
    }
    problems = problems_of(config)
    assert list(problems) == ["$.states.a.states.h.target"]


def test_children_under_a_final_state_are_a_problem() -> None:
    problems = problems_of(
        {"initial": "a", "states": {"a": {"type": "final", "states": {"x": {}}}}}
    )
    assert list(problems) == ["$.states.a.states"]


def test_duplicate_state_ids_are_a_problem() -> None:
    problems = problems_of(
        {"initial": "a", "states": {"a": {"id": "same", "on": {"GO": "b"}}, "b": {"id": "same"}}}
    )
    assert list(problems) == ["$.states.b.id"]
    assert "same" in problems["$.states.b.id"]


def test_names_are_only_checked_when_implementations_are_given() -> None:
    config = {
        "initial": "a",
        "states": {
            "a": {
                "entry": ["hello"],
                "after": {"slow": "b"},
                "on": {"GO": {"target": "b", "guard": "ok"}},
            },
            "b": {},
        },
    }
    machine = orderflow.create_machine(config)
    assert machine.id == "(machine)"
    problems = problems_of(config, actions={"hello": noop})
    assert set(problems) == {"$.states.a.after.slow", "$.states.a.on.GO.guard"}


def test_an_unreachable_state_is_a_warning_not_an_error() -> None:
    config = {"initial": "a", "states": {"a": {"on": {"GO": "b"}}, "b": {}, "island": {}}}
    with pytest.warns(orderflow.DefinitionWarning, match="island"):
        machine = orderflow.create_machine(config)
    assert [w.path for w in machine.warnings] == ["$.states.island"]


def test_a_reachable_machine_has_no_warnings() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        machine = orderflow.create_machine(
            {"initial": "a", "states": {"a": {"on": {"GO": "b"}}, "b": {}}}
        )
    assert machine.warnings == ()


def test_evaluating_a_named_guard_without_implementations_raises_missing_implementation() -> None:
    config = {
        "initial": "a",
        "states": {"a": {"on": {"GO": {"target": "b", "guard": "approved"}}}, "b": {}},
    }
    machine = orderflow.create_machine(config)
    snapshot, _ = machine.initial_transition()
    with pytest.raises(MissingImplementationError) as caught:
        machine.transition(snapshot, "GO")
    assert caught.value.kind == "guard"
    assert caught.value.name == "approved"


def test_evaluating_a_named_delay_without_implementations_raises_missing_implementation() -> None:
    machine = orderflow.create_machine(
        {"initial": "a", "states": {"a": {"after": {"slow": "b"}}, "b": {}}}
    )
    with pytest.raises(MissingImplementationError) as caught:
        machine.initial_transition()
    assert caught.value.kind == "delay"
    assert caught.value.name == "slow"


def test_a_named_effect_without_implementation_is_still_returned_to_the_caller() -> None:
    machine = orderflow.create_machine({"initial": "a", "states": {"a": {"entry": ["hello"]}}})
    _, actions = machine.initial_transition()
    assert [a.type for a in actions] == ["hello"]


def boom(context: Any, event: Any, params: Any) -> bool:
    raise RuntimeError("the credit service is down")


def test_a_guard_that_raises_leaves_status_error_and_nothing_applied() -> None:
    config = {
        "initial": "a",
        "context": {"n": 0},
        "states": {
            "a": {"on": {"GO": {"target": "b", "guard": "flaky", "actions": ["notify"]}}},
            "b": {},
        },
    }
    machine = orderflow.setup(guards={"flaky": boom}, actions={"notify": noop}).create_machine(
        config
    )
    snapshot, _ = machine.initial_transition()
    failed, actions = machine.transition(snapshot, "GO")
    assert failed.status == "error"
    assert failed.value == "a"
    assert failed.context == {"n": 0}
    assert actions == []
    assert "the credit service is down" in str(failed.error)
    assert snapshot.status == "active"


def test_a_failure_late_in_a_macrostep_undoes_the_earlier_microsteps() -> None:
    config = {
        "initial": "a",
        "context": {"n": 0},
        "states": {
            "a": {
                "on": {
                    "GO": {
                        "target": "b",
                        "actions": [
                            {"type": "assign", "params": {"n": 1}},
                            {"type": "raise", "params": {"event": "NEXT"}},
                            "notify",
                        ],
                    }
                }
            },
            "b": {"on": {"NEXT": {"target": "c", "guard": "flaky"}}},
            "c": {},
        },
    }
    machine = orderflow.setup(guards={"flaky": boom}, actions={"notify": noop}).create_machine(
        config
    )
    snapshot, _ = machine.initial_transition()
    failed, actions = machine.transition(snapshot, "GO")
    assert failed.status == "error"
    assert failed.value == "a"
    assert failed.context == {"n": 0}
    assert actions == []


def test_an_assignment_that_raises_leaves_status_error() -> None:
    def explode(context: Any, event: Any, params: Any) -> dict[str, Any]:
        raise ValueError("bad arithmetic")

    config = {
        "initial": "a",
        "context": {"n": 0},
        "states": {"a": {"on": {"GO": {"target": "b", "actions": ["explode"]}}}, "b": {}},
    }
    machine = orderflow.setup(actions={"explode": orderflow.assign(explode)}).create_machine(config)
    snapshot, _ = machine.initial_transition()
    failed, actions = machine.transition(snapshot, "GO")
    assert (failed.status, failed.value, failed.context, actions) == ("error", "a", {"n": 0}, [])
    assert "bad arithmetic" in str(failed.error)


def test_a_snapshot_in_error_takes_no_more_events() -> None:
    config = {
        "initial": "a",
        "states": {"a": {"on": {"GO": {"target": "b", "guard": "flaky"}, "SAFE": "b"}}, "b": {}},
    }
    machine = orderflow.setup(guards={"flaky": boom}).create_machine(config)
    snapshot, _ = machine.initial_transition()
    failed, _ = machine.transition(snapshot, "GO")
    after, actions = machine.transition(failed, "SAFE")
    assert after.status == "error"
    assert after.value == "a"
    assert actions == []
    assert not failed.can("SAFE")


def test_an_error_during_the_initial_transition_leaves_status_error() -> None:
    config = {
        "initial": "a",
        "states": {"a": {"always": {"target": "b", "guard": "flaky"}}, "b": {}},
    }
    machine = orderflow.setup(guards={"flaky": boom}).create_machine(config)
    snapshot, actions = machine.initial_transition()
    assert snapshot.status == "error"
    assert snapshot.error is not None
    assert actions == []


def test_an_eventless_loop_raises_infinite_loop_error_naming_the_states() -> None:
    config = {
        "id": "m",
        "initial": "idle",
        "states": {
            "idle": {"on": {"GO": "ping"}},
            "ping": {"always": "pong"},
            "pong": {"always": "ping"},
        },
    }
    machine = orderflow.create_machine(config)
    snapshot, _ = machine.initial_transition()
    with pytest.raises(InfiniteLoopError) as caught:
        machine.transition(snapshot, "GO")
    assert set(caught.value.states) == {"m.ping", "m.pong"}
    assert caught.value.event_type == "GO"
    assert "m.ping" in str(caught.value)
    assert isinstance(caught.value, OrderflowError)


def test_a_raised_event_loop_raises_infinite_loop_error() -> None:
    config = {
        "id": "m",
        "initial": "a",
        "states": {
            "a": {"entry": [{"type": "raise", "params": {"event": "FLIP"}}], "on": {"FLIP": "b"}},
            "b": {"entry": [{"type": "raise", "params": {"event": "FLIP"}}], "on": {"FLIP": "a"}},
        },
    }
    machine = orderflow.create_machine(config)
    with pytest.raises(InfiniteLoopError) as caught:
        machine.initial_transition()
    assert set(caught.value.states) == {"m.a", "m.b"}


def test_the_microstep_bound_is_configurable() -> None:
    config = {
        "initial": "a",
        "context": {"n": 0},
        "states": {"a": {"always": {"guard": "below", "actions": ["add"]}}},
    }
    implementations = {
        "guards": {"below": lambda c, e, p: c["n"] < 50},
        "actions": {"add": orderflow.assign(lambda c, e, p: {"n": c["n"] + 1})},
    }
    with pytest.raises(InfiniteLoopError) as caught:
        orderflow.setup(max_microsteps=10, **implementations).create_machine(
            config
        ).initial_transition()
    assert caught.value.limit == 10
    snapshot, _ = (
        orderflow.setup(max_microsteps=100, **implementations)
        .create_machine(config)
        .initial_transition()
    )
    assert snapshot.context == {"n": 50}


def test_a_config_that_is_not_an_object_is_a_problem() -> None:
    problems = problems_of(["not", "a", "machine"])
    assert "$" in problems


def test_an_unknown_key_is_reported_as_a_probable_typo() -> None:
    problems = problems_of({"initial": "a", "states": {"a": {"entyr": ["x"]}}})
    assert list(problems) == ["$.states.a.entyr"]
