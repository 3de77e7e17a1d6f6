"""One persisted call, in named stages: the only path from a command to a committed move.

    lock -> replay -> check_version -> [legacy] -> rehydrate -> choose -> authorise
         -> run_macrosteps (each: take, run_effects) -> persist -> finish_hooks -> commit

:func:`run` drives the stages over one SQLAlchemy ``Session`` the caller
opened (the front door's own, a savepoint of a caller's transaction, or the
sync session inside an ``AsyncSession.run_sync``: see
:mod:`orderflow.service.drivers`).  Every stage takes the :class:`Work` of
the call and either adds to it or answers for the whole call; a stage that
raises rolls everything back.  Only :class:`~orderflow.service.journal.Journal`
writes rows.  User code (effect handlers, finish hooks) is called through
:meth:`Work.call`, which awaits an ``async def`` handler when the async
driver runs the call and refuses it otherwise.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel
from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from orderflow.chart import Action, Machine, Snapshot, Step, Timer, TypedEvent, with_due
from orderflow.chart.definition import DONE_ACTOR_PREFIX, ERROR_ACTOR_PREFIX
from orderflow.chart.machine import UNHANDLED_ERROR
from orderflow.errors import (
    EffectError,
    MissingImplementationError,
    NotFinishedError,
    OrderflowError,
    StaleRecordError,
    TransitionFailedError,
    UnknownEventError,
    WrongDriverError,
)
from orderflow.service.commands import BACKFILL_EVENT, Command, not_started
from orderflow.service.drivers import Bridge, Unit
from orderflow.service.idempotency import earlier_answer, request_digest
from orderflow.service.identity import EventLike, as_machine_reads, plain_event
from orderflow.service.legacy import legacy_update
from orderflow.service.overrides import override_refusal, record_overrides
from orderflow.service.ports import OUTBOX_WRITTEN
from orderflow.service.results import (
    DISABLED,
    FORBIDDEN,
    INACTIVE,
    Principal,
    Refusal,
    TransitionResult,
)
from orderflow.service.rows import STATE_ATTRIBUTES, model_of, table_name
from orderflow.service.target_states import handles
from orderflow.store import has_legacy_status, state_columns
from orderflow.store.workflow_tables import CANCELLED, FIRED

if TYPE_CHECKING:
    from orderflow.service.workflow import FinishedRecord, WorkflowService

logger = logging.getLogger("orderflow.service")

#: the core's records of function actors started and stopped (see ``write_invocations``)
INVOCATION_RECORDS = frozenset({"start_actor", "stop_actor"})
ACTOR_RESULT_PREFIXES = (DONE_ACTOR_PREFIX, ERROR_ACTOR_PREFIX)


@dataclasses.dataclass
class Work:
    """One call's unit of work: its session, the locked row, and what the stages learnt so far."""

    service: WorkflowService
    unit: Unit
    command: Command
    principal: Principal | None
    acting: dict[str, Any] | None
    now: datetime
    record_type: str
    bridge: Bridge | None = None
    record_id: str = "?"
    row: Any = None  # the call's LoadedRow, once lock has read it
    machine: Machine | None = None
    snapshot: Snapshot | None = None
    migrated_from: str | None = None
    digest: str | None = None
    read_version: int = 0

    @property
    def the_machine(self) -> Machine:
        assert self.machine is not None, "rehydrate runs before the stages that need the machine"
        return self.machine

    # -- the transaction: the only calls the stages make on it (a new driver's to supply) --

    @property
    def connection(self) -> Connection:
        """The transaction's connection: the journal's and the row reader's statements go there."""
        return self.unit.connection

    @property
    def session(self) -> Session:
        """The transaction's ORM session, for user code and the ORM rows added for it (made on demand)."""
        return self.unit.session

    def open(self) -> None:
        """Begin the call's transaction."""
        self.unit.begin()

    def flush(self) -> None:
        """Send what user code added through the session (effects' rows) before the next stage."""
        self.unit.flush()

    def rollback(self) -> None:
        self.unit.rollback()

    def commit(self) -> None:
        self.unit.commit()

    def earlier_answer(self, key: str) -> TransitionResult | None:
        """The answer the log keeps under idempotency ``key`` for this record (see ``replay``)."""
        return earlier_answer(self.connection, self.record_type, self.record_id, key, self.digest)

    def write_overrides(self, rules: Any, before: Any, after: Any) -> None:
        """Keep the override-request rows in step with the context (see ``record_override_rows``)."""
        record_overrides(
            self.session, rules, self.record_type, self.record_id, before, after,
            self.principal, self.service.clock(),
        )  # fmt: skip

    def hand_back(self, record: Any) -> None:
        """After the commit: the caller's own instance gets the columns the call wrote."""
        row = self.row
        for name in STATE_ATTRIBUTES:
            if name != "status" or has_legacy_status(row.model):
                set_committed_value(record, name, getattr(row, name))

    def outbox_written(self) -> list[Any]:
        """The outbox rows effects wrote through the database ports since the last step."""
        if not self.unit.has_session:
            return []
        written: list[Any] = self.session.info.pop(OUTBOX_WRITTEN, [])
        return written

    def refuse(self, refusal: Refusal) -> TransitionResult:
        """The answer for a call that moves nothing: roll back, say why."""
        status = None if self.row is None else self.row.status  # read before the rollback
        self.rollback()
        state = None if self.snapshot is None else self.snapshot.value
        return TransitionResult.refused(
            refusal, self.record_type, self.record_id, state, dry_run=self.command.dry_run,
            version=self.read_version, status=status,
        )  # fmt: skip

    def call(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Call user code; an ``async def`` one is awaited when the async driver runs this call."""
        if self.bridge is not None:
            return self.bridge.call(fn, *args)
        return Bridge.refuse_async(fn, fn(*args))


@dataclasses.dataclass
class StepDone:
    """One macrostep of the call, what the core said of it, and what the effects added.

    What the log row and the result say of the step (its effects, emitted events and
    state values as plain JSON) is worked out once, when the step is taken: every
    persisted or dry-run call reads it.
    """

    event: dict[str, Any]
    before: Snapshot | None
    after: Snapshot
    core: Step
    log_id: int | None = None
    #: outbox rows the step's effects wrote themselves (a notification port's)
    outbox: list[Any] = dataclasses.field(default_factory=list)
    effects: list[str] = dataclasses.field(init=False)
    emitted: list[dict[str, Any]] = dataclasses.field(init=False)
    #: the state value before the step, as plain JSON (None for a start)
    from_value: Any = dataclasses.field(init=False)
    #: the state value after the step, as plain JSON
    to_value: Any = dataclasses.field(init=False)

    def __post_init__(self) -> None:
        self.effects = [action.type for action in self.core.effects]
        self.emitted = [dict(event) for event in self.core.emitted]
        self.from_value = None if self.before is None else plain_value(self.before.value)
        self.to_value = plain_value(self.after.value)


def run(
    service: WorkflowService, unit: Unit, command: Command, bridge: Bridge | None = None
) -> TransitionResult:
    """Run ``command`` in ``unit``: commit what it did, or roll back and say why not."""
    for attempt in (1, 2):
        work = begin(service, unit, command, bridge)
        try:
            with service.bound(unit):
                return stages(work)
        except IntegrityError:
            unit.rollback()
            earlier = replay_after_race(work)
            if earlier is not None:
                return earlier
            if command.starting is None or attempt == 2:
                raise
            # a concurrent start inserted the same new key first: once more, now that the
            # row is there to load (refused as already started, or started if it is not)
        except BaseException:
            unit.rollback()
            raise
    raise AssertionError("unreachable")  # pragma: no cover


def begin(service: WorkflowService, unit: Unit, command: Command, bridge: Bridge | None) -> Work:
    principal = command.principal
    return Work(
        service, unit, command, principal, service.acting(principal), service.clock(),
        table_name(model_of(command.record)), bridge,
    )  # fmt: skip


def stages(work: Work) -> TransitionResult:
    lock(work)
    earlier = replay(work)
    if earlier is not None:
        work.rollback()
        return earlier
    check_version(work)
    if not work.service.workflow_enabled:
        return legacy(work)
    rehydrate(work)
    event = choose(work)
    if isinstance(event, Refusal):
        return work.refuse(event)
    refusal = authorise(work, event)
    if refusal is not None:
        return work.refuse(refusal)
    steps = run_macrosteps(work, event)
    if isinstance(steps, Refusal):
        return work.refuse(steps)
    result = persist(work, steps)
    finish_hooks(work, steps)
    return commit(work, result)


# -- the stages, in order ----------------------------------------------------------------------


def lock(work: Work) -> None:
    """Read the record's row ``FOR UPDATE`` (insert it first when a start brings a new one)."""
    insert = work.command.starting is not None
    work.open()
    work.row, key = work.service.rows.load(work.unit, work.command.record, lock=True, insert=insert)
    work.record_id = str(key)
    work.read_version = work.row.workflow_version or 0


def replay(work: Work) -> TransitionResult | None:
    """The earlier answer under the call's idempotency key, if it has one and it was used."""
    key = work.command.idempotency_key
    if key is None:
        return None
    machine = work.command.starting or work.service.machine_for(work.row)
    work.digest = request_digest(work.command.fingerprint(machine, work.acting))
    return work.earlier_answer(key)


def replay_after_race(work: Work) -> TransitionResult | None:
    """After a unique-key clash: the answer of the concurrent call that used the same key first."""
    key = work.command.idempotency_key
    if key is None:
        return None
    return work.earlier_answer(key)


def check_version(work: Work) -> None:
    """The caller's own optimistic check: the record must still be at ``expected_version``."""
    expected = work.command.expected_version
    if expected is not None and work.read_version != expected:
        raise StaleRecordError(work.record_type, work.record_id, expected, work.read_version)


def legacy(work: Work) -> TransitionResult:
    """With the workflow switched off, only a move to a state is done, as a legacy status update."""
    if not has_legacy_status(work.row.model):
        return work.refuse(
            Refusal(
                DISABLED,
                f"the workflow is disabled (workflow_enabled=False) and {work.record_type} has "
                "no legacy status column to fall back to",
            )
        )
    if work.command.legacy_to is None:
        return work.refuse(
            Refusal(
                DISABLED,
                "the workflow is disabled (workflow_enabled=False); only transition(record, "
                "to_state) works then, as a direct legacy status update",
            )
        )
    result = legacy_update(work)
    return commit(work, result)


def rehydrate(work: Work) -> None:
    """The record's machine and snapshot, migrated from an older definition when one is registered."""
    service, row = work.service, work.row
    machine = work.machine = work.command.starting or service.machine_for(row)
    if row.workflow_state is not None:
        work.snapshot, work.migrated_from = service.rehydrate(machine, row)


def choose(work: Work) -> Any:
    """The command's event for this machine and snapshot, or why there is none."""
    if work.command.starting is None and work.snapshot is None:
        return not_started()
    return work.command.choose(work.the_machine, work.snapshot, work.acting)


def authorise(work: Work, event: Mapping[str, Any]) -> Refusal | None:
    """The service's own permission rules, before the machine sees the event (written nowhere)."""
    rules = work.service.overrides.get(work.the_machine.id)
    if rules is None:
        return None
    reason = override_refusal(rules, str(event.get("type")), work.principal, work.service.roles)
    return None if reason is None else Refusal(FORBIDDEN, reason)


def run_macrosteps(work: Work, event: Mapping[str, Any]) -> list[StepDone] | Refusal:
    """The call's macrosteps: its event's, then those of the events its effects answered with."""
    steps: list[StepDone] = []
    # each event with the child path it is for: a child machine's effect answers that child
    queue: list[tuple[str | None, EventLike]] = [(work.command.to, event)]
    current = work.snapshot
    limit = work.service.max_follow_ups
    while queue:
        if len(steps) > limit:
            raise OrderflowError(
                f"effects kept answering with events after {limit} follow-up steps of "
                f"{work.record_type} {work.record_id!r}; check the effects' replies"
            )
        to, next_event = queue.pop(0)
        if steps and to and not has_child(current, to):
            logger.info("follow-up of %s %s for the stopped child %r dropped",
                        work.record_type, work.record_id, to)  # fmt: skip
            continue
        step = take(work, current, next_event, to)
        if isinstance(step, Refusal):
            if not steps:
                return step
            logger.info("follow-up of %s %s ignored: %s", work.record_type, work.record_id, step)
            continue
        queue[:0] = run_effects(work, step)
        steps.append(step)
        current = step.after
    return steps


def has_child(snapshot: Snapshot | None, path: str) -> bool:
    """Whether a child machine runs at ``path`` (child ids joined by ``/``) of ``snapshot``."""
    child = None if snapshot is None else snapshot.child_at(path)
    return child is not None and child.snapshot is not None


def take(
    work: Work, current: Snapshot | None, event: EventLike, to: str | None = None
) -> StepDone | Refusal:
    """One macrostep of the core (for the child at ``to``, if given), with due times stamped
    on the timers it armed."""
    machine = work.the_machine
    if current is None:  # a start or an adoption
        data = dict(event)  # type: ignore[arg-type]
        if data["type"] == BACKFILL_EVENT:
            core = machine.enter_state(data["state"], data["context"], cause=BACKFILL_EVENT)
        else:
            core = machine.step(None, input=data.get("input"))
    else:
        # a malformed event or a payload that fails its model raises InvalidEventError
        data = as_machine_reads(machine, plain_event(event), work.acting)
        event_type = str(data["type"])
        if not (to or handles(machine, event_type) or is_actor_result(event_type)):
            raise UnknownEventError(machine.id, event_type, known=machine.events)
        if current.status != "active":
            return Refusal(
                INACTIVE,
                f"the workflow of this record is {current.status}; it takes no more events",
            )
        core = machine.step(current, data, to=to)
    failed_by_actor = fails_with_an_actor(core)
    if core.snapshot.status == "error" and not failed_by_actor:
        raise TransitionFailedError(
            work.record_type, work.record_id, str(data["type"]), core.snapshot.error
        )
    if failed_by_actor:
        logger.warning(
            "%s %s: %s", work.record_type, work.record_id, core.refusal and core.refusal.reason
        )
    elif not core.taken and not settles_a_child(data, current, core.snapshot):
        assert core.refusal is not None
        return Refusal(core.refusal.kind, core.refusal.reason)
    after = core.snapshot
    if core.armed:
        after = with_due(after, [timer.id for timer in core.armed], work.now.timestamp() * 1000)
    return StepDone(data, current, after, core)


def fails_with_an_actor(core: Step) -> bool:
    """An actor's error event no transition takes: the machine is in error, as in XState.

    No user code raised, so this is the record's next state (written, logged, its timers
    and invocations cancelled), not a failure to roll back: an invocation's error is
    delivered once, and the record then refuses every event as ``inactive``.
    """
    return core.refusal is not None and core.refusal.kind == UNHANDLED_ERROR


def settles_a_child(data: Mapping[str, Any], before: Any, after: Any) -> bool:
    """A function child's result that no transition takes still settles that child (it is
    ``done`` in ``snapshot.children`` from now on, as in XState): that change is written."""
    return is_actor_result(str(data["type"])) and after.children != before.children


def run_effects(work: Work, step: StepDone) -> list[tuple[str | None, EventLike]]:
    """Run the step's named effects in order (not in a dry run); the events they answered
    with, each for the machine whose effect it was (a child's path, or None: the record's)."""
    replies: list[tuple[str | None, EventLike]] = []
    for action in step.core.actions:
        if action.type == "log":
            logger.info("%s %s: %s", work.record_type, work.record_id, action.params.get("message"))
    if work.command.dry_run or not step.core.effects:
        return replies
    for action in step.core.effects:
        replies.extend((action.actor or None, reply) for reply in run_effect(work, step, action))
    step.outbox = work.outbox_written()
    return replies


def run_effect(work: Work, step: StepDone, action: Action) -> list[EventLike]:
    handler = work.service.effects.get(action.type)
    machine = work.the_machine
    try:
        if handler is not None:
            session = (
                work.bridge.session_for(handler, work.session) if work.bridge else work.session
            )
            answer = work.call(handler, session, work.row.instance(), action)
        elif (found := machine_effect(machine, step, action)) is not None:
            impl, context = found
            answer = work.call(impl, context, action.event, action.params)
        else:
            raise MissingImplementationError("action", action.type)
    except (MissingImplementationError, WrongDriverError):
        raise
    except Exception as exc:
        raise EffectError(
            work.record_type, work.record_id, str(step.event["type"]), action.type, exc
        ) from exc
    return replies_of(work, step, action, answer)


def machine_effect(
    machine: Machine, step: StepDone, action: Action
) -> tuple[Callable[..., Any], Any] | None:
    """The implementation a machine gave for a named effect, and the context it runs with.

    A child machine's effect (``action.actor``, its path) is its own machine's, called with the
    child's context, as the in-memory actor calls it; a child the step stopped is read in the
    snapshot before the step.
    """
    if not action.actor:
        impl = machine.effects.get(action.type)
        return None if impl is None else (impl, step.after.context)
    for snapshot in (step.after, step.before):
        found = None if snapshot is None else snapshot.child_at(action.actor)
        child = None if found is None else found.snapshot
        if child is not None and child.machine is not None:
            effects: Mapping[str, Callable[..., Any]] = getattr(child.machine, "effects", {})
            impl = effects.get(action.type)
            return None if impl is None else (impl, child.context)
    return None


def replies_of(work: Work, step: StepDone, action: Action, answer: Any) -> list[EventLike]:
    """An effect's answer as events: None, one event, or a list of them."""
    if answer is None:
        return []
    if isinstance(answer, str | Mapping | BaseModel):
        return [answer]
    if isinstance(answer, list | tuple):
        return list(answer)
    raise EffectError(
        work.record_type, work.record_id, str(step.event["type"]), action.type,
        TypeError(f"an effect may return None, an event or a list of events, not {type(answer).__name__}"),
    )  # fmt: skip


def persist(work: Work, steps: list[StepDone]) -> TransitionResult:
    """Write the last snapshot, a log row per step, override rows, timer rows and the outbox."""
    last, row = steps[-1], work.row
    if work.command.dry_run:
        return outcome(work, steps, row.status)
    columns = state_columns(last.after, row.model)
    status = columns.get("status", row.status)
    # the log keeps the answer a repeat under an idempotency key gets, so it is made first then
    keyed = outcome(work, steps, status) if work.command.idempotency_key is not None else None
    journal, connection = work.service.journal, work.connection
    entries = [log_entry(work, index, step, keyed) for index, step in enumerate(steps)]
    ids = journal.move(connection, row, changed(row, columns), work.read_version, entries)
    for step, log_id in zip(steps, ids, strict=True):
        step.log_id = log_id
        for outbox in step.outbox:
            outbox.transition_id = log_id
    record_override_rows(work, steps, columns)
    write_timers(work, steps)
    write_invocations(work, steps)
    emitted = [(event, step.log_id) for step in steps for event in step.emitted]
    if emitted:
        journal.outbox(work.session, work.record_type, work.record_id, emitted)
    work.flush()
    if keyed is not None:
        return dataclasses.replace(keyed, log_ids=tuple(ids))
    return outcome(work, steps, status, tuple(ids))


def changed(row: Any, columns: dict[str, Any]) -> dict[str, Any]:
    """``columns`` without those the row holds already, value for value (the snapshot is always
    written: the version check and the log name it)."""
    return {
        name: value
        for name, value in columns.items()
        if name == "workflow_state" or not same_json(value, getattr(row, name))
    }


def same_json(a: Any, b: Any) -> bool:
    """Are ``a`` and ``b`` the same JSON document (``1``, ``1.0`` and ``True`` are not)?"""
    kind = type(a)
    if kind is not type(b):
        return False
    if kind is str or kind is int or kind is bool or a is None:  # most columns: nothing to walk
        return bool(a == b)
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same_json(value, b[key]) for key, value in a.items())
    if isinstance(a, list):
        return len(a) == len(b) and all(map(same_json, a, b))
    if isinstance(a, float):
        return repr(a) == repr(b)  # -0.0 is not 0.0, and NaN is never the same
    return bool(a == b)


