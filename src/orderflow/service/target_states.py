"""The target-state view of a statechart, for teams coming from ``transition(record, to_state)`` APIs.

A target-state workflow asks "can this record go to *shipped*?".  A
statechart asks "what does event *SHIP* do?".  :func:`find_event` answers
the first with the second: it tries every event the active states listen
to, on the pure core, and keeps those whose result matches the wanted
state.  Two events that both lead there are reported as ambiguous rather
than one picked silently.
"""

from __future__ import annotations

import weakref
from collections.abc import Mapping
from typing import Any

from orderflow.chart import Machine, Snapshot
from orderflow.chart.guards import describe
from orderflow.chart.nodes import matches_descriptor, matches_scxml_descriptor
from orderflow.errors import InvalidEventError, UnknownStateError
from orderflow.service.identity import is_internal_event, with_actor
from orderflow.service.results import EventOption, TransitionAttempt, TransitionOption


def user_events(machine: Machine, snapshot: Snapshot) -> list[str]:
    """Event types a caller may send now: the active states' descriptors minus internal and wildcard ones."""
    return [
        e
        for e in machine.next_events(snapshot)
        if not is_internal_event(machine, e) and not e.endswith("*")
    ]


def handles(machine: Machine, event_type: str) -> bool:
    """Does any state of ``machine`` listen to ``event_type``, by the machine's own matching?

    XState's ``A.*`` matches ``A`` as well as ``A.x``; an SCXML descriptor is a
    list of prefix tokens.  The same rule the core selects transitions by, so
    the service never calls an event unknown that the core would take.
    """
    known = _HANDLED.get(machine)
    if known is None:
        known = _HANDLED[machine] = {}
    found = known.get(event_type)
    if found is None:
        matches = matches_scxml_descriptor if machine.scxml else matches_descriptor
        found = any(matches(event_type, descriptor) for descriptor in machine.events)
        if len(known) < _HANDLED_LIMIT:  # event types are the caller's: keep the memo bounded
            known[event_type] = found
    return found


#: per machine, the answers :func:`handles` gave (a machine's definition never changes)
_HANDLED: weakref.WeakKeyDictionary[Machine, dict[str, bool]] = weakref.WeakKeyDictionary()
_HANDLED_LIMIT = 1024


def event_options(machine: Machine, snapshot: Snapshot, acting: Any = None) -> list[EventOption]:
    """The events a caller may send now, each allowed or not for who acts (``acting``)."""
    options = []
    for event_type in user_events(machine, snapshot):
        try:
            explanation = machine.explain(
                snapshot, with_actor(machine, {"type": event_type}, acting)
            )
        except InvalidEventError:  # judged when the payload comes; where it would lead is known
            targets = _static_targets(snapshot, event_type)
            needed = _payload_needed(machine, event_type)
            options.append(EventOption(event_type, True, needed, targets, needs_payload=True))
            continue
        if explanation.fired:
            targets = tuple(t for c in explanation.fired for t in (c.targets or ()))
            options.append(EventOption(event_type, True, None, targets))
        else:
            options.append(EventOption(event_type, False, str(explanation)))
    return options


def transitions_from(machine: Machine, state: str) -> list[TransitionOption]:
    """Every transition that applies while ``state`` (a dotted path or a state id) is active."""
    node = resolve_state(machine, state)
    options = []
    for source in (node, *node.ancestors):
        timers = {delayed.event_type for delayed in source.after}
        for descriptor, transitions in source.on.items():
            if is_internal_event(machine, descriptor) and descriptor not in timers:
                continue  # done events and the like; a state's own ``after`` timers are listed
            for t in transitions:
                options.append(
                    TransitionOption(
                        descriptor,
                        source.id,
                        tuple(n.id for n in t.targets) if t.targets is not None else None,
                        None if t.guard is None else describe(t.guard),
                    )
                )
    return options


def find_event(
    machine: Machine,
    snapshot: Snapshot,
    to_state: str,
    params: Mapping[str, Any] | None,
    acting: Any = None,
) -> TransitionAttempt:
    """Which single event, sent by who acts (``acting``), moves ``snapshot`` into ``to_state``.

    Only events a caller may send are tried (see :func:`user_events`): a
    state reached by a timer alone is not a target.
    """
    wanted = resolve_state(machine, to_state)
    leading: list[str] = []
    blocked: list[str] = []
    for event_type in user_events(machine, snapshot):
        event = with_actor(machine, {**(params or {}), "type": event_type}, acting)
        try:
            after, _ = machine.transition(snapshot, event)
        except InvalidEventError as exc:
            blocked.append(f"{event_type}: {exc}")
            continue
        if after.status == "error" or after is snapshot or wanted not in after.configuration:
            if after is snapshot and _targets_state(machine, snapshot, event_type, to_state):
                blocked.append(str(machine.explain(snapshot, event)))
            continue
        leading.append(event_type)
    if wanted in snapshot.configuration and not leading:
        return TransitionAttempt(False, to_state, snapshot.value, reason=f"already in '{to_state}'")
    if len(leading) == 1:
        return TransitionAttempt(True, to_state, snapshot.value, leading[0], None, tuple(leading))
    if leading:
        return TransitionAttempt(
            False,
            to_state,
            snapshot.value,
            reason=f"ambiguous: events {', '.join(leading)} all lead to '{to_state}'; send one of them",
            candidates=tuple(leading),
        )
    reason = "; ".join(blocked) or f"no event leads from {snapshot.value!r} to '{to_state}'"
    return TransitionAttempt(False, to_state, snapshot.value, reason=reason)


def resolve_state(machine: Machine, state: str) -> Any:
    """The node a dotted path (``"sale.paid"``) or a state id (``"#order.sale.paid"``) names."""
    for key in (state, f"{machine.id}.{state}"):
        try:
            return machine.state(key)
        except KeyError:
            continue
    raise UnknownStateError(machine.id, state)


def _payload_needed(machine: Machine, event_type: str) -> str:
    """What a payload of ``event_type`` must hold, in one line (its model's required fields)."""
    model = machine.implementations.events.get(event_type)
    fields = [] if model is None else [n for n, f in model.model_fields.items() if f.is_required()]
    return "judged when sent with its payload" + (f": {', '.join(fields)}" if fields else "")


def _static_targets(snapshot: Snapshot, event_type: str) -> tuple[str, ...]:
    """The states the active states' transitions for ``event_type`` name (guards not evaluated)."""
    found: dict[str, None] = {}
    for node in sorted(snapshot.configuration, key=lambda n: n.order):
        for t in node.candidates(event_type) if node.on else ():
            for target in t.targets or ():
                found.setdefault(target.id, None)
    return tuple(found)


def _targets_state(machine: Machine, snapshot: Snapshot, event_type: str, to_state: str) -> bool:
    """Does a candidate transition for ``event_type`` name ``to_state`` (so its block is worth reporting)?"""
    wanted = resolve_state(machine, to_state)
    for node in snapshot.configuration:
        for t in node.candidates(event_type) if node.on else ():
            if t.targets and any(n is wanted or n.is_descendant_of(wanted) for n in t.targets):
                return True
    return False
