"""Paths through a machine: the reachable snapshots, shortest and simple paths, a transition-coverage plan.

Everything runs on the pure core.  :func:`explore` walks the machine breadth
first from its initial snapshot, sending the events each snapshot listens to
(or the events you give), and records a graph whose nodes are snapshots
identified by a key.  The default key is the whole snapshot (value, context,
history, timers); pass ``key=`` to fold snapshots together (for example
``lambda s: s.value``) when the context would make the graph explode.

Every :class:`Path` is re-run from its start before it is returned, so the
snapshots it lists are exactly what sending its events gives.

A machine with child machines (``invoke``, ``spawnChild``) is explored as one
system: the children's snapshots are part of the key, so a parent in the same
state with a child in another is another node; the events the running child
machines listen to are tried too, each as a :class:`ChildEvent` (sent with
``transition(..., to=path)``); and the transitions a step fires are those of
every actor it moved, a child's named ``<child path>:<JSON path>`` (the
parent's ``onDone`` fired by a child's last step included).  The answers of
function actors (``xstate.done.actor.<id>``) need their output: give them with
``events=``.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from orderflow.chart import Machine, Snapshot
from orderflow.chart.definition import ERROR_ACTOR_PREFIX, SNAPSHOT_PREFIX
from orderflow.chart.machine import Step
from orderflow.errors import InvalidEventError

EventLike = str | Mapping[str, Any]
Key = Callable[[Snapshot], Hashable]
Target = str | Mapping[str, Any] | Callable[[Snapshot], bool]


@dataclass(frozen=True)
class ChildEvent:
    """An event for the child machine at ``to`` (child ids joined by ``/``), not for the machine."""

    to: str
    event: EventLike

    def to_json(self) -> dict[str, Any]:
        event = {"type": self.event} if isinstance(self.event, str) else dict(self.event)
        return {"to": self.to, "event": event}


#: what a path sends: an event for the machine, or one for a child machine
Sendable = EventLike | ChildEvent


def send(machine: Machine, snapshot: Snapshot, event: Sendable) -> Snapshot:
    """The snapshot after ``event`` (a :class:`ChildEvent` goes to its child)."""
    if isinstance(event, ChildEvent):
        return machine.transition(snapshot, event.event, to=event.to)[0]
    return machine.transition(snapshot, event)[0]


def step(machine: Machine, snapshot: Snapshot | None, event: Sendable | None = None) -> Step:
    """``machine.step`` with a trace, for an event or a :class:`ChildEvent`."""
    if isinstance(event, ChildEvent):
        return machine.step(snapshot, event.event, trace=True, to=event.to)
    return machine.step(snapshot, event, trace=True)


def fired(step: Step) -> tuple[str, ...]:
    """The transitions a step fired, by JSON path; a child machine's prefixed ``<its path>:``."""
    if step.actor_microsteps:
        return tuple(
            f"{actor}:{path}" if actor else path
            for actor, micro in step.actor_microsteps
            for path in micro.paths
        )
    return tuple(p for micro in step.microsteps for p in micro.paths)


@dataclass(frozen=True)
class PathStep:
    """One event of a path, the snapshot after it, and the transitions it fired (by JSON path).

    ``to`` is the child machine the event went to (``None``: the machine itself).
    """

    event: Mapping[str, Any]
    snapshot: Snapshot
    transitions: tuple[str, ...]
    to: str | None = None

    @property
    def sent(self) -> Sendable:
        """What to send to take this step again."""
        return self.event if self.to is None else ChildEvent(self.to, self.event)


@dataclass(frozen=True)
class Path:
    """A sequence of events from ``start``, with the snapshot after each."""

    start: Snapshot
    steps: tuple[PathStep, ...]

    @property
    def events(self) -> list[Sendable]:
        """The events to send again (a :class:`ChildEvent` for a step a child machine took)."""
        return [step.sent for step in self.steps]

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
            label = step.event["type"] if step.to is None else f"{step.to}:{step.event['type']}"
            parts.append(f"-{label}-> {_show(step.snapshot.value)}")
        return " ".join(parts)


