"""Context as a named function of the input (XState v5's ``context: ({ input }) => ...``)."""

from __future__ import annotations

import json
import warnings
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, Field

import orderflow
from orderflow.errors import DefinitionError, InvalidEventError, InvalidInputError
from orderflow.export import to_xstate
from orderflow.runtime import SimulatedClock, create_actor


class Basket(BaseModel):
    owner: str
    total: Decimal = Field(ge=0)
    lines: int = 0


def basket_from_order(input: Any) -> dict[str, Any]:
    return {"owner": input["customer"], "total": sum(Decimal(p) for p in input["prices"]),
            "lines": len(input["prices"])}  # fmt: skip


CONFIG: dict[str, Any] = {
    "id": "basket",
    "initial": "open",
    "context": "fromOrder",
    "states": {
        "open": {"entry": "greet", "on": {"CHECKOUT": {"target": "closed", "guard": "hasLines"}}},
        "closed": {"type": "final"},
    },
}


def machine(**extra: Any) -> orderflow.Machine:
    tables: dict[str, Any] = {
        "contexts": {"fromOrder": basket_from_order},
        "actions": {"greet": lambda c, e, p: None},
        "guards": {"hasLines": lambda c, e, p: c["lines"] > 0},
    }
    tables.update(extra)
    return orderflow.setup(**tables).create_machine(CONFIG)


ORDER = {"customer": "ada", "prices": ["2.50", "4.00"]}


def test_the_named_function_makes_the_context_from_the_input() -> None:
    snapshot, actions = machine().initial_transition(input=ORDER)
    assert snapshot.context == {"owner": "ada", "total": Decimal("6.50"), "lines": 2}
    # the entry action sees that context, and the input in the init event, as in XState
    assert actions[0].type == "greet"
    assert actions[0].event.data == {"type": "xstate.init", "input": ORDER}


def test_the_input_is_not_merged_over_a_context_the_function_made() -> None:
    snapshot, _ = machine().initial_transition(input={**ORDER, "extra": 1})
    assert "extra" not in snapshot.context and "customer" not in snapshot.context


def test_step_without_a_snapshot_takes_the_same_input() -> None:
    step = machine().step(None, input=ORDER)
    assert step.snapshot.context["lines"] == 2 and step.before is None


def test_an_actor_passes_its_input_to_the_function() -> None:
    actor = create_actor(machine(), clock=SimulatedClock(), input=ORDER).start()
    assert actor.get_snapshot().context["owner"] == "ada"
    assert actor.send("CHECKOUT").status == "done"


def test_the_function_may_return_a_model_instance_or_a_mapping_the_model_validates() -> None:
    as_model = machine(context=Basket)
    snapshot, _ = as_model.initial_transition(input=ORDER)
    assert snapshot.context == Basket(owner="ada", total=Decimal("6.50"), lines=2)
    made = machine(context=Basket, contexts={"fromOrder": lambda i: Basket(owner="bo", total=0)})
    assert made.initial_transition(input=None)[0].context.owner == "bo"


def test_a_function_that_raises_is_an_invalid_input_and_nothing_starts() -> None:
    with pytest.raises(InvalidInputError) as caught:
        machine().initial_transition(input={"customer": "ada"})
    error = caught.value
    assert isinstance(error, InvalidEventError) and error.code == "INVALID_INPUT"
    assert error.function == "fromOrder" and error.event_type == "xstate.init"
    assert isinstance(error.__cause__, KeyError)
    assert "context function 'fromOrder' raised KeyError" in str(error)


def test_a_context_that_breaks_the_model_is_an_invalid_input() -> None:
    with pytest.raises(InvalidInputError, match="does not fit the machine") as caught:
        machine(context=Basket).initial_transition(input={"customer": "ada", "prices": ["-3"]})
    assert caught.value.function == "fromOrder"


def test_a_mapping_input_that_breaks_a_static_contexts_model_is_an_invalid_input_too() -> None:
    static = orderflow.setup(context=Basket).create_machine(
        {"id": "b", "initial": "a", "context": {"owner": "x", "total": "1"}, "states": {"a": {}}}
    )
    with pytest.raises(InvalidInputError, match="the input makes a context"):
        static.initial_transition(input={"total": "-1"})


def test_an_unregistered_name_is_a_definition_error_at_the_context_path() -> None:
    with pytest.raises(DefinitionError) as caught:
        machine(contexts={"other": basket_from_order})
    (problem,) = caught.value.problems
    assert problem.path == "$.context"
    assert problem.message == "no implementation for context 'fromOrder'"


def test_a_context_function_must_be_callable() -> None:
    with pytest.raises(DefinitionError, match="a context function must be callable"):
        orderflow.setup(contexts={"fromOrder": 3})  # type: ignore[dict-item]


def test_a_context_that_is_neither_an_object_nor_a_name_is_a_definition_error() -> None:
    with pytest.raises(DefinitionError, match="context must be a JSON object or the name"):
        orderflow.create_machine(
            {"id": "m", "context": [1, 2], "initial": "a", "states": {"a": {}}}
        )


def test_the_snapshot_persists_and_restores_like_any_other() -> None:
    basket = machine(context=Basket)
    snapshot, _ = basket.initial_transition(input=ORDER)
    restored = basket.resolve_snapshot(json.loads(json.dumps(snapshot.to_json())))
    assert restored == snapshot


def test_the_name_survives_an_xstate_json_round_trip() -> None:
    exported = json.loads(json.dumps(to_xstate(machine())))
    assert exported["context"] == "fromOrder"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        again = orderflow.setup(
            contexts={"fromOrder": basket_from_order},
            actions={"greet": lambda c, e, p: None},
            guards={"hasLines": lambda c, e, p: c["lines"] > 0},
        ).create_machine(exported)
    assert (
        again.initial_transition(input=ORDER)[0].context
        == machine().initial_transition(input=ORDER)[0].context
    )


@given(
    st.lists(st.decimals(min_value=0, max_value=10_000, places=2), max_size=8), st.text(min_size=1)
)
def test_the_context_is_what_the_function_returns_for_any_input(
    prices: list[Decimal], customer: str
) -> None:
    order = {"customer": customer, "prices": [str(p) for p in prices]}
    snapshot, _ = machine(context=Basket).initial_transition(input=order)
    assert snapshot.context == Basket.model_validate(basket_from_order(order))
    assert snapshot.value == "open"


def test_a_setup_with_only_a_context_function_still_checks_every_other_name() -> None:
    with pytest.raises(DefinitionError) as caught:
        orderflow.setup(contexts={"fromOrder": basket_from_order}).create_machine(CONFIG)
    assert {p.message for p in caught.value.problems} == {
        "no implementation for action 'greet'",
        "no implementation for guard 'hasLines'",
    }
