"""The quick route of ``resolve_snapshot`` answers exactly as the full route does.

``restore`` first tries ``_restore_settled``: an active snapshot whose state value was
restored before, with nothing but a context to check.  Whatever it accepts, the full
route must accept with the same snapshot; whatever the full route refuses, it must
refuse (or leave to the full route).  Each example takes a valid persisted snapshot,
restores it once (so its value is known), changes some of its fields to values of
other shapes, and restores it with the quick route and without it.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

import orderflow
from orderflow.chart import snapshot as snapshot_module
from orderflow.errors import InvalidSnapshotError

CHART = {
    "id": "own",
    "initial": "a",
    "context": {"n": 0, "tags": []},
    "states": {
        "a": {"on": {"GO": "b"}},
        "b": {
            "type": "parallel",
            "states": {
                "x": {"initial": "x1", "states": {"x1": {"on": {"X": "x2"}}, "x2": {}}},
                "y": {"initial": "y1", "states": {"y1": {}}},
            },
            "on": {"END": "z"},
        },
        "z": {"type": "final"},
    },
}


class Model(BaseModel):
    n: int = 0
    tags: list[str] = []


def _machines() -> list[orderflow.Machine]:
    return [
        orderflow.create_machine(CHART),
        orderflow.setup(context=Model).create_machine(CHART),
    ]


def _deep(levels: int) -> Any:
    value: Any = 1
    for _ in range(levels):
        value = {"k": value}
    return value


ODD = st.one_of(
    st.none(),
    st.sampled_from(["", "active", "done", "error", "a", "b", "z", "own", "1", "2"]),
    st.integers(-1, 2),
    st.booleans(),
    st.just([]),
    st.just({}),
    st.just({"n": 1, "tags": ["t"]}),
    st.just({"n": "many"}),
    st.just({"n": 1, "extra": _deep(70)}),
    st.just({"n": 1, "extra": _deep(10)}),
    st.just([{"id": "t", "event": {"type": "T"}, "delay": 5}]),
    st.just({"message": "boom"}),
    st.just({"x": "x2", "y": "y1"}),
    st.just({"b": {"x": "x1", "y": "y1"}}),
)
FIELDS = st.sampled_from(
    ["machine", "version", "value", "status", "context", "history", "timers", "output",
     "error", "children", "unknown"]
)  # fmt: skip


def _outcome(machine: orderflow.Machine, data: dict[str, Any]) -> Any:
    try:
        restored = machine.resolve_snapshot(data)
    except InvalidSnapshotError as exc:
        return ("refused", str(exc))
    return ("restored", restored.to_json(), restored.configuration, type(restored.context))


@settings(max_examples=400, deadline=None)
@given(
    which=st.integers(0, 1),
    start=st.sampled_from([(), ("GO",), ("GO", "X"), ("GO", "END")]),
    changes=st.dictionaries(FIELDS, ODD, max_size=3),
    drop=st.lists(FIELDS, max_size=2),
)
def test_the_quick_route_answers_as_the_full_route(
    which: int, start: tuple[str, ...], changes: dict[str, Any], drop: list[str]
) -> None:
    machine = _machines()[which]
    snapshot, _ = machine.initial_transition()
    for event in start:
        snapshot, _ = machine.transition(snapshot, event)
    data = snapshot.to_json()
    machine.resolve_snapshot(data)  # its value is now known to the machine
    data.update(changes)
    for key in drop:
        data.pop(key, None)
    quick = _outcome(machine, dict(data))
    original = snapshot_module._restore_settled
    try:
        snapshot_module._restore_settled = lambda machine, data: None  # type: ignore[assignment]
        full = _outcome(machine, dict(data))
    finally:
        snapshot_module._restore_settled = original
    assert quick == full


def test_the_quick_route_is_taken_for_a_settled_snapshot() -> None:
    """So the property above tests something: a plain active snapshot goes the quick way."""
    machine = orderflow.create_machine(CHART)
    snapshot, _ = machine.transition(machine.initial_transition()[0], "GO")
    data = snapshot.to_json()
    machine.resolve_snapshot(data)
    quick = snapshot_module._restore_settled(machine, data)
    assert quick is not None
    assert quick == snapshot
    assert quick.configuration == snapshot.configuration


@pytest.mark.parametrize(
    "changes",
    [
        {"context": {"n": 1, "deep": _deep(70)}},
        {"children": []},
        {"version": 1},
        {"status": "done"},
    ],
)
def test_the_quick_route_refuses_or_defers_what_the_full_route_refuses(
    changes: dict[str, Any],
) -> None:
    machine = orderflow.create_machine(CHART)
    snapshot, _ = machine.transition(machine.initial_transition()[0], "GO")
    data = snapshot.to_json()
    machine.resolve_snapshot(data)
    with pytest.raises(InvalidSnapshotError):
        machine.resolve_snapshot({**data, **changes})
