"""Reusing what the definition and the configuration decided about a macrostep.

Everything about a macrostep that does not come from user code (the transitions
selected, their domains, exit and entry sets, the next configuration, history,
timers, status and the actions with their causing events) depends only on the
snapshot's configuration, history, pending timer ids, the event type and the
outcomes of the guards that read data.  The machine keeps such results in a
bounded table keyed by the first four (:func:`plan_key`).

- A macrostep that ran no user code is a :class:`MacrostepPlan`: replaying it
  copies the result.
- One that evaluated guards reading data, or ran assignments, effects whose
  parameters are computed or named delays, is a :class:`DataPlan`: a small decision tree over
  the guards' outcomes whose paths hold only the user code to run again, in
  order, between the fixed actions.  A replay runs that code against the
  current context and event and follows the guards' outcomes; an outcome not
  seen yet under this key is a miss, and the caller runs the whole algorithm,
  which records the new path.  The answers the user code gave before the miss
  are handed to that run, so every guard, assignment and effect parameter
  function is still called once per event.

Named delays and the computed events of ``emit`` and messages of ``log`` are user
code too: they are recorded and run again like an effect's parameters (a named
delay's timer is made anew, with the delay it gives now).  Whatever cannot be
replayed this way (a computed raise or output, a document's executable content,
an assignment that hands the context back as it was) is marked not replayable by
the algorithm as it runs, and that path is never stored.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from orderflow.chart.actions import Action
from orderflow.chart.events import TypedEvent
from orderflow.chart.nodes import StateNode, Transition
from orderflow.chart.snapshot import Snapshot, Timer

PlanKey = tuple[frozenset[StateNode], tuple[Any, ...], tuple[str, ...], str]
#: how a replay makes its snapshot: (configuration, status, context, output, history, timers)
MakeSnapshot = Callable[
    [frozenset[StateNode], str, Any, Any, Mapping[str, tuple[str, ...]], tuple[Timer, ...]],
    Snapshot,
]
MAX_PLANS = 4096
#: the guard outcomes one key's decision tree may tell apart; past that, misses stay misses
MAX_FORKS = 256


def plan_key(snapshot: Snapshot, event_type: str) -> PlanKey:
    """The key a macrostep's plan is kept under (``algorithm._planned`` builds it inline)."""
    history = tuple(snapshot.history.items()) if snapshot.history else ()
    timers = tuple(t.id for t in snapshot.timers) if snapshot.timers else ()
    return (snapshot.configuration, history, timers, event_type)


def timer_steps(before: Snapshot, after: Snapshot) -> tuple[str | Timer, ...]:
    """The resulting timers, each carried over from the input (by id) or new."""
    carried = {t.id: t for t in before.timers}
    return tuple(t.id if carried.get(t.id) is t else t for t in after.timers)


@dataclass(slots=True)
class MacrostepPlan:
    """What a replayable macrostep did, ready to apply to another snapshot with the same key."""

    unchanged: bool
    configuration: frozenset[StateNode]
    status: str
    output: Any
    history: Mapping[str, tuple[str, ...]]
    #: the resulting timers, each either carried over from the input (by id) or new
    timers: tuple[str | Timer, ...]
    #: (type, params, causing event); ``None`` for the event stands for the external event
    actions: tuple[tuple[str, Any, TypedEvent[Any] | None], ...]
    #: what the external event did (taken, the timer it consumed, the guards that refused)
    outcome: tuple[bool, str | None, tuple[Any, ...]] = (True, None, ())
    #: the last snapshot this plan produced, and the input it came from: snapshots are
    #: immutable, so the same input (by identity) may be answered with the same result
    last: tuple[Snapshot, Snapshot] | None = None

    @staticmethod
    def record(
        before: Snapshot,
        after: Snapshot,
        actions: list[Action],
        external: TypedEvent[Any],
        outcome: tuple[bool, str | None, tuple[Any, ...]] = (True, None, ()),
    ) -> MacrostepPlan:
        timers = timer_steps(before, after)
        return MacrostepPlan(
            unchanged=after is before,
            configuration=after.configuration,
            status=after.status,
            output=after.output,
            history=after.history,
            timers=timers,
            actions=tuple(
                (a.type, a.params, None if a.event is external else a.event) for a in actions
            ),
            outcome=outcome,
        )

    def replay(
        self, snapshot: Snapshot, external: TypedEvent[Any], make_snapshot: MakeSnapshot
    ) -> tuple[Snapshot, list[Action]]:
        actions = [
            Action(kind, params, external if ev is None else ev)
            for kind, params, ev in self.actions
        ]
        if self.unchanged:
            return snapshot, actions
        last = self.last
        if last is not None:
            source, result = last
            if (
                source.context is snapshot.context
                and source.timers is snapshot.timers
                and source.output is snapshot.output
            ):
                return result, actions
        if self.timers:
            carried = {t.id: t for t in snapshot.timers}
            timers = tuple(carried[t] if isinstance(t, str) else t for t in self.timers)
        else:
            timers = ()
        result = make_snapshot(
            self.configuration, self.status, snapshot.context, self.output, self.history, timers
        )
        self.last = (snapshot, result)
        return result, actions


