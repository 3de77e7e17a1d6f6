"""Paths through a machine: the reachable snapshots, shortest and simple paths, a transition-coverage plan.

Everything runs on the pure core.  :func:`explore` walks the machine breadth
first from its initial snapshot, sending the events each snapshot listens to
(or the events you give), and records a graph whose nodes are snapshots
identified by a key.  The default key is the whole snapshot (value, context,
history, timers); pass ``key=`` to fold snapshots together (for example
``lambda s: s.value``) when the context would make the graph explode.

Every :class:`Path` is re-run from its start before it is returned, so the
snapshots it lists are exactly what sending its events gives.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from orderflow.chart import Machine, Snapshot
from orderflow.errors import InvalidEventError

EventLike = str | Mapping[str, Any]
Key = Callable[[Snapshot], Hashable]
Target = str | Mapping[str, Any] | Callable[[Snapshot], bool]


@dataclass(frozen=True)
class PathStep:
    """One event of a path, the snapshot after it, and the transitions it fired (by JSON path)."""

    event: Mapping[str, Any]
    snapshot: Snapshot
    transitions: tuple[str, ...]


@dataclass(frozen=True)
class Path:
    """A sequence of events from ``start``, with the snapshot after each."""

    start: Snapshot
    steps: tuple[PathStep, ...]

    @property
    def events(self) -> list[Mapping[str, Any]]:
        return [step.event for step in self.steps]

    @property
    def snapshots(self) -> list[Snapshot]:
        return [step.snapshot for step in self.steps]

    @property
    def end(self) -> Snapshot:
        return self.steps[-1].snapshot if self.steps else self.start

    @property
    def transitions(self) -> set[str]:
        return {t for step in self.steps for t in step.transitions}

    def __len__(self) -> int:
        return len(self.steps)

    def describe(self) -> str:
        """``start -EVENT-> value -EVENT-> value``, for failure messages."""
        parts = [_show(self.start.value)]
        for step in self.steps:
            parts.append(f"-{step.event['type']}-> {_show(step.snapshot.value)}")
        return " ".join(parts)


@dataclass(frozen=True)
class Edge:
    event: Mapping[str, Any]
    target: Hashable
    transitions: tuple[str, ...]


@dataclass
class StateGraph:
    """The snapshots reachable from ``start`` (by key) and the events between them."""

    machine: Machine
    start: Snapshot
    start_key: Hashable
    nodes: dict[Hashable, Snapshot] = field(default_factory=dict)
    edges: dict[Hashable, list[Edge]] = field(default_factory=dict)
    #: True when ``max_snapshots`` stopped the walk before it had seen everything
    truncated: bool = False
    #: transitions fired while entering the initial snapshot (eventless ones, raised events)
    initial_transitions: tuple[str, ...] = ()

    def __len__(self) -> int:
        return len(self.nodes)

    def shortest_tree(self) -> dict[Hashable, tuple[Hashable, Edge] | None]:
        """For each node, the edge that first reaches it breadth first (``None`` for the start)."""
        parents: dict[Hashable, tuple[Hashable, Edge] | None] = {self.start_key: None}
        queue = deque([self.start_key])
        while queue:
            current = queue.popleft()
            for edge in self.edges.get(current, ()):
                if edge.target not in parents:
                    parents[edge.target] = (current, edge)
                    queue.append(edge.target)
        return parents

    def events_to(
        self, key: Hashable, parents: Mapping[Hashable, tuple[Hashable, Edge] | None]
    ) -> list[Mapping[str, Any]]:
        events: list[Mapping[str, Any]] = []
        while (link := parents[key]) is not None:
            key, edge = link
            events.append(edge.event)
        return events[::-1]


def default_key(snapshot: Snapshot) -> Hashable:
    """The whole snapshot as canonical JSON (value, status, context, history, pending timer ids)."""
    data = snapshot.to_json()
    data["timers"] = sorted(t["id"] for t in data["timers"])
    return json.dumps(data, sort_keys=True, default=str)


def default_events(machine: Machine, snapshot: Snapshot) -> list[EventLike]:
    """The events a snapshot listens to that can be sent as they are: no wildcards, no done events;
    ``after`` timers only while they are pending."""
    pending = {t.event["type"] for t in snapshot.timers}
    events: list[EventLike] = []
    for descriptor in machine.next_events(snapshot):
        if descriptor == "*" or descriptor.endswith(".*") or descriptor.startswith("xstate.done."):
            continue
        if descriptor.startswith("xstate.after.") and descriptor not in pending:
            continue
        events.append(descriptor)
    return events


def explore(
    machine: Machine,
    *,
    events: Iterable[EventLike] | Callable[[Snapshot], Iterable[EventLike]] | None = None,
    key: Key = default_key,
    start: Snapshot | None = None,
    max_snapshots: int = 10_000,
) -> StateGraph:
    """Walk the machine breadth first and return the graph of reachable snapshots.

    ``events`` is a fixed list of events to try in every snapshot, or a function of the
    snapshot; by default, every event the active states listen to (see :func:`default_events`).
    An event that changes nothing and fires no transition adds no edge.
    """
    initial_transitions: tuple[str, ...] = ()
    if start is None:
        first = machine.step(None, trace=True)
        start = first.snapshot
        initial_transitions = tuple(p for micro in first.microsteps for p in micro.paths)
    choose = _event_chooser(machine, events)
    graph = StateGraph(machine, start, key(start), initial_transitions=initial_transitions)
    graph.nodes[graph.start_key] = start
    queue = deque([graph.start_key])
    while queue:
        current_key = queue.popleft()
        snapshot = graph.nodes[current_key]
        outgoing = graph.edges.setdefault(current_key, [])
        if snapshot.status != "active":
            continue
        for event in choose(snapshot):
            try:
                step = machine.step(snapshot, event, trace=True)
            except InvalidEventError as exc:
                if events is not None:
                    raise
                raise InvalidEventError(
                    f"exploring {machine.id!r} tried {exc.event_type!r} without a payload, which "
                    f"its model refuses ({exc}); pass events= with a payload for it: a list of "
                    "events, or a function of the snapshot",
                    exc.event_type,
                ) from exc
            fired = tuple(p for micro in step.microsteps for p in micro.paths)
            if not fired and step.snapshot == snapshot:
                continue
            target_key = key(step.snapshot)
            outgoing.append(Edge(step.event, target_key, fired))
            if target_key not in graph.nodes:
                if len(graph.nodes) >= max_snapshots:
                    graph.truncated = True
                    outgoing.pop()
                    continue
                graph.nodes[target_key] = step.snapshot
                queue.append(target_key)
    return graph


def shortest_paths(
    machine: Machine,
    to: Target | None = None,
    **explore_options: Any,
) -> list[Path]:
    """One shortest path to every reachable snapshot (or only to those matching ``to``).

    ``to`` is a state (``"sale.cleared"`` or a partial value, as ``snapshot.matches``)
    or a predicate on the snapshot.
    """
    graph = explore(machine, **explore_options)
    matches = _target(to)
    parents = graph.shortest_tree()
    return [
        replay(machine, graph.start, graph.events_to(node, parents))
        for node, snapshot in graph.nodes.items()
        if node in parents and matches(snapshot)
    ]


def simple_paths(
    machine: Machine,
    to: Target,
    *,
    max_length: int = 20,
    **explore_options: Any,
) -> list[Path]:
    """Every path without a repeated snapshot (by key) from the start to a snapshot matching ``to``."""
    graph = explore(machine, **explore_options)
    matches = _target(to)
    found: list[Path] = []

    def walk(node: Hashable, visited: set[Hashable], events: list[Mapping[str, Any]]) -> None:
        if events and matches(graph.nodes[node]):
            found.append(replay(machine, graph.start, events))
        if len(events) >= max_length:
            return
        for edge in graph.edges.get(node, ()):
            if edge.target not in visited:
                visited.add(edge.target)
                events.append(edge.event)
                walk(edge.target, visited, events)
                events.pop()
                visited.discard(edge.target)

    if matches(graph.start):
        found.append(Path(graph.start, ()))
    walk(graph.start_key, {graph.start_key}, [])
    return found


@dataclass(frozen=True)
class CoveragePlan:
    """Event sequences that together fire every reachable transition at least once."""

    paths: tuple[Path, ...]
    #: every transition of the machine, by JSON path
    transitions: tuple[str, ...]
    #: the ones no explored path fires (unreachable with the events tried, or behind guards that never pass)
    uncovered: tuple[str, ...]

    @property
    def covered(self) -> set[str]:
        return set(self.transitions) - set(self.uncovered)

    def __iter__(self) -> Iterator[Path]:
        return iter(self.paths)


def coverage_plan(machine: Machine, **explore_options: Any) -> CoveragePlan:
    """A small set of paths that fire every transition reachable with the explored events.

    Greedy: for each transition not yet fired, in document order, take the shortest path
    whose last event fires it; everything that path fires counts as covered.
    """
    graph = explore(machine, **explore_options)
    parents = graph.shortest_tree()
    depth = {node: len(graph.events_to(node, parents)) for node in parents}
    best: dict[str, tuple[int, Hashable, Edge]] = {}
    for node, edges in graph.edges.items():
        if node not in parents:
            continue
        for edge in edges:
            for fired in edge.transitions:
                if fired not in best or depth[node] + 1 < best[fired][0]:
                    best[fired] = (depth[node] + 1, node, edge)
    every = tuple(t.path for t in machine.transitions())
    covered: set[str] = set(graph.initial_transitions)  # every path starts by firing these
    paths: list[Path] = []
    for transition in every:
        if transition in covered or transition not in best:
            continue
        _, node, edge = best[transition]
        path = replay(machine, graph.start, [*graph.events_to(node, parents), edge.event])
        covered |= path.transitions
        paths.append(path)
    uncovered = tuple(t for t in every if t not in covered)
    return CoveragePlan(tuple(paths), every, uncovered)


def replay(machine: Machine, start: Snapshot, events: Sequence[EventLike]) -> Path:
    """Send ``events`` from ``start`` and record every step."""
    steps = []
    snapshot = start
    for event in events:
        step = machine.step(snapshot, event, trace=True)
        snapshot = step.snapshot
        steps.append(
            PathStep(step.event, snapshot, tuple(p for m in step.microsteps for p in m.paths))
        )
    return Path(start, tuple(steps))


def _event_chooser(
    machine: Machine, events: Iterable[EventLike] | Callable[[Snapshot], Iterable[EventLike]] | None
) -> Callable[[Snapshot], Iterable[EventLike]]:
    if events is None:
        return lambda snapshot: default_events(machine, snapshot)
    if callable(events):
        return events
    fixed = list(events)
    return lambda snapshot: fixed


def _target(to: Target | None) -> Callable[[Snapshot], bool]:
    if to is None:
        return lambda snapshot: True
    if isinstance(to, str | Mapping):
        state = to
        return lambda snapshot: snapshot.matches(state)
    return to


def _show(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)
