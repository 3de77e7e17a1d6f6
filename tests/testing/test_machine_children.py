"""orderflow.testing on a parent with child machines: explored, covered and walked as one system.

The machines are defined here: a parent that invokes a child machine (which
invokes a grandchild), one that spawns, and one that invokes a function actor.
"""

from __future__ import annotations

import warnings
from typing import Any

import pytest
from hypothesis import HealthCheck, find, given, settings
from hypothesis import strategies as st

import orderflow
from orderflow.chart import Machine, Snapshot
from orderflow.testing import (
    WalkFailure,
    coverage_plan,
    enabled_sequences,
    events,
    explore,
    machine_configs,
    machine_rules,
    replay,
    shortest_paths,
)
from orderflow.testing.paths import ChildEvent, all_transitions, default_events, send

PINGER = {
    "id": "pinger",
    "initial": "waiting",
    "states": {"waiting": {"on": {"PING": "pinged"}}, "pinged": {"on": {"RESET": "waiting"}}},
}
FETCHER = {
    "id": "fetcher",
    "initial": "working",
    "states": {
        "working": {"invoke": {"id": "ping", "src": "pinger"}, "on": {"FINISH": "done"}},
        "done": {"type": "final", "output": {"ok": True}},
    },
}
SHOP = {
    "id": "shop",
    "initial": "idle",
    "states": {
        "idle": {"on": {"GO": "loading"}},
        "loading": {
            "invoke": {"id": "fetch", "src": "fetcher", "onDone": "ready", "onError": "failed"},
            "on": {"CANCEL": "idle"},
        },
        "ready": {"type": "final"},
        "failed": {},
    },
}


def shop() -> Machine:
    pinger = orderflow.create_machine(PINGER)
    fetcher = orderflow.setup(actors={"pinger": pinger}).create_machine(FETCHER)
    return orderflow.setup(actors={"fetcher": fetcher}).create_machine(SHOP)


def test_a_parent_in_one_state_with_children_in_different_states_is_two_snapshots() -> None:
    graph = explore(shop())
    loading = [s for s in graph.nodes.values() if s.value == "loading"]
    grandchild = {
        s.children["fetch"].snapshot.children["ping"].snapshot.value  # type: ignore[union-attr]
        for s in loading
    }
    assert grandchild == {"waiting", "pinged"}
    assert len(loading) == 2
    assert {s.value for s in graph.nodes.values()} == {"idle", "loading", "ready"}


def test_the_explorer_sends_the_childrens_events_to_them() -> None:
    graph = explore(shop())
    sent = {(e.to, e.event["type"]) for edges in graph.edges.values() for e in edges}
    assert sent == {
        (None, "GO"),
        (None, "CANCEL"),
        ("fetch", "FINISH"),
        ("fetch/ping", "PING"),
        ("fetch/ping", "RESET"),
    }
    machine = shop()
    (path,) = shortest_paths(machine, to="ready")
    assert path.events == [{"type": "GO"}, ChildEvent("fetch", {"type": "FINISH"})]
    assert path.describe() == "idle -GO-> loading -fetch:FINISH-> ready"
    again = replay(machine, path.start, path.events)
    assert again.end == path.end and again.end.status == "done"


def test_coverage_counts_the_childrens_transitions_and_the_parents_answer_to_them() -> None:
    machine = shop()
    plan = coverage_plan(machine)
    assert plan.transitions == all_transitions(machine)
    assert "fetch:$.states.working.on.FINISH" in plan.transitions
    assert "fetch/ping:$.states.waiting.on.PING" in plan.transitions
    # onDone is fired by the child's last step; only the child's failure is out of reach
    assert plan.uncovered == ("$.states.loading.invoke.onError",)
    fired = set().union(*(p.transitions for p in plan))
    assert "$.states.loading.invoke.onDone" in fired
    assert "fetch/ping:$.states.pinged.on.RESET" in fired


def test_a_machine_child_answer_is_not_an_event_to_try_but_a_function_actors_failure_is() -> None:
    charge = orderflow.setup(actors={"charge": lambda input: 1}).create_machine(
        {
            "id": "pay",
            "initial": "paying",
            "states": {
                "paying": {
                    "invoke": {"id": "card", "src": "charge", "onDone": "paid", "onError": "declined"},
                },
                "paid": {"type": "final"},
                "declined": {"type": "final"},
            },
        }
    )  # fmt: skip
    snapshot, _ = charge.initial_transition()
    assert default_events(charge, snapshot) == ["xstate.error.actor.card"]
    machine = shop()
    snapshot = send(machine, machine.initial_transition()[0], "GO")
    assert "xstate.error.actor.fetch" not in default_events(machine, snapshot)
    # a function actor's result needs its output: given with events=
    done = {"type": "xstate.done.actor.card", "output": {"charged": 1}}
    graph = explore(charge, events=[done, "xstate.error.actor.card"])
    assert {s.value for s in graph.nodes.values()} == {"paying", "paid", "declined"}


