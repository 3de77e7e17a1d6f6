"""The working state of a macrostep and the executable content it runs.

:class:`Run` is the mutable state one macrostep works on (configuration,
history, context, pending timers, the actions for the caller, the internal
queue); ``algorithm.py`` turns it into the next snapshot.  :func:`execute`
runs a state's or transition's actions: ``assign`` and ``raise`` change the
run, a document's :class:`~orderflow.chart.actions.Block` runs with the run
itself (SCXML's executable content), everything else becomes an
:class:`~orderflow.chart.actions.Action` record for the caller.  While a plan is recorded, the user code that runs
(assignments, computed parameters of effects, emits and logs, named delays) and the outcomes of the guards
that read data go on the run's tape; anything else that reads the context
or the event marks the run as not replayable (see ``plans.py``).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from pydantic import BaseModel

from orderflow.chart.actions import (
    Action,
    ActionSpec,
    Assign,
    Block,
    Cancel,
    Emit,
    EnqueueActions,
    Evaluated,
    Log,
    Raise,
    SendParent,
    SendTo,
    SpawnChild,
    StopChild,
)
from orderflow.chart.conventions import MacrostepHooks
from orderflow.chart.events import TypedEvent
from orderflow.chart.nodes import StateNode, Transition
from orderflow.chart.plans import (
    ASSIGN,
    DELAY,
    EFFECT,
    REFUSED,
    DataPlan,
    Fork,
    MacrostepPlan,
    PlanKey,
    Tape,
)
from orderflow.chart.snapshot import Child, Snapshot, Timer

_ACTOR_BUILTINS = (SpawnChild, StopChild, SendTo, SendParent, EnqueueActions)


@dataclass(frozen=True, slots=True)
class Microstep:
    """What one microstep did, for inspection tools: the event, the transitions, the states left and entered."""

    event: str
    transitions: tuple[tuple[str, tuple[str, ...] | None], ...]
    exited: tuple[str, ...]
    entered: tuple[str, ...]
    #: each transition's JSON path in the definition (``$.states.a.on.GO[0]``): a unique name for it
    paths: tuple[str, ...] = ()


class MachineLike(Protocol):
    """What the algorithm needs of a machine (implemented by ``machine.Machine``)."""

    root: StateNode
    #: SCXML's selection, domain and error rules (see conventions.py)
    scxml: bool
    hooks: MacrostepHooks | None
    done_state_prefix: str
    #: the key of a done event that carries the final state's output ("output"; SCXML: "data")
    done_data_key: str
    nodes_by_id: Mapping[str, StateNode]
    max_microsteps: int
    has_always: bool
    plans: dict[PlanKey, MacrostepPlan | DataPlan]
    output: Any
    has_output: bool

    def resolve_delay(self, delay: float | str, context: Any, event: TypedEvent[Any]) -> float: ...

    def apply_assign(self, context: Any, update: Any) -> Any: ...

    #: apply_assign, or a cheaper function that does the same for this machine's context
    assigner: Callable[[Any, Any], Any]

    def snapshot_at(
        self,
        configuration: frozenset[StateNode],
        status: str,
        context: Any,
        output: Any,
        history: Mapping[str, tuple[str, ...]],
        timers: tuple[Timer, ...],
    ) -> Snapshot: ...

    def make_snapshot(self, **fields: Any) -> Snapshot: ...


class Run:
    """The mutable working state of one macrostep; becomes a new snapshot at the end."""

    __slots__ = (
        "actions",
        "actors",
        "answers",
        "blocked",
        "changed",
        "children",
        "config",
        "consumed",
        "context",
        "deferred",
        "extension",
        "external",
        "history",
        "machine",
        "output",
        "queue",
        "refusals",
        "replayable",
        "status",
        "taken",
        "tape",
        "timers",
        "trace",
    )

    def __init__(self, machine: MachineLike, snapshot: Snapshot) -> None:
        self.machine = machine
        self.config: set[StateNode] = set(snapshot.configuration)
        self.history: dict[str, tuple[str, ...]] = dict(snapshot.history)
        self.context = snapshot.context
        self.timers: dict[str, Timer] = {t.id: t for t in snapshot.timers}
        self.actions: list[Action] = []
        self.queue: deque[TypedEvent[Any]] = deque()
        self.status = snapshot.status
        self.output = snapshot.output
        #: the child actors by id; copied before the first spawn or stop changes it
        self.children: Mapping[str, Child] = snapshot.children
        #: the working actor that spawns, stops and sends (``actors.Cell``); None without actors
        self.actors: Any = None
        #: what the actor does once the macrostep is done (start, stop, send), in order
        self.deferred: list[Any] | None = None
        #: False once something a plan cannot replay decided what happens (see plans.py)
        self.replayable = True
        #: the user code run and the data guards' outcomes, while a plan is being recorded
        self.tape: Tape | None = None
        #: what the user code answered in a replay that missed, to be taken in order instead
        #: of calling it again (see plans.py)
        self.answers: deque[Any] | None = None
        #: the external event of the macrostep being recorded (steps caused by it are replayed
        #: with the next one)
        self.external: TypedEvent[Any] | None = None
        #: False while the macrostep has changed nothing (so the input snapshot can be returned)
        self.changed = False
        #: the microsteps taken, when an inspection tool asked for them
        self.trace: list[Microstep] | None = None
        #: the working state a format's blocks and hooks keep for one macrostep (SCXML's datamodel)
        self.extension: Any = None
        #: whether the external event selected a transition with a target or actions
        self.taken = False
        #: the id of the pending timer the external event was the delivery of
        self.consumed: str | None = None
        #: while the external event's transitions are selected: the guards that refused, with
        #: their reasons (None otherwise, so eventless selection records nothing)
        self.blocked: list[tuple[Transition, str | None]] | None = None
        #: the guards that refused the external event, when it took no transition
        self.refusals: tuple[tuple[Transition, str | None], ...] = ()


# -- the macrostep -------------------------------------------------------------------------------


def execute(run: Run, specs: Iterable[ActionSpec], event: TypedEvent[Any]) -> None:
    for spec in specs:
        builtin = spec.builtin
        if builtin is None:
            params = spec.params
            if callable(params):
                if run.tape is not None:
                    run.tape.append(
                        (len(run.actions), (EFFECT, spec.name, params, _cause(run, event)))
                    )
                else:
                    run.replayable = False
                params = run.answers.popleft() if run.answers else params(run.context, event)
            run.actions.append(Action(spec.name, params, event))
        elif isinstance(builtin, Assign):
            run.context = _assign(run, builtin, spec.params, event)
        elif isinstance(builtin, Raise):
            _raise(run, builtin, spec.params, event)
        elif isinstance(builtin, Emit):
            emitted = _record_params(run, "emit", builtin.event, spec.params, event, _emitted)
            run.actions.append(Action("emit", emitted, event))
        elif isinstance(builtin, Log):
            logged = _record_params(run, "log", builtin.message, spec.params, event, _logged)
            run.actions.append(Action("log", logged, event))
        elif isinstance(builtin, Cancel):
            run.timers.pop(builtin.id, None)
            run.actions.append(Action("cancel", {"id": builtin.id}, event))
        elif isinstance(builtin, Block):
            run.replayable = False
            builtin.run(run, event)
        elif isinstance(builtin, _ACTOR_BUILTINS):
            if run.actors is None:
                raise RuntimeError(f"'{spec.name}' needs the actor system (actors.py)")
            run.actors.perform(run, builtin, spec.params, event)


def _emitted(value: Any) -> dict[str, Any]:
    return {"event": _event_data(value)}


def _logged(value: Any) -> dict[str, Any]:
    return {"message": value}


def _record_params(
    run: Run,
    kind: str,
    value: Any,
    params: Any,
    event: TypedEvent[Any],
    shape: Callable[[Any], Any],
) -> Any:
    """An emit's or log's parameters; computed ones are recorded like an effect's (plans.py).

    A function from a Python config is user code of the context and the event: while a
    plan is recorded it goes on the tape as the parameters of a ``kind`` record, so a
    replay calls it again (and after a miss, the answer it gave is taken instead).
    """
    if run.tape is None or not callable(value) or isinstance(value, type):
        return shape(compute(run, value, event, params))
    function: Callable[..., Any] = value

    def computed(context: Any, cause: TypedEvent[Any]) -> Any:
        return shape(function(context, cause, params))

    run.tape.append((len(run.actions), (EFFECT, kind, computed, _cause(run, event))))
    return run.answers.popleft() if run.answers else computed(run.context, event)


def _assign(run: Run, action: Assign, params: Any, event: TypedEvent[Any]) -> Any:
    update = action.update
    replayed: Any = update
    if run.answers:
        assigned = run.answers.popleft()
    elif callable(update):
        assigned = run.machine.apply_assign(run.context, update(run.context, event, params))
    else:  # constants, unless compute() found a function (and marked the run)
        replayed = {key: compute(run, value, event, params) for key, value in update.items()}
        assigned = run.machine.apply_assign(run.context, replayed)
    if run.tape is None or assigned is run.context:
        # a context handed back as it was decides the eventless reselection by identity
        run.replayable = False
    else:
        run.tape.append((len(run.actions), (ASSIGN, replayed, params, _cause(run, event))))
    return assigned


def _cause(run: Run, event: TypedEvent[Any]) -> TypedEvent[Any] | None:
    """How a recorded step names its event: ``None`` for the external one (see plans.py)."""
    return None if event is run.external else event


def _raise(run: Run, action: Raise, params: Any, event: TypedEvent[Any]) -> None:
    raised = _event_data(compute(run, action.event, event, params))
    if action.delay is None:
        run.queue.append(TypedEvent.internal(raised))
        return
    _schedule_after(run, action.id or raised["type"], raised, action.delay, event)


def schedule_delayed(run: Run, state: StateNode, event: TypedEvent[Any]) -> None:
    for delayed in state.after:
        _schedule_after(run, delayed.event_type, {"type": delayed.event_type}, delayed.delay, event)


def _schedule_after(
    run: Run, timer_id: str, data: dict[str, Any], delay: float | str, event: TypedEvent[Any]
) -> None:
    """Schedule a timer; a named delay (user code of the context) is recorded for replays."""
    if not isinstance(delay, str):
        _schedule(run, Timer(timer_id, data, run.machine.resolve_delay(delay, run.context, event)),
                  event)  # fmt: skip
        return
    if run.tape is None:
        run.replayable = False
    else:
        run.tape.append((len(run.actions), (DELAY, (timer_id, data), delay, _cause(run, event))))
    milliseconds = (
        run.answers.popleft()
        if run.answers
        else run.machine.resolve_delay(delay, run.context, event)
    )
    _schedule(run, Timer(timer_id, data, milliseconds), event)


def _schedule(run: Run, timer: Timer, event: TypedEvent[Any]) -> None:
    run.timers[timer.id] = timer
    run.actions.append(Action("schedule", timer.to_json(), event))


def cancel_delayed(run: Run, state: StateNode, event: TypedEvent[Any]) -> None:
    for delayed in state.after:
        if run.timers.pop(delayed.event_type, None) is not None:
            run.actions.append(Action("cancel", {"id": delayed.event_type}, event))


def compute(run: Run, value: Any, event: TypedEvent[Any], params: Any = None) -> Any:
    """A built-in's argument: computed by calling it when it is a callable from a Python config."""
    if callable(value) and not isinstance(value, type):
        run.replayable = False
        fn: Callable[..., Any] = value
        return fn(run.context, event, params)
    if isinstance(value, Evaluated):
        run.replayable = False
        return value.evaluate(run, event)
    return value


