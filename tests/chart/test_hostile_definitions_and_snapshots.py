"""Definitions and snapshots from outside: every hostile one is a clear error, never a crash or a lie.

States nested past the documented depth, guards nested past theirs,
delays that are not finite, and persisted snapshots whose timers, keys or
context were tampered with: each is a ``DefinitionError`` or an
``InvalidSnapshotError`` naming the JSON path at fault.
"""

from __future__ import annotations

import copy
import json
import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import orderflow
from orderflow.chart.actions import MAX_DELAY_MS
from orderflow.chart.definition import MAX_GUARD_DEPTH, MAX_STATE_DEPTH
from orderflow.chart.snapshot import MAX_CONTEXT_DEPTH
from orderflow.errors import DefinitionError, InvalidSnapshotError


def nested(depth: int) -> dict[str, Any]:
    """A machine whose only path of states goes ``depth`` levels down to a final state."""
    config: dict[str, Any] = {"type": "final"}
    for _ in range(depth):
        config = {"initial": "s", "states": {"s": config}}
    return {"id": "deep", **config}


def test_states_nested_to_the_limit_compile_and_run() -> None:
    machine = orderflow.create_machine(nested(MAX_STATE_DEPTH))
    snapshot, _ = machine.initial_transition()
    value, levels = snapshot.value, 0
    while isinstance(value, dict):
        ((_, value),) = value.items()
        levels += 1
    assert (levels, value) == (MAX_STATE_DEPTH - 1, "s")
    assert machine.resolve_snapshot(json.loads(json.dumps(snapshot.to_json()))) == snapshot


@pytest.mark.parametrize("depth", [MAX_STATE_DEPTH + 1, 500, 5000])
def test_states_nested_past_the_limit_are_a_definition_error_with_the_path(depth: int) -> None:
    with pytest.raises(DefinitionError, match=f"nest deeper than {MAX_STATE_DEPTH} levels") as err:
        orderflow.create_machine(nested(depth))
    assert err.value.problems[0].path == "$" + ".states.s" * MAX_STATE_DEPTH + ".states"


def test_guards_nested_past_the_limit_are_a_definition_error() -> None:
    guard: Any = "ok"
    for _ in range(5000):
        guard = {"type": "not", "guard": guard}
    config = {"id": "g", "initial": "a", "states": {"a": {"on": {"GO": {"target": "b", "guard": guard}}}, "b": {}}}  # fmt: skip
    with pytest.raises(DefinitionError, match=f"guards nest deeper than {MAX_GUARD_DEPTH}"):
        orderflow.setup(guards={"ok": lambda *_: True}).create_machine(config)


@pytest.mark.parametrize("delay", ["NaN", "Infinity", "-Infinity", "1e400", "-1", "1e18", "nan"])
def test_a_delay_that_is_not_a_finite_span_is_refused_at_definition(delay: str) -> None:
    config = {"id": "t", "initial": "a", "states": {"a": {"after": {delay: "b"}}, "b": {}}}
    with pytest.raises(DefinitionError) as err:
        orderflow.create_machine(config)
    assert err.value.problems[0].path == f"$.states.a.after.{delay}"
    assert "finite number of milliseconds" in str(err.value)


@pytest.mark.parametrize("delay", [float("nan"), float("inf"), -5, 1e18, True, [1]])
def test_a_delayed_raise_with_a_bad_delay_is_refused_at_definition(delay: Any) -> None:
    raise_later = {"type": "xstate.raise", "params": {"event": "PING", "delay": delay}}
    config = {"id": "r", "initial": "a", "states": {"a": {"entry": [raise_later], "on": {"PING": "b"}}, "b": {}}}  # fmt: skip
    with pytest.raises(DefinitionError, match=r"params\.delay"):
        orderflow.create_machine(config)


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -1, 10**20, "1000", None])
def test_a_named_delay_that_answers_nonsense_puts_the_snapshot_in_error(value: Any) -> None:
    machine = orderflow.setup(delays={"wait": lambda *_: value}).create_machine(
        {
            "id": "w",
            "initial": "a",
            "states": {"a": {"on": {"GO": "w"}}, "w": {"after": {"wait": "b"}}, "b": {}},
        }
    )
    snapshot, _ = machine.initial_transition()
    after, actions = machine.transition(snapshot, "GO")
    assert after.status == "error" and "delay 'wait'" in after.error["message"]
    assert after.value == "a" and actions == []


# -- snapshots ----------------------------------------------------------------------------------

TIMED = {
    "id": "timed",
    "initial": "waiting",
    "context": {"n": 0},
    "states": {
        "waiting": {"after": {"1000": "late"}, "on": {"GO": "done"}},
        "late": {},
        "done": {"type": "final"},
    },
}


def waiting() -> tuple[orderflow.Machine, dict[str, Any]]:
    machine = orderflow.create_machine(TIMED)
    snapshot, _ = machine.initial_transition()
    return machine, snapshot.to_json()


