"""The step algorithm: W3C SCXML Appendix D, with XState v5's conventions for JSON machines.

https://www.w3.org/TR/scxml/#AlgorithmforSCXMLInterpretation

One function per SCXML step.  A macrostep takes a snapshot and an event and
returns the next snapshot and the actions for the caller; nothing here does
I/O or reads a clock.  Each microstep is planned first (exit set, entry
set, which states get their default entry) and applied second.

Where XState v5 and SCXML differ, JSON machines follow XState v5:

- transitions are selected region by region (``transitionNode``): a state's
  own transitions are tried only when none of its active descendants has one;
- the transition domain is the least common *ancestor* (a parallel state
  qualifies), and ``reenter: false`` keeps a transition to a descendant of
  its source inside the source;
- candidates for an event are the exact descriptor, then wildcards, longest first;
- eventless transitions are re-selected only after a microstep changed something.

Machines compiled under SCXML's conventions (documents, see ``conventions.py``)
take the SCXML branch at each of those points: document-order selection,
the least common compound ancestor as domain, a failing condition raising
``error.execution``, and the format's hooks around each macrostep.  They are
never replayed from a plan: their executable content reads the datamodel.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from typing import Any

from orderflow.chart.actions import Action, ActionSpec
from orderflow.chart.events import TypedEvent
from orderflow.chart.execution import (
    MachineLike,
    Microstep,
    Run,
    cancel_delayed,
    compute,
    execute,
    guard_passes,
    schedule_delayed,
)
from orderflow.chart.nodes import COMPOUND, FINAL, HISTORY, PARALLEL, StateNode, Transition
from orderflow.chart.plans import (
    MAX_PLANS,
    REFUSED,
    DataPlan,
    Ending,
    MacrostepPlan,
    timer_steps,
)
from orderflow.chart.snapshot import ACTIVE, DONE, ERROR, Snapshot, is_in_final_state
from orderflow.errors import InfiniteLoopError, OrderflowError

_ABOVE_ROOT = None  # the domain of a re-entering transition of the root: every state is inside it


#: what the external event did besides the snapshot and actions: whether it selected a
#: transition with a target or actions, the pending timer it was the delivery of, and the
#: guards that refused it (each transition with its guard's reason)
Outcome = tuple[bool, str | None, tuple[tuple[Transition, str | None], ...]]
INITIAL: Outcome = (True, None, ())


def macrostep(
    machine: MachineLike,
    snapshot: Snapshot,
    event: TypedEvent[Any],
    trace: list[Microstep] | None = None,
) -> tuple[Snapshot, list[Action]]:
    """Process one external event to completion (SCXML's mainEventLoop body for one event).

    With ``trace``, every microstep is appended to it (and no stored plan is replayed).
    """
    if snapshot.status != ACTIVE:
        return snapshot, []
    if machine.scxml:
        result, actions, _ = _unplanned(machine, snapshot, event, trace, _take_document_event)
    else:
        result, actions, _, _ = _planned(machine, snapshot, event, trace, _take_event)
    return result, actions


def macrostep_outcome(
    machine: MachineLike,
    snapshot: Snapshot,
    event: TypedEvent[Any],
    trace: list[Microstep] | None = None,
) -> tuple[Snapshot, list[Action], Outcome]:
    """:func:`macrostep`, and what the external event did (see :data:`Outcome`)."""
    if snapshot.status != ACTIVE:
        return snapshot, [], (False, None, ())
    if machine.scxml:
        return _unplanned(machine, snapshot, event, trace, _take_document_event)
    return _planned(machine, snapshot, event, trace, _take_event)[:3]


def initial_macrostep(
    machine: MachineLike,
    snapshot: Snapshot,
    event: TypedEvent[Any],
    trace: list[Microstep] | None = None,
) -> tuple[Snapshot, list[Action]]:
    """Enter the initial configuration (the root and its default descendants) and settle."""
    if machine.scxml:
        result, actions, _ = _unplanned(machine, snapshot, event, trace, _enter_initial)
    else:
        result, actions, _, _ = _planned(machine, snapshot, event, trace, _enter_initial)
    return result, actions


def _take_event(run: Run, event: TypedEvent[Any]) -> None:
    _consume_timer(run, event)
    _select_and_take(run, event)


def _take_document_event(run: Run, event: TypedEvent[Any]) -> None:
    """SCXML's mainEventLoop body for an external event: the delivered send, the hooks, then selection."""
    if run.timers:  # a delivered send is no longer pending: the one whose event this is
        timer_id = _delivered_send(run.timers, event.data)
        if timer_id is not None:
            del run.timers[timer_id]
            run.consumed = timer_id
            run.changed = True
    hooks = run.machine.hooks
    if hooks is not None:
        hooks.before_external(run, event)
    _select_and_take(run, event)


def _select_and_take(run: Run, event: TypedEvent[Any]) -> None:
    """Select the external event's transitions (noting the guards that refuse) and take them."""
    run.blocked = []
    try:
        transitions = select_transitions(run, event)
    finally:
        blocked, run.blocked = run.blocked, None
    if transitions:
        run.taken = any(t.targets is not None or t.actions for t in transitions)
        microstep(run, transitions, event)
    elif blocked:  # nothing enabled because guards refused (not a transition that does nothing)
        run.refusals = tuple(blocked)


def _delivered_send(timers: Mapping[str, Any], data: Mapping[str, Any]) -> str | None:
    """The pending send an external event delivers: by its ``sendid``, else by its event.

    An event the caller added fields to (who acts, say) still delivers the
    send whose event it carries; one of the same name with other data does not.
    """
    sendid = data.get("sendid")
    if sendid in timers:
        return str(sendid)
    for timer_id, timer in timers.items():
        if timer.event == data:
            return str(timer_id)
    for timer_id, timer in timers.items():
        if all(data.get(key, _MISSING) == value for key, value in timer.event.items()):
            return str(timer_id)
    return None


_MISSING = object()


def _enter_initial(run: Run, event: TypedEvent[Any]) -> None:
    run.changed = True
    run.taken = True
    entry = EntrySet(run.history, run.machine.nodes_by_id)
    entry.enter(run.machine.root)
    entry.default_entry.add(run.machine.root)
    entry.add_descendants(run.machine.root)
    entered = sorted(entry.to_enter, key=_order)
    if run.trace is not None:
        run.trace.append(Microstep(event.type, (), (), tuple(s.id for s in entered)))
    _enter_states(run, entered, entry.default_entry, event, entry.history_content)


def _planned(
    machine: MachineLike,
    snapshot: Snapshot,
    event: TypedEvent[Any],
    trace: list[Microstep] | None,
    first_step: Callable[[Run, TypedEvent[Any]], None],
    actors: Any = None,
) -> tuple[Snapshot, list[Action], Outcome, list[Any] | None]:
    """Run ``first_step`` and settle, or replay the stored plan for the same key (see plans.py).

    ``actors`` is the working actor of a machine with actors (``actor_macrostep``), whose
    snapshot has no children: a macrostep in which no actor takes part (no invocation
    started or stopped, no actor action) is replayed like any other; the last item of
    the answer is what the actor deferred (``Run.deferred``).
    """
    history, timers = snapshot.history, snapshot.timers  # plan_key(snapshot, event.type), inline
    key = (
        snapshot.configuration,
        tuple(history.items()) if history else (),
        tuple(t.id for t in timers) if timers else (),
        event.type,
    )
    plan = machine.plans.get(key) if trace is None else None
    if type(plan) is MacrostepPlan:
        result, actions = plan.replay(snapshot, event, machine.snapshot_at)
        return result, actions, plan.outcome, None
    answers: list[Any] = []
    if plan is not None:
        assert isinstance(plan, DataPlan)
        try:
            replayed = plan.replay(
                snapshot, event, machine.assigner, machine.snapshot_at, answers,
                machine.resolve_delay,
            )  # fmt: skip
        except OrderflowError:
            raise
        except Exception as exc:  # user code raised: record it, apply nothing
            return _failed(machine, snapshot, event, exc), [], (False, plan.consumed, ()), None
        if replayed is not None:
            result, actions, taken, consumed, refusals = replayed
            return result, actions, (taken, consumed, refusals), None
    run = Run(machine, snapshot)
    run.trace = trace
    run.actors = actors
    if trace is None:
        run.tape = []
        run.external = event
        run.answers = deque(answers)  # a miss: what the user code said before it
    try:
        first_step(run, event)
        _settle(run, event)
    except OrderflowError:
        raise
    except Exception as exc:  # user code raised: record it, apply nothing
        return _failed(machine, snapshot, event, exc), [], (False, run.consumed, ()), None
    result = _finish(run) if run.changed else snapshot
    outcome = _outcome(run)
    if run.replayable and trace is None:
        _keep_plan(machine, key, plan, run, snapshot, result, event, outcome)
    return result, run.actions, outcome, run.deferred


def _keep_plan(
    machine: MachineLike,
    key: Any,
    known: MacrostepPlan | DataPlan | None,
    run: Run,
    snapshot: Snapshot,
    result: Snapshot,
    event: TypedEvent[Any],
    outcome: Outcome,
) -> None:
    """Store what a replayable macrostep did under its key (see plans.py)."""
    tape = run.tape
    assert tape is not None
    if not any(step[0] != REFUSED for _, step in tape):  # no user code ran
        if len(machine.plans) >= MAX_PLANS:
            machine.plans.clear()
        machine.plans[key] = MacrostepPlan.record(snapshot, result, run.actions, event, outcome)
        return
    ending = Ending(
        unchanged=result is snapshot,
        configuration=result.configuration,
        status=result.status,
        output=result.output,
        history=result.history,
        timers=timer_steps(snapshot, result),
        taken=outcome[0],
        consumed=outcome[1],
        refused=bool(run.refusals),
    )
    path = DataPlan.path(tape, run.actions, event)
    if isinstance(known, DataPlan):
        known.add(path, ending)
        return
    if len(machine.plans) >= MAX_PLANS:
        machine.plans.clear()
    root, forks = DataPlan.grow(path, 0, ending)
    machine.plans[key] = DataPlan(root, forks, outcome[1])


def _unplanned(
    machine: MachineLike,
    snapshot: Snapshot,
    event: TypedEvent[Any],
    trace: list[Microstep] | None,
    first_step: Callable[[Run, TypedEvent[Any]], None],
) -> tuple[Snapshot, list[Action], Outcome]:
    """Run ``first_step``, settle, and call the format's hook (SCXML's conventions; no plans)."""
    run = Run(machine, snapshot)
    run.trace = trace
    run.replayable = False
    try:
        first_step(run, event)
        _settle(run, event)
        hooks = machine.hooks
        while hooks is not None and run.status == ACTIVE:
            hooks.after_macrostep(run, event)  # may raise internal events: settle them too
            if not run.queue:
                break
            _settle(run, event)
    except OrderflowError:
        raise
    except Exception as exc:  # user code raised: record it, apply nothing
        return _failed(machine, snapshot, event, exc), [], (False, run.consumed, ())
    return (_finish(run) if run.changed else snapshot), run.actions, _outcome(run)


def actor_macrostep(
    machine: MachineLike,
    snapshot: Snapshot,
    event: TypedEvent[Any],
    actors: Any,
    trace: list[Microstep] | None = None,
    *,
    initial: bool = False,
) -> tuple[Snapshot, list[Action], Outcome, list[Any] | None]:
    """One macrostep of a machine that has actors (``actors.py`` drives it).

    ``actors`` is the working actor (``actors.Cell``) that spawns, stops and sends for
    the run; the answer holds its actions and what it deferred until the step is done.
    An actor with no children takes the planned route: a macrostep no actor takes part
    in is stored and replayed as in a machine without actors (starting or stopping an
    invocation and every actor action mark the run as not replayable).
    """
    first_step = _enter_initial if initial else _take_event
    if not snapshot.children and not machine.scxml:
        return _planned(machine, snapshot, event, trace, first_step, actors)
    run = Run(machine, snapshot)
    run.trace = trace
    run.replayable = False
    run.actors = actors
    try:
        first_step(run, event)
        _settle(run, event)
    except OrderflowError:
        raise
    except Exception as exc:  # user code raised: record it, apply nothing
        return _failed(machine, snapshot, event, exc), [], (False, run.consumed, ()), None
    return (_finish(run) if run.changed else snapshot), run.actions, _outcome(run), run.deferred


def _outcome(run: Run) -> Outcome:
    return (run.taken, run.consumed, run.refusals)


def _settle(run: Run, event: TypedEvent[Any]) -> None:
    """Take eventless transitions and internal events until neither is left (SCXML's macrostep loop)."""
    machine = run.machine
    select_eventless = machine.has_always
    steps = 0
    recent: deque[str] = deque(maxlen=64)
    while run.status == ACTIVE:
        transitions = select_eventless_transitions(run, event) if select_eventless else []
        if transitions and machine.scxml:
            microstep(run, transitions, event)  # SCXML selects eventless ones after every microstep
        elif transitions:
            before = (frozenset(run.config), run.context, dict(run.history))
            microstep(run, transitions, event)
            after = (frozenset(run.config), run.context, dict(run.history))
            select_eventless = (
                before[0] != after[0] or before[1] is not after[1] or before[2] != after[2]
            )
        elif run.queue:
            event = run.queue.popleft()
            transitions = select_transitions(run, event)
            if transitions:
                microstep(run, transitions, event)
            select_eventless = machine.has_always
        else:
            return
        steps += 1
        recent.extend(t.source.id for t in transitions)
        if steps > machine.max_microsteps:
            raise InfiniteLoopError(machine.max_microsteps, sorted(set(recent)), event.type)


def _consume_timer(run: Run, event: TypedEvent[Any]) -> None:
    """A delivered timer event is no longer pending: the first pending one of its type."""
    for timer_id, timer in run.timers.items():
        if timer.event.get("type") == event.type:
            del run.timers[timer_id]
            run.consumed = timer_id
            run.changed = True
            return


def _finish(run: Run) -> Snapshot:
    return run.machine.make_snapshot(
        configuration=frozenset(run.config),
        status=run.status,
        context=run.context,
        output=run.output,
        history=run.history,
        timers=tuple(run.timers.values()),
        children=run.children,
    )


def _failed(
    machine: MachineLike, snapshot: Snapshot, event: TypedEvent[Any], exc: Exception
) -> Snapshot:
    error = {"type": type(exc).__name__, "message": str(exc), "event": event.type}
    return machine.make_snapshot(
        configuration=snapshot.configuration,
        status=ERROR,
        context=snapshot.context,
        output=None,
        history=snapshot.history,
        timers=snapshot.timers,
        children=snapshot.children,
        error=error,
    )


# -- selecting transitions ---------------------------------------------------------------------


def select_transitions(run: Run, event: TypedEvent[Any]) -> list[Transition]:
    """The enabled transitions for ``event`` (XState's transitionNode), conflicts removed.

    Under SCXML's conventions, SCXML's selectTransitions: per atomic state in
    document order, the first enabled transition of it or its nearest ancestor.
    """
    if run.machine.scxml:
        enabled = _select_in_document_order(run, event, lambda state: state.candidates(event.type))
    else:
        enabled = _select_below(run.machine.root, run, event)
    if len(enabled) > 1:
        return remove_conflicting_transitions(
            enabled, run.config, run.history, run.machine.nodes_by_id
        )
    return enabled


def _select_below(node: StateNode, run: Run, event: TypedEvent[Any]) -> list[Transition]:
    config = run.config
    if node.type == COMPOUND:
        child = _active_child(node, config)
        if child is not None:
            found = _select_below(child, run, event)
            if found:
                return found
    elif node.type == PARALLEL:
        found = []
        for child in node.children:
            if child in config:
                found.extend(_select_below(child, run, event))
        if found:
            return found
    candidates = node.candidates(event.type) if node.on else ()
    for transition in candidates:
        if transition.guard is None or guard_passes(run, transition, event):
            return [transition]
    return []


def _active_child(node: StateNode, config: AbstractSet[StateNode]) -> StateNode | None:
    """The active child of a compound state, looked up from the smaller side: a state with
    thousands of children must not cost thousands of checks per event."""
    if len(node.children) <= len(config):
        return next((child for child in node.children if child in config), None)
    return next((state for state in config if state.parent is node), None)


def _select_in_document_order(
    run: Run, event: TypedEvent[Any], transitions_of: Callable[[StateNode], Iterable[Transition]]
) -> list[Transition]:
    """SCXML's selection loop; a condition that raises is false (the hooks raise error.execution)."""
    enabled: list[Transition] = []
    hooks = run.machine.hooks
    for atomic in sorted((s for s in run.config if s.is_atomic), key=_order):
        for state in (atomic, *atomic.ancestors):
            chosen = None
            for t in transitions_of(state):
                if t.guard is None:
                    chosen = t
                    break
                try:
                    passed = guard_passes(run, t, event)
                except OrderflowError:
                    raise
                except Exception as exc:
                    if hooks is None:
                        raise
                    hooks.condition_failed(run, exc, event)
                    passed = False
                if passed:
                    chosen = t
                    break
            if chosen is not None:
                if chosen not in enabled:
                    enabled.append(chosen)
                break
    return enabled


def select_eventless_transitions(run: Run, event: TypedEvent[Any]) -> list[Transition]:
    """SCXML's selectEventlessTransitions: per atomic state in document order, the first enabled ``always``."""
    config = run.config
    if run.machine.scxml:
        found = _select_in_document_order(run, event, lambda state: state.always)
        if len(found) > 1:
            return remove_conflicting_transitions(
                found, config, run.history, run.machine.nodes_by_id
            )
        return found
    enabled: list[Transition] = []
    for atomic in sorted((s for s in config if s.is_atomic), key=_order):
        for state in (atomic, *atomic.ancestors):
            chosen = next(
                (t for t in state.always if t.guard is None or guard_passes(run, t, event)),
                None,
            )
            if chosen is not None:
                if chosen not in enabled:
                    enabled.append(chosen)
                break
    if len(enabled) > 1:
        return remove_conflicting_transitions(enabled, config, run.history, run.machine.nodes_by_id)
    return enabled


def remove_conflicting_transitions(
    enabled: list[Transition],
    config: set[StateNode],
    history: Mapping[str, tuple[str, ...]],
    nodes_by_id: Mapping[str, StateNode],
) -> list[Transition]:
    """SCXML's removeConflictingTransitions: when exit sets intersect, a descendant's transition wins, else the earlier one."""
    # The kept transitions' exit sets never intersect, so each exited state has one owner
    # among them: a transition's conflicts are found through its own exit set, and the
    # work grows with the states exited, not with the square of the transitions.
    exit_sets = exit_sets_of(enabled, config, transition_domains(enabled, history, nodes_by_id))
    filtered: dict[Transition, None] = {}
    owner: dict[StateNode, Transition] = {}
    for t1 in enabled:
        exits = exit_sets[t1]
        conflicting = {owner[s]: None for s in exits if s in owner}
        if any(not t1.source.is_descendant_of(t2.source) for t2 in conflicting):
            continue  # preempted by an earlier transition it does not descend from
        for t2 in conflicting:
            del filtered[t2]
            for s in exit_sets[t2]:
                del owner[s]
        filtered[t1] = None
        for s in exits:
            owner[s] = t1
    return list(filtered)


# -- exit and entry sets ---------------------------------------------------------------------------


def effective_targets(
    t: Transition, history: Mapping[str, tuple[str, ...]], nodes_by_id: Mapping[str, StateNode]
) -> list[StateNode]:
    """The states a transition really goes to, with history states replaced by what they remember."""
    result: list[StateNode] = []
    for target in t.targets or ():
        if target.type != HISTORY:
            if target not in result:
                result.append(target)
            continue
        remembered = history.get(target.id)
        if remembered:
            states: Iterable[StateNode] = (nodes_by_id[i] for i in remembered)
        else:
            states = effective_targets(history_default(target), history, nodes_by_id)
        for state in states:
            if state not in result:
                result.append(state)
    return result


def history_default(node: StateNode) -> Transition:
    """The transition a history state takes when it remembers nothing (XState's resolveHistoryDefaultTransition)."""
    if node.history_default is not None:
        return node.history_default
    parent = node.parent
    assert parent is not None
    if parent.type == PARALLEL or parent.initial is None:
        return Transition(node, None, (parent,), None, (), False)
    return parent.initial


def transition_domain(
    t: Transition, history: Mapping[str, tuple[str, ...]], nodes_by_id: Mapping[str, StateNode]
) -> StateNode | None:
    """SCXML's getTransitionDomain, with XState's rules: ``reenter`` and any common ancestor.

    A transition that stays inside its source keeps the source as its domain.  The source
    itself counts as inside only when it is an explicit target: a history state that
    resolves to the source re-enters it, so the domain must contain the source (XState
    keeps the source there and ends with two active children in one compound; SCXML and
    orderflow exit and re-enter it).
    """
    targets = effective_targets(t, history, nodes_by_id)
    source = t.source
    if source.scxml:
        return _document_domain(t, targets)
    # a history state's own place counts too: entering it enters the states between what it
    # resolves to and its parent (the other regions of a parallel state on the way included),
    # so the domain must hold that parent, or those states are entered without being exited
    histories = [h for h in t.targets or () if h.type == HISTORY]
    if (
        not t.reenter
        and all(
            s.is_descendant_of(source) or (s is source and s in (t.targets or ()))
            for s in targets
        )
        and all(h.is_descendant_of(source) for h in histories)
    ):
        return source
    lca = _least_common_ancestor([*targets, *histories, source])
    if lca is not None:
        return lca
    return _ABOVE_ROOT if t.reenter else _root_of(source)


def _document_domain(t: Transition, targets: list[StateNode]) -> StateNode | None:
    """SCXML's getTransitionDomain: the source for an internal transition inside a compound
    source, else the least common compound ancestor (a parallel state does not qualify)."""
    source = t.source
    if (
        not t.reenter
        and source.type == COMPOUND
        and all(s.is_descendant_of(source) for s in targets)
    ):
        return source
    for ancestor in source.ancestors:
        if ancestor.type == COMPOUND and all(s.is_descendant_of(ancestor) for s in targets):
            return ancestor
    return _ABOVE_ROOT


def _least_common_ancestor(nodes: list[StateNode]) -> StateNode | None:
    head, tail = nodes[0], nodes[1:]
    for ancestor in head.ancestors:
        if all(n.is_descendant_of(ancestor) for n in tail):
            return ancestor
    return None


def _root_of(node: StateNode) -> StateNode:
    return node.ancestors[-1] if node.ancestors else node


def _inside(node: StateNode, domain: StateNode | None) -> bool:
    return domain is None or node.is_descendant_of(domain)


Domains = Mapping[Transition, StateNode | None]


def transition_domains(
    transitions: Iterable[Transition],
    history: Mapping[str, tuple[str, ...]],
    nodes_by_id: Mapping[str, StateNode],
) -> dict[Transition, StateNode | None]:
    """Each transition's domain, computed once per microstep, before the exits record history.

    Exit and entry must agree on it: a transition into a history state of a state it
    exits has one target before the exit records the history and another after.
    """
    return {t: transition_domain(t, history, nodes_by_id) for t in transitions if t.targets}


def compute_exit_set(
    transitions: Iterable[Transition], config: Iterable[StateNode], domains: Domains
) -> list[StateNode]:
    """SCXML's computeExitSet: the active states each transition's domain contains."""
    to_exit: dict[StateNode, None] = {}
    for exits in exit_sets_of(transitions, config, domains).values():
        to_exit.update(dict.fromkeys(exits))
    return list(to_exit)


def exit_sets_of(
    transitions: Iterable[Transition], config: Iterable[StateNode], domains: Domains
) -> dict[Transition, list[StateNode]]:
    """Each transition's exit set (none for a targetless one), from one pass over the configuration.

    Every active state is put under the domains among its ancestors, so N transitions
    in N parallel regions cost the configuration times its depth, not N times the
    configuration.
    """
    by_domain: dict[StateNode | None, list[Transition]] = {}
    for t in transitions:
        if t.targets:
            by_domain.setdefault(domains[t], []).append(t)
    inside: dict[StateNode | None, list[StateNode]] = {domain: [] for domain in by_domain}
    everything = inside.get(_ABOVE_ROOT)
    for state in config:
        if everything is not None:
            everything.append(state)
        for ancestor in state.ancestors:
            bucket = inside.get(ancestor)
            if bucket is not None:
                bucket.append(state)
    result: dict[Transition, list[StateNode]] = {}
    for domain, owners in by_domain.items():
        for t in owners:
            exits = inside[domain]
            if t.reenter and domain is t.source:
                exits = [*exits, domain]
            result[t] = exits
    for t in transitions:
        result.setdefault(t, [])
    return result


def compute_entry_set(
    transitions: Iterable[Transition],
    domains: Domains,
    history: Mapping[str, tuple[str, ...]],
    nodes_by_id: Mapping[str, StateNode],
) -> EntrySet:
    """SCXML's computeEntrySet: the states to enter, and those entered by default (their initial actions run)."""
    entry = EntrySet(history, nodes_by_id)
    for t in transitions:
        if t.targets:
            entry.add_transition(t, domains[t])
    return entry


class EntrySet:
    """The states a microstep enters, those it enters by default, and whether any history decided them.

    The entry set never depends on the configuration; when no history state was read it
    depends on the transitions alone, and ``microstep`` keeps it on the transition.
    """

    __slots__ = (
        "default_entry",
        "history",
        "history_content",
        "nodes_by_id",
        "read_history",
        "to_enter",
        "with_entered_descendant",
    )

    def __init__(
        self, history: Mapping[str, tuple[str, ...]], nodes_by_id: Mapping[str, StateNode]
    ) -> None:
        self.to_enter: set[StateNode] = set()
        #: the proper ancestors of the states in ``to_enter``: "is a descendant of this
        #: region entered already?" answered by one lookup (N regions would cost N² scans)
        self.with_entered_descendant: set[StateNode] = set()
        self.default_entry: set[StateNode] = set()
        self.history = history
        self.nodes_by_id = nodes_by_id
        self.read_history = False
        #: a history state's default transition content, by the state it restores (SCXML's
        #: defaultHistoryContent); ``None`` while there is none
        self.history_content: dict[StateNode, tuple[ActionSpec, ...]] | None = None

    def add_transition(self, t: Transition, domain: StateNode | None) -> None:
        """The body of SCXML's computeEntrySet loop, with XState's rule for a self-target."""
        for s in t.targets or ():
            if s.type == HISTORY:
                self.read_history = True
            elif s is not t.source or t.source is not domain or t.reenter:
                self.enter(s)
                self.default_entry.add(s)
            self.add_descendants(s)
        reentrancy = _ABOVE_ROOT if (t.source.parent is None and t.reenter) else domain
        for s in effective_targets(t, self.history, self.nodes_by_id):
            ancestors = _proper_ancestors(s, domain)
            if domain is not None and domain.type == PARALLEL:
                ancestors.append(domain)
            self.add_ancestors(ancestors, reentrancy)

    def enter(self, state: StateNode) -> None:
        if state not in self.to_enter:
            self.to_enter.add(state)
            self.with_entered_descendant.update(state.ancestors)

    def add_descendants(self, state: StateNode) -> None:
        """SCXML's addDescendantStatesToEnter."""
        enter = self.enter
        if state.type == HISTORY:
            self.read_history = True
            parent = state.parent
            assert parent is not None
            remembered = self.history.get(state.id)
            if remembered:
                targets = [self.nodes_by_id[i] for i in remembered]
            else:
                default = history_default(state)
                targets = list(default.targets or ())
                if default is parent.initial:
                    self.default_entry.add(parent)
                elif default.actions:
                    if self.history_content is None:
                        self.history_content = {}
                    self.history_content[parent] = default.actions
            for s in targets:
                enter(s)
                self.add_descendants(s)
            for s in targets:
                self.add_ancestors(_proper_ancestors(s, parent), _ABOVE_ROOT)
        elif state.type == COMPOUND:
            assert state.initial is not None and state.initial.targets
            initials = state.initial.targets  # one child, or (SCXML) several descendants
            for initial in initials:
                if initial.type != HISTORY:
                    enter(initial)
                    self.default_entry.add(initial)
                self.add_descendants(initial)
            for initial in initials:
                self.add_ancestors(_proper_ancestors(initial, state), _ABOVE_ROOT)
        elif state.type == PARALLEL:
            for child in state.states:
                if child not in self.with_entered_descendant:
                    enter(child)
                    self.default_entry.add(child)
                    self.add_descendants(child)

    def add_ancestors(self, ancestors: list[StateNode], reentrancy: StateNode | None) -> None:
        """SCXML's addAncestorStatesToEnter (with XState's re-entrancy domain)."""
        for ancestor in ancestors:
            if _inside(ancestor, reentrancy):
                self.enter(ancestor)
            if ancestor.type == PARALLEL:
                for child in ancestor.states:
                    if child not in self.with_entered_descendant:
                        self.enter(child)
                        self.add_descendants(child)


def _proper_ancestors(node: StateNode, upto: StateNode | None) -> list[StateNode]:
    """The ancestors of ``node`` below ``upto``, nearest first (none when ``node`` is ``upto``)."""
    if node is upto:
        return []
    result = []
    for ancestor in node.ancestors:
        if ancestor is upto:
            break
        result.append(ancestor)
    return result


# -- the microstep ------------------------------------------------------------------------------


def microstep(run: Run, transitions: list[Transition], event: TypedEvent[Any]) -> None:
    """SCXML's microstep: plan exit set, history and entry set, then exit, run transition actions, enter.

    The entry set is planned with the history the exits record, as SCXML's enterStates
    runs after exitStates: a transition back into a history state it leaves restores
    what was active a moment ago.
    """
    run.changed = True
    nodes_by_id = run.machine.nodes_by_id
    single = transitions[0] if len(transitions) == 1 else None
    plan = single.entry_plan if single is not None else None
    history_content = None
    if plan is not None:
        domain, entered, default_entry = plan
        domains: Domains = {single: domain} if single is not None and single.targets else {}
    else:
        domains = transition_domains(transitions, run.history, nodes_by_id)
    to_exit = sorted(compute_exit_set(transitions, run.config, domains), key=_order, reverse=True)
    history = recorded_history(to_exit, run.config, run.history)
    if plan is None:
        entry = compute_entry_set(transitions, domains, history, nodes_by_id)
        history_content = entry.history_content
        entered = tuple(sorted(entry.to_enter, key=_order))
        default_entry = frozenset(entry.default_entry)
        if single is not None and not entry.read_history:
            single.entry_plan = (domains.get(single), entered, default_entry)
    if run.trace is not None:
        run.trace.append(
            Microstep(
                event.type,
                tuple(
                    (t.source.id, tuple(n.id for n in t.targets) if t.targets is not None else None)
                    for t in transitions
                ),
                tuple(s.id for s in to_exit),
                tuple(s.id for s in entered),
                tuple(t.path for t in transitions),
            )
        )
    run.history = history
    _exit_states(run, to_exit, event)
    for t in transitions:
        execute(run, t.actions, event)
    _enter_states(run, entered, default_entry, event, history_content)


def recorded_history(
    to_exit: list[StateNode], config: set[StateNode], history: dict[str, tuple[str, ...]]
) -> dict[str, tuple[str, ...]]:
    """SCXML's exitStates, first half: what each history state of an exited state remembers."""
    recorded = history
    for state in to_exit:
        for h in state.children:
            if h.type != HISTORY:
                continue
            if h.history == "deep":
                remembered = [s for s in config if s.is_atomic and s.is_descendant_of(state)]
            else:
                remembered = [s for s in config if s.parent is state]
            if recorded is history:
                recorded = dict(history)
            recorded[h.id] = tuple(s.id for s in sorted(remembered, key=_order))
    return recorded


def _exit_states(run: Run, to_exit: list[StateNode], event: TypedEvent[Any]) -> None:
    """SCXML's exitStates, second half: exit actions innermost first."""
    for state in to_exit:
        execute(run, state.exit, event)
        cancel_delayed(run, state, event)
        if state.invoke:  # XState stops a state's invoked children after its exit actions
            run.actors.stop_invocations(run, state, event)
        run.config.discard(state)


def _enter_states(
    run: Run,
    to_enter: Sequence[StateNode],
    default_entry: AbstractSet[StateNode],
    event: TypedEvent[Any],
    history_content: Mapping[StateNode, tuple[ActionSpec, ...]] | None = None,
) -> None:
    """SCXML's enterStates: entry actions outermost first; a final state raises done events."""
    completed: set[StateNode] = set()
    for state in to_enter:
        run.config.add(state)
        if state.invoke:  # a send to one of its invocations in the entry waits for the spawn
            run.actors.before_entry(state)
        execute(run, state.entry, event)
        schedule_delayed(run, state, event)
        if state.invoke:  # XState spawns a state's invoked children after its entry actions
            run.actors.start_invocations(run, state, event)
        if state in default_entry and state.initial is not None and state.initial.actions:
            execute(run, state.initial.actions, event)
        if history_content and state in history_content:
            execute(run, history_content[state], event)
        if state.type == FINAL:
            _reach_final(run, state, completed, event)
            if run.status != ACTIVE:
                return


def _reach_final(
    run: Run, state: StateNode, completed: set[StateNode], event: TypedEvent[Any]
) -> None:
    """Queue the done events a final state causes; finish the machine when its root is done."""
    parent = state.parent
    assert parent is not None
    marker = parent if parent.type == PARALLEL else parent.parent
    completion = marker or state
    machine = run.machine
    prefix = machine.done_state_prefix
    final_output = None
    if parent.type == COMPOUND:
        done: dict[str, Any] = {"type": prefix + parent.id}
        if state.has_output:
            final_output = compute(run, state.output, event)
            done[machine.done_data_key] = final_output
        run.queue.append(TypedEvent.internal(done))
    while (
        marker is not None
        and marker.type == PARALLEL
        and marker not in completed
        and is_in_final_state(run.config, marker)
    ):
        completed.add(marker)
        run.queue.append(TypedEvent.internal({"type": prefix + marker.id}))
        completion = marker
        marker = marker.parent
    if marker is not None:
        return
    if completion is not state:
        final_output = (
            compute(run, completion.output, event)
            if completion.has_output and completion.parent
            else None
        )
    if machine.has_output:
        done_event = TypedEvent.internal({"type": prefix + completion.id, "output": final_output})
        run.output = compute(run, machine.output, done_event)
    else:
        run.output = final_output
    run.status = DONE
    for active in sorted(run.config, key=_order, reverse=True):
        execute(run, active.exit, event)
        cancel_delayed(run, active, event)
    for timer_id in list(run.timers):  # a finished machine keeps no delayed event pending
        del run.timers[timer_id]
        run.actions.append(Action("cancel", {"id": timer_id}, event))


# -- actions -------------------------------------------------------------------------------------


def _order(node: StateNode) -> int:
    return node.order
