"""Every transition of every order machine fires in a test, and every final state stays within reach.

The coverage plan (``orderflow.testing.paths.coverage_plan``) walks each
machine with the events of ``order_walks`` and picks the fewest paths that
fire every transition; each path is then replayed through the pure core.
The same graph shows that every final state is reachable and that no
reachable snapshot is a trap (one from which no final state can be reached).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Hashable

import pytest

from orderflow.chart import Machine
from orderflow.orders import MACHINE_NAMES, load_machine
from orderflow.orders.walks import WALKS
from orderflow.testing.paths import StateGraph, coverage_plan, explore, replay


def _fired_while_starting(machine: Machine, name: str) -> set[str]:
    """Transitions the initial macrostep takes (an eventless hop out of the initial state).

    ``coverage_plan`` only counts transitions that events fire, so these are added here.
    """
    step = machine.step(None, input=dict(WALKS[name].start_input), trace=True)
    return {path for micro in step.microsteps for path in micro.paths}


@pytest.mark.parametrize("name", MACHINE_NAMES)
def test_the_coverage_plan_fires_every_transition(name: str) -> None:
    machine = load_machine(name)
    walk = WALKS[name]
    start = walk.start(machine)
    plan = coverage_plan(machine, events=walk.events, key=walk.key, start=start)
    covered_at_start = _fired_while_starting(machine, name)
    assert set(plan.uncovered) <= covered_at_start, plan.uncovered
    assert plan.covered | covered_at_start == set(plan.transitions)
    for path in plan:  # each path replays from the start to the same end
        again = replay(machine, start, path.events)
        assert again.end == path.end, path.describe()
        assert all(s.status != "error" for s in again.snapshots), path.describe()


def _finals(machine: Machine) -> set[str]:
    return {
        node.id for node in machine.nodes if node.type == "final" and node.parent is machine.root
    }


def _can_finish(graph: StateGraph) -> set[Hashable]:
    """Nodes from which some finished snapshot is reachable (a backwards search from the finished ones)."""
    incoming: dict[Hashable, set[Hashable]] = {}
    for source, edges in graph.edges.items():
        for edge in edges:
            incoming.setdefault(edge.target, set()).add(source)
    done = [key for key, snapshot in graph.nodes.items() if snapshot.status == "done"]
    seen, queue = set(done), deque(done)
    while queue:
        for source in incoming.get(queue.popleft(), ()):
            if source not in seen:
                seen.add(source)
                queue.append(source)
    return seen


@pytest.mark.parametrize("name", MACHINE_NAMES)
def test_every_final_state_is_reachable_and_no_state_is_a_trap(name: str) -> None:
    machine = load_machine(name)
    walk = WALKS[name]
    graph = explore(machine, events=walk.events, key=walk.key, start=walk.start(machine))
    assert not graph.truncated
    reached = {
        node.id
        for snapshot in graph.nodes.values()
        for node in snapshot.configuration
        if snapshot.status == "done"
    }
    assert _finals(machine) <= reached, _finals(machine) - reached
    can_finish = _can_finish(graph)
    traps = [s.value for key, s in graph.nodes.items() if key not in can_finish]
    assert traps == []
    assert all(s.status != "error" for s in graph.nodes.values())


@pytest.mark.parametrize("name", MACHINE_NAMES)
def test_every_state_is_visited_by_some_walk(name: str) -> None:
    machine = load_machine(name)
    walk = WALKS[name]
    graph = explore(machine, events=walk.events, key=walk.key, start=walk.start(machine))
    visited = {node.id for s in graph.nodes.values() for node in s.configuration}
    transient = {node.id for node in machine.nodes if node.always and not node.on}
    states = {node.id for node in machine.nodes if node.type != "history"}
    assert states - transient <= visited, states - transient - visited
