"""Assertion helpers: they pass quietly, and their failures read as expected versus actual."""

from __future__ import annotations

import pytest

import orderflow
from orderflow.testing.assertions import (
    active_states,
    assert_can,
    assert_cannot,
    assert_path,
    assert_state,
)
from orderflow.testing.paths import replay

CHECKOUT = {
    "id": "checkout",
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
            "initial": "choosing",
            "states": {
                "choosing": {"on": {"CARD": "card", "INVOICE": "invoice"}},
                "card": {"on": {"APPROVED": "#checkout.done"}},
                "invoice": {"on": {"SIGNED": "#checkout.done"}},
            },
            "on": {"BACK": "cart"},
        },
        "done": {"type": "final"},
    },
}

machine = orderflow.setup(
    guards={
        "room": lambda ctx, event, params: ctx["items"] < 2,
        "has_items": lambda ctx, event, params: ctx["items"] > 0,
    },
    actions={"add": orderflow.assign(lambda ctx, event, params: {"items": ctx["items"] + 1})},
).create_machine(CHECKOUT)

cart, _ = machine.initial_transition()


def _message(excinfo: pytest.ExceptionInfo[AssertionError]) -> str:
    return str(excinfo.value)


def test_assert_state_passes_for_a_matching_path_or_partial_value() -> None:
    snapshot, _ = machine.transition(machine.initial_transition(input={"items": 1})[0], "CHECKOUT")
    assert_state(snapshot, "payment")
    assert_state(snapshot, "payment.choosing")
    assert_state(snapshot, {"payment": "choosing"})


def test_assert_state_shows_expected_and_actual_configuration() -> None:
    with pytest.raises(AssertionError) as caught:
        assert_state(cart, "payment.card")
    assert _message(caught) == (
        "the snapshot is not in 'payment.card'\n"
        "  expected: 'payment.card'\n"
        "  actual:   'cart' (status active; active states: checkout.cart)"
    )


def test_assert_state_shows_the_path_that_led_there() -> None:
    path = replay(machine, cart, ["ADD", "CHECKOUT", "CARD"])
    with pytest.raises(AssertionError) as caught:
        assert_state(path.end, {"payment": "invoice"}, path)
    assert _message(caught) == (
        'the snapshot is not in {"payment": "invoice"}\n'
        '  expected: {"payment": "invoice"}\n'
        '  actual:   {"payment": "card"} (status active; active states: checkout.payment.card)\n'
        '  path:     cart -ADD-> cart -CHECKOUT-> {"payment": "choosing"} -CARD-> {"payment": "card"}'
    )


def test_assert_path_checks_the_state_after_every_event_and_returns_the_path() -> None:
    path = assert_path(
        machine,
        ["ADD", "CHECKOUT", "CARD", "APPROVED"],
        ["cart", "payment.choosing", None, "done"],
    )
    assert path.end.status == "done"
    assert len(path) == 4


def test_assert_path_names_the_first_step_that_went_elsewhere() -> None:
    with pytest.raises(AssertionError) as caught:
        assert_path(
            machine,
            ["ADD", "CHECKOUT", "CARD", "APPROVED"],
            ["cart", "payment", "payment.invoice", "done"],
        )
    assert _message(caught) == (
        'after event 3 of 4 ({"type": "CARD"}) the snapshot is not in \'payment.invoice\'\n'
        "  expected: 'payment.invoice'\n"
        '  actual:   {"payment": "card"} (status active; active states: checkout.payment.card)\n'
        '  path:     cart -ADD-> cart -CHECKOUT-> {"payment": "choosing"} -CARD-> {"payment": "card"}'
    )


def test_assert_path_wants_one_expected_state_per_event() -> None:
    with pytest.raises(ValueError, match="2 events, 1 states"):
        assert_path(machine, ["ADD", "CHECKOUT"], ["cart"])


def test_assert_path_can_start_from_a_given_snapshot() -> None:
    start, _ = machine.initial_transition(input={"items": 1})
    assert_path(machine, ["CHECKOUT"], ["payment"], start=start)


def test_assert_can_explains_which_guard_blocked_the_event() -> None:
    assert_can(cart, "ADD")
    with pytest.raises(AssertionError) as caught:
        assert_can(cart, "CHECKOUT")
    assert _message(caught) == (
        "expected 'CHECKOUT' to be accepted in 'cart', but it is not: "
        "'CHECKOUT' is blocked: checkout.cart: guard 'has_items' is false"
    )


def test_assert_can_says_when_no_state_listens() -> None:
    with pytest.raises(AssertionError) as caught:
        assert_can(cart, {"type": "CARD"})
    assert _message(caught) == (
        "expected 'CARD' to be accepted in 'cart', but it is not: no active state handles 'CARD'"
    )


def test_assert_cannot_says_which_transition_would_fire() -> None:
    assert_cannot(cart, "CHECKOUT")
    path = replay(machine, cart, ["ADD", "CHECKOUT"])
    with pytest.raises(AssertionError) as caught:
        assert_cannot(path.end, "CARD")
    assert _message(caught) == (
        'expected \'CARD\' to be refused in {"payment": "choosing"}, but '
        "'CARD' fires: checkout.payment.choosing -> checkout.payment.card"
    )


def test_assert_can_on_a_finished_snapshot_says_it_is_done() -> None:
    done = replay(machine, cart, ["ADD", "CHECKOUT", "CARD", "APPROVED"]).end
    with pytest.raises(AssertionError) as caught:
        assert_can(done, "BACK")
    assert _message(caught).endswith("the snapshot is done and takes no more events")


def test_active_states_lists_atomic_state_ids_in_document_order() -> None:
    parallel = orderflow.create_machine(
        {
            "id": "p",
            "type": "parallel",
            "states": {
                "left": {"initial": "a", "states": {"a": {}}},
                "right": {"initial": "b", "states": {"b": {}}},
            },
        }
    )
    assert active_states(parallel.initial_transition()[0]) == ["p.left.a", "p.right.b"]