def guard_passes(run: Run, transition: Transition, event: TypedEvent[Any]) -> bool:
    assert transition.guard is not None
    passed: bool
    reason: str | None
    if transition.guard_reads_data and run.answers:
        passed, reason = run.answers.popleft()
    else:
        passed, reason = transition.guard.evaluate(run.context, event, run.config)
    noted = run.blocked is not None
    tape = run.tape
    if transition.guard_reads_data:
        if tape is not None:
            fork = Fork(transition, frozenset(run.config), _cause(run, event), noted)
            tape.append((len(run.actions), (fork, passed)))
        else:
            run.replayable = False
    elif not passed and noted and tape is not None:
        tape.append((len(run.actions), (REFUSED, transition, reason, None)))
    if not passed and run.blocked is not None:
        run.blocked.append((transition, reason))
    return passed


def event_data(value: Any) -> dict[str, Any]:
    """An event a built-in computed, as JSON: a type string or an object with a string type."""
    return _event_data(value)


def _event_data(value: Any) -> dict[str, Any]:
    if isinstance(value, str):
        return {"type": value}
    if isinstance(value, TypedEvent):  # the event in hand, passed on
        return dict(value.data)
    if isinstance(value, BaseModel):
        value = value.model_dump(mode="json")
    if not isinstance(value, Mapping) or not isinstance(value.get("type"), str):
        raise TypeError(
            f"an event must be a type string or an object with a string 'type', not {value!r}"
        )
    return dict(value)
