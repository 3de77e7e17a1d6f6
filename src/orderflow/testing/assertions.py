"""Assertions about snapshots whose failure messages say what was expected, what is, and how it got there.

    assert_state(snapshot, "payment.card")
    path = assert_path(machine, ["CHECKOUT", "CARD"], ["payment", "payment.card"])
    assert_can(snapshot, "APPROVED")
    assert_cannot(snapshot, {"type": "CHECKOUT"})

Each raises ``AssertionError`` (so pytest shows it as a plain test failure)
whose message names the expected state, the actual configuration (the active
atomic states and the state value), and, when known, the events that led there.
``assert_can`` and ``assert_cannot`` add ``machine.explain``: which transition
would fire, or which guard shut it and why.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel

from orderflow.chart import Machine, Snapshot
from orderflow.testing.paths import Path, replay

State = str | Mapping[str, Any]
EventLike = str | Mapping[str, Any]


def assert_state(snapshot: Snapshot, expected: State, path: Path | None = None) -> None:
    """``snapshot.matches(expected)``, or an ``AssertionError`` showing both configurations."""
    if snapshot.matches(expected):
        return
    lines = [f"the snapshot is not in {_show(expected)}", *_mismatch(expected, snapshot)]
    if path is not None:
        lines.append(f"  path:     {path.describe()}")
    raise AssertionError("\n".join(lines))


def assert_path(
    machine: Machine,
    events: Sequence[EventLike],
    expected_values: Sequence[State | None],
    *,
    start: Snapshot | None = None,
) -> Path:
    """Send ``events`` from ``start`` (the initial snapshot); after each, the snapshot matches its expected state.

    ``expected_values[i]`` is the state after ``events[i]`` (``None`` skips the check).
    Returns the :class:`~orderflow.testing.paths.Path` for further assertions.
    """
    if len(events) != len(expected_values):
        raise ValueError(
            f"give one expected state per event: {len(events)} events, {len(expected_values)} states"
        )
    if start is None:
        start, _ = machine.initial_transition()
    path = replay(machine, start, events)
    for index, (step, expected) in enumerate(zip(path.steps, expected_values, strict=True)):
        if expected is None or step.snapshot.matches(expected):
            continue
        so_far = Path(start, path.steps[: index + 1])
        raise AssertionError(
            "\n".join(
                [
                    f"after event {index + 1} of {len(events)} ({_show(dict(step.event))}) "
                    f"the snapshot is not in {_show(expected)}",
                    *_mismatch(expected, step.snapshot),
                    f"  path:     {so_far.describe()}",
                ]
            )
        )
    return path


def assert_can(snapshot: Snapshot, event: EventLike) -> None:
    """``snapshot.can(event)``, or an ``AssertionError`` saying which guard blocked it (or that nothing listens)."""
    if snapshot.can(event):
        return
    raise AssertionError(
        f"expected {_event_type(event)!r} to be accepted in {_show(snapshot.value)}, "
        f"but it is not: {_explain(snapshot, event)}"
    )


def assert_cannot(snapshot: Snapshot, event: EventLike) -> None:
    """``not snapshot.can(event)``, or an ``AssertionError`` saying which transition it would fire."""
    if not snapshot.can(event):
        return
    raise AssertionError(
        f"expected {_event_type(event)!r} to be refused in {_show(snapshot.value)}, "
        f"but {_explain(snapshot, event)}"
    )


def _mismatch(expected: State, snapshot: Snapshot) -> list[str]:
    active = ", ".join(active_states(snapshot)) or "(none)"
    return [
        f"  expected: {_show(expected)}",
        f"  actual:   {_show(snapshot.value)} (status {snapshot.status}; active states: {active})",
    ]


def active_states(snapshot: Snapshot) -> list[str]:
    """The ids of the active atomic states, in document order."""
    return [n.id for n in sorted(snapshot.configuration, key=lambda n: n.order) if n.is_atomic]


def _explain(snapshot: Snapshot, event: EventLike) -> str:
    machine = snapshot.machine
    if not isinstance(machine, Machine):
        return "(no machine to explain with)"
    if snapshot.status != "active":
        return f"the snapshot is {snapshot.status} and takes no more events"
    return str(machine.explain(snapshot, event))


def _event_type(event: EventLike | BaseModel) -> str:
    if isinstance(event, str):
        return event
    if isinstance(event, Mapping):
        return str(event.get("type"))
    return type(event).__name__


def _show(value: Any) -> str:
    if isinstance(value, str):
        return repr(value)
    return json.dumps(value, sort_keys=True, default=str)