@dataclass(frozen=True)
class Edge:
    event: Mapping[str, Any]
    target: Hashable
    transitions: tuple[str, ...]
    #: the child machine the event went to (``None``: the machine itself)
    to: str | None = None

    @property
    def sent(self) -> Sendable:
        return self.event if self.to is None else ChildEvent(self.to, self.event)


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
    ) -> list[Sendable]:
        events: list[Sendable] = []
        while (link := parents[key]) is not None:
            key, edge = link
            events.append(edge.sent)
        return events[::-1]


def default_key(snapshot: Snapshot) -> Hashable:
    """The whole snapshot as canonical JSON (value, status, context, history, pending timer ids,
    and the children's snapshots)."""
    data = snapshot.to_json()
    data["timers"] = sorted(t["id"] for t in data["timers"])
    return json.dumps(data, sort_keys=True, default=str)


def default_events(machine: Machine, snapshot: Snapshot) -> list[EventLike]:
    """The events a snapshot listens to that can be sent as they are: no wildcards, no done events;
    ``after`` timers only while they are pending; no answer only a child machine may give
    (``xstate.error.actor.<id>``, ``xstate.snapshot.<id>``)."""
    pending = {t.event["type"] for t in snapshot.timers}
    machines = {i for i, child in snapshot.children.items() if child.is_machine}
    events: list[EventLike] = []
    for descriptor in machine.next_events(snapshot):
        if descriptor == "*" or descriptor.endswith(".*") or descriptor.startswith("xstate.done."):
            continue
        if descriptor.startswith("xstate.after.") and descriptor not in pending:
            continue
        if descriptor.startswith(SNAPSHOT_PREFIX) or (
            descriptor.startswith(ERROR_ACTOR_PREFIX)
            and descriptor[len(ERROR_ACTOR_PREFIX) :] in machines
        ):
            continue
        events.append(descriptor)
    return events


def child_machines(machine: Machine, snapshot: Snapshot) -> list[tuple[str, Machine, Snapshot]]:
    """The running child machines below ``snapshot``, depth first: (path, machine, snapshot)."""
    found: list[tuple[str, Machine, Snapshot]] = []

    def walk(path: str, parent: Machine, current: Snapshot) -> None:
        for ident, child in current.children.items():
            logic = parent.actor_logic(child.src)
            if child.snapshot is None or not isinstance(logic, Machine):
                continue
            where = f"{path}/{ident}" if path else ident
            if child.snapshot.status == "active":
                found.append((where, logic, child.snapshot))
            walk(where, logic, child.snapshot)

    walk("", machine, snapshot)
    return found


def child_events(machine: Machine, snapshot: Snapshot) -> list[ChildEvent]:
    """:func:`default_events` of every running child machine, each addressed to its child."""
    return [
        ChildEvent(path, event)
        for path, child, child_snapshot in child_machines(machine, snapshot)
        for event in default_events(child, child_snapshot)
    ]


def explore(
    machine: Machine,
    *,
    events: Iterable[Sendable] | Callable[[Snapshot], Iterable[Sendable]] | None = None,
    key: Key = default_key,
    start: Snapshot | None = None,
    max_snapshots: int = 10_000,
) -> StateGraph:
    """Walk the machine breadth first and return the graph of reachable snapshots.

    ``events`` is a fixed list of events to try in every snapshot, or a function of the
    snapshot (either may hold :class:`ChildEvent`); by default, every event the active
    states listen to (see :func:`default_events`) and every event the running child
    machines listen to (:func:`child_events`).  An event that changes nothing and fires
    no transition adds no edge; one addressed to a child machine that is not running
    (any more) neither.
    """
    initial_transitions: tuple[str, ...] = ()
    if start is None:
        first = step(machine, None)
        start = first.snapshot
        initial_transitions = fired(first)
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
            taken = _try(machine, snapshot, event, events is not None)
            if taken is None:
                continue
            transitions = fired(taken)
            if not transitions and taken.snapshot == snapshot:
                continue
            target_key = key(taken.snapshot)
            to = event.to if isinstance(event, ChildEvent) else None
            outgoing.append(Edge(taken.event, target_key, transitions, to))
            if target_key not in graph.nodes:
                if len(graph.nodes) >= max_snapshots:
                    graph.truncated = True
                    outgoing.pop()
                    continue
                graph.nodes[target_key] = taken.snapshot
                queue.append(target_key)
    return graph


