"""``dump`` writes any machine as SCXML that ``load`` reads back to the same behaviour."""

from __future__ import annotations

import random
import warnings
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_w3c_suite import MISSING, SUITE

import orderflow
from orderflow.chart import Machine, Snapshot
from orderflow.io.scxml import dump, load, loads
from orderflow.orders.in_memory import in_memory_ports
from orderflow.orders.loading import IMPLEMENTATIONS, MACHINE_NAMES, read_definition
from orderflow.orders.policies import Policies
from orderflow.orders.walks import WALKS
from orderflow.testing import event_sequences, machine_configs

W3C = SUITE / "mandatory"




def _outcome(
    machine: Machine, snapshot: Snapshot | None, event: Any, start: Any = None
) -> tuple[Any, ...]:
    try:
        if snapshot is None:
            result, actions = machine.initial_transition(input=start)
        else:
            result, actions = machine.transition(snapshot, event)
    except orderflow.errors.OrderflowError as exc:
        return (type(exc).__name__,)
    return (
        result.to_json() | {"version": None, "machine": None},
        [(a.type, a.params) for a in actions],
        result,
    )


def _same_behaviour(first: Machine, second: Machine, events: list[Any], start: Any = None) -> None:
    a = _outcome(first, None, None, start)
    b = _outcome(second, None, None, start)
    assert a[:2] == b[:2]
    for event in events:
        if len(a) < 3:
            return
        a, b = _outcome(first, a[2], event), _outcome(second, b[2], event)
        assert a[:2] == b[:2], event


@pytest.mark.parametrize("name", MACHINE_NAMES)
def test_a_shipped_machine_round_trips_with_its_implementations(name: str) -> None:
    setup = IMPLEMENTATIONS[name](in_memory_ports(), Policies())
    machine = setup.create_machine(read_definition(name))
    again = loads(dump(machine), setup=setup)
    assert again.version == machine.version
    assert [n.id for n in again.nodes] == [n.id for n in machine.nodes]
    walk = WALKS[name]
    for seed in range(20):  # many short walks: most paths finish the machine within a few events
        chooser = random.Random(f"{name}{seed}")
        snapshots = [walk.start(machine), walk.start(again)]
        for _ in range(60):
            options = walk.events(snapshots[0])
            if not options or snapshots[0].status != "active":
                break
            event = chooser.choice(options)
            first, second = (
                _outcome(m, s, event) for m, s in zip((machine, again), snapshots, strict=True)
            )
            assert first[:2] == second[:2], event
            if len(first) < 3:
                break
            snapshots = [first[2], second[2]]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_a_random_machine_round_trips(data: st.DataObject) -> None:
    config = data.draw(machine_configs())
    events = data.draw(event_sequences(config))
    with warnings.catch_warnings():  # random charts have unreachable states
        warnings.simplefilter("ignore", orderflow.DefinitionWarning)
        machine = orderflow.create_machine(config)
        again = loads(dump(machine))
    _same_behaviour(machine, again, events)


def test_a_dumped_document_is_written_again_the_same() -> None:
    machine = orderflow.create_machine(read_definition("sale"))
    text = dump(machine)
    assert dump(loads(text)) == text


@pytest.mark.skipif(not W3C.is_dir(), reason=MISSING)
def test_a_machine_loaded_from_scxml_is_written_as_its_document() -> None:
    path = W3C / "test144.scxml"
    machine = load(path)
    again = loads(dump(machine))
    assert again.initial_transition()[0].value == machine.initial_transition()[0].value == "pass"


def test_a_machine_with_python_code_in_its_config_cannot_be_written() -> None:
    machine = orderflow.create_machine(
        {
            "id": "m",
            "initial": "a",
            "states": {"a": {"entry": [orderflow.assign(lambda c, e, p: {})]}},
        }
    )
    with pytest.raises(orderflow.errors.ScxmlError, match="Python code"):
        dump(machine)


def test_a_machine_whose_context_a_function_makes_cannot_be_written_and_says_why() -> None:
    machine = orderflow.setup(contexts={"fromOrder": lambda input: {}}).create_machine(
        {"id": "m", "context": "fromOrder", "initial": "a", "states": {"a": {}}}
    )
    with pytest.raises(orderflow.errors.ScxmlError, match="context function 'fromOrder'"):
        dump(machine)


def test_named_guards_and_actions_are_rebound_from_the_setup_given_to_load() -> None:
    config = {
        "id": "m",
        "initial": "a",
        "states": {
            "a": {"on": {"GO": {"target": "b", "guard": "ok", "actions": ["notify"]}}},
            "b": {},
        },
    }
    setup = orderflow.setup(
        guards={"ok": lambda c, e, p: True}, actions={"notify": lambda *a: None}
    )
    text = dump(setup.create_machine(config))
    machine = loads(text, setup=setup)
    snapshot, _ = machine.initial_transition()
    after, actions = machine.transition(snapshot, "GO")
    assert after.value == "b"
    assert [a.type for a in actions] == ["notify"]
    with pytest.raises(orderflow.errors.DefinitionError, match="notify"):
        loads(text, setup=orderflow.setup(guards={"ok": lambda c, e, p: True}))
