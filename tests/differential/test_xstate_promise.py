"""A promise actor (orderflow's function actor) that resolves or rejects, against the real XState 5.

XState keeps a promise actor that resolved where no ``onDone`` listens in
``snapshot.children`` with status ``done`` (and in the persisted snapshot),
until its state is left; one that rejected where no ``onError`` listens puts
the parent in ``error`` and its children are gone.  The persisted child is compared
whole: ``{"status": "done", "output": ...}`` or ``{"status": "error", "error": ...}``,
its input dropped.  The XState promise rejects with the object orderflow's runtime
makes of an exception (``{"type", "message"}``), so that the error compares as data.  orderflow's runtime
actor, driving the pure core, must leave the same behind: the parent's value, status and error,
in memory and persisted.  The nested cases put the promise one level down, in a child machine
with no ``onError`` of its own: the child fails, and so does the parent unless it has an
``onError`` for the child.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from node_runner import NodeRunner, xstate_modules

import orderflow
from orderflow.runtime import SimulatedClock

RUNNER = Path(__file__).with_name("xstate_promise_runner.cjs")


@pytest.fixture(scope="module")
def xstate() -> Iterator[NodeRunner]:
    runner = NodeRunner(RUNNER, xstate_modules(), loop="XState did not answer", timeout=5.0)
    yield runner
    runner.close()


def run_orderflow(case: dict[str, Any]) -> dict[str, Any]:
    def work(input: Any) -> Any:
        if case["reject"]:
            raise RuntimeError("refused")
        return case["output"]

    kid = orderflow.setup(actors={"work": work}).create_machine({
        "id": "kid", "initial": "a",
        "states": {"a": {"invoke": {"id": "grand", "src": "work", "input": {"n": 3}}}},
    })  # fmt: skip
    nested = case.get("nested", False)
    invoke: dict[str, Any] = {"id": "job", "src": "kid" if nested else "work", "input": {"n": 3}}
    if case["onDone"]:
        invoke["onDone"] = "after"
    if case["onError"]:
        invoke["onError"] = "after"
    with warnings.catch_warnings():  # "after" is unreachable without onDone/onError
        warnings.simplefilter("ignore", orderflow.DefinitionWarning)
        machine = orderflow.setup(actors={"work": work, "kid": kid}).create_machine({
            "id": "parent", "initial": "idle",
            "states": {"idle": {"on": {"GO": "working"}},
                       "working": {"invoke": invoke, "on": {"BACK": "idle"}}, "after": {}},
        })  # fmt: skip
    actor = orderflow.create_actor(machine, clock=SimulatedClock()).start()
    actor.send("GO")
    snapshot = actor.get_snapshot()
    whole = json.loads(json.dumps(snapshot.to_json()))
    persisted = whole.get("children", {})
    after_back = None
    if snapshot.status == "active":
        actor.send("BACK")
        after_back = list(actor.get_snapshot().children)
    return {
        "value": snapshot.value,
        "status": snapshot.status,
        "error": snapshot.error,
        "children": {ident: child.current_status for ident, child in snapshot.children.items()},
        "persisted": {
            ident: child["snapshot"]["status"] if nested else child["snapshot"]
            for ident, child in persisted.items()
        },
        "persistedStatus": whole["status"],
        "persistedError": whole["error"],
        "afterBack": after_back,
    }


CASES = [
    {"reject": reject, "output": {"total": 6}, "onDone": on_done, "onError": on_error}
    for reject in (False, True)
    for on_done in (False, True)
    for on_error in (False, True)
] + [
    {"reject": reject, "output": {"total": 6}, "onDone": False, "onError": on_error, "nested": True}
    for reject in (False, True)
    for on_error in (False, True)
]


def _name(case: dict[str, Any]) -> str:
    listening = [k for k in ("onDone", "onError") if case[k]] or ["no handler"]
    where = "nested-" if case.get("nested") else ""
    return f"{where}{'rejects' if case['reject'] else 'resolves'}-{'+'.join(listening)}"


@pytest.mark.parametrize("case", CASES, ids=[_name(c) for c in CASES])
def test_a_settled_promise_actor_leaves_what_xstate_leaves(
    xstate: NodeRunner, case: dict[str, Any]
) -> None:
    assert run_orderflow(case) == xstate.run(case)


def test_a_resolved_promise_nobody_listens_to_stays_done_in_the_children() -> None:
    # XState 5.33.3's answer, written down: the test above checks it against XState itself
    case = {"reject": False, "output": 1, "onDone": False, "onError": False}
    assert run_orderflow(case) == {
        "value": "working", "status": "active", "error": None, "children": {"job": "done"},
        "persisted": {"job": {"status": "done", "output": 1}}, "persistedStatus": "active",
        "persistedError": None, "afterBack": [],
    }  # fmt: skip


def test_a_rejection_nobody_listens_to_fails_the_parent_with_its_error() -> None:
    # XState 5.33.3's answer, written down: the parent is in error, its children gone
    error = {"type": "RuntimeError", "message": "refused"}
    for nested in (False, True):
        case = {"reject": True, "output": 1, "onDone": False, "onError": False, "nested": nested}
        assert run_orderflow(case) == {
            "value": "working", "status": "error", "error": error, "children": {},
            "persisted": {}, "persistedStatus": "error", "persistedError": error,
            "afterBack": None,
        }  # fmt: skip
