"""Path generation: reachable snapshots, shortest and simple paths, the transition-coverage plan."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import orderflow
from orderflow.testing.charts import machine_configs
from orderflow.testing.paths import coverage_plan, explore, replay, shortest_paths, simple_paths

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
                "card": {"on": {"DECLINED": "choosing", "APPROVED": "#checkout.done"}},
                "invoice": {
                    "after": {"1000": "#checkout.cart"},
                    "on": {"SIGNED": "#checkout.done"},
                },
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


def test_exploring_reaches_every_snapshot_the_events_allow() -> None:
    graph = explore(machine)
    values = {str(s.value) for s in graph.nodes.values()}
    assert values == {
        "cart",
        str({"payment": "choosing"}),
        str({"payment": "card"}),
        str({"payment": "invoice"}),
        "done",
    }
    assert not graph.truncated
    # the context is part of the default key: carts with 0, 1 and 2 items are different snapshots
    assert sum(1 for s in graph.nodes.values() if s.value == "cart") == 3


def by_value_and_items(snapshot: orderflow.Snapshot) -> Any:
    return (str(snapshot.value), snapshot.context["items"] > 0)


def test_a_key_folds_snapshots_together() -> None:
    graph = explore(machine, key=by_value_and_items)
    assert len(graph) == 6  # the cart empty and not empty, then the four states after it


def test_a_key_that_drops_what_a_guard_reads_hides_what_lies_behind_it() -> None:
    graph = explore(machine, key=lambda s: str(s.value))
    assert [str(s.value) for s in graph.nodes.values()] == ["cart"]


def test_max_snapshots_bounds_the_walk_and_says_so() -> None:
    graph = explore(machine, max_snapshots=2)
    assert len(graph) == 2 and graph.truncated


def test_shortest_paths_reach_each_target_with_fewest_events() -> None:
    (path,) = shortest_paths(machine, to="done", key=by_value_and_items)
    assert [e["type"] for e in path.events] == ["ADD", "CHECKOUT", "CARD", "APPROVED"]
    assert path.end.status == "done"
    assert path.describe().startswith("cart -ADD-> cart -CHECKOUT->")


def test_shortest_paths_to_a_predicate() -> None:
    paths = shortest_paths(machine, to=lambda s: s.value == "cart" and s.context["items"] == 2)
    assert [len(p) for p in paths] == [2]
    assert all(p.end.context["items"] == 2 for p in paths)


def test_simple_paths_never_repeat_a_snapshot() -> None:
    paths = simple_paths(machine, to="done", key=by_value_and_items, max_length=10)
    assert paths
    for path in paths:
        keys = [by_value_and_items(path.start), *(by_value_and_items(s) for s in path.snapshots)]
        assert len(keys) == len(set(keys))
        assert path.end.matches("done")
    # CARD, DECLINED comes back to "choosing", and BACK to the same cart: not simple
    assert {tuple(e["type"] for e in p.events) for p in paths} == {
        ("ADD", "CHECKOUT", "CARD", "APPROVED"),
        ("ADD", "CHECKOUT", "INVOICE", "SIGNED"),
    }


def test_the_coverage_plan_fires_every_transition() -> None:
    plan = coverage_plan(machine)
    assert plan.uncovered == ()
    fired: set[str] = set()
    for path in plan:
        rerun = replay(machine, path.start, path.events)
        assert [s.to_json() for s in rerun.snapshots] == [s.to_json() for s in path.snapshots]
        fired |= rerun.transitions
    assert fired == set(plan.transitions)
    assert len(plan.paths) <= len(plan.transitions)


def test_the_coverage_plan_reports_what_it_could_not_reach() -> None:
    blocked = orderflow.setup(
        guards={"room": lambda c, e, p: False, "has_items": lambda c, e, p: False},
        actions={"add": orderflow.assign({"items": 1})},
    ).create_machine(CHECKOUT)
    plan = coverage_plan(blocked)
    assert "$.states.cart.on.CHECKOUT" in plan.uncovered
    assert "$.states.payment.states.choosing.on.CARD" in plan.uncovered


def test_paths_can_start_anywhere() -> None:
    start, _ = machine.initial_transition(input={"items": 1})
    (path,) = shortest_paths(machine, to="done", start=start, key=by_value_and_items)
    assert [e["type"] for e in path.events] == ["CHECKOUT", "CARD", "APPROVED"]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
@pytest.mark.filterwarnings("ignore::orderflow.DefinitionWarning")
def test_on_random_machines_the_plan_covers_every_transition_the_walk_can_fire(data: Any) -> None:
    random_machine = orderflow.create_machine(data.draw(machine_configs()))
    try:
        graph = explore(random_machine, max_snapshots=300)
        plan = coverage_plan(random_machine, max_snapshots=300)
    except orderflow.errors.InfiniteLoopError:
        return  # a random machine may loop on its own events; nothing to cover
    reachable = {t for edges in graph.edges.values() for edge in edges for t in edge.transitions}
    reachable |= set(graph.initial_transitions)
    assert plan.covered == reachable
    fired: set[str] = set(graph.initial_transitions)
    for path in plan:
        fired |= replay(random_machine, path.start, path.events).transitions
    assert fired == reachable


def test_transitions_fired_while_starting_count_as_covered() -> None:
    starting = orderflow.create_machine(
        {
            "id": "m",
            "initial": "a",
            "states": {"a": {"always": "b"}, "b": {"on": {"GO": "c"}}, "c": {"type": "final"}},
        }
    )
    plan = coverage_plan(starting)
    assert plan.uncovered == ()
    assert [[e["type"] for e in p.events] for p in plan] == [["GO"]]


def test_a_coverage_plan_without_events_says_to_pass_payloads() -> None:
    from pydantic import BaseModel

    from orderflow.errors import InvalidEventError

    class Pay(BaseModel):
        amount: int

    machine = orderflow.setup(events={"PAY": Pay}).create_machine(
        {"id": "till", "initial": "open", "states": {"open": {"on": {"PAY": "paid"}}, "paid": {}}}
    )
    with pytest.raises(InvalidEventError, match="pass events= with a payload") as raised:
        coverage_plan(machine)
    assert raised.value.event_type == "PAY"
    plan = coverage_plan(machine, events=[{"type": "PAY", "amount": 1}])
    assert not plan.uncovered
