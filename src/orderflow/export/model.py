"""The neutral diagram model every renderer draws from.

A :class:`Diagram` is the machine's state tree and its transitions, already
labelled (event, guard, actions, delays) and, when a snapshot is given,
marked with the states that are active.  Renderers (``mermaid.py``,
``dot.py``, ``xstate.py``) only decide how to write it; none of them reads
the compiled machine.  The model keeps everything a definition says about
behaviour (guard trees, action parameters, ``reenter``, history defaults,
outputs), so the XState JSON written from it loads back to the same machine.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

from orderflow.chart import Machine, Snapshot
from orderflow.chart.actions import ActionSpec, builtin_from_json, builtin_name
from orderflow.chart.definition import (
    AFTER_PREFIX,
    DONE_ACTOR_PREFIX,
    DONE_STATE_PREFIX,
    ERROR_ACTOR_PREFIX,
    SNAPSHOT_PREFIX,
)
from orderflow.chart.guards import (
    AndGuard,
    Guard,
    NamedGuard,
    NotGuard,
    OrGuard,
    StateInGuard,
    describe,
)
from orderflow.chart.nodes import Invocation, StateNode, Transition


@dataclass(frozen=True)
class DiagramAction:
    """A named action and its parameters; ``portable`` is false for one built in Python."""

    name: str
    params: Any = None
    portable: bool = True


@dataclass(frozen=True)
class DiagramGuard:
    """A guard as data: ``kind`` is ``named``, ``stateIn``, ``and``, ``or`` or ``not``."""

    kind: str
    name: str | None = None
    params: Any = None
    #: for ``stateIn``: the ids of the innermost states that must be active (their
    #: ancestors are then active too)
    states: tuple[str, ...] = ()
    guards: tuple[DiagramGuard, ...] = ()
    #: how the guard reads on an edge (``payment_ok``, ``a && !(b)``)
    text: str = ""


@dataclass(frozen=True)
class DiagramState:
    id: str
    key: str
    kind: str  # atomic | compound | parallel | final | history
    history: str | None
    children: tuple[DiagramState, ...]
    initial: str | None
    entry: tuple[DiagramAction, ...]
    exit: tuple[DiagramAction, ...]
    active: bool
    #: the id of the parent state (``None`` for the machine itself)
    parent: str | None = None
    #: actions of the initial transition of a compound state
    initial_actions: tuple[DiagramAction, ...] = ()
    #: the default targets of a history state (``()``: the parent's initial state)
    history_default: tuple[str, ...] = ()
    has_output: bool = False
    output: Any = None
    tags: tuple[str, ...] = ()
    description: str | None = None
    meta: Any = None
    #: the actors the state invokes (their onDone/onError/onSnapshot are transitions on
    #: ``xstate.done.actor.<id>``, ``xstate.error.actor.<id>`` and ``xstate.snapshot.<id>``)
    invocations: tuple[DiagramInvocation, ...] = ()

    def walk(self) -> Iterator[DiagramState]:
        """This state and its descendants in document order."""
        yield self
        for child in self.children:
            yield from child.walk()

    @property
    def is_composite(self) -> bool:
        return self.kind in ("compound", "parallel")


@dataclass(frozen=True)
class DiagramTransition:
    source: str
    #: empty for a transition without a target (drawn as a loop on its source)
    targets: tuple[str, ...]
    kind: str  # event | always | after | done | actor
    #: what the edge says happens: the event type, ``always``, ``after 5000ms``, ``done``, or
    #: for an actor's answer (kind ``actor``) ``onDone (id)``, ``onError (id)``, ``onSnapshot (id)``
    event: str | None
    guard: str | None
    actions: tuple[str, ...]
    #: the event descriptor the transition listens to (``None`` for ``always``)
    descriptor: str | None = None
    guard_tree: DiagramGuard | None = None
    action_specs: tuple[DiagramAction, ...] = ()
    reenter: bool = False
    #: for ``after`` transitions: milliseconds, or the name of a delay
    delay: float | str | None = None

    @property
    def label(self) -> str:
        """``EVENT [guard] / action, action``."""
        text = self.event or ""
        if self.guard:
            text = f"{text} [{self.guard}]".strip()
        if self.actions:
            text = f"{text} / {', '.join(self.actions)}".strip()
        return text


@dataclass(frozen=True)
class DiagramInvocation:
    """An ``invoke`` of a state: the child actor ``src`` started on entry as ``id``.

    ``input`` is a JSON value; ``input_from`` the name of an input function; ``portable``
    is false when the input was computed by a Python callable JSON cannot name.
    """

    id: str
    src: str
    input: Any = None
    input_from: str | None = None
    system_id: str | None = None
    on_snapshot: bool = False
    portable: bool = True
    #: the chart of the child when ``src`` names a machine given to ``setup(actors=...)``
    #: (with a snapshot: the running child's states marked), else ``None``
    machine: Diagram | None = None

    @property
    def label(self) -> str:
        """``id: src``, how a diagram names the invoked actor."""
        return f"{self.id}: {self.src}"


@dataclass(frozen=True)
class Diagram:
    machine_id: str
    root: DiagramState
    transitions: tuple[DiagramTransition, ...]
    #: the version the definition declares (``None``: it declares none)
    version: str | int | None = None
    has_context: bool = False
    context: Any = None

    def states(self) -> Iterator[DiagramState]:
        return self.root.walk()

    def state(self, state_id: str) -> DiagramState:
        for state in self.states():
            if state.id == state_id:
                return state
        raise KeyError(state_id)


def build_diagram(
    machine: Machine, snapshot: Snapshot | None = None, *, child_charts: bool = True
) -> Diagram:
    """The diagram of ``machine``; with ``snapshot``, its active states are marked.

    With ``child_charts``, each invocation of a machine given to ``setup(actors=...)``
    carries that machine's diagram (and, with a snapshot, the running child's states
    marked), recursively; a machine already being drawn higher up is not drawn again.
    """
    return _diagram(machine, snapshot, (machine,) if child_charts else None)


def _diagram(
    machine: Machine, snapshot: Snapshot | None, drawing: tuple[Machine, ...] | None
) -> Diagram:
    active = {node.id for node in snapshot.configuration} if snapshot is not None else set()
    config = machine.config
    version = config.get("version")
    charts = _ChildCharts(machine, snapshot, drawing)
    return Diagram(
        machine_id=machine.id,
        root=_state(machine.root, active, charts),
        transitions=tuple(_transition(t) for t in machine.transitions()),
        version=version if isinstance(version, str | int) else None,
        has_context="context" in config,
        context=config.get("context"),
    )


class _ChildCharts:
    """The diagrams of the child machines a machine invokes (``drawing``: ``None`` for none)."""

    def __init__(
        self, machine: Machine, snapshot: Snapshot | None, drawing: tuple[Machine, ...] | None
    ) -> None:
        self.machine = machine
        self.snapshot = snapshot
        self.drawing = drawing

    def chart(self, invocation: Invocation) -> Diagram | None:
        if self.drawing is None:
            return None
        logic = self.machine.actor_logic(invocation.src)
        if not isinstance(logic, Machine) or any(m is logic for m in self.drawing):
            return None
        child = self.snapshot.children.get(invocation.id) if self.snapshot is not None else None
        running = child.snapshot if child is not None and child.src == invocation.src else None
        return _diagram(logic, running, (*self.drawing, logic))


def _state(node: StateNode, active: set[str], charts: _ChildCharts) -> DiagramState:
    initial = node.initial
    default = node.history_default
    return DiagramState(
        id=node.id,
        key=node.key,
        kind=node.type,
        history=node.history,
        children=tuple(_state(child, active, charts) for child in node.children),
        initial=initial.targets[0].id if initial is not None and initial.targets else None,
        entry=tuple(_action(spec) for spec in node.entry),
        exit=tuple(_action(spec) for spec in node.exit),
        active=node.id in active,
        parent=node.parent.id if node.parent is not None else None,
        initial_actions=tuple(_action(s) for s in initial.actions) if initial is not None else (),
        history_default=tuple(t.id for t in default.targets or ()) if default is not None else (),
        has_output=node.has_output,
        output=node.output,
        tags=node.tags,
        description=node.description,
        meta=node.meta,
        invocations=tuple(_invocation(i, charts.chart(i)) for i in node.invoke),
    )


def _invocation(invocation: Invocation, chart: Diagram | None) -> DiagramInvocation:
    value = invocation.input
    name = getattr(value, "name", None) if callable(value) else None
    return DiagramInvocation(
        id=invocation.id,
        src=invocation.src,
        input=None if callable(value) else value,
        input_from=name or None,
        system_id=invocation.system_id,
        on_snapshot=invocation.sync_snapshot,
        portable=not callable(value) or bool(name),
        machine=chart,
    )


def _transition(t: Transition) -> DiagramTransition:
    descriptor = t.descriptor
    if descriptor is None:
        kind, event = "always", "always"
    elif descriptor.startswith(AFTER_PREFIX) and t.delay is not None:
        kind, event = "after", f"after {_delay(t.delay)}"
    elif descriptor == DONE_STATE_PREFIX + t.source.id:
        kind, event = "done", "done"
    elif answer := _actor_answer(descriptor):
        kind, event = "actor", answer
    else:
        kind, event = "event", descriptor
    targets = t.targets or ()
    guard = _guard(t.guard) if t.guard is not None else None
    actions = tuple(_action(spec) for spec in t.actions)
    return DiagramTransition(
        source=t.source.id,
        targets=tuple(target.id for target in targets),
        kind=kind,
        event=event,
        guard=guard.text if guard is not None else None,
        actions=tuple(a.name for a in actions),
        descriptor=descriptor,
        guard_tree=guard,
        action_specs=actions,
        reenter=t.reenter,
        delay=t.delay,
    )


#: the events an actor answers its parent with, and how a diagram labels each
_ACTOR_ANSWERS = (
    (DONE_ACTOR_PREFIX, "onDone"),
    (ERROR_ACTOR_PREFIX, "onError"),
    (SNAPSHOT_PREFIX, "onSnapshot"),
)


def _actor_answer(descriptor: str) -> str | None:
    """``onDone (fetch)`` for ``xstate.done.actor.fetch``, and so on; ``None`` for other events."""
    for prefix, handler in _ACTOR_ANSWERS:
        if descriptor.startswith(prefix) and len(descriptor) > len(prefix):
            actor = descriptor[len(prefix) :]
            if "*" not in actor:
                return f"{handler} ({actor})"
    return None


def _guard(guard: Guard) -> DiagramGuard:
    text = describe(guard)
    if isinstance(guard, NamedGuard):
        return DiagramGuard("named", name=guard.name, params=guard.params, text=text)
    if isinstance(guard, StateInGuard):
        nodes = [n for n in guard.nodes if isinstance(n, StateNode)]
        inner = [n for n in nodes if not any(o.is_descendant_of(n) for o in nodes)]
        ids = tuple(n.id for n in inner)
        return DiagramGuard("stateIn", states=ids, text=text)
    if isinstance(guard, AndGuard | OrGuard):
        kind = "and" if isinstance(guard, AndGuard) else "or"
        return DiagramGuard(kind, guards=tuple(_guard(g) for g in guard.guards), text=text)
    if isinstance(guard, NotGuard):
        return DiagramGuard("not", guards=(_guard(guard.guard),), text=text)
    raise TypeError(f"unknown guard {guard!r}")


def _action(spec: ActionSpec) -> DiagramAction:
    portable = True
    if spec.builtin is not None and builtin_name(spec.name) is not None:
        try:
            portable = builtin_from_json(spec.name, spec.params) == spec.builtin
        except ValueError:
            portable = False
    params = spec.params
    if params is not None:
        try:
            json.dumps(params)
        except (TypeError, ValueError):
            portable = False
    return DiagramAction(spec.name, params, portable)


def _delay(delay: float | str | None) -> str:
    if isinstance(delay, float):
        return f"{int(delay)}ms" if delay.is_integer() else f"{delay}ms"
    return str(delay)


def renamed(diagram: Diagram, prefix: str) -> Diagram:
    """``diagram`` with ``prefix`` before every state id, to draw it beside another diagram."""

    def state(s: DiagramState) -> DiagramState:
        return replace(
            s,
            id=prefix + s.id,
            parent=None if s.parent is None else prefix + s.parent,
            initial=None if s.initial is None else prefix + s.initial,
            history_default=tuple(prefix + t for t in s.history_default),
            children=tuple(state(c) for c in s.children),
        )

    transitions = tuple(
        replace(t, source=prefix + t.source, targets=tuple(prefix + x for x in t.targets))
        for t in diagram.transitions
    )
    return replace(diagram, root=state(diagram.root), transitions=transitions)
