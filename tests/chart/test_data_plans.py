"""Replayed data plans give what the whole algorithm gives, on random charts with user code.

A random chart (``orderflow.testing.machine_configs``) gets guards that read the context
and the event's payload, assignments on transitions and on entry and exit, named
effects whose parameters are computed from the context, emits and logs computed from it,
and ``after`` timers whose named delay reads it.  Every event sequence runs
through one machine that keeps and replays its plans (``step``) and through the whole
algorithm (``step(trace=True)`` never reads or stores a plan).  Charts with actors get
invocations of a child machine and of a function actor on some states, and spawnChild,
stopChild and sendTo among the actions: a macrostep no actor takes part in is replayed
there too, and one that starts, stops or sends to an actor never is.  At every step the two
must agree on the snapshot (with its context), the actions with their causing events,
whether the event was taken and why not, and how many times each piece of user code
ran.  A guard that raises on some data puts both in error the same way; a chart that
loops for ever raises ``InfiniteLoopError`` on both.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

import orderflow
from orderflow.chart.plans import DataPlan, MacrostepPlan
from orderflow.errors import InfiniteLoopError
from orderflow.testing import machine_configs
from orderflow.testing.charts import UNHANDLED_EVENT, config_alphabet

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

pytestmark = pytest.mark.filterwarnings("ignore::orderflow.DefinitionWarning")

KEYS = ("n", "m")


class Counts(BaseModel):
    n: int = 0
    m: int = 0


def _read(context: Any, key: str) -> int:
    return int(context[key] if isinstance(context, dict) else getattr(context, key))


#: a child machine: it counts PING events and finishes on the third
PINGER = orderflow.create_machine({
    "id": "pinger",
    "initial": "one",
    "states": {
        "one": {"on": {"PING": "two"}},
        "two": {"on": {"PING": "done"}},
        "done": {"type": "final", "output": {"pinged": 2}},
    },
})


def _fetch(value: Any) -> Any:  # a function actor: the caller runs it, the core only records it
    return value


def _implementations(calls: Counter[str], model: bool) -> orderflow.Setup:
    """Guards and actions that read the context and the payload, counting their calls."""

    def below(context: Any, event: Any, params: Any) -> bool:
        calls["below"] += 1
        return _read(context, params["key"]) + int(getattr(event, "amount", 0)) < params["limit"]

    def fragile(context: Any, event: Any, params: Any) -> bool:
        calls["fragile"] += 1
        if _read(context, "n") == 5 and getattr(event, "amount", None) == 3:
            raise ValueError("n is 5 and the amount 3")
        return True

    def bump(context: Any, event: Any, params: Any) -> Any:
        calls["bump"] += 1
        key = params["key"]
        return {key: (_read(context, key) + params["by"] + int(getattr(event, "amount", 0))) % 7}

    def same(context: Any, event: Any, params: Any) -> Any:
        calls["same"] += 1  # hands the context back as it was (a pydantic context: the object)
        return context if model else {}

    def announce(context: Any, event: Any, params: Any) -> Any:
        calls["announce"] += 1  # an emitted event computed from the context and the payload
        return {
            "type": "ANNOUNCED",
            "n": _read(context, "n"),
            "amount": getattr(event, "amount", None),
        }

    def say(context: Any, event: Any, params: Any) -> str:
        calls["say"] += 1
        return f"m is {_read(context, 'm')}"

    def wait(context: Any, event: Any, params: Any) -> int:
        calls["wait"] += 1  # a named delay that reads the context
        return 100 + 10 * _read(context, "n")

    return orderflow.setup(
        guards={"below": below, "fragile": fragile},
        actions={
            "bump": orderflow.assign(bump),
            "same": orderflow.assign(same),
            "notify": lambda *_: None,
            "announce": orderflow.emit(announce),
            "say": orderflow.log(say),
        },
        delays={"wait": wait},
        context=Counts if model else None,
        actors={"pinger": PINGER, "fetch": _fetch},
    )


def _notify_params(calls: Counter[str], key: str) -> Callable[[Any, Any], Any]:
    def params(context: Any, event: Any) -> Any:
        calls["notify"] += 1
        return {key: _read(context, key), "amount": getattr(event, "amount", None)}

    return params


@st.composite
def _data_guard(draw: st.DrawFn) -> dict[str, Any]:
    if draw(st.integers(0, 9)) == 0:
        return {"type": "fragile"}
    return {
        "type": "below",
        "params": {"key": draw(st.sampled_from(KEYS)), "limit": draw(st.integers(0, 8))},
    }


ACTOR_IDS = ("a1", "a2")


@st.composite
def _actor_action(draw: st.DrawFn) -> dict[str, Any]:
    ident = draw(st.sampled_from(ACTOR_IDS))
    kind = draw(st.sampled_from(("spawnChild", "stopChild", "sendTo")))
    if kind == "spawnChild":
        return {"type": "spawnChild", "params": {"src": "pinger", "id": f"s{ident}"}}
    if kind == "stopChild":
        return {"type": "stopChild", "params": {"id": draw(st.sampled_from((ident, f"s{ident}")))}}
    return {"type": "sendTo", "params": {"to": draw(st.sampled_from((ident, f"s{ident}"))),
                                          "event": {"type": "PING"}}}  # fmt: skip


@st.composite
def _user_actions(draw: st.DrawFn, calls: Counter[str], actors: bool = False) -> list[Any]:
    actions: list[Any] = []
    for _ in range(draw(st.integers(0, 2))):
        kinds = ("bump", "bump", "notify", "same", "announce", "say")
        kind = draw(st.sampled_from((*kinds, "actor") if actors else kinds))
        key = draw(st.sampled_from(KEYS))
        if kind == "actor":
            actions.append(draw(_actor_action()))
        elif kind == "bump":
            actions.append({"type": "bump", "params": {"key": key, "by": draw(st.integers(0, 3))}})
        elif kind == "notify":
            actions.append({"type": "notify", "params": _notify_params(calls, key)})
        else:
            actions.append(kind)
    return actions


@st.composite
def _decorated_transition(
    draw: st.DrawFn, spec: Any, calls: Counter[str], actors: bool = False
) -> Any:
    transition = {"target": spec} if isinstance(spec, str) else dict(spec)
    if draw(st.integers(0, 2)) > 0:
        guard = draw(_data_guard())
        existing = transition.get("guard")
        if existing is not None:
            combine = draw(st.sampled_from(("and", "or")))
            guard = {"type": combine, "guards": [existing, guard]}
        elif draw(st.integers(0, 4)) == 0:
            guard = {"type": "not", "guards": [guard]}
        transition["guard"] = guard
    actions = draw(_user_actions(calls, actors))
    if actions:
        transition["actions"] = actions
    return transition


@st.composite
def _with_data(
    draw: st.DrawFn, state: dict[str, Any], calls: Counter[str], actors: bool = False
) -> dict[str, Any]:
    """The state config with data guards and user code added throughout (a copy).

    With ``actors``, some states invoke the child machine or the function actor
    (ids from :data:`ACTOR_IDS`, so actions can name them) and actions may spawn,
    stop and send to children.
    """
    result = dict(state)
    if state.get("type") == "history":  # a pseudo-state: no actions
        return result
    for hook in ("entry", "exit"):
        actions = draw(_user_actions(calls, actors))
        if actions:
            result[hook] = actions
    if actors and state.get("type") != "final" and draw(st.integers(0, 3)) == 0:
        src = draw(st.sampled_from(("pinger", "fetch")))
        invocation: dict[str, Any] = {"id": draw(st.sampled_from(ACTOR_IDS)), "src": src}
        if src == "fetch":
            invocation["input"] = {"n": draw(st.integers(0, 3))}
        result["invoke"] = invocation
    if "on" in state:
        result["on"] = {
            descriptor: [
                draw(_decorated_transition(t, calls, actors))
                for t in (specs if isinstance(specs, list) else [specs])
            ]
            for descriptor, specs in state["on"].items()
        }
    if state.get("type") != "final" and draw(st.booleans()):  # a timer with a named delay
        first: Any = {"actions": []}  # stays, unless the state has a transition to copy
        if state.get("on"):
            specs = next(iter(state["on"].values()))
            first = specs[0] if isinstance(specs, list) else specs
        result["after"] = {"wait": draw(_decorated_transition(first, calls, actors))}
    for key in ("always", "onDone"):
        if key in state:
            specs = state[key] if isinstance(state[key], list) else [state[key]]
            result[key] = [draw(_decorated_transition(t, calls, actors)) for t in specs]
    if "states" in state:
        result["states"] = {
            key: draw(_with_data(child, calls, actors)) for key, child in state["states"].items()
        }
    return result


def _events(types: list[str], amounts: list[int]) -> list[dict[str, Any]]:
    return [{"type": t, "amount": a} for t, a in zip(types, amounts, strict=True)]


def _step_record(step: orderflow.Step, calls: Counter[str]) -> Any:
    record = (
        step.snapshot.to_json(),
        [(a.type, a.params, dict(a.event.data)) for a in step.actions],
        step.taken,
        None if step.refusal is None else (step.refusal.kind, step.refusal.reason),
        step.consumed,
        dict(calls),
    )
    calls.clear()
    return record


def _walk(
    machine: orderflow.Machine, events: list[dict[str, Any]], calls: Counter[str], trace: bool
) -> list[Any]:
    records: list[Any] = []
    try:
        step = machine.step(None, trace=trace)
        records.append(_step_record(step, calls))
        snapshot = step.snapshot
        for event in events:
            step = machine.step(snapshot, event, trace=trace)
            records.append(_step_record(step, calls))
            snapshot = step.snapshot
    except InfiniteLoopError as exc:
        calls.clear()
        records.append(("loop", exc.states))
    return records


@SETTINGS
@given(st.data(), st.booleans(), st.booleans())
def test_replayed_data_plans_agree_with_the_whole_algorithm_at_every_step(
    data: st.DataObject, model: bool, actors: bool
) -> None:
    calls: Counter[str] = Counter()
    config = data.draw(_with_data(data.draw(machine_configs()), calls, actors))
    config["context"] = {"n": 0, "m": 0}
    setup = _implementations(calls, model)
    cached = setup.create_machine(config)
    reference = setup.create_machine(config)
    timers = [delayed.event_type for node in cached.nodes for delayed in node.after]
    alphabet = st.lists(
        st.sampled_from([*config_alphabet(cached), *timers, UNHANDLED_EVENT]), max_size=10
    )
    for _ in range(data.draw(st.integers(1, 4))):
        types = data.draw(alphabet)
        amounts = data.draw(st.lists(st.integers(0, 3), min_size=len(types), max_size=len(types)))
        events = _events(types, amounts)
        expected = _walk(reference, events, calls, trace=True)
        assert _walk(cached, events, calls, trace=False) == expected


def _sale(setup: orderflow.Setup) -> orderflow.Machine:
    return setup.create_machine(
        {
            "id": "sale",
            "initial": "open",
            "context": {"n": 0, "m": 0},
            "states": {
                "open": {
                    "on": {
                        "PAY": [
                            {
                                "target": "paid",
                                "guard": {"type": "below", "params": {"key": "n", "limit": 4}},
                                "actions": [{"type": "bump", "params": {"key": "n", "by": 1}}],
                            },
                            {"actions": [{"type": "bump", "params": {"key": "m", "by": 1}}]},
                        ]
                    }
                },
                "paid": {"on": {"BACK": "open"}},
            },
        }
    )


def test_a_data_plan_is_kept_and_each_guard_and_assignment_runs_once_per_event() -> None:
    calls: Counter[str] = Counter()
    machine = _sale(_implementations(calls, model=False))
    start, _ = machine.initial_transition()
    first, _ = machine.transition(start, {"type": "PAY", "amount": 1})  # recorded
    assert [type(plan) for plan in machine.plans.values()] == [MacrostepPlan, DataPlan]
    assert (first.value, first.context, dict(calls)) == (
        "paid",
        {"n": 2, "m": 0},
        {"below": 1, "bump": 1},
    )
    calls.clear()
    again, _ = machine.transition(start, {"type": "PAY", "amount": 2})  # replayed
    assert (again.value, again.context, dict(calls)) == (
        "paid",
        {"n": 3, "m": 0},
        {"below": 1, "bump": 1},
    )
    calls.clear()
    refused, _ = machine.transition(start, {"type": "PAY", "amount": 4})  # a new outcome: a miss
    assert (refused.value, refused.context, dict(calls)) == (
        "open",
        {"n": 0, "m": 5},
        {"below": 1, "bump": 1},
    )
    calls.clear()
    replayed, _ = machine.transition(start, {"type": "PAY", "amount": 0})  # both outcomes known now
    assert (replayed.value, replayed.context, dict(calls)) == (
        "paid",
        {"n": 1, "m": 0},
        {"below": 1, "bump": 1},
    )


def test_a_guard_that_raises_during_a_replay_puts_the_snapshot_in_error_as_without_one() -> None:
    calls: Counter[str] = Counter()
    config = {
        "initial": "a",
        "context": {"n": 5, "m": 0},
        "states": {"a": {"on": {"GO": {"target": "b", "guard": "fragile"}}}, "b": {}},
    }
    machine = _implementations(calls, model=False).create_machine(config)
    start, _ = machine.initial_transition()
    assert machine.transition(start, {"type": "GO", "amount": 1})[0].value == "b"
    failed = machine.step(start, {"type": "GO", "amount": 3})
    assert failed.snapshot.status == "error"
    assert failed.snapshot.error == {
        "type": "ValueError",
        "message": "n is 5 and the amount 3",
        "event": "GO",
    }
    assert failed.refusal is not None and failed.refusal.kind == "failed"
    assert (failed.snapshot.value, failed.snapshot.context) == ("a", {"n": 5, "m": 0})


def test_a_named_delay_and_a_computed_emit_are_run_again_on_a_replay() -> None:
    calls: Counter[str] = Counter()
    bump = {"type": "bump", "params": {"key": "n", "by": 1}}
    config = {
        "initial": "a",
        "context": {"n": 0, "m": 0},
        "states": {
            "a": {"on": {"GO": {"target": "b", "actions": [bump]}}},
            "b": {"after": {"wait": "a"}, "entry": ["announce"], "on": {"BACK": "a"}},
        },
    }
    machine = _implementations(calls, model=False).create_machine(config)
    start, _ = machine.initial_transition()
    for amount in range(3):  # recorded once, then replayed with another context each time
        entered, actions = machine.transition(start, {"type": "GO", "amount": amount})
        delay = 110.0 + 10 * amount  # n is 1 + amount after the bump
        assert [timer.delay for timer in entered.timers] == [delay]
        assert [(a.type, a.params) for a in actions] == [
            ("emit", {"event": {"type": "ANNOUNCED", "n": 1 + amount, "amount": amount}}),
            ("schedule", {"id": entered.timers[0].id, "event": {"type": entered.timers[0].id},
                          "delay": delay}),
        ]  # fmt: skip
    assert [type(plan) for plan in machine.plans.values()] == [MacrostepPlan, DataPlan]
    assert dict(calls) == {"bump": 3, "announce": 3, "wait": 3}
