"""A JSON machine's ``invoke`` written as SCXML ``<invoke>``, and read back to the same behaviour."""

from __future__ import annotations

import warnings
from typing import Any
from xml.etree.ElementTree import fromstring

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import orderflow
from orderflow.chart import Machine, Snapshot
from orderflow.errors import ExportError, OrderflowError, ScxmlError
from orderflow.export import to_xstate
from orderflow.io.scxml import dump, loads
from orderflow.io.scxml.dump import ACTOR_TYPE, ORDERFLOW_NS, SCXML_NS
from orderflow.testing import event_sequences, machine_configs

PINGER = {
    "id": "pinger",
    "initial": "waiting",
    "states": {
        "waiting": {"on": {"PING": {"target": "pinged", "actions": {"type": "sendParent", "params": {"event": {"type": "PONG"}}}}}},
        "pinged": {"on": {"PING": "done"}},
        "done": {"type": "final", "output": {"pings": 2}},
    },
}  # fmt: skip
JOB = {
    "id": "job",
    "context": {"name": "j-1", "snapshots": 0, "pongs": 0},
    "initial": "running",
    "states": {
        "running": {
            "invoke": [
                {"id": "p", "src": "pinger", "inputFrom": "ticket", "systemId": "the-pinger",
                 "onDone": "finished",
                 "onSnapshot": {"actions": [{"type": "assign", "params": {"snapshots": 1}}]}},
                {"id": "q", "src": "pinger", "input": {"for": "q", "tries": [1, 2]},
                 "onError": "failed"},
            ],
            "on": {
                "GO": {"actions": {"type": "sendTo", "params": {"to": "p", "event": {"type": "PING"}}}},
                "PONG": {"actions": {"type": "assign", "params": {"pongs": 1}}},
                "MORE": {"actions": {"type": "spawnChild", "params": {"src": "pinger", "id": "extra"}}},
            },
        },
        "finished": {"type": "final"},
        "failed": {"type": "final"},
    },
}  # fmt: skip


def implementations() -> Any:
    return orderflow.setup(
        actors={"pinger": orderflow.create_machine(PINGER)},
        inputs={"ticket": lambda context, event: {"for": context["name"]}},
    )


def _q(tag: str) -> str:
    return f"{{{SCXML_NS}}}{tag}"


def test_each_invocation_is_an_invoke_element_with_its_input() -> None:
    text = dump(implementations().create_machine(JOB))
    running = next(e for e in fromstring(text).iter(_q("state")) if e.get("id") == "job.running")
    first, second = running.findall(_q("invoke"))
    assert (first.get("type"), first.get("id"), first.get("src")) == (ACTOR_TYPE, "p", "pinger")
    assert first.get(f"{{{ORDERFLOW_NS}}}inputFrom") == "ticket"
    assert first.get(f"{{{ORDERFLOW_NS}}}systemId") == "the-pinger"
    assert first.get(f"{{{ORDERFLOW_NS}}}onSnapshot") == "true"
    assert first.find(_q("content")) is None
    content = second.find(_q("content"))
    assert content is not None and content.text == '{"for": "q", "tries": [1, 2]}'
    events = [t.get("event") for t in running.findall(_q("transition"))]
    assert "xstate.done.actor.p" in events and "xstate.error.actor.q" in events


def _run(machine: Machine, steps: list[tuple[str | None, str]]) -> list[Any]:
    """Every snapshot's JSON (value, context, children's values) along ``steps``."""
    snapshot, _ = machine.initial_transition()
    seen = [snapshot.to_json()]
    for to, event in steps:
        try:
            snapshot, _ = machine.transition(snapshot, event, to=to)
        except OrderflowError as exc:  # an address no longer there: the same error in both
            seen.append(type(exc).__name__)
            continue
        seen.append(snapshot.to_json())
    return seen


