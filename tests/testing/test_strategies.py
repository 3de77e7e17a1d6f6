"""Hypothesis strategies that draw only events the snapshot accepts, with payloads from event models."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Literal

import pytest
from hypothesis import HealthCheck, find, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, Field

import orderflow
from orderflow.testing.charts import config_alphabet, machine_configs
from orderflow.testing.strategies import enabled_sequences, events, payloads_from_model


class Pay(BaseModel):
    amount: Decimal = Field(gt=0, le=10_000, decimal_places=2)
    method: Literal["card", "cash"] = "card"
    note: str | None = None


class Add(BaseModel):
    sku: str = Field(min_length=1, max_length=8)
    quantity: int = Field(ge=1, le=3)


SHOP = {
    "id": "shop",
    "initial": "cart",
    "context": {"items": 0},
    "states": {
        "cart": {
            "on": {
                "ADD": {"actions": ["add"], "guard": "room"},
                "CHECKOUT": {"target": "payment", "guard": "has_items"},
            }
        },
        "payment": {
            "on": {
                "PAY": {"target": "paid", "guard": "within_limit"},
                "CANCEL": "cart",
            }
        },
        "paid": {"type": "final"},
    },
}

shop = orderflow.setup(
    guards={
        "room": lambda ctx, event, params: ctx["items"] < 5,
        "has_items": lambda ctx, event, params: ctx["items"] > 0,
        "within_limit": lambda ctx, event, params: event.amount <= 500,
    },
    actions={
        "add": orderflow.assign(lambda ctx, event, params: {"items": ctx["items"] + event.quantity})
    },
    events={"PAY": Pay, "ADD": Add},
).create_machine(SHOP)


def _payment() -> orderflow.Snapshot:
    snapshot, _ = shop.initial_transition(input={"items": 1})
    snapshot, _ = shop.transition(snapshot, "CHECKOUT")
    return snapshot


@given(events(shop))
def test_from_the_initial_snapshot_only_enabled_events_are_drawn(event: dict[str, Any]) -> None:
    # CHECKOUT is named by the cart but its guard is shut while the cart is empty
    assert event["type"] == "ADD"
    Add.model_validate({k: v for k, v in event.items() if k != "type"})


@given(events(shop, _payment()))
def test_payloads_come_from_the_event_model_and_pass_the_guards(event: dict[str, Any]) -> None:
    assert event["type"] in {"PAY", "CANCEL"}
    if event["type"] == "PAY":
        payment = Pay.model_validate({k: v for k, v in event.items() if k != "type"})
        assert Decimal(0) < payment.amount <= 500  # the model's bound, then the guard's
        assert _payment().can(event)


def test_payload_fields_vary_including_optional_ones() -> None:
    strategy = events(shop, _payment())
    assert find(strategy, lambda e: e["type"] == "CANCEL") == {"type": "CANCEL"}
    cash = find(strategy, lambda e: e.get("method") == "cash")
    assert cash["type"] == "PAY"
    assert find(strategy, lambda e: e.get("note") is not None)["type"] == "PAY"


def test_a_payload_strategy_can_replace_the_model_derived_one() -> None:
    exact = st.just({"amount": "12.50"})
    event = find(events(shop, _payment(), payloads={"PAY": exact}), lambda e: e["type"] == "PAY")
    assert event == {"type": "PAY", "amount": "12.50"}


def test_the_snapshot_can_be_a_function_read_at_draw_time() -> None:
    current = {"snapshot": shop.initial_transition(input={"items": 1})[0]}
    strategy = events(shop, lambda: current["snapshot"])
    assert find(strategy, lambda e: e["type"] == "CHECKOUT") == {"type": "CHECKOUT"}
    current["snapshot"] = _payment()
    assert find(strategy, lambda e: True)["type"] in {"PAY", "CANCEL"}


def test_extra_events_reach_wildcard_transitions() -> None:
    listener = orderflow.create_machine(
        {"id": "w", "initial": "a", "states": {"a": {"on": {"*": "b"}}, "b": {}}}
    )
    assert find(events(listener, extra_events=["PING"]), lambda e: True) == {"type": "PING"}


@given(enabled_sequences(shop, max_size=12))
def test_every_event_of_a_drawn_walk_is_enabled_where_it_is_sent(
    walk: list[dict[str, Any]],
) -> None:
    snapshot, _ = shop.initial_transition()
    for event in walk:
        assert snapshot.can(event), (snapshot.value, event)
        snapshot, _ = shop.transition(snapshot, event)


def test_a_walk_stops_at_a_final_state() -> None:
    walk = find(
        enabled_sequences(shop, min_size=20, max_size=30),
        lambda w: any(e["type"] == "PAY" for e in w),
    )
    assert walk[-1]["type"] == "PAY"  # nothing is enabled in "paid", so the walk ends there


def test_walk_sizes_are_checked() -> None:
    with pytest.raises(ValueError, match="min_size"):
        enabled_sequences(shop, min_size=3, max_size=2)


@given(payloads_from_model(Add))
def test_model_payloads_are_json_and_validate(payload: Any) -> None:
    assert set(payload) == {"sku", "quantity"}
    Add.model_validate(payload)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
@pytest.mark.filterwarnings("ignore::orderflow.DefinitionWarning")
def test_on_random_machines_drawn_walks_only_send_enabled_events(data: Any) -> None:
    config = data.draw(machine_configs())
    random_machine = orderflow.create_machine(config)
    try:
        snapshot, _ = random_machine.initial_transition()
        walk = data.draw(
            enabled_sequences(random_machine, max_size=10, extra_events=config_alphabet(config))
        )
        for event in walk:
            assert snapshot.can(event)
            snapshot, _ = random_machine.transition(snapshot, event)
    except orderflow.errors.InfiniteLoopError:
        return  # a random machine may loop on its own events