def log_entry(
    work: Work, index: int, step: StepDone, result: TransitionResult | None
) -> dict[str, Any]:
    machine = work.the_machine
    before, after = step.from_value, step.to_value
    details: dict[str, Any] = {
        "event": step.event,
        "transition": {"from": before, "to": after, "status": step.after.status},
        **({"error": step.after.error} if step.after.status == "error" else {}),
        "effects": step.effects,
        "emitted": step.emitted,
        "scheduled": [timer.id for timer in step.core.armed],
        "cancelled": list(step.core.cancelled),
    }
    if index == 0:
        if work.migrated_from is not None:
            details["migrated_from"] = work.migrated_from
        if result is not None:  # the answer a repeat under the idempotency key gets
            details["request"] = work.digest
            details["result"] = result.to_json()
    return work.service.journal.entry(
        work.record_type, work.record_id, machine=machine.id, machine_version=machine.version,
        event=str(step.event["type"]), from_state=before, to_state=after,
        record_version=work.read_version + index + 1, principal=work.principal,
        note=work.command.note, details=details,
        idempotency_key=work.command.idempotency_key if index == 0 else None,
    )  # fmt: skip


def record_override_rows(work: Work, steps: list[StepDone], columns: Mapping[str, Any]) -> None:
    rules = work.service.overrides.get(work.the_machine.id)
    if rules is None:
        return
    before = steps[0].before
    work.write_overrides(
        rules, None if before is None else before.to_json()["context"], columns["workflow_context"]
    )


