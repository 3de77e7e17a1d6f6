"""XState JSON export: what it writes loads back to a machine that behaves the same."""

from __future__ import annotations

import json
import warnings
from typing import Any

import pytest
from export_support import SHIPPED, shipped, started
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import orderflow
from orderflow.chart import Machine
from orderflow.errors import ExportError, InfiniteLoopError
from orderflow.export import export, to_xstate
from orderflow.orders.in_memory import in_memory_ports
from orderflow.orders.loading import IMPLEMENTATIONS
from orderflow.orders.policies import Policies
from orderflow.testing import event_sequences, machine_configs


def _machine(config: dict[str, Any]) -> Machine:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return orderflow.create_machine(config)


def _shape(machine: Machine) -> list[Any]:
    """What the compiler made, in document order: enough to tell two machines apart."""
    return [
        (
            t.source.id,
            t.descriptor,
            [n.id for n in t.targets] if t.targets is not None else None,
            repr(t.guard),
            [(a.name, a.params) for a in t.actions],
            t.reenter,
            t.delay,
        )
        for t in machine.transitions()
    ] + [(n.id, n.type, n.history, n.initial.targets[0].id if n.initial and n.initial.targets else None)
         for n in machine.nodes]  # fmt: skip


@pytest.mark.parametrize("name", SHIPPED)
def test_a_shipped_machine_round_trips_through_xstate_json(name: str) -> None:
    machine = shipped(name)
    exported = json.loads(export(machine, "xstate"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        again = IMPLEMENTATIONS[name](in_memory_ports(), Policies()).create_machine(exported)
    assert again.version == machine.version
    assert [n.id for n in again.nodes] == [n.id for n in machine.nodes]
    assert len(again.transitions()) == len(machine.transitions())
    assert to_xstate(again) == exported  # normalised: a fixed point


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_a_random_machine_behaves_the_same_after_a_round_trip(data: st.DataObject) -> None:
    config = data.draw(machine_configs(max_depth=4))
    machine = _machine(config)
    again = _machine(json.loads(json.dumps(to_xstate(machine))))
    assert to_xstate(again) == to_xstate(machine)
    assert [n.id for n in again.nodes] == [n.id for n in machine.nodes]
    assert [n.order for n in again.nodes] == [n.order for n in machine.nodes]
    start = started(machine)
    assume(start is not None)
    a, _ = machine.initial_transition()
    b, _ = again.initial_transition()
    assert a.to_json() == b.to_json()
    for event in data.draw(event_sequences(config)):
        if a.status != "active":
            break
        try:
            a, actions_a = machine.transition(a, event)
        except InfiniteLoopError:  # a random chart may cycle for ever: the copy must too
            with pytest.raises(InfiniteLoopError):
                again.transition(b, event)
            return
        b, actions_b = again.transition(b, event)
        assert a.to_json() == b.to_json()
        assert [x.to_json() for x in actions_a] == [x.to_json() for x in actions_b]


def test_guards_actions_params_and_delays_survive() -> None:
    config = {
        "id": "m",
        "context": {"n": 0},
        "initial": "a",
        "states": {
            "a": {
                "entry": [{"type": "assign", "params": {"n": 1}}],
                "on": {"GO": {"target": "b", "guard": {"type": "over", "params": {"limit": 3}},
                              "actions": [{"type": "notify", "params": {"to": "x"}}]}},
                "after": {"2500": {"target": "b", "reenter": True}},
            },
            "b": {"type": "final", "output": {"ok": True}},
        },
    }  # fmt: skip
    exported = to_xstate(orderflow.create_machine(config))
    a = exported["states"]["a"]
    assert a["entry"] == [{"type": "assign", "params": {"n": 1}}]
    assert a["on"]["GO"] == [{"target": "#m.b", "guard": {"type": "over", "params": {"limit": 3}},
                              "actions": [{"type": "notify", "params": {"to": "x"}}]}]  # fmt: skip
    assert a["after"] == {"2500": [{"target": "#m.b", "reenter": True}]}
    assert exported["states"]["b"]["output"] == {"ok": True}
    assert exported["context"] == {"n": 0}


def test_an_action_built_in_python_cannot_be_exported() -> None:
    machine = orderflow.create_machine(
        {
            "id": "m",
            "initial": "a",
            "states": {"a": {"entry": [orderflow.assign(lambda ctx, event, params: {})]}},
        }
    )
    with pytest.raises(ExportError, match="built in Python"):
        to_xstate(machine)


def test_invoked_children_survive_a_round_trip_and_run_the_same() -> None:
    child = orderflow.create_machine(
        {
            "id": "pinger",
            "initial": "waiting",
            "context": {"seen": 0},
            "states": {
                "waiting": {
                    "on": {
                        "PING": {
                            "target": "done",
                            "actions": [
                                {"type": "sendParent", "params": {"event": {"type": "PONG"}}}
                            ],
                        }
                    }
                },
                "done": {"type": "final"},
            },
        }
    )
    implementations = orderflow.setup(
        actors={"pinger": child},
        inputs={"ticket": lambda context, event: {"for": context["name"]}},
    )
    config = {
        "id": "job",
        "context": {"name": "j-1", "snapshots": 0},
        "initial": "running",
        "states": {
            "running": {
                "invoke": [
                    {
                        "id": "p",
                        "src": "pinger",
                        "inputFrom": "ticket",
                        "systemId": "the-pinger",
                        "onDone": "finished",
                        "onSnapshot": {"actions": [{"type": "assign", "params": {"snapshots": 1}}]},
                    },
                    {"id": "q", "src": "pinger", "input": {"for": "q"}, "onError": "failed"},
                ],
                "on": {
                    "GO": {
                        "actions": [
                            {"type": "sendTo", "params": {"to": "p", "event": {"type": "PING"}}}
                        ]
                    }
                },
            },
            "finished": {"type": "final"},
            "failed": {"type": "final"},
        },
    }
    machine = implementations.create_machine(config)
    exported = to_xstate(machine)

    running = exported["states"]["running"]
    assert [entry["id"] for entry in running["invoke"]] == ["p", "q"]
    first, second = running["invoke"]
    assert (first["src"], first["inputFrom"], first["systemId"]) == (
        "pinger",
        "ticket",
        "the-pinger",
    )
    assert first["onDone"] == [{"target": "#job.finished"}] and "onSnapshot" in first
    assert second["input"] == {"for": "q"} and second["onError"] == [{"target": "#job.failed"}]
    assert not any(key.startswith("xstate.") for key in running["on"])

    again = implementations.create_machine(json.loads(json.dumps(exported)))
    assert to_xstate(again) == exported  # normalised: a fixed point
    for run in (machine, again):
        snapshot, _ = run.initial_transition()
        assert set(snapshot.children) == {"p", "q"}
        snapshot, _ = run.transition(snapshot, "GO")
        assert snapshot.value == "finished" and snapshot.context["snapshots"] == 1


def test_an_invoke_input_computed_by_an_unnamed_function_cannot_be_exported() -> None:
    child = orderflow.create_machine({"id": "c", "initial": "a", "states": {"a": {}}})
    machine = orderflow.setup(actors={"c": child}).create_machine(
        {
            "id": "m",
            "initial": "a",
            "states": {
                "a": {"invoke": {"id": "k", "src": "c", "input": lambda context, event, params: 1}}
            },
        }
    )
    with pytest.raises(ExportError, match=r"invoke\[0\].*no name"):
        to_xstate(machine)