# -- plans with user code ------------------------------------------------------------------------


#: the steps of a data plan's path, each a tuple led by its kind; ``cause`` is ``None`` for the
#: external event (it differs at every replay) and the internal event itself otherwise
ACTION = 0  #: (ACTION, type, params, cause data): an action decided by the definition alone
EFFECT = 1  #: (EFFECT, name, params function, cause): a named effect with computed parameters
ASSIGN = 2  #: (ASSIGN, update, params, cause): an assignment (a function or a mapping of constants)
#: (REFUSED, transition, reason, None): a guard reading no data refused the external event
REFUSED = 3
#: (DELAY, (timer id, timer event), delay name, cause): a timer whose delay is named (user code);
#: the step is its ``schedule`` action
DELAY = 4
#: the steps that are the action at their position (see :meth:`DataPlan.path`)
_PRODUCING = frozenset({EFFECT, DELAY})
Op = tuple[Any, ...]


@dataclass(slots=True, eq=False)
class Fork:
    """A guard that reads data, evaluated where the algorithm evaluated it; a path for each outcome."""

    transition: Transition
    #: the configuration when it was evaluated (a ``stateIn`` inside it reads it)
    configuration: frozenset[StateNode]
    cause: TypedEvent[Any] | None
    #: whether a refusal counts among the external event's refusals
    noted: bool
    passed: Branch | None = None
    failed: Branch | None = None


@dataclass(slots=True)
class Ending:
    """Where a path of a data plan ends: everything but the context, as a MacrostepPlan has it."""

    unchanged: bool
    configuration: frozenset[StateNode]
    status: str
    output: Any
    history: Mapping[str, tuple[str, ...]]
    timers: tuple[str | Timer, ...]
    taken: bool
    consumed: str | None
    #: whether the refusals noted along the path are the external event's refusals
    refused: bool


@dataclass(slots=True, eq=False)
class Branch:
    ops: tuple[Op, ...]
    end: Fork | Ending


#: what the algorithm records while it runs: (number of actions so far, an op or a data
#: guard's fork with its outcome)
Tape = list[tuple[int, Op | tuple[Fork, bool]]]


