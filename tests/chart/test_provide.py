"""machine.provide(...): the same definition with some implementations swapped, the original untouched."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import orderflow
from orderflow import assign
from orderflow.errors import DefinitionError, MissingImplementationError
from orderflow.runtime import SimulatedClock, create_actor

COUNTER: dict[str, Any] = {
    "id": "counter",
    "initial": "counting",
    "context": {"count": 0},
    "states": {
        "counting": {
            "on": {
                "STEP": {"actions": "step"},
                "CHECK": {"target": "checked", "guard": "ready"},
                "WAIT": "waiting",
            }
        },
        "waiting": {"after": {"pause": "counting"}},
        "checked": {"entry": "announce", "on": {"BACK": "counting"}},
    },
}


def positive(context: Any, event: Any, params: Any) -> bool:
    return bool(context["count"] > 0)


def even(context: Any, event: Any, params: Any) -> bool:
    return bool(context["count"] % 2 == 0)


def announce(context: Any, event: Any, params: Any) -> None:
    return None


def counter(**overrides: Any) -> orderflow.Machine:
    tables: dict[str, Any] = {
        "guards": {"ready": positive},
        "actions": {
            "step": assign(lambda c, e, p: {"count": c["count"] + 1}),
            "announce": announce,
        },
        "delays": {"pause": 1000},
    }
    for kind, table in overrides.items():
        tables[kind] = {**tables[kind], **table}
    return orderflow.setup(**tables).create_machine(COUNTER)


def run(machine: orderflow.Machine, *events: str) -> orderflow.Snapshot:
    snapshot, _ = machine.initial_transition()
    for event in events:
        snapshot, _ = machine.transition(snapshot, event)
    return snapshot


def test_a_provided_guard_decides_and_the_original_machine_still_uses_its_own() -> None:
    machine = counter()
    provided = machine.provide(guards={"ready": even})
    assert provided is not machine
    assert run(machine, "CHECK").value == "counting"  # 0 is not positive
    assert run(provided, "CHECK").value == "checked"  # 0 is even
    assert run(machine, "STEP", "CHECK").value == "checked"
    assert run(provided, "STEP", "CHECK").value == "counting"


def test_a_provided_action_can_be_a_built_in_assign() -> None:
    provided = counter().provide(
        actions={"step": assign(lambda c, e, p: {"count": c["count"] + 10})}
    )
    assert run(provided, "STEP", "STEP").context == {"count": 20}
    assert run(counter(), "STEP", "STEP").context == {"count": 2}


def test_a_provided_effect_is_the_one_an_actor_runs() -> None:
    calls: list[str] = []
    provided = counter().provide(actions={"announce": lambda c, e, p: calls.append(e.type)})
    actor = create_actor(provided, clock=SimulatedClock()).start()
    actor.send("STEP")
    actor.send("CHECK")
    assert calls == ["CHECK"]
    original = create_actor(counter(), clock=SimulatedClock()).start()
    original.send("STEP")
    original.send("CHECK")
    assert calls == ["CHECK"]


def test_a_provided_delay_sets_the_timer() -> None:
    snapshot = run(counter().provide(delays={"pause": lambda c, e, p: 250}), "WAIT")
    assert [t.delay for t in snapshot.timers] == [250.0]
    assert [t.delay for t in run(counter(), "WAIT").timers] == [1000.0]


def test_the_provided_machine_is_the_same_definition_so_persisted_snapshots_fit_both() -> None:
    machine = counter()
    provided = machine.provide(guards={"ready": even})
    assert (provided.id, provided.version) == (machine.id, machine.version)
    persisted = json.loads(json.dumps(run(machine, "STEP").to_json()))
    restored = provided.resolve_snapshot(persisted)
    assert provided.transition(restored, "STEP")[0].context == {"count": 2}
    with pytest.raises(ValueError, match="another machine object"):
        provided.transition(run(machine), "STEP")


def test_provide_can_be_chained_and_later_tables_win() -> None:
    machine = counter().provide(guards={"ready": even}).provide(guards={"ready": positive})
    assert run(machine, "CHECK").value == "counting"


def test_a_name_the_definition_does_not_use_is_refused_as_a_typo() -> None:
    with pytest.raises(DefinitionError) as caught:
        counter().provide(guards={"raedy": even})
    (problem,) = caught.value.problems
    assert problem.path == "provide.guards.raedy"
    assert "uses no guard 'raedy'" in problem.message and "ready" in problem.message


def test_a_kind_provide_does_not_take_is_refused() -> None:
    with pytest.raises(DefinitionError, match="'gaurds' is none of them"):
        counter().provide(gaurds={"ready": even})


def test_a_built_in_action_cannot_be_provided() -> None:
    with pytest.raises(DefinitionError, match="built-in action"):
        counter().provide(actions={"assign": announce})


def test_an_implementation_that_is_not_callable_is_refused_and_nothing_changes() -> None:
    machine = counter()
    with pytest.raises(DefinitionError, match="guard 'ready' is not callable"):
        machine.provide(guards={"ready": 42})
    assert run(machine, "STEP", "CHECK").value == "checked"


def test_implementations_may_be_dotted_paths() -> None:
    provided = counter().provide(guards={"ready": "chart_support:always"})
    assert run(provided, "CHECK").value == "checked"


def test_a_machine_made_without_setup_gets_every_name_checked_once_something_is_provided() -> None:
    bare = orderflow.create_machine(COUNTER)
    with pytest.raises(DefinitionError) as caught:
        bare.provide(guards={"ready": even})
    assert {p.message for p in caught.value.problems} >= {
        "no implementation for action 'step'",
        "no implementation for delay 'pause'",
    }
    complete = bare.provide(
        guards={"ready": even},
        actions={"step": assign(lambda c, e, p: {"count": 5}), "announce": announce},
        delays={"pause": 5},
    )
    assert run(complete, "STEP").context == {"count": 5}


def test_a_context_function_can_be_provided() -> None:
    config = {**COUNTER, "context": "start"}
    machine = orderflow.setup(
        contexts={"start": lambda input: {"count": input or 0}},
        guards={"ready": positive},
        actions={"step": announce, "announce": announce},
        delays={"pause": 1},
    ).create_machine(config)
    provided = machine.provide(contexts={"start": lambda input: {"count": -1}})
    assert machine.initial_transition(input=3)[0].context == {"count": 3}
    assert provided.initial_transition(input=3)[0].context == {"count": -1}


def test_a_missing_context_function_is_a_missing_implementation() -> None:
    machine = orderflow.create_machine(
        {"id": "m", "context": "start", "initial": "a", "states": {"a": {}}}
    )
    with pytest.raises(MissingImplementationError, match=r"setup\(contexts="):
        machine.initial_transition()


GUARDS = {"positive": positive, "even": even, "never": lambda c, e, p: False}


@settings(max_examples=60, deadline=None)
@given(
    before=st.sampled_from(sorted(GUARDS)),
    after=st.sampled_from(sorted(GUARDS)),
    events=st.lists(st.sampled_from(["STEP", "CHECK", "BACK", "WAIT"]), max_size=12),
)
def test_providing_is_the_same_as_setting_up_with_the_merged_tables(
    before: str, after: str, events: list[str]
) -> None:
    machine = counter(guards={"ready": GUARDS[before]})
    provided = machine.provide(guards={"ready": GUARDS[after]})
    direct = counter(guards={"ready": GUARDS[after]})
    untouched = counter(guards={"ready": GUARDS[before]})
    assert run(provided, *events).to_json() == run(direct, *events).to_json()
    assert run(machine, *events).to_json() == run(untouched, *events).to_json()


CHILD = {
    "id": "child",
    "initial": "working",
    "states": {
        "working": {"on": {"FINISH": "done"}},
        "done": {"type": "final", "output": {"by": "child"}},
    },
}
SPARE = {
    "id": "child",
    "initial": "done",
    "states": {"done": {"type": "final", "output": {"by": "spare"}}},
}
PARENT: dict[str, Any] = {
    "id": "parent",
    "initial": "waiting",
    "context": {"by": None},
    "states": {
        "waiting": {
            "invoke": {
                "id": "worker",
                "src": "worker",
                "onDone": {"target": "finished", "actions": "keep"},
            }
        },
        "finished": {},
    },
}


def test_a_provided_actor_is_the_child_the_machine_invokes() -> None:
    keep = assign(lambda c, e, p: {"by": e.output["by"]})
    machine = orderflow.setup(
        actors={"worker": orderflow.create_machine(CHILD)}, actions={"keep": keep}
    ).create_machine(PARENT)
    assert machine.initial_transition()[0].value == "waiting"
    provided = machine.provide(actors={"worker": orderflow.create_machine(SPARE)})
    snapshot, _ = provided.initial_transition()
    assert snapshot.value == "finished" and snapshot.context == {"by": "spare"}
    assert machine.initial_transition()[0].value == "waiting"
    with pytest.raises(DefinitionError, match="uses no actor 'wroker'"):
        machine.provide(actors={"wroker": orderflow.create_machine(SPARE)})


def test_an_actor_that_is_neither_a_machine_nor_a_function_is_refused_as_setup_refuses_it() -> None:
    machine = orderflow.setup(
        actors={"worker": orderflow.create_machine(CHILD)}, actions={"keep": lambda c, e: None}
    ).create_machine(PARENT)
    with pytest.raises(DefinitionError, match=r"provide\.actors\.worker: an actor must be a machine"):
        machine.provide(actors={"worker": 42})
    assert machine.initial_transition()[0].children["worker"].src == "worker"
