"""A function actor that answered, kept in ``snapshot.children`` and persisted as XState does.

XState 5 persists a resolved promise actor as ``{"status": "done", "output": ...}`` and a
rejected one that stays (its ``onError`` does not leave the state) as
``{"status": "error", "error": ...}``, without its input.  The output must be JSON to be
written: one that is not is refused by ``to_json`` (``ActorOutputError``), never converted.
"""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import orderflow
from orderflow.errors import ActorOutputError, InvalidSnapshotError
from orderflow.runtime import SimulatedClock


def _machine(result: Any, *, fail: bool = False) -> orderflow.Machine:
    def work(input: Any) -> Any:
        if fail:
            raise RuntimeError("refused")
        return result

    return orderflow.setup(actors={"work": work}).create_machine({
        "id": "keeper", "initial": "idle",
        "states": {"idle": {"on": {"GO": "working"}},
                   "working": {"invoke": {"id": "job", "src": "work", "input": {"n": 3},
                                          "onDone": {"actions": []},
                                          "onError": {"actions": []}},
                               "on": {"BACK": "idle"}}},
    })  # fmt: skip


def _settled(result: Any, *, fail: bool = False) -> tuple[orderflow.Machine, Any]:
    machine = _machine(result, fail=fail)
    actor = orderflow.create_actor(machine, clock=SimulatedClock()).start()
    actor.send("GO")
    return machine, actor


def test_a_resolved_child_is_persisted_with_its_output_not_its_input() -> None:
    machine, actor = _settled({"total": 6, "lines": [1, 2.5, None]})
    snapshot = actor.get_snapshot()
    assert snapshot.value == "working"
    child = snapshot.children["job"]
    assert (child.status, child.output, child.input) == (
        "done",
        {"total": 6, "lines": [1, 2.5, None]},
        None,
    )
    assert snapshot.to_json()["children"]["job"] == {
        "src": "work", "snapshot": {"status": "done", "output": {"total": 6, "lines": [1, 2.5, None]}},
    }  # fmt: skip
    restored = machine.resolve_snapshot(snapshot.to_json())
    assert restored == snapshot
    assert restored.children["job"].output == {"total": 6, "lines": [1, 2.5, None]}


def test_a_rejected_child_onerror_keeps_is_persisted_with_its_error() -> None:
    machine, actor = _settled(None, fail=True)
    snapshot = actor.get_snapshot()
    assert snapshot.status == "active"
    persisted = snapshot.to_json()["children"]["job"]["snapshot"]
    assert persisted == {"status": "error", "error": {"type": "RuntimeError", "message": "refused"}}
    assert machine.resolve_snapshot(snapshot.to_json()) == snapshot


def test_a_result_that_is_not_json_is_refused_when_the_snapshot_is_written() -> None:
    when = datetime.date(2026, 12, 4)
    _, actor = _settled({"at": [when]})
    snapshot = actor.get_snapshot()
    assert snapshot.children["job"].output == {"at": [when]}  # in memory it is kept as it is
    with pytest.raises(ActorOutputError) as caught:
        snapshot.to_json()
    assert (caught.value.actor_id, caught.value.src, caught.value.path) == (
        "job",
        "work",
        "$.output.at[0]",
    )
    assert caught.value.code == "INVALID_ACTOR_OUTPUT"
    assert isinstance(caught.value, TypeError)
    actor.send("BACK")  # the state is left: the child is gone, the snapshot writes again
    assert "children" not in actor.get_snapshot().to_json()


@pytest.mark.parametrize(
    "child_snapshot",
    [
        {"status": "done", "input": {"n": 3}},
        {"status": "done", "output": 1, "input": {"n": 3}},
        {"status": "error", "output": 1},
        {"status": "active", "output": 1},
        {"status": "active", "error": "x"},
        {"status": "stopped"},
        {"status": ["done"], "output": 1},
    ],
)
def test_a_function_childs_snapshot_must_hold_what_its_status_allows(
    child_snapshot: dict[str, Any],
) -> None:
    machine, actor = _settled(7)
    data = actor.get_snapshot().to_json()
    data["children"]["job"]["snapshot"] = child_snapshot
    with pytest.raises(InvalidSnapshotError) as caught:
        machine.resolve_snapshot(data)
    assert caught.value.path == "$.children.job.snapshot"


JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3)
    ),
    max_leaves=10,
)


@given(JSON)
def test_any_json_output_restores_to_the_same_snapshot(output: Any) -> None:
    machine, actor = _settled(output)
    snapshot = actor.get_snapshot()
    data = snapshot.to_json()
    assert data["children"]["job"]["snapshot"] == {"status": "done", "output": output}
    assert machine.resolve_snapshot(data).children["job"].output == output
