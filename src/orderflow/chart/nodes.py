"""The compiled state tree: immutable nodes and transitions, indexed once at creation.

Everything here depends only on the definition.  ``definition.py`` builds
it; ``algorithm.py`` reads it.  Nodes compare by identity, so a
configuration is simply a set of nodes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from orderflow.chart.actions import ActionSpec
from orderflow.chart.guards import Guard

ATOMIC, COMPOUND, PARALLEL, FINAL, HISTORY = "atomic", "compound", "parallel", "final", "history"


@dataclass(eq=False, slots=True)
class Transition:
    """One transition of a state, as compiled.

    ``targets`` is ``None`` for a target-less transition (actions only, no
    exit or entry).  ``descriptor`` is the event descriptor it listens to
    (``None`` for eventless ``always`` transitions and initial transitions).
    """

    source: StateNode
    descriptor: str | None
    targets: tuple[StateNode, ...] | None
    guard: Guard | None
    actions: tuple[ActionSpec, ...]
    reenter: bool
    order: int = 0
    delay: float | str | None = None
    path: str = ""
    #: whether the guard reads context or event data (anything but stateIn)
    guard_reads_data: bool = False
    #: (domain, states entered in order, states entered by default), kept by the algorithm the
    #: first time it plans this transition alone, when no history state decided the entry
    entry_plan: tuple[StateNode | None, tuple[StateNode, ...], frozenset[StateNode]] | None = None

    def __repr__(self) -> str:
        target = ", ".join(t.id for t in self.targets) if self.targets is not None else "(none)"
        return f"<Transition {self.source.id} --{self.descriptor or 'always'}--> {target}>"


@dataclass(eq=False, slots=True)
class Delayed:
    """An ``after`` entry of a state: the timer to schedule on entry and cancel on exit."""

    event_type: str
    delay: float | str


@dataclass(frozen=True, slots=True)
class Invocation:
    """An ``invoke`` entry of a state: the child actor started on entry and stopped on exit.

    ``input`` is the value given to the child, or ``callable(context, event, params)``
    computing it (a named input function or a Python config's callable).
    """

    id: str
    src: str
    input: Any = None
    system_id: str | None = None
    #: whether the parent hears every snapshot of the child (``onSnapshot`` is defined)
    sync_snapshot: bool = False


@dataclass(eq=False, slots=True)
class StateNode:
    """A state of the compiled tree.  Built by ``definition.py``; never changed afterwards."""

    key: str
    id: str
    type: str
    parent: StateNode | None
    order: int = 0
    path: tuple[str, ...] = ()
    depth: int = 0
    children: tuple[StateNode, ...] = ()
    #: children that are real states (history pseudo-states left out), and the same by key
    states: tuple[StateNode, ...] = ()
    by_key: dict[str, StateNode] = field(default_factory=dict)
    #: atomic or final: no child states
    is_atomic: bool = False
    #: proper ancestors, nearest first
    ancestors: tuple[StateNode, ...] = ()
    initial: Transition | None = None
    history: str | None = None
    history_default: Transition | None = None
    entry: tuple[ActionSpec, ...] = ()
    exit: tuple[ActionSpec, ...] = ()
    on: dict[str, tuple[Transition, ...]] = field(default_factory=dict)
    #: wildcard descriptors of ``on``, longest first (XState's candidate order)
    wildcards: tuple[str, ...] = ()
    always: tuple[Transition, ...] = ()
    after: tuple[Delayed, ...] = ()
    #: the child actors this state invokes, in definition order
    invoke: tuple[Invocation, ...] = ()
    output: Any = None
    has_output: bool = False
    tags: tuple[str, ...] = ()
    meta: Any = None
    description: str | None = None
    #: compiled under SCXML's conventions (see conventions.py)
    scxml: bool = False
    _candidates: dict[str, tuple[Transition, ...]] = field(default_factory=dict)

    def is_descendant_of(self, other: StateNode) -> bool:
        return other in self.ancestors

    def candidates(self, event_type: str) -> tuple[Transition, ...]:
        """This node's transitions for ``event_type``, in the order they are tried.

        The exact descriptor first, then the wildcard descriptors that match,
        longest first (XState v5's ``getCandidates``); under SCXML's conventions,
        every transition whose descriptor matches, in document order.  Cached per event type.
        """
        cached = self._candidates.get(event_type)
        if cached is not None:
            return cached
        if self.scxml:  # SCXML: every matching transition, in document order
            result = tuple(
                sorted(
                    (
                        t
                        for descriptor, ts in self.on.items()
                        if matches_scxml_descriptor(event_type, descriptor)
                        for t in ts
                    ),
                    key=lambda t: t.order,
                )
            )
        else:
            found = list(self.on.get(event_type, ()))
            for descriptor in self.wildcards:
                if matches_descriptor(event_type, descriptor):
                    found.extend(self.on[descriptor])
            result = tuple(found)
        if len(self._candidates) < 512:  # bounded: event types come from outside
            self._candidates[event_type] = result
        return result

    def __repr__(self) -> str:
        return f"<StateNode {self.id} ({self.type})>"


def is_wildcard(descriptor: str) -> bool:
    return descriptor == "*" or descriptor.endswith(".*")


def matches_descriptor(event_type: str, descriptor: str) -> bool:
    """XState's event descriptor match: exact, ``*``, or ``prefix.*`` (which also matches ``prefix``)."""
    if descriptor == event_type or descriptor == "*":
        return True
    if not descriptor.endswith(".*"):
        return False
    prefix = descriptor[:-2]
    return event_type == prefix or event_type.startswith(prefix + ".")


def matches_scxml_descriptor(event_type: str, descriptor: str) -> bool:
    """SCXML's event descriptor match (section 3.12.1).

    A descriptor is a space-separated list of tokens; a token matches an event
    name equal to it or starting with it followed by ``.``; ``*`` matches any
    name, and a trailing ``.*`` (or ``.``) on a token is ignored.
    """
    for token in descriptor.split():
        if token == "*":
            return True
        if token.endswith(".*"):
            token = token[:-2]
        elif token.endswith("."):
            token = token[:-1]
        if event_type == token or event_type.startswith(token + "."):
            return True
    return False