def write_timers(work: Work, steps: list[StepDone]) -> None:
    """Per step: the timer its event delivered has fired; then its schedules and cancels, in order.

    A child machine's timer row carries the child's path (``actor_path``), so the timer
    worker delivers its event to that child.
    """
    if not any(
        step.core.consumed is not None or step.core.armed or step.core.cancelled for step in steps
    ):
        return  # nothing to write, and no session to make for it
    journal = work.service.journal
    where = (work.session, work.record_type, work.record_id)
    for step in steps:
        if step.core.consumed is not None:
            journal.settle(*where, [step.core.consumed], FIRED, work.command.to or "")
        for action in step.core.actions:
            if action.type == "schedule":
                params = action.params
                timer = Timer(str(params["id"]), params["event"], float(params["delay"]))
                journal.arm(*where, work.the_machine.id, timer, work.now, action.actor)
            elif action.type == "cancel":
                journal.settle(*where, [str(action.params["id"])], CANCELLED, action.actor)


def write_invocations(work: Work, steps: list[StepDone]) -> None:
    """Per step, in order: a row for each function actor it started, cancelled ones it stopped."""
    records = [a for step in steps for a in step.core.actions if a.type in INVOCATION_RECORDS]
    if not records:
        return
    journal = work.service.journal
    where = (work.session, work.record_type, work.record_id)
    for action in records:
        if action.type == "start_actor":
            journal.invoke(*where, work.the_machine.id, action, work.now)
        else:
            journal.cancel_invocations(*where, action.actor, str(action.params["id"]))


