"""The machine: a compiled definition plus its implementations, and the pure transition function.

    machine = orderflow.setup(guards=..., actions=..., delays=...).create_machine(config)
    snapshot, actions = machine.initial_transition(input=None)
    snapshot, actions = machine.transition(snapshot, {"type": "PAY", "amount": "10.00"})

A :class:`Machine` is immutable once created.  ``transition`` never changes
its arguments, performs no I/O and reads no clock: the same snapshot and
event always give the same result.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from functools import cached_property
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ValidationError

from orderflow.chart import actors, algorithm
from orderflow.chart.actions import Action, Raise, valid_delay
from orderflow.chart.conventions import XSTATE, Conventions
from orderflow.chart.definition import compile_definition
from orderflow.chart.events import TypedEvent
from orderflow.chart.execution import Microstep, Run
from orderflow.chart.guards import describe
from orderflow.chart.implementations import (
    DEFAULT_MAX_MICROSTEPS,
    Implementations,
    resolve_dotted,
    resolve_table,
)
from orderflow.chart.initial_context import initial_context
from orderflow.chart.nodes import StateNode, Transition
from orderflow.chart.plans import DataPlan, MacrostepPlan, PlanKey
from orderflow.chart.provide import provided
from orderflow.chart.snapshot import (
    ACTIVE,
    ERROR,
    NO_CHILDREN,
    Snapshot,
    Timer,
    new_snapshot,
    restore,
    state_value,
)
from orderflow.errors import (
    DefinitionError,
    InvalidEventError,
    MissingImplementationError,
    OrderflowError,
    Problem,
)

INIT_EVENT = "xstate.init"


class DefinitionWarning(UserWarning):
    """Something in a definition is legal but probably a mistake (an unreachable state)."""


@dataclass(frozen=True)
class GuardCheck:
    """One candidate transition considered by :meth:`Machine.explain`."""

    source: str
    descriptor: str
    targets: tuple[str, ...] | None
    guard: str | None
    passed: bool
    reason: str | None

    @staticmethod
    def of(transition: Transition, passed: bool, reason: str | None) -> GuardCheck:
        return GuardCheck(
            source=transition.source.id,
            descriptor=transition.descriptor or "",
            targets=None if transition.targets is None else tuple(n.id for n in transition.targets),
            guard=None if transition.guard is None else describe(transition.guard),
            passed=passed,
            reason=reason,
        )


@dataclass(frozen=True)
class Explanation:
    """Why an event would or would not change a snapshot."""

    event: str
    fired: tuple[GuardCheck, ...]
    blocked: tuple[GuardCheck, ...]

    @property
    def would_transition(self) -> bool:
        return bool(self.fired)

    def __str__(self) -> str:
        if self.fired:
            moves = "; ".join(
                f"{c.source} -> {', '.join(c.targets or ('(stays)',))}" for c in self.fired
            )
            passed_over = "; ".join(f"{c.source}: {c.reason}" for c in self.blocked)
            return f"'{self.event}' fires: {moves}" + (
                f" (passed over: {passed_over})" if passed_over else ""
            )
        if self.blocked:
            reasons = "; ".join(f"{c.source}: {c.reason}" for c in self.blocked)
            return f"'{self.event}' is blocked: {reasons}"
        return f"no active state handles '{self.event}'"


#: why an event took no transition: no active state handles it, guards refused it, the
#: machine is done or in error and takes no more events, user code raised, or it is an
#: actor's error event no transition takes (the machine fails with that error, as in XState)
UNHANDLED, GUARDED, INACTIVE, FAILED = "unhandled", "guarded", "inactive", "failed"
UNHANDLED_ERROR = "unhandled_error"


@dataclass(frozen=True)
class Refusal:
    """Why an event did not move a snapshot: a ``kind`` and a sentence.

    The kinds: :data:`UNHANDLED` (no active state takes it), :data:`GUARDED`
    (guards refused it), :data:`INACTIVE` (the machine is done or in error),
    :data:`FAILED` (user code raised while processing it: the snapshot is in error),
    :data:`UNHANDLED_ERROR` (an actor's error event that no transition takes, XState's
    rule: the snapshot is in error with that error, its timers cancelled and its
    children stopped; no user code raised, so this is the machine's answer to keep,
    where a persisted service rolls :data:`FAILED` back).

    ``checks`` are the guards that refused it, each with its own reason.
    """

    kind: str
    reason: str
    checks: tuple[GuardCheck, ...] = ()

    def __str__(self) -> str:
        return self.reason


T = TypeVar("T")


class derived(Generic[T]):
    """A value worked out from a frozen object's fields on first read, then kept on the object.

    ``functools.cached_property`` without the lock Python 3.11 takes on every first
    read (3.12 dropped it): two threads reading at once compute the same value from
    the same fields, so there is nothing to guard, and a persisted send reads four.
    """

    def __init__(self, compute: Callable[[Any], T]) -> None:
        self.compute = compute
        self.name = compute.__name__
        self.__doc__ = compute.__doc__

    def __set_name__(self, owner: type[Any], name: str) -> None:
        self.name = name

    def __get__(self, instance: Any, owner: type[Any] | None = None) -> T:
        if instance is None:
            return self  # type: ignore[return-value]  # the descriptor itself, for introspection
        value = instance.__dict__[self.name] = self.compute(instance)
        return value


#: the action types the core's caller handles itself rather than as named effects
BUILTIN_ACTIONS = frozenset({"schedule", "cancel", "emit", "log", "start_actor", "stop_actor"})


@dataclass(frozen=True)
class Step:
    """What one macrostep did: the core's whole answer to one event.

    ``snapshot`` and ``actions`` are what :meth:`Machine.transition` returns.
    ``taken`` says whether the event selected a transition (with a target or
    actions); when it did not, ``refusal`` says why.  ``consumed`` is the id
    of the pending timer the event was the delivery of (under the machine's
    own convention: XState's first pending timer of the event's type, SCXML's
    timer whose event this is exactly), ``armed`` and ``cancelled`` the timers
    its actions schedule and cancel, ``effects`` the named actions for the
    caller to run and ``emitted`` the events it emits, all in order.
    ``microsteps`` are filled in only when the caller asked for a trace.
    ``actions`` of child machines carry the child's path in ``Action.actor``.
    """

    event: Mapping[str, Any]
    before: Snapshot | None
    snapshot: Snapshot
    actions: list[Action]
    microsteps: tuple[Microstep, ...] = ()
    taken: bool = True
    refusal: Refusal | None = None
    consumed: str | None = None
    #: with child actors: every event an actor processed, in order, as (actor path, event);
    #: the path is empty for the machine itself
    deliveries: tuple[tuple[str, Mapping[str, Any]], ...] = ()
    #: the event as the implementations received it (``event`` is its JSON form)
    typed_event: TypedEvent[Any] | None = None
    #: with child actors and a trace: every actor's microsteps as (actor path, microstep), in
    #: the order the actors' macrosteps finished (a child started by a state entered in a
    #: macrostep finishes its first one before it); the machine's later macrosteps (its
    #: answer to a child) included
    actor_microsteps: tuple[tuple[str, Microstep], ...] = ()

    @derived
    def armed(self) -> tuple[Timer, ...]:
        return tuple(
            Timer(str(a.params["id"]), a.params["event"], float(a.params["delay"]))
            for a in self.actions
            if a.type == "schedule"
        )

    @derived
    def cancelled(self) -> tuple[str, ...]:
        return tuple(str(a.params["id"]) for a in self.actions if a.type == "cancel")

    @derived
    def effects(self) -> tuple[Action, ...]:
        return tuple(a for a in self.actions if a.type not in BUILTIN_ACTIONS)

    @derived
    def emitted(self) -> tuple[Mapping[str, Any], ...]:
        return tuple(a.params["event"] for a in self.actions if a.type == "emit")


class Machine:
    """A compiled statechart.  Create it with :func:`create_machine` or ``setup(...).create_machine``."""

    def __init__(
        self,
        config: Mapping[str, Any],
        implementations: Implementations,
        conventions: Conventions = XSTATE,
    ) -> None:
        tree = compile_definition(config, implementations, conventions)
        if tree.problems:
            raise DefinitionError(tree.problems)
        self.config = config
        self.conventions = conventions
        self.scxml = conventions.scxml
        self.hooks = conventions.hooks
        self.done_state_prefix = conventions.done_state_prefix
        self.done_data_key = conventions.done_data_key
        self.implementations = implementations
        self.id = tree.machine_id
        self.version = tree.version
        self.root: StateNode = tree.root
        self.nodes: tuple[StateNode, ...] = tree.nodes
        self.nodes_by_id: Mapping[str, StateNode] = tree.by_id
        self.output = tree.output
        self.has_output = tree.has_output
        self.effects: Mapping[str, Callable[..., Any]] = tree.effects
        self.warnings: tuple[Problem, ...] = tuple(tree.warnings)
        self.max_microsteps = implementations.max_microsteps
        self.has_always = any(node.always for node in tree.nodes)
        #: whether the machine invokes, spawns or sends to actors: then every step runs the
        #: actor system of ``actors.py`` (and no stored plan); otherwise it never does
        self.uses_actors = tree.uses_actors
        #: whether actions spawn children besides the states' invocations
        self.spawns = tree.spawns
        #: whether a timer may carry any event (a delayed raise, SCXML's <send delay>), or only
        #: the ``after`` events of the states (which a restored snapshot's timers are held to)
        self.schedules_raised_events = conventions.scxml or _raises_later(tree.nodes)
        self.context_model = implementations.context
        #: the payload models by event type (``setup(events=...)``)
        self.event_models: Mapping[str, type[BaseModel]] = implementations.events
        #: how an assignment's update joins the context: a dict merge without a context model
        self.assigner: Callable[[Any, Any], Any] = (
            merge_into_dict if self.context_model is None else self.apply_assign
        )
        self._initial_context = tree.context
        self._values: dict[frozenset[StateNode], Any] = {}
        #: persisted state values that restored cleanly, by a key of their strings (snapshot.py)
        self.restored_values: dict[Any, tuple[frozenset[StateNode], bool]] = {}
        self.plans: dict[PlanKey, MacrostepPlan | DataPlan] = {}

    def __repr__(self) -> str:
        return f"<Machine {self.id} version={self.version} states={len(self.nodes)}>"

    # -- the core contract ---------------------------------------------------------------------

    def initial_transition(self, input: Any = None) -> tuple[Snapshot, list[Action]]:
        """The initial snapshot and the actions entering it causes."""
        start, event = self._start(input)
        if self.uses_actors:
            result, actions, _ = actors.initial(self, start, event, None)
            return result, actions
        return algorithm.initial_macrostep(self, start, event)

    def transition(
        self,
        snapshot: Snapshot,
        event: str | Mapping[str, Any] | BaseModel,
        *,
        to: str | None = None,
    ) -> tuple[Snapshot, list[Action]]:
        """The next snapshot and the caller's actions for ``event``; ``snapshot`` is not changed.

        An event no active state handles leaves the snapshot as it is.  A
        snapshot that is done or in error takes no more events.  ``to`` addresses
        a child machine instead (its path: child ids joined by ``/``), for its
        timers and the results of the function actors it started.
        """
        if snapshot.__class__ is not Snapshot or snapshot.machine is not self:
            self._check_own(snapshot)
        if self.uses_actors:
            result, actions, *_ = actors.transition(self, snapshot, event, to, None)
            return result, actions
        if to:
            raise InvalidEventError(f"machine '{self.id}' has no child actors to send to ('{to}')")
        return algorithm.macrostep(self, snapshot, self.event(event))

    def step(
        self,
        snapshot: Snapshot | None,
        event: str | Mapping[str, Any] | BaseModel | None = None,
        *,
        input: Any = None,
        trace: bool = False,
        to: str | None = None,
    ) -> Step:
        """The whole answer to ``event`` (see :class:`Step`); with no snapshot, the initial one.

        One evaluation of the event's guards gives the next snapshot and, for
        an event that moves nothing, the reason.  ``trace=True`` records the
        microsteps as well, for inspection tools (and replays no stored plan).
        ``to`` addresses a child machine, as in :meth:`transition`.
        """
        microsteps: list[Microstep] | None = [] if trace else None
        everything: list[tuple[str, Microstep]] | None = [] if trace else None
        if snapshot is None:
            start, resolved = self._start(input)
            if self.uses_actors:
                result, actions, delivered = actors.initial(
                    self, start, resolved, microsteps, everything
                )
                return Step(resolved.data, None, result, actions, tuple(microsteps or ()),
                            deliveries=delivered, typed_event=resolved,
                            actor_microsteps=tuple(everything or ()))  # fmt: skip
            result, actions = algorithm.initial_macrostep(self, start, resolved, microsteps)
            return Step(
                resolved.data, None, result, actions, tuple(microsteps or ()), typed_event=resolved
            )
        self._check_own(snapshot)
        if event is None:
            raise InvalidEventError("step() needs an event when it is given a snapshot")
        deliveries: tuple[tuple[str, Mapping[str, Any]], ...] = ()
        unhandled_error = False
        if self.uses_actors:
            result, actions, (taken, consumed, blocked), deliveries, resolved, unhandled_error = (
                actors.transition(self, snapshot, event, to, microsteps, everything)
            )
        elif to:
            raise InvalidEventError(f"machine '{self.id}' has no child actors to send to ('{to}')")
        else:
            resolved = self.event(event)
            result, actions, (taken, consumed, blocked) = algorithm.macrostep_outcome(
                self, snapshot, resolved, microsteps
            )
        refusal = (
            None if taken else self._refusal(snapshot, result, resolved, blocked, unhandled_error)
        )
        return Step(
            resolved.data, snapshot, result, actions, tuple(microsteps or ()), taken, refusal,
            consumed, deliveries, resolved, tuple(everything or ()),
        )  # fmt: skip

    def enter_state(self, value: Any, context: Any, *, cause: str = "orderflow.enter") -> Step:
        """A snapshot put at state ``value`` with ``context``, its states' ``after`` timers armed.

        For records that join their workflow part-way (a backfill): nothing
        is entered in the SCXML sense, so no entry action runs; the timers
        are scheduled and the states' invocations started as if the states
        had just been entered (``actions`` holds their ``schedule`` actions,
        then what the children do as they start, caused by an event of type
        ``cause``); nothing else is spawned.  ``value`` and ``context`` are
        validated like a persisted snapshot
        (:class:`~orderflow.errors.InvalidSnapshotError`).
        """
        snapshot = self.resolve_snapshot(
            {"machine": self.id, "version": self.version, "value": value, "context": context}
        )
        caused = TypedEvent.internal({"type": cause})
        if snapshot.status != ACTIVE:
            return Step(caused.data, None, snapshot, [], typed_event=caused)
        timers = tuple(
            Timer(
                delayed.event_type,
                {"type": delayed.event_type},
                self.resolve_delay(delayed.delay, snapshot.context, caused),
            )
            for state in sorted(snapshot.configuration, key=lambda node: node.order)
            for delayed in state.after
        )
        actions = [Action("schedule", timer.to_json(), caused) for timer in timers]
        snapshot = replace(snapshot, timers=timers)
        if not any(state.invoke for state in snapshot.configuration):
            return Step(caused.data, None, snapshot, actions, typed_event=caused)
        entered, started, delivered = actors.entered(self, snapshot, caused)
        if entered.status == ERROR and not delivered:  # an input function raised: arm nothing
            return Step(caused.data, None, entered, [], typed_event=caused)
        return Step(
            caused.data, None, entered, actions + started, deliveries=delivered,
            typed_event=caused,
        )  # fmt: skip

    def resolve_snapshot(self, data: Any) -> Snapshot:
        """Validate a persisted snapshot (``snapshot.to_json()``) and restore it."""
        return restore(self, data)

    def provide(self, **implementations: Mapping[str, Any] | None) -> Machine:
        """A new machine with some implementations swapped (XState's ``machine.provide``).

        ``machine.provide(guards={...}, actions={...}, delays={...}, contexts={...})``: each
        table is merged over the one ``setup`` gave; this machine is unchanged.  A name the
        definition does not use and ``setup`` did not give is refused (a typo), as is a table
        ``setup`` has no such kind for.  The new machine has the same id and version, so a
        persisted snapshot restores into either; move a live one with ``resolve_snapshot(s.to_json())``.
        """
        actors = implementations.get("actors")
        if isinstance(actors, Mapping) and (problems := actor_problems(actors, "provide.actors")):
            raise DefinitionError(problems)
        return Machine(self.config, provided(self, implementations), self.conventions)

    def can(self, snapshot: Snapshot, event: str | Mapping[str, Any] | BaseModel) -> bool:
        """Would ``event`` select a transition with a target or actions?"""
        if snapshot.status != ACTIVE:
            return False
        run = Run(self, snapshot)
        try:
            transitions = algorithm.select_transitions(run, self.event(event))
        except OrderflowError:
            raise
        except Exception:  # a guard raised: sending the event would put the snapshot in error
            return False
        return any(t.targets is not None or t.actions for t in transitions)

    def explain(
        self, snapshot: Snapshot, event: str | Mapping[str, Any] | BaseModel
    ) -> Explanation:
        """Which transition ``event`` would fire, or which guards blocked it and why."""
        self._check_own(snapshot)
        resolved = self.event(event)
        run = Run(self, snapshot)
        try:
            chosen = (
                set(algorithm.select_transitions(run, resolved))
                if snapshot.status == ACTIVE
                else set()
            )
        except OrderflowError:
            raise
        except Exception:  # a guard raised; the checks below say which one
            chosen = set()
        fired, blocked = [], []
        seen: set[int] = set()
        for atomic in sorted(
            (s for s in snapshot.configuration if s.is_atomic), key=lambda n: n.order
        ):
            for state in (atomic, *atomic.ancestors):
                for t in state.candidates(resolved.type) if state.on else ():
                    if id(t) in seen:
                        continue
                    seen.add(id(t))
                    passed, reason = (True, None)
                    if t.guard is not None:
                        try:
                            passed, reason = t.guard.evaluate(
                                snapshot.context, resolved, snapshot.configuration
                            )
                        except OrderflowError:
                            raise
                        except Exception as exc:
                            passed, reason = False, f"guard raised {type(exc).__name__}: {exc}"
                    check = GuardCheck.of(t, passed, reason)
                    if t in chosen:
                        fired.append(check)
                    elif not passed:
                        blocked.append(check)
        return Explanation(resolved.type, tuple(fired), tuple(blocked))

    # -- introspection -------------------------------------------------------------------------

    @cached_property
    def events(self) -> tuple[str, ...]:
        """Every event descriptor the definition listens to, in document order."""
        seen: dict[str, None] = {}
        for node in self.nodes:
            for descriptor in node.on:
                seen.setdefault(descriptor, None)
        return tuple(seen)

    def next_events(self, snapshot: Snapshot) -> tuple[str, ...]:
        """The event descriptors the active states listen to (guards not evaluated)."""
        seen: dict[str, None] = {}
        for node in sorted(snapshot.configuration, key=lambda n: n.order):
            for descriptor in node.on:
                seen.setdefault(descriptor, None)
        return tuple(seen)

    def transitions(self) -> tuple[Transition, ...]:
        """Every transition of the definition, in document order."""
        result: list[Transition] = []
        for node in self.nodes:
            for transitions in node.on.values():
                result.extend(transitions)
            result.extend(node.always)
        return tuple(sorted(result, key=lambda t: t.order))

    def state(self, state_id: str) -> StateNode:
        """The compiled node with this id (``"#id"`` accepted)."""
        key = state_id[1:] if state_id.startswith("#") else state_id
        try:
            return self.nodes_by_id[key]
        except KeyError:
            raise KeyError(f"machine '{self.id}' has no state with id '{key}'") from None

    # -- what the algorithm calls ----------------------------------------------------------------

    def event(
        self, event: str | Mapping[str, Any] | BaseModel | TypedEvent[Any]
    ) -> TypedEvent[Any]:
        """Normalise and validate an external event; :class:`InvalidEventError` when it does not fit."""
        if type(event) is str and event:
            data: dict[str, Any] = {"type": event}
            if event not in self.event_models:
                return TypedEvent(event, data, data)
        elif type(event) is dict:  # the common case first: no ABC check
            data = dict(event)
            event_type = data.get("type")
            if type(event_type) is str and event_type and event_type not in self.event_models:
                return TypedEvent(event_type, data, data)
        elif isinstance(event, str):
            data = {"type": event}
        elif isinstance(event, TypedEvent):  # one read already (by another machine, say)
            data = dict(event.data)
        elif isinstance(event, BaseModel):
            data = event.model_dump(mode="json")
        elif isinstance(event, Mapping):
            data = dict(event)
        else:
            raise InvalidEventError(
                f"an event must be a type string or an object with a 'type', not {type(event).__name__}"
            )
        event_type = data.get("type")
        if not isinstance(event_type, str) or not event_type:
            raise InvalidEventError(f"an event needs a non-empty string 'type'; got {data!r}")
        model = self.event_models.get(event_type)
        if model is None:
            return TypedEvent(event_type, data, data)
        payload = (
            data if "type" in model.model_fields else {k: v for k, v in data.items() if k != "type"}
        )
        try:  # model_validate and model_dump without their wrappers (the same calls)
            value = model.__pydantic_validator__.validate_python(payload)
        except ValidationError as exc:
            raise InvalidEventError(
                f"the payload of '{event_type}' does not fit {model.__name__}: {summarise(exc)}",
                event_type,
            ) from exc
        normalised = {
            "type": event_type,
            **value.__pydantic_serializer__.to_python(value, mode="json"),
        }
        return TypedEvent(event_type, normalised, value)

    def validate_context(self, data: Any) -> Any:
        """Check a context against the context model (or that it is a mapping) and return it."""
        if self.context_model is not None:
            if isinstance(data, self.context_model):
                return data
            return self.context_model.model_validate(data)
        if type(data) is not dict and not isinstance(data, Mapping):
            raise TypeError(f"the context must be a JSON object, not {type(data).__name__}")
        return dict(data)

    def apply_assign(self, context: Any, update: Any) -> Any:
        if self.context_model is not None:
            if isinstance(update, self.context_model):
                return update
            if isinstance(update, BaseModel):
                update = update.model_dump()
            if not isinstance(update, Mapping):
                raise TypeError(
                    f"an assignment must return a mapping of context keys, not {type(update).__name__}"
                )
            assignable, single_only = self._assignable_fields
            if all(key in assignable for key in update) and (len(update) <= 1 or not single_only):
                # validate what changed, not the whole model: a copy, each new value validated
                # as an assignment (the model's "after" validators run too)
                assigned = context.model_copy()
                validator = self.context_model.__pydantic_validator__
                for key, value in update.items():
                    validator.validate_assignment(assigned, key, value)
                return assigned
            return self.context_model.model_validate({**context.model_dump(), **update})
        return merge_into_dict(context, update)

    @cached_property
    def _assignable_fields(self) -> tuple[frozenset[str], bool]:
        """The context fields an assignment may validate one by one, and whether only one at a time.

        A field assignment gives what validating the whole model gives unless a model
        validator reads the whole input (``before`` / ``wrap``: none may then), or an
        ``after`` validator would see a half-assigned model (one field at a time only).
        A frozen field, an unknown key (the model's ``extra`` rule) and anything else go
        through the whole model.
        """
        model = self.context_model
        if model is None:
            return frozenset(), True
        modes = {v.info.mode for v in model.__pydantic_decorators__.model_validators.values()}
        if modes - {"after"}:
            return frozenset(), True
        fields = frozenset(name for name, f in model.model_fields.items() if not f.frozen)
        return fields, bool(modes)

    def resolve_delay(self, delay: float | str, context: Any, event: TypedEvent[Any]) -> float:
        if not isinstance(delay, str):
            if not valid_delay(delay):  # a raise_(..., delay=) built in Python
                raise ValueError(
                    f"a delay must be a finite number of milliseconds from 0 to 100 years, "
                    f"not {delay!r}"
                )
            return float(delay)
        if delay not in self.implementations.delays:
            raise MissingImplementationError("delay", delay)
        impl = self.implementations.delays[delay]
        value = impl(context, event, None) if callable(impl) else impl
        if not valid_delay(value):
            raise ValueError(
                f"delay '{delay}' must give a finite number of milliseconds from 0 to 100 years, "
                f"not {value!r}"
            )
        return float(value)

    def actor_logic(self, src: str) -> Any:
        """The actor ``src`` names (``setup(actors=...)``): a machine, a function, or None."""
        return self.implementations.actors.get(src)

    def start_for(self, input: Any) -> tuple[Snapshot, TypedEvent[Any]]:
        """The empty snapshot an initial macrostep starts from, and its ``xstate.init`` event."""
        return self._start(input)

    def make_snapshot(self, **fields: Any) -> Snapshot:
        get = fields.get
        return new_snapshot(
            self.value_of(fields["configuration"]), fields["status"], fields["context"],
            get("output"), get("error"), get("history", {}),
            get("timers", ()), get("children", NO_CHILDREN), self, fields["configuration"],
        )  # fmt: skip

    def snapshot_at(
        self,
        configuration: frozenset[StateNode],
        status: str,
        context: Any,
        output: Any,
        history: Mapping[str, tuple[str, ...]],
        timers: tuple[Timer, ...],
    ) -> Snapshot:
        """A snapshot of this machine with no error and no children (what a replay makes)."""
        value = self._values.get(configuration)
        if value is None:
            value = self.value_of(configuration)
        return new_snapshot(
            value, status, context, output, None, history, timers, NO_CHILDREN, self, configuration
        )

    def value_of(self, configuration: frozenset[StateNode]) -> Any:
        """The state value of ``configuration`` (kept for the first 4,096 configurations)."""
        value = self._values.get(configuration)
        if value is None:
            value = state_value(self.root, configuration)
            if len(self._values) < 4096:
                self._values[configuration] = value
        return value

    # -- helpers ---------------------------------------------------------------------------------

    def _start(self, input: Any) -> tuple[Snapshot, TypedEvent[Any]]:
        """The empty snapshot the initial macrostep starts from, and its ``xstate.init`` event."""
        start = self.make_snapshot(
            configuration=frozenset(), status=ACTIVE, context=self._initial_context_for(input)
        )
        data: dict[str, Any] = {"type": INIT_EVENT}
        if input is not None:
            data["input"] = input
        return start, TypedEvent.internal(data)

    def _initial_context_for(self, input: Any) -> Any:
        """The configured context, or what its named function makes of ``input`` (``initial_context.py``)."""
        return initial_context(self, self._initial_context, self.implementations.contexts, input)

    def _refusal(
        self,
        before: Snapshot,
        after: Snapshot,
        event: TypedEvent[Any],
        blocked: tuple[tuple[Transition, str | None], ...],
        unhandled_error: bool = False,
    ) -> Refusal:
        if before.status != ACTIVE:
            return Refusal(INACTIVE, f"the machine is {before.status}; it takes no more events")
        if after.status == ERROR:
            error = after.error or {}
            if unhandled_error:
                return Refusal(
                    UNHANDLED_ERROR,
                    f"'{event.type}' went unhandled, so the machine is in error (XState's rule "
                    f"for an actor's error): {error.get('message')}",
                )
            return Refusal(
                FAILED, f"'{event.type}' put the machine in error: {error.get('message')}"
            )
        if not blocked:
            return Refusal(UNHANDLED, f"no active state handles '{event.type}'")
        checks = tuple(GuardCheck.of(t, False, reason) for t, reason in blocked)
        reasons = "; ".join(f"{c.source}: {c.reason}" for c in checks)
        return Refusal(GUARDED, f"'{event.type}' is blocked: {reasons}", checks)

    def _check_own(self, snapshot: Snapshot) -> None:
        if not isinstance(snapshot, Snapshot):
            raise TypeError(
                "transition() takes a Snapshot; restore persisted data with machine.resolve_snapshot(data)"
            )
        if snapshot.machine is not self and snapshot.machine is not None:
            if snapshot.machine.id != self.id or snapshot.machine.version != self.version:
                raise ValueError(
                    f"this snapshot belongs to machine '{snapshot.machine.id}', not '{self.id}'"
                )
            raise ValueError(
                "this snapshot was made by another machine object; restore it with resolve_snapshot"
            )


def actor_problems(table: Mapping[str, Any], where: str) -> list[Problem]:
    """An actor table's entries that are neither a machine nor a function (setup and provide)."""
    return [
        Problem(
            f"{where}.{name}",
            "an actor must be a machine or a function (sync or async) of its input",
        )
        for name, logic in table.items()
        if not isinstance(logic, Machine) and not callable(logic)
    ]


class Setup:
    """Implementations bound together; ``create_machine`` compiles definitions against them."""

    def __init__(
        self,
        *,
        guards: Mapping[str, Callable[..., Any] | str] | None = None,
        actions: Mapping[str, Any] | None = None,
        delays: Mapping[str, float | Callable[..., Any] | str] | None = None,
        contexts: Mapping[str, Callable[[Any], Any] | str] | None = None,
        context: type[BaseModel] | str | None = None,
        events: Mapping[str, type[BaseModel] | str] | None = None,
        max_microsteps: int = DEFAULT_MAX_MICROSTEPS,
        actors: Mapping[str, Any] | None = None,
        inputs: Mapping[str, Callable[..., Any] | str] | None = None,
    ) -> None:
        problems: list[Problem] = []
        context_model = resolve_dotted(context)
        if context_model is not None and not (
            isinstance(context_model, type) and issubclass(context_model, BaseModel)
        ):
            problems.append(
                Problem("setup.context", "the context model must be a pydantic BaseModel subclass")
            )
            context_model = None
        event_models = resolve_table("event", events, problems)
        for name, model in event_models.items():
            if not (isinstance(model, type) and issubclass(model, BaseModel)):
                problems.append(
                    Problem(
                        f"setup.events.{name}",
                        "an event model must be a pydantic BaseModel subclass",
                    )
                )
        if max_microsteps < 1:
            problems.append(
                Problem("setup.max_microsteps", "the microstep bound must be at least 1")
            )
        guard_table = resolve_table("guard", guards, problems)
        action_table = resolve_table("action", actions, problems)
        delay_table = resolve_table("delay", delays, problems)
        context_table = resolve_table("context", contexts, problems)
        problems.extend(
            Problem(f"setup.contexts.{name}", "a context function must be callable")
            for name, function in context_table.items()
            if not callable(function)
        )
        actor_table = resolve_table("actor", actors, problems)
        problems.extend(actor_problems(actor_table, "setup.actors"))
        input_table = resolve_table("input", inputs, problems)
        for name, function in input_table.items():
            if not callable(function):
                problems.append(
                    Problem(f"setup.inputs.{name}", "an input function must be callable")
                )
        if problems:
            raise DefinitionError(problems)
        self.implementations = Implementations(
            guards=guard_table,
            actions=action_table,
            delays=delay_table,
            contexts=context_table,
            context=context_model,
            events=event_models,
            max_microsteps=max_microsteps,
            actors=actor_table,
            inputs=input_table,
        )

    def create_machine(
        self,
        config: Mapping[str, Any],
        *,
        conventions: Conventions = XSTATE,
        _stacklevel: int = 2,
    ) -> Machine:
        """Compile ``config`` (an XState v5 JSON machine config) against these implementations.

        Legal but suspicious parts (unreachable states) are reported as a
        :class:`DefinitionWarning` at the caller's line, and kept in ``machine.warnings``.
        ``conventions`` is for formats: ``orderflow.io.scxml`` compiles documents under
        SCXML's (``orderflow.chart.conventions``).
        """
        machine = Machine(config, self.implementations, conventions)
        for warning in machine.warnings:
            warnings.warn(
                f"{warning.path}: {warning.message}", DefinitionWarning, stacklevel=_stacklevel
            )
        return machine


def setup(
    *,
    guards: Mapping[str, Callable[..., Any] | str] | None = None,
    actions: Mapping[str, Any] | None = None,
    delays: Mapping[str, float | Callable[..., Any] | str] | None = None,
    contexts: Mapping[str, Callable[[Any], Any] | str] | None = None,
    context: type[BaseModel] | str | None = None,
    events: Mapping[str, type[BaseModel] | str] | None = None,
    max_microsteps: int = DEFAULT_MAX_MICROSTEPS,
    actors: Mapping[str, Any] | None = None,
    inputs: Mapping[str, Callable[..., Any] | str] | None = None,
) -> Setup:
    """Bind the implementations that definitions name (XState v5's ``setup``).

    ``actors`` names the actors ``invoke`` and ``spawnChild`` start: a machine, or a
    function of its input (sync or async; XState's promise actor) that the caller runs.
    ``inputs`` names functions ``(context, event) -> input`` (``"inputFrom"``).
    """
    return Setup(
        guards=guards,
        actions=actions,
        delays=delays,
        contexts=contexts,
        context=context,
        events=events,
        max_microsteps=max_microsteps,
        actors=actors,
        inputs=inputs,
    )


def create_machine(config: Mapping[str, Any]) -> Machine:
    """Compile a definition with no implementations: fine for drawing, exporting and validating."""
    return Setup().create_machine(config, _stacklevel=3)


def summarise(error: ValidationError) -> str:
    """A pydantic error in one line: each field and its problem (``amount: Field required``)."""
    parts = []
    for problem in error.errors(include_url=False):
        where = ".".join(str(p) for p in problem.get("loc", ())) or "payload"
        parts.append(f"{where}: {problem.get('msg', 'invalid')}")
    return "; ".join(parts)


def merge_into_dict(context: Any, update: Any) -> Any:
    """A dict context with an assignment's update merged in (a new dict)."""
    if type(update) is not dict and not isinstance(update, Mapping):
        raise TypeError(
            f"an assignment must return a mapping of context keys, not {type(update).__name__}"
        )
    return {**context, **update}


def _raises_later(nodes: tuple[StateNode, ...]) -> bool:
    """Does any action of these states raise an event with a delay (a timer of its own)?"""
    for node in nodes:
        transitions = [t for ts in node.on.values() for t in ts] + list(node.always)
        transitions += [t for t in (node.initial, node.history_default) if t is not None]
        for spec in (*node.entry, *node.exit, *(a for t in transitions for a in t.actions)):
            builtin = spec.builtin
            if isinstance(builtin, Raise) and builtin.delay is not None:
                return True
    return False
