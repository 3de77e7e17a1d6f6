"""An actor's error event that no transition takes fails the machine, as XState fails the parent.

XState 5: a promise actor that rejects where no ``onError`` listens (or a child
machine that fails where its parent has no ``onError`` for it) leaves the parent
with ``status == "error"`` and the child's error; its delayed events are
cancelled and its children stopped.  The core answers with the refusal kind
``unhandled_error``, which tells this apart from user code raising (``failed``):
a persisted service keeps the first and rolls the second back.
"""

from __future__ import annotations

import datetime
import json
from typing import Any

import orderflow
from orderflow.chart.machine import FAILED, INACTIVE, UNHANDLED_ERROR

ERROR = {"type": "RuntimeError", "message": "refused"}


def _never(input: Any) -> Any:  # the caller runs function actors; these tests never do
    raise AssertionError("not run")


def _raises(context: Any, event: Any, params: Any) -> bool:
    raise ZeroDivisionError("division by zero")


def parent(**extra_states: Any) -> orderflow.Machine:
    """idle --GO--> working: invokes ``job`` and ``other`` (no onError), arms a 5s timer."""
    return orderflow.setup(actors={"work": _never}, guards={"raises": _raises}).create_machine({
        "id": "parent", "initial": "idle", "context": {"n": 1},
        "states": {
            "idle": {"on": {"GO": "working"}},
            "working": {
                "invoke": [{"id": "job", "src": "work"}, {"id": "other", "src": "work"}],
                "after": {"5000": "idle"},
                "on": {"BOOM": {"guard": "raises", "target": "idle"}},
            },
            **extra_states,
        },
    })  # fmt: skip


def working(machine: orderflow.Machine) -> Any:
    snapshot, _ = machine.initial_transition()
    snapshot, _ = machine.transition(snapshot, "GO")
    return snapshot


def test_a_function_childs_error_no_transition_takes_puts_the_machine_in_error() -> None:
    machine = parent()
    before = working(machine)

    step = machine.step(before, {"type": "xstate.error.actor.job", "error": ERROR})

    after = step.snapshot
    assert (after.status, after.error, after.value, after.context) == (
        "error", ERROR, "working", {"n": 1},
    )  # fmt: skip
    assert not step.taken and step.refusal is not None
    assert step.refusal.kind == UNHANDLED_ERROR and "xstate.error.actor.job" in step.refusal.reason
    # its timer is cancelled and its other child stopped, as XState stops a failed actor
    assert [(a.type, a.params.get("id")) for a in step.actions] == [
        ("cancel", "xstate.after.5000.parent.working"), ("stop_actor", "other"),
    ]  # fmt: skip
    assert after.timers == () and dict(after.children) == {}
    restored = machine.resolve_snapshot(json.loads(json.dumps(after.to_json())))
    assert restored == after
    assert machine.step(restored, "GO").refusal.kind == INACTIVE  # type: ignore[union-attr]


def test_a_guard_that_raises_is_told_apart_as_failed() -> None:
    machine = parent()
    step = machine.step(working(machine), "BOOM")
    assert step.snapshot.status == "error"
    assert step.refusal is not None and step.refusal.kind == FAILED


def test_an_error_that_is_not_json_is_kept_as_its_description() -> None:
    machine = parent()
    when = datetime.date(2025, 1, 2)
    step = machine.step(
        working(machine), {"type": "xstate.error.actor.job", "error": {"when": when}}
    )
    assert step.snapshot.error == {
        "type": "Error", "message": str({"when": when}), "event": "xstate.error.actor.job",
    }  # fmt: skip
    json.dumps(step.snapshot.to_json())


def _child_machine(*, guard_raises: bool = False) -> orderflow.Machine:
    """A child that invokes ``grand`` with no onError; ``POKE`` is guarded by a raising guard."""
    return orderflow.setup(actors={"work": _never}, guards={"raises": _raises}).create_machine({
        "id": "child", "initial": "a",
        "states": {"a": {"invoke": {"id": "grand", "src": "work"},
                         "on": {"POKE": {"guard": "raises", "target": "a"}}}},
    })  # fmt: skip


def _machine_parent(on_error: bool) -> orderflow.Machine:
    invoke: dict[str, Any] = {"id": "kid", "src": "child"}
    states: dict[str, Any] = {"holding": {"invoke": invoke}}
    if on_error:
        invoke["onError"] = "recovered"
        states["recovered"] = {}
    return orderflow.setup(actors={"child": _child_machine()}).create_machine(
        {"id": "holder", "initial": "holding", "states": states}
    )


def test_a_child_machine_that_fails_unhandled_fails_its_parent_too() -> None:
    machine = _machine_parent(on_error=False)
    snapshot, _ = machine.initial_transition()

    step = machine.step(snapshot, {"type": "xstate.error.actor.grand", "error": ERROR}, to="kid")

    assert (step.snapshot.status, step.snapshot.error) == ("error", ERROR)
    assert step.refusal is not None and step.refusal.kind == UNHANDLED_ERROR


def test_a_parent_that_takes_its_childs_failure_stays_active() -> None:
    machine = _machine_parent(on_error=True)
    snapshot, _ = machine.initial_transition()

    step = machine.step(snapshot, {"type": "xstate.error.actor.grand", "error": ERROR}, to="kid")

    assert (step.snapshot.status, step.snapshot.value) == ("active", "recovered")


def test_a_child_whose_guard_raises_fails_its_parent_as_failed_not_unhandled() -> None:
    machine = _machine_parent(on_error=False)
    snapshot, _ = machine.initial_transition()

    step = machine.step(snapshot, "POKE", to="kid")

    assert step.snapshot.status == "error" and step.snapshot.error["type"] == "ZeroDivisionError"
    assert step.refusal is not None and step.refusal.kind == FAILED