class DataPlan:
    """A decision tree over the data guards' outcomes for one key (see the module docstring)."""

    __slots__ = ("consumed", "forks", "root")

    def __init__(self, root: Branch, forks: int, consumed: str | None) -> None:
        self.root = root
        self.forks = forks
        #: the pending timer the event is the delivery of (decided by the key), for a replay
        #: whose user code raises
        self.consumed = consumed

    @staticmethod
    def path(
        tape: Tape,
        actions: list[Action],
        external: TypedEvent[Any],
    ) -> list[Op | tuple[Fork, bool]]:
        """The recorded user code merged with the fixed actions, in the order they happened.

        Each tape entry holds the number of actions there were when it ran; an effect's
        (or a named delay's) entry is the action at that position.
        """
        merged: list[Op | tuple[Fork, bool]] = []
        k = 0
        for j, action in enumerate(actions):
            produced = False
            while k < len(tape) and tape[k][0] <= j:
                step = tape[k][1]
                k += 1
                merged.append(step)
                if step[0] in _PRODUCING:
                    produced = True
                    break
            if not produced:
                cause = None if action.event is external else action.event
                merged.append((ACTION, action.type, action.params, cause))
        merged.extend(step for _, step in tape[k:])
        return merged

    @staticmethod
    def grow(path: list[Op | tuple[Fork, bool]], start: int, ending: Ending) -> tuple[Branch, int]:
        """A new branch for ``path[start:]``, and the number of forks in it."""
        ops: list[Op] = []
        for i in range(start, len(path)):
            step = path[i]
            if isinstance(step[0], Fork):
                fork, passed = step
                rest, forks = DataPlan.grow(path, i + 1, ending)
                if passed:
                    fork.passed = rest
                else:
                    fork.failed = rest
                return Branch(tuple(ops), fork), forks + 1
            ops.append(step)
        return Branch(tuple(ops), ending), 0

    def add(self, path: list[Op | tuple[Fork, bool]], ending: Ending) -> None:
        """Hang a newly recorded path where it leaves the tree (at a fork's untried outcome)."""
        if self.forks >= MAX_FORKS:
            return
        branch, i = self.root, 0
        while True:
            i += len(branch.ops)
            end = branch.end
            if not isinstance(end, Fork) or i >= len(path):
                return  # known already (a replay would have found it)
            step = path[i]
            if not isinstance(step[0], Fork):
                return  # a different path under the same key cannot happen; keep what is known
            passed = step[1]
            following = end.passed if passed else end.failed
            if following is None:
                rest, forks = DataPlan.grow(path, i + 1, ending)
                if passed:
                    end.passed = rest
                else:
                    end.failed = rest
                self.forks += forks + 1
                return
            branch, i = following, i + 1

    def replay(
        self,
        snapshot: Snapshot,
        external: TypedEvent[Any],
        apply_assign: Callable[[Any, Any], Any],
        make_snapshot: MakeSnapshot,
        answers: list[Any],
        resolve_delay: Callable[[str, Any, Any], float],
    ) -> tuple[Snapshot, list[Action], bool, str | None, tuple[Any, ...]] | None:
        """Run the path's user code on ``snapshot`` and ``external``; ``None`` on a miss.

        What the user code answered (each assignment's context, each effect's parameters,
        each guard's outcome and reason) is appended to ``answers``, so that after a miss the
        whole algorithm can take them instead of calling the code again.
        """
        context = snapshot.context
        actions: list[Action] = []
        refusals: list[tuple[Transition, str | None]] = []
        made: dict[str, Timer] = {}  # the timers of named delays scheduled so far, by id
        branch = self.root
        while True:
            for op in branch.ops:
                kind, first, second, cause = op
                if kind == ASSIGN:  # the commonest step first
                    update = (
                        first(context, external if cause is None else cause, second)
                        if callable(first)
                        else first
                    )
                    assigned = apply_assign(context, update)
                    answers.append(assigned)
                    if assigned is context:  # the eventless reselection would differ: a miss
                        return None
                    context = assigned
                elif kind == ACTION:
                    actions.append(Action(first, second, external if cause is None else cause))
                    if made and first == "schedule":  # a fixed delay replaces a named one
                        made.pop(second["id"], None)
                elif kind == EFFECT:
                    event = external if cause is None else cause
                    params = second(context, event)
                    answers.append(params)
                    actions.append(Action(first, params, event))
                elif kind == DELAY:
                    timer_id, timer_event = first
                    event = external if cause is None else cause
                    milliseconds = resolve_delay(second, context, event)
                    answers.append(milliseconds)
                    timer = made[timer_id] = Timer(timer_id, timer_event, milliseconds)
                    actions.append(Action("schedule", timer.to_json(), event))
                else:  # REFUSED: (REFUSED, transition, reason, None)
                    refusals.append((first, second))
            end = branch.end
            if end.__class__ is Ending:
                break
            assert isinstance(end, Fork)
            guard = end.transition.guard
            assert guard is not None
            passed, reason = guard.evaluate(
                context, external if end.cause is None else end.cause, end.configuration
            )
            answers.append((passed, reason))
            if not passed and end.noted:
                refusals.append((end.transition, reason))
            following = end.passed if passed else end.failed
            if following is None:
                return None
            branch = following
        assert isinstance(end, Ending)
        refused = tuple(refusals) if end.refused and refusals else ()
        if end.unchanged:
            return snapshot, actions, end.taken, end.consumed, refused
        if end.timers:
            carried = {t.id: t for t in snapshot.timers}
            timers = tuple(
                carried[t] if isinstance(t, str) else made.get(t.id, t) for t in end.timers
            )
        else:
            timers = ()
        result = make_snapshot(
            end.configuration, end.status, context, end.output, end.history, timers
        )
        return result, actions, end.taken, end.consumed, refused