def _try(machine: Machine, snapshot: Snapshot, event: Sendable, given: bool) -> Step | None:
    """The step ``event`` takes from ``snapshot``; ``None`` for a child that is not there."""
    try:
        return step(machine, snapshot, event)
    except InvalidEventError as exc:
        if isinstance(event, ChildEvent) and not any(
            path == event.to for path, _, _ in child_machines(machine, snapshot)
        ):
            return None  # a fixed list names a child this snapshot does not run
        if given:
            raise
        raise InvalidEventError(
            f"exploring {machine.id!r} tried {exc.event_type!r} without a payload, which "
            f"its model refuses ({exc}); pass events= with a payload for it: a list of "
            "events, or a function of the snapshot",
            exc.event_type,
        ) from exc


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

    def walk(node: Hashable, visited: set[Hashable], events: list[Sendable]) -> None:
        if events and matches(graph.nodes[node]):
            found.append(replay(machine, graph.start, events))
        if len(events) >= max_length:
            return
        for edge in graph.edges.get(node, ()):
            if edge.target not in visited:
                visited.add(edge.target)
                events.append(edge.sent)
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
    #: every transition of the machine and of the child machines it invokes, by JSON path
    #: (a child's prefixed ``<invocation path>:``)
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
    whose last event fires it; everything that path fires counts as covered.  The
    transitions of the child machines the states invoke count too (a spawned child's
    fire, but are not listed: its id is only known when it is spawned).
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
    every = all_transitions(machine)
    covered: set[str] = set(graph.initial_transitions)  # every path starts by firing these
    paths: list[Path] = []
    for transition in every:
        if transition in covered or transition not in best:
            continue
        _, node, edge = best[transition]
        path = replay(machine, graph.start, [*graph.events_to(node, parents), edge.sent])
        covered |= path.transitions
        paths.append(path)
    uncovered = tuple(t for t in every if t not in covered)
    return CoveragePlan(tuple(paths), every, uncovered)


def all_transitions(machine: Machine) -> tuple[str, ...]:
    """The machine's transitions by JSON path, then its invoked child machines', prefixed.

    A child machine is listed under every invocation of it (``<id>:``, a grandchild
    ``<id>/<id>:``); one invoked inside itself is listed once, where it is first met.
    """
    found: list[str] = []

    def walk(current: Machine, prefix: str, seen: tuple[Machine, ...]) -> None:
        found.extend(f"{prefix}:{t.path}" if prefix else t.path for t in current.transitions())
        for node in current.nodes:
            for invocation in node.invoke:
                logic = current.actor_logic(invocation.src)
                if isinstance(logic, Machine) and not any(logic is m for m in seen):
                    where = f"{prefix}/{invocation.id}" if prefix else invocation.id
                    walk(logic, where, (*seen, logic))

    walk(machine, "", (machine,))
    return tuple(dict.fromkeys(found))


def replay(machine: Machine, start: Snapshot, events: Sequence[Sendable]) -> Path:
    """Send ``events`` from ``start`` (a :class:`ChildEvent` to its child) and record every step."""
    steps = []
    snapshot = start
    for event in events:
        taken = step(machine, snapshot, event)
        snapshot = taken.snapshot
        to = event.to if isinstance(event, ChildEvent) else None
        steps.append(PathStep(taken.event, snapshot, fired(taken), to))
    return Path(start, tuple(steps))


def _event_chooser(
    machine: Machine, events: Iterable[Sendable] | Callable[[Snapshot], Iterable[Sendable]] | None
) -> Callable[[Snapshot], Iterable[Sendable]]:
    if events is None:
        return lambda snapshot: [
            *default_events(machine, snapshot),
            *child_events(machine, snapshot),
        ]
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
