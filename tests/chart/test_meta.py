"""snapshot.get_meta(): XState v5's getMeta(), the meta of every active state node by state id."""

from __future__ import annotations

import json
import warnings
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

import orderflow
from orderflow.errors import InfiniteLoopError
from orderflow.testing import event_sequences, machine_configs

KIOSK: dict[str, Any] = {
    "id": "kiosk",
    "meta": {"screen": "kiosk"},
    "initial": "idle",
    "states": {
        "idle": {"meta": {"title": "Welcome"}, "on": {"ORDER": "ordering"}},
        "ordering": {
            "type": "parallel",
            "meta": {"title": "Your order"},
            "states": {
                "menu": {
                    "initial": "mains",
                    "states": {
                        "mains": {"meta": {"help": ["pick a main"]}, "on": {"NEXT": "drinks"}},
                        "drinks": {},
                    },
                },
                "payment": {"initial": "unpaid", "states": {"unpaid": {"id": "toPay", "meta": 0}}},
            },
        },
    },
}


def test_get_meta_maps_each_active_state_with_meta_to_it_the_machine_included() -> None:
    machine = orderflow.create_machine(KIOSK)
    snapshot, _ = machine.initial_transition()
    assert snapshot.get_meta() == {"kiosk": {"screen": "kiosk"}, "kiosk.idle": {"title": "Welcome"}}
    snapshot, _ = machine.transition(snapshot, "ORDER")
    assert snapshot.get_meta() == {
        "kiosk": {"screen": "kiosk"},
        "kiosk.ordering": {"title": "Your order"},
        "kiosk.ordering.menu.mains": {"help": ["pick a main"]},
        "toPay": 0,  # an explicit id keys it; a falsy meta is still meta
    }
    assert list(snapshot.get_meta()) == [
        "kiosk",
        "kiosk.ordering",
        "kiosk.ordering.menu.mains",
        "toPay",
    ]
    snapshot, _ = machine.transition(snapshot, "NEXT")
    assert "kiosk.ordering.menu.mains" not in snapshot.get_meta()


def test_a_machine_without_meta_gives_an_empty_map() -> None:
    machine = orderflow.create_machine({"initial": "a", "states": {"a": {}}})
    assert machine.initial_transition()[0].get_meta() == {}


def test_a_restored_snapshot_gives_the_same_meta() -> None:
    machine = orderflow.create_machine(KIOSK)
    snapshot, _ = machine.transition(machine.initial_transition()[0], "ORDER")
    restored = machine.resolve_snapshot(json.loads(json.dumps(snapshot.to_json())))
    assert restored.get_meta() == snapshot.get_meta()


def _with_meta(config: dict[str, Any], path: str = "root") -> dict[str, Any]:
    """The config with every state's meta naming its path (history states have none)."""
    out = dict(config)
    if out.get("type") != "history":
        out["meta"] = {"at": path}
    if "states" in out:
        out["states"] = {k: _with_meta(v, f"{path}.{k}") for k, v in out["states"].items()}
    return out


@settings(max_examples=80, deadline=None)
@given(st.data())
def test_get_meta_names_exactly_the_active_states_for_random_charts(data: st.DataObject) -> None:
    config = _with_meta(data.draw(machine_configs(max_depth=3)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", orderflow.DefinitionWarning)
        machine = orderflow.create_machine(config)
    try:
        snapshot, _ = machine.initial_transition()
    except InfiniteLoopError:  # a random chart may never settle
        return
    for event in [None, *data.draw(event_sequences(config))]:
        if event is not None:
            try:
                snapshot, _ = machine.transition(snapshot, event)
            except InfiniteLoopError:
                return
        meta = snapshot.get_meta()
        assert set(meta) == {node.id for node in snapshot.configuration}
        assert all(
            snapshot.matches(m["at"].split(".", 1)[1]) for m in meta.values() if m["at"] != "root"
        )
