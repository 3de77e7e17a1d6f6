"""Context: dict contexts, pydantic context models, event payload models, and input."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from pydantic import BaseModel, Field

import orderflow
from orderflow.errors import InvalidEventError


class SaleContext(BaseModel):
    total: Decimal = Decimal("0")
    paid: Decimal = Decimal("0")
    customer: str = "anonymous"
    lines: list[str] = Field(default_factory=list)


class Pay(BaseModel):
    amount: Decimal = Field(gt=0)


def add_payment(context: SaleContext, event: Pay, params: Any) -> dict[str, Any]:
    return {"paid": context.paid + event.amount}


def fully_paid(context: SaleContext, event: Any, params: Any) -> bool:
    return context.paid >= context.total


SALE = {
    "id": "sale",
    "initial": "open",
    "context": {"total": "30.00"},
    "states": {
        "open": {
            "on": {"PAY": {"actions": ["addPayment"]}},
            "always": {"target": "paid", "guard": "fullyPaid"},
        },
        "paid": {},
    },
}


def sale_machine() -> orderflow.Machine:
    return orderflow.setup(
        context=SaleContext,
        events={"PAY": Pay},
        guards={"fullyPaid": fully_paid},
        actions={"addPayment": orderflow.assign(add_payment)},
    ).create_machine(SALE)


def test_a_dict_context_starts_from_the_definition() -> None:
    machine = orderflow.create_machine(
        {"initial": "a", "context": {"count": 0, "tags": []}, "states": {"a": {}}}
    )
    snapshot, _ = machine.initial_transition()
    assert snapshot.context == {"count": 0, "tags": []}


def test_a_machine_without_context_has_an_empty_dict() -> None:
    machine = orderflow.create_machine({"initial": "a", "states": {"a": {}}})
    snapshot, _ = machine.initial_transition()
    assert snapshot.context == {}


def test_json_assign_updates_only_the_named_keys() -> None:
    config = {
        "initial": "a",
        "context": {"count": 0, "name": "x"},
        "states": {"a": {"on": {"SET": {"actions": [{"type": "assign", "params": {"count": 5}}]}}}},
    }
    machine = orderflow.create_machine(config)
    snapshot, _ = machine.initial_transition()
    after, _ = machine.transition(snapshot, "SET")
    assert after.context == {"count": 5, "name": "x"}
    assert snapshot.context == {"count": 0, "name": "x"}


def test_an_assign_callable_receives_context_event_and_params() -> None:
    seen: list[Any] = []

    def add(context: Any, event: Any, params: Any) -> dict[str, Any]:
        seen.append((dict(context), dict(event.data), params))
        return {"count": context["count"] + event.by * params["times"]}

    config = {
        "initial": "a",
        "context": {"count": 1},
        "states": {"a": {"on": {"ADD": {"actions": [{"type": "add", "params": {"times": 2}}]}}}},
    }
    machine = orderflow.setup(actions={"add": orderflow.assign(add)}).create_machine(config)
    snapshot, _ = machine.initial_transition()
    snapshot, _ = machine.transition(snapshot, {"type": "ADD", "by": 3})
    assert snapshot.context == {"count": 7}
    assert seen == [({"count": 1}, {"type": "ADD", "by": 3}, {"times": 2})]


def test_input_fills_the_initial_context() -> None:
    machine = orderflow.create_machine(
        {"initial": "a", "context": {"count": 0, "owner": None}, "states": {"a": {}}}
    )
    snapshot, _ = machine.initial_transition(input={"owner": "ada"})
    assert snapshot.context == {"count": 0, "owner": "ada"}


def test_the_init_event_carries_the_input() -> None:
    config = {"initial": "a", "states": {"a": {"entry": ["hello"]}}}
    machine = orderflow.setup(actions={"hello": lambda c, e, p: None}).create_machine(config)
    _, actions = machine.initial_transition(input={"owner": "ada"})
    assert actions[0].event.data == {"type": "xstate.init", "input": {"owner": "ada"}}
    _, actions = machine.initial_transition()
    assert actions[0].event.data == {"type": "xstate.init"}


def test_a_pydantic_context_model_gives_model_instances() -> None:
    machine = sale_machine()
    snapshot, _ = machine.initial_transition()
    assert isinstance(snapshot.context, SaleContext)
    assert snapshot.context.total == Decimal("30.00")
    assert snapshot.context.paid == Decimal("0")


def test_input_is_validated_by_the_context_model() -> None:
    machine = sale_machine()
    snapshot, _ = machine.initial_transition(input={"customer": "ada", "total": "12.50"})
    assert snapshot.context == SaleContext(total=Decimal("12.50"), customer="ada")


def test_assign_on_a_model_context_returns_a_new_validated_model() -> None:
    machine = sale_machine()
    snapshot, _ = machine.initial_transition()
    after, _ = machine.transition(snapshot, {"type": "PAY", "amount": "10.00"})
    assert isinstance(after.context, SaleContext)
    assert after.context.paid == Decimal("10.00")
    assert snapshot.context.paid == Decimal("0")
    assert after.value == "open"
    after, _ = machine.transition(after, {"type": "PAY", "amount": "20.00"})
    assert after.value == "paid"
    assert after.context.paid == Decimal("30.00")


def test_a_model_context_is_persisted_as_plain_json() -> None:
    machine = sale_machine()
    snapshot, _ = machine.initial_transition()
    snapshot, _ = machine.transition(snapshot, {"type": "PAY", "amount": "10.00"})
    data = snapshot.to_json()
    assert data["context"] == {
        "total": "30.00",
        "paid": "10.00",
        "customer": "anonymous",
        "lines": [],
    }
    restored = machine.resolve_snapshot(data)
    assert restored.context == snapshot.context
    assert isinstance(restored.context, SaleContext)


def test_an_event_model_gives_implementations_the_validated_payload() -> None:
    seen: list[Any] = []

    def record(context: Any, event: Any, params: Any) -> dict[str, Any]:
        seen.append(event)
        return {}

    config = {"initial": "a", "states": {"a": {"on": {"PAY": {"actions": ["record"]}}}}}
    machine = orderflow.setup(
        events={"PAY": Pay}, actions={"record": orderflow.assign(record)}
    ).create_machine(config)
    snapshot, _ = machine.initial_transition()
    machine.transition(snapshot, {"type": "PAY", "amount": "4.50"})
    assert [event.payload for event in seen] == [Pay(amount=Decimal("4.50"))]
    assert seen[0].amount == Decimal("4.50")


def test_the_actions_event_is_the_normalised_json_of_a_modelled_payload() -> None:
    config = {"initial": "a", "states": {"a": {"on": {"PAY": {"actions": ["notify"]}}}}}
    machine = orderflow.setup(
        events={"PAY": Pay}, actions={"notify": lambda c, e, p: None}
    ).create_machine(config)
    snapshot, _ = machine.initial_transition()
    _, actions = machine.transition(snapshot, {"type": "PAY", "amount": 4.5})
    assert actions[0].event.data == {"type": "PAY", "amount": "4.5"}


def test_a_bad_payload_raises_invalid_event_error_and_changes_nothing() -> None:
    machine = sale_machine()
    snapshot, _ = machine.initial_transition()
    before = snapshot.to_json()
    with pytest.raises(InvalidEventError) as caught:
        machine.transition(snapshot, {"type": "PAY", "amount": "-3"})
    assert caught.value.event_type == "PAY"
    assert snapshot.to_json() == before
    with pytest.raises(InvalidEventError):
        machine.transition(snapshot, {"type": "PAY"})


def test_a_payload_model_is_accepted_as_the_event_itself() -> None:
    class Ship(BaseModel):
        type: str = "SHIP"
        carrier: str

    config = {"initial": "a", "states": {"a": {"on": {"SHIP": "shipped"}}, "shipped": {}}}
    machine = orderflow.setup(events={"SHIP": Ship}).create_machine(config)
    snapshot, _ = machine.initial_transition()
    snapshot, _ = machine.transition(snapshot, Ship(carrier="dhl"))
    assert snapshot.value == "shipped"


def test_events_without_a_model_are_not_validated() -> None:
    machine = sale_machine()
    snapshot, _ = machine.initial_transition()
    after, _ = machine.transition(snapshot, {"type": "NOTE", "anything": [1, 2, 3]})
    assert after == snapshot


def test_an_event_without_a_string_type_is_rejected() -> None:
    machine = orderflow.create_machine({"initial": "a", "states": {"a": {}}})
    snapshot, _ = machine.initial_transition()
    for bad in ({"kind": "GO"}, {"type": 3}, {"type": ""}, 42):
        with pytest.raises(InvalidEventError):
            machine.transition(snapshot, bad)  # type: ignore[arg-type]


def test_an_assignment_that_breaks_the_context_model_is_an_error_and_changes_nothing() -> None:
    config = {
        "initial": "a",
        "states": {
            "a": {
                "on": {
                    "BREAK": {
                        "target": "b",
                        "actions": [{"type": "assign", "params": {"total": "not money"}}],
                    }
                }
            },
            "b": {},
        },
    }
    machine = orderflow.setup(context=SaleContext).create_machine(config)
    snapshot, _ = machine.initial_transition()
    after, actions = machine.transition(snapshot, "BREAK")
    assert after.status == "error"
    assert after.error is not None
    assert after.value == "a"
    assert after.context == snapshot.context
    assert actions == []


def test_a_pydantic_input_is_merged_into_the_context_like_a_mapping() -> None:
    from pydantic import BaseModel

    class Counter(BaseModel):
        n: int = 0
        label: str = "x"

    class Start(BaseModel):
        n: int

    machine = orderflow.setup(context=Counter).create_machine(
        {"id": "m", "initial": "a", "states": {"a": {}}}
    )
    snapshot, _ = machine.initial_transition(input=Start(n=5))
    assert snapshot.context == Counter(n=5, label="x")