def test_a_dumped_parent_loads_back_to_the_same_invocations_and_behaviour() -> None:
    machine = implementations().create_machine(JOB)
    text = dump(machine)
    again = loads(text, setup=implementations())
    assert to_xstate(again) == to_xstate(machine)
    assert dump(again) == text  # a fixed point
    steps = [(None, "GO"), (None, "MORE"), ("extra", "PING"), ("q", "PING"), (None, "GO")]
    assert _run(again, steps) == _run(machine, steps)
    snapshot, _ = again.initial_transition()
    snapshot, _ = again.transition(snapshot, "GO")
    snapshot, _ = again.transition(snapshot, "GO")
    assert snapshot.value == "finished"
    assert snapshot.context == {"name": "j-1", "snapshots": 1, "pongs": 1}


def test_an_input_computed_by_an_unnamed_function_cannot_be_written() -> None:
    child = orderflow.create_machine({"id": "c", "initial": "a", "states": {"a": {}}})
    machine = orderflow.setup(actors={"c": child}).create_machine(
        {
            "id": "m",
            "initial": "a",
            "states": {
                "a": {"invoke": {"id": "k", "src": "c", "input": lambda context, event, p: 1}}
            },
        }
    )
    with pytest.raises(ExportError, match=r"'k' invoked by m\.a .*no name.*inputFrom") as caught:
        dump(machine)
    assert caught.value.format == "scxml"


@pytest.mark.parametrize(
    ("invoke", "message"),
    [
        ('<invoke id="k" src="c"/>', "type="),
        (f'<invoke type="{ACTOR_TYPE}" src="c"/>', "an id and a src"),
        (f'<invoke type="{ACTOR_TYPE}" id="k" src="c"><content>{{nope</content></invoke>', "not JSON"),
        (f'<invoke type="{ACTOR_TYPE}" id="k" src="c"><finalize/></invoke>', "<finalize>"),
    ],
)  # fmt: skip
def test_an_invoke_the_writer_would_not_write_is_refused_when_read(
    invoke: str, message: str
) -> None:
    text = (
        f'<scxml xmlns="{SCXML_NS}" xmlns:orderflow="{ORDERFLOW_NS}" version="1.0" '
        'datamodel="null" name="m" initial="m" orderflow:conventions="xstate">'
        '<state id="m" orderflow:key="m" orderflow:root="true" initial="m.a">'
        f'<state id="m.a" orderflow:key="a">{invoke}</state></state></scxml>'
    )
    child = orderflow.create_machine({"id": "c", "initial": "a", "states": {"a": {}}})
    with pytest.raises(ScxmlError, match=message):
        loads(text, setup=orderflow.setup(actors={"c": child}))


def _wrapper(child_config: dict[str, Any]) -> tuple[Machine, Any]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        setup = orderflow.setup(actors={"child": orderflow.create_machine(child_config)})
        config = {
            "id": "p",
            "initial": "run",
            "states": {
                "run": {
                    "invoke": {"id": "c", "src": "child", "input": {"n": 1},
                               "onDone": "end", "onError": "broken"},
                    "on": {"STOP": "end"},
                },
                "end": {"on": {"AGAIN": "run"}},
                "broken": {"type": "final"},
            },
        }  # fmt: skip
        return setup.create_machine(config), setup


def _outcomes(machine: Machine, steps: list[tuple[str | None, str]]) -> list[Any]:
    try:
        snapshot: Snapshot = machine.initial_transition()[0]
    except OrderflowError as exc:
        return [type(exc).__name__]
    seen: list[Any] = [snapshot.to_json()]
    for to, event in steps:
        try:
            snapshot, _ = machine.transition(snapshot, event, to=to)
            seen.append(snapshot.to_json())
        except OrderflowError as exc:
            seen.append(type(exc).__name__)
    return seen


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_a_parent_invoking_a_random_child_round_trips_through_scxml(data: st.DataObject) -> None:
    child_config = data.draw(machine_configs(max_depth=3))
    machine, setup = _wrapper(child_config)
    child_events = data.draw(event_sequences(child_config, 6))
    steps = [("c", e) for e in child_events]
    steps[data.draw(st.integers(0, len(steps))) : 0] = [(None, "STOP"), (None, "AGAIN")]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        again = loads(dump(machine), setup=setup)
    assert _outcomes(again, steps) == _outcomes(machine, steps)
