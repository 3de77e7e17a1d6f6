"""Snapshots: JSON round trips, restoring only what is legal, matches(), can(), and value shapes."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from pydantic import BaseModel

import orderflow
from orderflow.errors import InvalidSnapshotError

ORDER: dict[str, Any] = {
    "id": "order",
    "version": 3,
    "initial": "cart",
    "context": {"items": 0},
    "states": {
        "cart": {
            "on": {
                "ADD": {"actions": [{"type": "assign", "params": {"items": 1}}]},
                "CHECKOUT": "checkout",
                "RESUME": "checkout.hist",
                "NOOP": {},
                "FORBIDDEN": None,
            }
        },
        "checkout": {
            "initial": "address",
            "on": {"BACK": "cart"},
            "states": {
                "hist": {"type": "history", "history": "shallow"},
                "address": {"on": {"NEXT": "payment"}},
                "payment": {"after": {"60000": "address"}, "on": {"PAY": "#order.fulfilment"}},
            },
        },
        "fulfilment": {
            "type": "parallel",
            "states": {
                "packing": {
                    "initial": "queued",
                    "states": {"queued": {"on": {"PACKED": "packed"}}, "packed": {"type": "final"}},
                },
                "invoicing": {"type": "final"},
                "tracking": {
                    "initial": "none",
                    "states": {
                        "none": {"on": {"TRACKED": "delivered"}},
                        "delivered": {"type": "final"},
                    },
                },
            },
            "onDone": "closed",
        },
        "closed": {"type": "final", "output": {"closed": True}},
    },
}


def machine() -> orderflow.Machine:
    return orderflow.create_machine(ORDER)


def walk(*events: Any) -> tuple[orderflow.Machine, orderflow.Snapshot]:
    m = machine()
    snapshot, _ = m.initial_transition()
    for event in events:
        snapshot, _ = m.transition(snapshot, event)
    return m, snapshot


# -- round trips ----------------------------------------------------------------------------


def test_to_json_is_plain_json() -> None:
    _, snapshot = walk("ADD", "CHECKOUT", "NEXT")
    data = snapshot.to_json()
    assert json.loads(json.dumps(data)) == data
    assert data["machine"] == "order"
    assert data["version"] == "3"
    assert data["value"] == {"checkout": "payment"}
    assert data["status"] == "active"
    assert data["context"] == {"items": 1}


@pytest.mark.parametrize(
    "events",
    [
        (),
        ("ADD",),
        ("CHECKOUT", "NEXT"),
        ("CHECKOUT", "NEXT", "BACK"),
        ("CHECKOUT", "NEXT", "PAY"),
        ("CHECKOUT", "NEXT", "PAY", "PACKED"),
        ("CHECKOUT", "NEXT", "PAY", "PACKED", "TRACKED"),
    ],
)
def test_resolve_snapshot_restores_what_to_json_wrote(events: tuple[str, ...]) -> None:
    m, snapshot = walk(*events)
    restored = m.resolve_snapshot(json.loads(json.dumps(snapshot.to_json())))
    assert restored == snapshot
    assert restored.value == snapshot.value
    assert restored.status == snapshot.status
    assert restored.output == snapshot.output
    assert restored.to_json() == snapshot.to_json()


def test_continuing_from_a_restored_snapshot_gives_the_same_results() -> None:
    m, snapshot = walk("CHECKOUT", "NEXT", "BACK")
    restored = m.resolve_snapshot(snapshot.to_json())
    for event in ("RESUME", "PAY", "PACKED", "TRACKED"):
        snapshot, expected_actions = m.transition(snapshot, event)
        restored, actions = m.transition(restored, event)
        assert restored == snapshot
        assert actions == expected_actions
    assert restored.value == "closed"
    assert restored.status == "done"
    assert restored.output == {"closed": True}


def test_another_machine_object_for_the_same_definition_restores_the_snapshot() -> None:
    _, snapshot = walk("CHECKOUT")
    other = machine()
    restored = other.resolve_snapshot(snapshot.to_json())
    after, _ = other.transition(restored, "NEXT")
    assert after.value == {"checkout": "payment"}


def test_a_snapshot_of_another_machine_object_must_be_resolved_first() -> None:
    _, snapshot = walk()
    with pytest.raises(ValueError):
        machine().transition(snapshot, "CHECKOUT")


def test_an_error_snapshot_round_trips() -> None:
    def boom(context: Any, event: Any, params: Any) -> bool:
        raise RuntimeError("down")

    config = {
        "initial": "a",
        "states": {"a": {"on": {"GO": {"target": "b", "guard": "flaky"}}}, "b": {}},
    }
    m = orderflow.setup(guards={"flaky": boom}).create_machine(config)
    snapshot, _ = m.initial_transition()
    failed, _ = m.transition(snapshot, "GO")
    restored = m.resolve_snapshot(failed.to_json())
    assert restored.status == "error"
    assert restored.error == failed.error


# -- tampered snapshots ---------------------------------------------------------------------


def tampered(**changes: Any) -> dict[str, Any]:
    _, snapshot = walk("CHECKOUT", "NEXT")
    data = copy.deepcopy(snapshot.to_json())
    data.update(changes)
    return data


def rejects(data: Any) -> InvalidSnapshotError:
    with pytest.raises(InvalidSnapshotError) as caught:
        machine().resolve_snapshot(data)
    return caught.value


def test_the_untampered_snapshot_is_accepted() -> None:
    assert machine().resolve_snapshot(tampered()).value == {"checkout": "payment"}


@pytest.mark.parametrize(
    "value",
    [
        "nowhere",
        {"checkout": "nowhere"},
        {"nowhere": "payment"},
        {"checkout": "hist"},
        {"checkout": {"payment": "x"}},
    ],
)
def test_an_unknown_state_is_rejected(value: Any) -> None:
    rejects(tampered(value=value))


def test_two_active_children_of_one_compound_are_rejected() -> None:
    rejects(tampered(value={"cart": {}, "checkout": "payment"}))
    rejects(tampered(value={"checkout": {"address": {}, "payment": {}}}))


def test_a_parallel_state_missing_a_region_is_rejected() -> None:
    rejects(tampered(value={"fulfilment": {"packing": "queued", "invoicing": {}}}))


def test_an_atomic_state_given_children_is_rejected() -> None:
    rejects(
        tampered(value={"fulfilment": {"packing": "queued", "invoicing": "x", "tracking": "none"}})
    )


@pytest.mark.parametrize(
    "changes",
    [
        {"value": 42},
        {"value": None},
        {"value": ["checkout", "payment"]},
        {"status": 1},
        {"status": "paused"},
        {"context": "items=1"},
        {"context": [1]},
        {"history": ["order.checkout.payment"]},
        {"history": {"order.checkout.hist": "order.checkout.payment"}},
        {"timers": {"id": "x"}},
        {"timers": [{"id": 1, "event": {"type": "X"}, "delay": 5}]},
        {"timers": [{"id": "x", "event": "X", "delay": 5}]},
        {"timers": [{"id": "x", "event": {"type": "X"}, "delay": "5"}]},
        {"timers": [{"id": "x", "event": {"type": "X"}, "delay": True}]},
    ],
)
def test_wrong_json_types_are_rejected(changes: dict[str, Any]) -> None:
    rejects(tampered(**changes))


def test_a_snapshot_that_is_not_an_object_is_rejected() -> None:
    rejects("order:checkout.payment")
    rejects(None)


def test_a_snapshot_without_a_value_is_rejected() -> None:
    data = tampered()
    del data["value"]
    rejects(data)


def test_unknown_keys_are_rejected() -> None:
    rejects(tampered(extra=1))


def test_a_snapshot_of_an_unknown_definition_version_is_rejected() -> None:
    error = rejects(tampered(version="2"))
    assert error.path == "$.version"


def test_a_snapshot_of_another_machine_is_rejected() -> None:
    error = rejects(tampered(machine="invoice"))
    assert error.path == "$.machine"


def test_without_a_declared_version_a_changed_state_tree_is_rejected() -> None:
    v1 = {"id": "m", "initial": "a", "states": {"a": {"on": {"GO": "b"}}, "b": {}}}
    v2 = {"id": "m", "initial": "a", "states": {"a": {"on": {"GO": "c"}}, "c": {}}}
    snapshot, _ = orderflow.create_machine(v1).initial_transition()
    with pytest.raises(InvalidSnapshotError):
        orderflow.create_machine(v2).resolve_snapshot(snapshot.to_json())


@pytest.mark.parametrize(
    "history",
    [
        {"order.checkout.nothere": ["order.checkout.payment"]},
        {"order.checkout": ["order.checkout.payment"]},
        {"order.checkout.hist": ["order.cart"]},
        {"order.checkout.hist": ["order.checkout.address", "order.checkout.payment"]},
        {"order.checkout.hist": []},
        {"order.checkout.hist": ["order.checkout.hist"]},
    ],
)
def test_bad_history_is_rejected(history: dict[str, Any]) -> None:
    error = rejects(tampered(history=history))
    assert error.path.startswith("$.history")


def test_a_status_of_done_outside_a_final_state_is_rejected() -> None:
    error = rejects(tampered(status="done"))
    assert error.path == "$.status"


def test_a_status_of_active_in_a_top_level_final_state_is_rejected() -> None:
    error = rejects(tampered(value="closed", status="active"))
    assert error.path == "$.status"


def test_an_error_on_a_snapshot_that_is_not_in_error_is_rejected() -> None:
    rejects(tampered(error={"type": "RuntimeError", "message": "x", "event": "GO"}))


def test_a_status_of_error_without_an_error_is_rejected() -> None:
    rejects(tampered(status="error", error=None))


def test_a_pending_after_timer_of_a_state_that_is_not_active_is_rejected() -> None:
    timer = {
        "id": "xstate.after.60000.order.checkout.payment",
        "event": {"type": "xstate.after.60000.order.checkout.payment"},
        "delay": 60000,
    }
    rejects(tampered(value="cart", timers=[timer]))


def test_an_output_on_an_active_snapshot_is_rejected() -> None:
    rejects(tampered(output={"closed": True}))


def test_a_context_that_fails_the_context_model_is_rejected() -> None:
    class Counter(BaseModel):
        items: int

    m = orderflow.setup(context=Counter).create_machine(
        {"id": "m", "initial": "a", "context": {"items": 0}, "states": {"a": {}}}
    )
    snapshot, _ = m.initial_transition()
    data = snapshot.to_json()
    data["context"] = {"items": "many"}
    with pytest.raises(InvalidSnapshotError) as caught:
        m.resolve_snapshot(data)
    assert caught.value.path == "$.context"


# -- matches, can, value shapes -------------------------------------------------------------


def test_matches_accepts_dotted_paths_and_partial_values() -> None:
    _, snapshot = walk("CHECKOUT", "NEXT")
    assert snapshot.matches("checkout")
    assert snapshot.matches("checkout.payment")
    assert snapshot.matches({"checkout": "payment"})
    assert not snapshot.matches("checkout.address")
    assert not snapshot.matches("cart")
    assert not snapshot.matches("payment")


def test_matches_looks_into_parallel_regions() -> None:
    _, snapshot = walk("CHECKOUT", "NEXT", "PAY")
    assert snapshot.matches("fulfilment")
    assert snapshot.matches("fulfilment.packing.queued")
    assert snapshot.matches("fulfilment.invoicing")
    assert snapshot.matches({"fulfilment": {"packing": "queued", "tracking": "none"}})
    assert not snapshot.matches({"fulfilment": {"packing": "packed"}})


def test_can_says_whether_an_event_would_cause_a_transition() -> None:
    _, snapshot = walk()
    assert snapshot.can("CHECKOUT")
    assert snapshot.can({"type": "ADD"})  # target-less, but it has actions
    assert not snapshot.can("PAY")
    assert not snapshot.can("NOOP")  # target-less without actions (xstate: false)
    assert not snapshot.can("FORBIDDEN")


def test_can_does_not_change_the_snapshot() -> None:
    _, snapshot = walk()
    before = snapshot.to_json()
    snapshot.can("CHECKOUT")
    assert snapshot.to_json() == before


def test_a_parallel_states_atomic_regions_appear_as_empty_objects() -> None:
    _, snapshot = walk("CHECKOUT", "NEXT", "PAY")
    assert snapshot.value == {
        "fulfilment": {"packing": "queued", "invoicing": {}, "tracking": "none"}
    }
    assert snapshot.to_json()["value"] == {
        "fulfilment": {"packing": "queued", "invoicing": {}, "tracking": "none"}
    }


def test_an_atomic_state_value_is_a_string_and_a_compound_one_is_an_object() -> None:
    _, snapshot = walk()
    assert snapshot.value == "cart"
    _, snapshot = walk("CHECKOUT")
    assert snapshot.value == {"checkout": "address"}


def test_a_machine_with_no_states_has_an_empty_value() -> None:
    m = orderflow.create_machine({"id": "empty"})
    snapshot, _ = m.initial_transition()
    assert snapshot.value == {}
    assert snapshot.status == "active"


def test_a_snapshots_value_cannot_be_changed_in_place() -> None:
    _, snapshot = walk("CHECKOUT")
    with pytest.raises(TypeError):
        snapshot.value["checkout"] = "payment"


def test_snapshots_compare_by_content() -> None:
    _, first = walk("CHECKOUT")
    _, second = walk("CHECKOUT")
    assert first == second
    _, third = walk("CHECKOUT", "NEXT")
    assert first != third


def test_the_fast_snapshot_constructor_sets_every_field_the_dataclass_has() -> None:
    """``new_snapshot`` sets the slots itself: a field added to Snapshot must be added there too."""
    import dataclasses

    from orderflow.chart import snapshot as snapshot_module

    names = tuple(f.name for f in dataclasses.fields(snapshot_module.Snapshot))
    assert names == snapshot_module._SLOTS
    made = snapshot_module.new_snapshot(*(f"v{i}" for i in range(len(names))))  # type: ignore[arg-type]
    assert tuple(getattr(made, name) for name in names) == tuple(f"v{i}" for i in range(len(names)))