def is_actor_result(event_type: Any) -> bool:
    """A function actor's result: taken by the core while the actor runs, else dropped as stale."""
    return isinstance(event_type, str) and event_type.startswith(ACTOR_RESULT_PREFIXES)


def finish_hooks(work: Work, steps: list[StepDone]) -> None:
    """The service's finish hooks, when the call took the machine into a top-level final state."""
    last = steps[-1]
    if work.command.dry_run or last.after.status != "done":
        return
    if steps[0].event["type"] == BACKFILL_EVENT:
        return
    run_finish_hooks(work, last.after, last.log_id, last.core.typed_event)


def run_finish_hooks(
    work: Work, snapshot: Snapshot, log_id: int | None, event: TypedEvent[Any] | None = None
) -> None:
    service = work.service
    for hook in service.finish_hooks:
        work.call(hook, finished_record(work, hook, snapshot, log_id, event))
    work.flush()


def finished_record(
    work: Work,
    hook: Callable[..., Any],
    snapshot: Snapshot,
    log_id: int | None,
    event: TypedEvent[Any] | None = None,
) -> FinishedRecord:
    from orderflow.service.workflow import FinishedRecord

    session: Any = work.session
    service: Any = None
    if work.bridge is not None and work.bridge.wants_async(hook):
        session, service = work.bridge.async_session, work.bridge.joined()
    else:
        service = work.service.joined(work.session)
    return FinishedRecord(
        session, service, work.row.instance(), work.record_type, work.record_id, work.the_machine,
        snapshot,
        work.principal, log_id, event,
    )  # fmt: skip