@pytest.mark.parametrize(
    ("change", "path", "message"),
    [
        ({"delay": float("nan")}, "$.timers[0].delay", "finite number"),
        ({"delay": float("inf")}, "$.timers[0].delay", "finite number"),
        ({"delay": -1e18}, "$.timers[0].delay", "finite number"),
        ({"delay": 5}, "$.timers[0].delay", "defined with a delay of 1000"),
        ({"due": float("nan")}, "$.timers[0].due", "due time"),
        ({"due": float("inf")}, "$.timers[0].due", "due time"),
        ({"due": -1e18}, "$.timers[0].due", "due time"),
        ({"due": 1e300}, "$.timers[0].due", "due time"),
        ({"event": {"type": "GO"}}, "$.timers[0].event", "must carry its own event"),
        ({"event": {"type": "xstate.after.1000.timed.waiting", "amount": 1}},
         "$.timers[0].event", "must carry its own event"),
        ({"fires_at": "never"}, "$.timers[0]", r"unknown fields \['fires_at'\]"),
    ],
)  # fmt: skip
def test_a_tampered_timer_is_refused_with_its_path(
    change: dict[str, Any], path: str, message: str
) -> None:
    machine, data = waiting()
    data["timers"][0].update(change)
    with pytest.raises(InvalidSnapshotError, match=message) as err:
        machine.resolve_snapshot(data)
    assert err.value.path == path


def test_a_timer_the_machine_could_not_have_scheduled_is_refused() -> None:
    machine, data = waiting()
    data["timers"].append({"id": "sneaky", "event": {"type": "GO"}, "delay": 0})
    with pytest.raises(InvalidSnapshotError, match="raises no event with a delay"):
        machine.resolve_snapshot(data)
    data["timers"][-1] = {
        "id": "x",
        "event": {"type": "xstate.after.1000.timed.waiting"},
        "delay": 1000,
    }
    with pytest.raises(InvalidSnapshotError):
        machine.resolve_snapshot(data)


def test_a_machine_that_raises_later_may_hold_its_own_timers() -> None:
    config = copy.deepcopy(TIMED)
    config["states"]["waiting"]["entry"] = [
        {"type": "xstate.raise", "params": {"event": "GO", "delay": 50, "id": "nudge"}}
    ]
    machine = orderflow.create_machine(config)
    snapshot, _ = machine.initial_transition()
    assert {t.id for t in snapshot.timers} == {"nudge", "xstate.after.1000.timed.waiting"}
    assert machine.resolve_snapshot(snapshot.to_json()) == snapshot


@pytest.mark.parametrize("missing", ["machine", "version"])
def test_a_snapshot_that_does_not_say_whose_it_is_is_refused(missing: str) -> None:
    machine, data = waiting()
    del data[missing]
    with pytest.raises(InvalidSnapshotError, match=f"'{missing}'") as err:
        machine.resolve_snapshot(data)
    assert err.value.path == f"$.{missing}"


def test_another_machines_snapshot_is_refused() -> None:
    other = orderflow.create_machine({**TIMED, "id": "other"})
    snapshot, _ = other.initial_transition()
    with pytest.raises(InvalidSnapshotError, match="belongs to machine 'other'"):
        orderflow.create_machine(TIMED).resolve_snapshot(snapshot.to_json())


@pytest.mark.parametrize("depth", [MAX_CONTEXT_DEPTH + 1, 100_000])
def test_a_context_nested_past_the_limit_is_refused(depth: int) -> None:
    machine, data = waiting()
    deep: Any = "bottom"
    for _ in range(depth):
        deep = [deep]
    data["context"] = {"n": 0, "deep": deep}
    with pytest.raises(InvalidSnapshotError, match=f"deeper than {MAX_CONTEXT_DEPTH}") as err:
        machine.resolve_snapshot(data)
    assert err.value.path == "$.context"


def test_a_context_at_the_limit_is_restored() -> None:
    machine, data = waiting()
    deep: Any = "bottom"
    for _ in range(MAX_CONTEXT_DEPTH - 1):
        deep = [deep]
    data["context"] = {"n": 0, "deep": deep}
    assert machine.resolve_snapshot(data).context["deep"] == deep


@settings(max_examples=200, deadline=None)
@given(
    delay=st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers()),
    due=st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True), st.integers()),
)
def test_every_restored_snapshot_writes_strict_json(delay: Any, due: Any) -> None:
    """Whatever the timer numbers, a snapshot that restores writes JSON without NaN or Infinity."""
    machine, data = waiting()
    data["timers"][0]["delay"] = delay
    if due is not None:
        data["timers"][0]["due"] = due
    try:
        restored = machine.resolve_snapshot(data)
    except InvalidSnapshotError:
        return
    json.dumps(restored.to_json(), allow_nan=False)
    timer = restored.timers[0]
    assert math.isfinite(timer.delay) and 0 <= timer.delay <= MAX_DELAY_MS
