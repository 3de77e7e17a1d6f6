"""machine_rules: a hypothesis state machine that walks a chart, checks invariants, and shrinks failures."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import run_state_machine_as_test

import orderflow
from orderflow.errors import MissingImplementationError
from orderflow.testing.charts import config_alphabet, machine_configs
from orderflow.testing.rules import WalkFailure, machine_rules

# deterministic and without the (slow) explain phase: these tests assert on the shrunk result
FIND_AND_SHRINK = settings(
    max_examples=300,
    database=None,
    derandomize=True,
    deadline=None,
    phases=[Phase.generate, Phase.shrink],
    stateful_step_count=30,
    report_multiple_bugs=False,
)

NOISE = [f"NOISE_{i}" for i in range(8)]


def _chain_with_noise() -> orderflow.Machine:
    """s0 -A-> s1 -B-> s2 -C-> broken, and in every state eight more events to get lost in."""
    chain = ["s0", "s1", "s2", "broken"]
    states: dict[str, Any] = {}
    for index, key in enumerate(chain):
        on: dict[str, Any] = {"NOISE_0": "s0"}  # back to the start
        on.update({name: key for name in NOISE[1:]})  # stay
        if index < 3:
            on["ABC"[index]] = chain[index + 1]
        states[key] = {"on": on}
    return orderflow.create_machine({"id": "planted", "initial": "s0", "states": states})


planted = _chain_with_noise()


def never_broken(snapshot: orderflow.Snapshot) -> bool:
    return not snapshot.matches("broken")


def _failure(rules: type[Any], **overrides: Any) -> WalkFailure:
    with pytest.raises(WalkFailure) as caught:
        run_state_machine_as_test(rules, settings=settings(FIND_AND_SHRINK, **overrides))
    return caught.value


def test_shrinking_finds_the_shortest_path_to_a_planted_bug() -> None:
    failure = _failure(machine_rules(planted, [never_broken]))
    assert [e["type"] for e in failure.events] == ["A", "B", "C"]
    assert len(failure.path) == 3
    assert str(failure) == (
        'invariant never_broken returned False in "broken"\n'
        "  after 3 event(s): s0 -A-> s1 -B-> s2 -C-> broken\n"
        '  events: [{"type": "A"}, {"type": "B"}, {"type": "C"}]'
    )


def test_hypothesis_reports_the_shrunk_steps_too() -> None:
    failure = _failure(machine_rules(planted, [never_broken]))
    report = "\n".join(getattr(failure, "__notes__", []))
    assert report.count("state.send_enabled_event(") == 3


def test_an_invariant_may_assert_instead_of_returning_false() -> None:
    def stays_out_of_s2(snapshot: orderflow.Snapshot) -> None:
        assert not snapshot.matches("s2"), "s2 is off limits"

    failure = _failure(machine_rules(planted, [stays_out_of_s2]))
    assert str(failure).startswith("invariant stays_out_of_s2 failed: s2 is off limits\n")
    assert [e["type"] for e in failure.events] == ["A", "B"]


def test_invariants_are_checked_on_the_initial_snapshot() -> None:
    failure = _failure(machine_rules(planted, [lambda snapshot: False]))
    assert failure.events == []
    assert "after 0 event(s): s0" in str(failure)


# -- persisted round trips -------------------------------------------------------------------------

STAMPED = {
    "id": "stamped",
    "initial": "open",
    "context": {"closed_at": None},
    "states": {
        "open": {"on": {"TOUCH": "open", "CLOSE": {"target": "closed", "actions": ["stamp"]}}},
        "closed": {"on": {"REOPEN": "open"}},
    },
}

# a datetime in an untyped (dict) context: to_json() writes a string, which restores as a string
stamped = orderflow.setup(
    actions={
        "stamp": orderflow.assign(
            lambda ctx, event, params: {"closed_at": datetime(2024, 1, 2, tzinfo=UTC)}
        )
    }
).create_machine(STAMPED)


def test_persist_each_step_catches_a_snapshot_that_does_not_round_trip() -> None:
    failure = _failure(machine_rules(stamped, persist_each_step=True))
    assert [e["type"] for e in failure.events] == ["CLOSE"]
    message = str(failure)
    assert message.startswith("the snapshot changed in a persisted round trip:")
    assert "datetime.datetime(2024, 1, 2" in message and "'2024-01-02T00:00:00Z'" in message
    assert "after 1 event(s): open -CLOSE-> closed" in message


def test_without_persisting_the_same_walks_pass() -> None:
    run_state_machine_as_test(
        machine_rules(stamped), settings=settings(FIND_AND_SHRINK, max_examples=30)
    )


def test_persist_each_step_reports_a_context_json_cannot_write() -> None:
    unwritable = orderflow.setup(
        actions={"stamp": orderflow.assign(lambda ctx, event, params: {"closed_at": {1, 2}})}
    ).create_machine(STAMPED)
    failure = _failure(machine_rules(unwritable, persist_each_step=True))
    assert failure.events == [{"type": "CLOSE"}]


BOOBY_TRAPPED = {
    "id": "trap",
    "initial": "a",
    "states": {
        "a": {"on": {"GO": "b"}},
        "b": {"on": {"STEP": {"target": "a", "actions": ["explode"]}}},
    },
}


def _explode(ctx: Any, event: Any, params: Any) -> Any:
    raise RuntimeError("assignment exploded")


def test_a_step_into_status_error_fails_the_walk() -> None:
    machine = orderflow.setup(actions={"explode": orderflow.assign(_explode)}).create_machine(
        BOOBY_TRAPPED
    )
    failure = _failure(machine_rules(machine))
    assert [e["type"] for e in failure.events] == ["GO", "STEP"]
    assert str(failure).startswith("the snapshot went into status 'error': ")
    assert "assignment exploded" in str(failure)


def test_status_error_can_be_allowed() -> None:
    machine = orderflow.setup(actions={"explode": orderflow.assign(_explode)}).create_machine(
        BOOBY_TRAPPED
    )
    no_errors_expected = machine_rules(machine, fail_on_error=False)
    run_state_machine_as_test(
        no_errors_expected, settings=settings(FIND_AND_SHRINK, max_examples=20)
    )


def test_an_exception_while_walking_carries_the_path_as_a_note() -> None:
    # A guard named but never implemented: the walk reaches it after one event.
    machine = orderflow.create_machine(
        {
            "id": "g",
            "initial": "a",
            "states": {
                "a": {"on": {"GO": "b"}},
                "b": {"on": {"BOOM": {"target": "a", "guard": "explode"}}},
            },
        }
    )
    with pytest.raises(MissingImplementationError, match="explode") as caught:
        run_state_machine_as_test(machine_rules(machine), settings=FIND_AND_SHRINK)
    notes = "\n".join(caught.value.__notes__)
    assert "after this walk:\n  after 1 event(s): a -GO-> b" in notes


# -- as a test case ----------------------------------------------------------------------------------

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
        "payment": {"on": {"PAY": "paid", "CANCEL": "cart"}, "after": {"1000": "cart"}},
        "paid": {"type": "final"},
    },
}

shop = orderflow.setup(
    guards={
        "room": lambda ctx, event, params: ctx["items"] < 3,
        "has_items": lambda ctx, event, params: ctx["items"] > 0,
    },
    actions={"add": orderflow.assign(lambda ctx, event, params: {"items": ctx["items"] + 1})},
).create_machine(SHOP)


def items_within_limit(snapshot: orderflow.Snapshot) -> bool:
    return 0 <= snapshot.context["items"] <= 3


def paid_only_with_items(snapshot: orderflow.Snapshot) -> bool:
    return not snapshot.matches("paid") or snapshot.context["items"] > 0


TestShopWalks = machine_rules(
    shop,
    [items_within_limit, paid_only_with_items],
    persist_each_step=True,
    settings=settings(max_examples=50, stateful_step_count=20, deadline=None),
).TestCase


def test_the_rules_class_is_named_after_the_machine() -> None:
    assert machine_rules(shop).__name__ == "ShopRules"
    assert machine_rules(shop, name="Walk").__name__ == "Walk"


# -- random machines ---------------------------------------------------------------------------------


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
@pytest.mark.filterwarnings("ignore::orderflow.DefinitionWarning")
def test_on_random_machines_every_persisted_step_round_trips(data: Any) -> None:
    config = data.draw(machine_configs())
    machine = orderflow.create_machine(config)
    rules = machine_rules(machine, persist_each_step=True, extra_events=config_alphabet(config))
    try:
        walk = rules()
        walk.invariants_hold()
        for _ in range(12):
            walk.send_enabled_event(data)
            walk.invariants_hold()
    except orderflow.errors.InfiniteLoopError:
        return  # a random machine may loop on its own events
    json.dumps(walk.snapshot.to_json())