def commit(work: Work, result: TransitionResult) -> TransitionResult:
    """Commit (a dry run rolls back) and give the caller's own instance the committed columns."""
    record = work.command.record
    if work.command.dry_run:
        work.rollback()
        return result
    work.commit()
    if not isinstance(record, tuple):
        work.hand_back(record)
    return result


def outcome(
    work: Work, steps: list[StepDone], status: str | None, log_ids: tuple[int, ...] = ()
) -> TransitionResult:
    first, last = steps[0], steps[-1]
    dry_run, read = work.command.dry_run, work.read_version
    if len(steps) == 1:  # the common case, without walking the steps four times
        core = first.core
        effects, emitted = tuple(first.effects), tuple(first.emitted)
        scheduled, cancelled = tuple(t.id for t in core.armed), core.cancelled
    else:
        effects = tuple(e for s in steps for e in s.effects)
        emitted = tuple(e for s in steps for e in s.emitted)
        scheduled = tuple(t.id for s in steps for t in s.core.armed)
        cancelled = tuple(t for s in steps for t in s.core.cancelled)
    return TransitionResult(
        True, work.record_type, work.record_id, str(first.event["type"]),
        first.from_value, last.to_value, effects, emitted, scheduled, cancelled,
        dry_run=dry_run, version=read if dry_run else read + len(steps), status=status,
        steps=len(steps), log_ids=log_ids,
        error=last.after.error if last.after.status == "error" else None,
    )  # fmt: skip


def plain_value(value: Any) -> Any:
    """A state value as plain JSON (without serialising the snapshot's context)."""
    if isinstance(value, Mapping):
        return {key: plain_value(sub) for key, sub in value.items()}
    return value


def not_finished_snapshot(work: Work) -> Snapshot:
    """For :meth:`WorkflowService.rerun_finish_hooks`: the record's snapshot, which must be done."""
    lock(work)
    rehydrate(work)
    snapshot = work.snapshot
    if snapshot is None or snapshot.status != "done":
        machine = work.the_machine
        raise NotFinishedError(
            work.record_type, work.record_id, machine.id,
            "not started" if snapshot is None else snapshot.status,
            None if snapshot is None else snapshot.value,
        )  # fmt: skip
    return snapshot