def test_spawned_children_are_explored_and_a_fixed_list_may_name_a_child_not_running() -> None:
    pinger = orderflow.create_machine(PINGER)
    machine = orderflow.setup(actors={"pinger": pinger}).create_machine(
        {
            "id": "hub",
            "initial": "on",
            "states": {
                "on": {
                    "on": {
                        "SPAWN": {"actions": {"type": "spawnChild", "params": {"src": "pinger", "id": "p1"}}},
                        "STOP": {"actions": {"type": "stopChild", "params": {"id": "p1"}}},
                    }
                }
            },
        }
    )  # fmt: skip
    graph = explore(machine)
    assert len(graph) == 3  # none, p1 waiting, p1 pinged
    fixed = explore(machine, events=["SPAWN", ChildEvent("p1", "PING"), "STOP"])
    assert len(fixed) == 3
    assert any(e.to == "p1" for edges in fixed.edges.values() for e in edges)


def test_a_walk_reaches_into_the_children_and_reports_the_child_events() -> None:
    def grandchild_never_pinged(snapshot: Snapshot) -> bool:
        fetch = snapshot.children.get("fetch")
        if fetch is None or fetch.snapshot is None:
            return True
        return fetch.snapshot.children["ping"].snapshot.value != "pinged"  # type: ignore[union-attr]

    rules = machine_rules(
        shop(),
        [grandchild_never_pinged],
        persist_each_step=True,
        settings=settings(max_examples=200, stateful_step_count=6, deadline=None, database=None),
    )
    with pytest.raises(WalkFailure) as caught:
        rules.TestCase().runTest()
    assert caught.value.events == [{"type": "GO"}, ChildEvent("fetch/ping", {"type": "PING"})]
    assert '{"to": "fetch/ping", "event": {"type": "PING"}}' in str(caught.value)


def test_a_walk_with_children_persists_and_restores_every_step() -> None:
    rules = machine_rules(
        shop(),
        persist_each_step=True,
        settings=settings(max_examples=30, stateful_step_count=8, deadline=None, database=None),
    )
    rules.TestCase().runTest()


def test_strategies_draw_child_events_only_when_asked() -> None:
    machine = shop()
    loading = send(machine, machine.initial_transition()[0], "GO")
    drawn = find(events(machine, loading, children=True), lambda e: isinstance(e, ChildEvent))
    assert drawn == ChildEvent("fetch", {"type": "FINISH"})  # the first child option
    walk = find(
        enabled_sequences(machine, children=True),
        lambda walk: replay(machine, machine.initial_transition()[0], walk).end.value == "ready",
    )
    assert walk == [{"type": "GO"}, ChildEvent("fetch", {"type": "FINISH"})]

    @settings(max_examples=30, database=None)
    @given(events(machine, loading))
    def only_own(event: Any) -> None:
        assert not isinstance(event, ChildEvent)

    only_own()


def wrapper(child_config: dict[str, Any]) -> Machine:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        child = orderflow.create_machine(child_config)
        return orderflow.setup(actors={"child": child}).create_machine(
            {
                "id": "p",
                "initial": "run",
                "states": {
                    "run": {"invoke": {"id": "c", "src": "child", "onDone": "end"}},
                    "end": {"on": {"AGAIN": "run"}},
                },
            }
        )


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(machine_configs(max_depth=2, max_children=3), st.data())
def test_every_explored_path_through_a_random_child_replays_to_its_snapshot(
    config: dict[str, Any], data: st.DataObject
) -> None:
    machine = wrapper(config)
    try:  # a random chart may loop for ever on entry or on some event: nothing to explore
        machine.initial_transition()
        graph = explore(machine, max_snapshots=300)
    except orderflow.errors.InfiniteLoopError:
        return
    for path in shortest_paths(machine, max_snapshots=300):
        end = replay(machine, path.start, path.events).end
        assert end == path.end
        assert any(end == node for node in graph.nodes.values())
    plan = coverage_plan(machine, max_snapshots=300)
    fired = set().union(set(graph.initial_transitions), *(p.transitions for p in plan))
    assert set(plan.covered) == fired & set(plan.transitions)
    for path in plan:
        assert replay(machine, path.start, path.events).transitions == path.transitions
