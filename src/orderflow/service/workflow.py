"""``WorkflowService``: move persisted records with the pure core, one locked transaction per event.

    service = WorkflowService(Session, {"sale": sale_machine}, effects={"capture": capture})
    result = service.send(order, {"type": "PAY", "amount": "10.00"}, actor=clerk, idempotency_key=key)

Every write is one transaction that

1. locks the row (``SELECT ... FOR UPDATE`` on PostgreSQL; on SQLite the
   engine from :func:`orderflow.store.create_engine` takes the write lock at
   ``BEGIN IMMEDIATE``);
2. returns the earlier result (``idempotent=True``) if the idempotency key
   was already used for this record;
3. rehydrates the snapshot through ``machine.resolve_snapshot``, after the
   registered definition migrations;
4. runs the pure transition (guards are evaluated on the locked row);
5. runs the named effects through the registered handlers, in order (an
   effect may answer with events, processed next in the same transaction,
   each its own logged step);
6. writes state, context, legacy status and ``workflow_version`` with an
   optimistic ``WHERE workflow_version = <read>``, one log row per step,
   outbox rows for ``emit`` and scheduled-event rows for timers; commits.

Between 6 and the commit, when the send took the record's machine into a
top-level final state, the service calls its ``finish_hooks`` (each
``hook(FinishedRecord)``) in the same transaction: a hand-off to the next
phase (:class:`~orderflow.service.coordinator.PhaseCoordinator`) commits
with the transition that finished the machine, or neither does.

Anything that raises rolls the whole of it back.  An event the active
states do not take (or a guard blocks) is *not* an exception: the result
says ``success=False`` with the reason, and nothing is written.  An event
no state of the machine ever handles is a programming error and raises
:class:`~orderflow.errors.UnknownEventError`.
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar, TypedDict, Unpack

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from orderflow.chart import Action, Machine, Snapshot, TypedEvent
from orderflow.errors import (
    ConfigurationError,
    InvalidSnapshotError,
    OrderflowError,
    UnknownMachineError,
)
from orderflow.service import pipeline, queries
from orderflow.service.commands import (
    BACKFILL_EVENT,
    Adopt,
    CallOptions,
    Command,
    Decide,
    MoveTo,
    RequestOverride,
    Send,
    SendOptions,
    Start,
)
from orderflow.service.definition_versions import DefinitionMigrations, SnapshotMigration
from orderflow.service.drivers import (
    Bridge,
    Unit,
    UnitSource,
    lent_unit,
    own_units,
    savepoint_units,
)
from orderflow.service.identity import (
    EventLike,
    RoleMapping,
    acting_user,
    as_machine_reads,
    is_internal_event,
    outside_event,
    plain_event,
)
from orderflow.service.journal import Journal
from orderflow.service.legacy import LEGACY_EVENT
from orderflow.service.overrides import OverrideRules, override_refusal
from orderflow.service.ports import TransactionScope
from orderflow.service.results import (
    ALREADY_STARTED,
    BulkFailure,
    BulkResult,
    EventOption,
    Principal,
    TransitionAttempt,
    TransitionOption,
    TransitionResult,
)
from orderflow.service.rows import RecordRef, RowReader, key_label, table_name
from orderflow.service.target_states import event_options, find_event, transitions_from
from orderflow.store import record_identity, snapshot_data
from orderflow.store.base import utcnow
from orderflow.store.record import dotted_path

#: handler(session, record, action) -> None, an event, or a list of events to process next
#: (``session`` is the transaction's ``Session``, or its ``AsyncSession`` for an async def handler)
EffectHandler = Callable[[Any, Any, Action], Any]
RolesLike = RoleMapping | Mapping[str, Iterable[str]] | Callable[[Principal], Iterable[str]] | None

__all__ = [
    "ALREADY_STARTED", "BACKFILL_EVENT", "LEGACY_EVENT", "EffectHandler", "FinishHook",
    "FinishedRecord", "WorkflowService",
]  # fmt: skip


@dataclass(frozen=True)
class FinishedRecord:
    """A record whose machine reached a top-level final state in the transaction running now.

    ``session`` is that transaction's session and ``record`` its locked row;
    ``service`` is the same service with every call joined to this
    transaction (each in a SAVEPOINT), so a hook can start the next record's
    machine and have it commit, or roll back, with the transition that
    finished this one.  ``log_id`` is the log row of the finishing step
    (``None`` when hooks run again for a record finished earlier).  ``event``
    is the event that finished it, the same
    :class:`~orderflow.chart.events.TypedEvent` its guards, assignments and effects
    received (``None`` when hooks run again).  Under
    :class:`~orderflow.service.AsyncWorkflowService` an ``async def`` hook
    gets the ``AsyncSession`` and the async service here.
    """

    session: Any
    service: Any
    record: Any
    record_type: str
    record_id: str
    machine: Machine
    snapshot: Snapshot
    actor: Principal | None
    log_id: int | None
    event: TypedEvent[Any] | None = None


#: hook(finished) -> None, run inside the transaction that finished a record's machine
FinishHook = Callable[[FinishedRecord], Any]


class ServiceOptions(TypedDict, total=False):
    """The settings both services take after their sessions and machines (see :class:`WorkflowService`)."""

    effects: Mapping[str, EffectHandler] | None
    workflow_enabled: bool
    clock: Callable[[], datetime]
    max_follow_ups: int
    scope: TransactionScope | None
    overrides: Iterable[OverrideRules]
    finish_hooks: Iterable[FinishHook]
    roles: RolesLike


class WorkflowService:
    """Persisted transitions for records that mix in :class:`~orderflow.store.WorkflowRecord`.

    ``session_factory`` makes a new SQLAlchemy ``Session`` (a ``sessionmaker``);
    the service opens one per call (an ``async_sessionmaker`` is for
    :class:`~orderflow.service.AsyncWorkflowService`).  ``machines`` maps
    machine id to machine; a record names its machine in ``workflow_machine``.
    ``effects`` maps a named effect to ``handler(session, record, action)``,
    run inside the transaction; an effect without a handler falls back to the
    machine's own implementation, ``impl(context, event, params)``.
    ``workflow_enabled`` may be switched off at run time for an emergency
    rollback to direct legacy status updates (:meth:`transition` only).

    Who acts is the ``actor`` argument of each call, the authenticated
    :class:`~orderflow.service.Principal`, never a field of the event: the
    service writes it into every event it runs (``event["actor"]``, with the
    roles ``roles`` grants for its permissions, see
    :mod:`orderflow.service.identity`), refuses an event from outside that
    carries it, and refuses internal event types (``xstate.*``,
    ``orderflow.*``) at its outside doors (``send``, ``bulk_send``,
    ``transition``).  Timers and hand-offs come in through :meth:`deliver`.

    ``scope`` is the :class:`~orderflow.service.ports.TransactionScope` the
    database-backed ports read their session from; the service binds each
    transaction's session to it.  ``overrides`` are the override rules of
    the machines that have them (:func:`~orderflow.service.overrides.sale_override_rules`):
    who may decide, and the ``OverrideRequest`` rows kept in step.
    ``finish_hooks`` run, in order, inside the transaction in which a
    record's machine reaches a top-level final state (see :class:`FinishedRecord`).

    Each writing call is a command (:mod:`orderflow.service.commands`) run by
    the one pipeline (:mod:`orderflow.service.pipeline`); a call that moves
    nothing answers with ``success=False`` and a typed ``refusal``.
    """

    def __init__(
        self,
        session_factory: Callable[[], Session],
        machines: Mapping[str, Machine],
        *,
        effects: Mapping[str, EffectHandler] | None = None,
        workflow_enabled: bool = True,
        clock: Callable[[], datetime] = utcnow,
        max_follow_ups: int = 100,
        scope: TransactionScope | None = None,
        overrides: Iterable[OverrideRules] = (),
        finish_hooks: Iterable[FinishHook] = (),
        roles: RolesLike = None,
    ) -> None:
        for key, machine in machines.items():
            if key != machine.id:
                raise ConfigurationError(
                    f"machines must be keyed by their id: '{key}' holds '{machine.id}'",
                    setting="machines",
                )
        self.session_factory = session_factory
        self.machines = dict(machines)
        self.effects = dict(effects or {})
        self.workflow_enabled = workflow_enabled
        self.clock = clock
        self.max_follow_ups = max_follow_ups
        self.migrations = DefinitionMigrations()
        self.scope = scope
        self.overrides = {rules.machine: rules for rules in overrides}
        self.finish_hooks = tuple(finish_hooks)
        self.roles = roles if isinstance(roles, RoleMapping) else RoleMapping(roles)
        self.journal = Journal(clock)
        self.rows = RowReader()
        self._units: UnitSource = own_units(session_factory)
        self._bridge: Bridge | None = None
        for machine in self.machines.values():
            refuse_unpersistable_actors(
                machine, functions=self.durable_invocations, child_timers=self.durable_child_timers
            )
        unknown = set(self.overrides) - set(self.machines)
        if unknown:
            raise ConfigurationError(
                f"override rules for machines this service does not have: {sorted(unknown)}",
                setting="overrides",
            )

    #: whether this driver's journal writes invocation rows for function actors (see
    #: :mod:`orderflow.workers.invocations`); a driver without them refuses such machines
    durable_invocations: ClassVar[bool] = True
    #: whether its journal keeps a child machine's timers (rows with the child's path)
    durable_child_timers: ClassVar[bool] = True

    def register_migration(
        self, machine_id: str, from_version: str | int, to_version: str | int, fn: SnapshotMigration
    ) -> None:
        """Upgrade snapshots written by ``from_version`` of ``machine_id`` on load (``fn(data) -> data``).

        ``fn`` gets the stored snapshot with its context and returns it as the
        next version would have written it; versions chain one step at a
        time.  A step that raises, or returns something that does not restore
        on the current machine, is an :class:`InvalidSnapshotError` and
        nothing is written.
        """
        self.machine_named(machine_id)
        self.migrations.register(machine_id, from_version, to_version, fn)

    def joined(self, session: Session) -> WorkflowService:
        """This service with every call run in a SAVEPOINT of ``session``'s transaction.

        Its "commit" releases the savepoint and its rollback undoes that call
        only; nothing is durable until ``session`` commits.
        """
        joined = copy.copy(self)
        joined._units = savepoint_units(session)
        connection = session.connection()
        joined.session_factory = lambda: Session(
            bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
        )
        return joined

    def lent(self, unit: Unit, bridge: Bridge | None) -> WorkflowService:
        """This service running every call in ``unit`` (the async driver's, in ``run_sync``)."""
        lent = copy.copy(self)
        lent._units = lent_unit(unit)
        lent.session_factory = lambda: unit.session
        lent._bridge = bridge
        return lent

    # -- reading -----------------------------------------------------------------------------

    def snapshot(self, record: RecordRef) -> Snapshot:
        """The record's current snapshot, read from the database (migrated, validated)."""
        with self._units() as unit:
            row, _ = self.rows.load(unit, record, lock=False)
            return self.rehydrate(self.machine_for(row), row)[0]

    def can(
        self, record: RecordRef, event: EventLike, *, actor: Principal | str | None = None
    ) -> bool:
        """Would ``event``, sent by ``actor``, move the record now?

        The same outside door as :meth:`send`: a payload carrying ``actor`` is
        refused (:class:`~orderflow.errors.ReservedEventFieldError`), and an
        internal event type is never allowed.
        """
        data = outside_event(event)
        snapshot = self.snapshot(record)
        machine = self.machine_of(snapshot)
        if is_internal_event(machine, str(data.get("type"))):
            return False
        return machine.can(snapshot, as_machine_reads(machine, data, self.acting(actor)))

    def allowed_events(
        self, record: RecordRef, *, actor: Principal | str | None = None
    ) -> list[EventOption]:
        """The events the record's active states take from outside, allowed or not for ``actor`` with the guard's reason."""
        snapshot = self.snapshot(record)
        return event_options(self.machine_of(snapshot), snapshot, self.acting(actor))

    def transitions_for_state(
        self, state: str, machine: str | None = None
    ) -> list[TransitionOption]:
        """The transitions that apply while ``state`` is active (guards not evaluated)."""
        return transitions_from(self.machine_named(machine), state)

    def allowed_transitions(
        self, record: RecordRef, *, actor: Principal | str | None = None
    ) -> list[TransitionAttempt]:
        """Every state one event away from the record's state, each allowed for ``actor`` or not with the reason."""
        snapshot = self.snapshot(record)
        machine = self.machine_of(snapshot)
        acting = self.acting(actor)
        return [
            _attempt(machine, snapshot, option, acting)
            for option in event_options(machine, snapshot, acting)
        ]

    def can_transition(
        self,
        record: RecordRef,
        to_state: str,
        params: Mapping[str, Any] | None = None,
        *,
        actor: Principal | str | None = None,
    ) -> TransitionAttempt:
        """Can one event sent by ``actor`` move the record into ``to_state``, and which (see ``target_states``)?"""
        payload = _params(outside_event({**(params or {}), "type": "?"}))
        snapshot = self.snapshot(record)
        return find_event(
            self.machine_of(snapshot), snapshot, to_state, payload, self.acting(actor)
        )

    def permission_refusal(
        self, machine: str, event_type: str, actor: Principal | str | None
    ) -> str | None:
        """Why ``actor`` may not send ``event_type`` to a record of ``machine`` at all, or None.

        The service's own rule, checked inside every call before the machine
        sees the event (a refusal of ``kind`` ``forbidden``): deciding an
        override needs the role its kind names, which the actor's
        permissions grant through ``roles``.
        """
        rules = self.overrides.get(machine)
        if rules is None:
            return None
        return override_refusal(rules, event_type, _principal(actor), self.roles)

    def override_requests(self, record: RecordRef) -> list[queries.RequestedOverride]:
        """The record's override requests, oldest first, as values read through ``queries``."""
        model, key = record_identity(record)
        with self._sessions() as session:
            newest_first = queries.override_requests(
                session, record_type=table_name(model), record_id=str(key), limit=None
            )
        return newest_first[::-1]

    # -- writing -----------------------------------------------------------------------------

    def start(
        self,
        record: RecordRef,
        *,
        machine: str | None = None,
        input: Any = None,
        dry_run: bool = False,
        **options: Unpack[CallOptions],
    ) -> TransitionResult:
        """Enter the initial state of ``machine`` for a record that has no workflow state yet.

        A new (transient) record is inserted in the same transaction.
        """
        chosen = self.machine_named(machine or getattr(record, "workflow_machine", None))
        return self.run(
            Start(record, starting=chosen, input=input, dry_run=dry_run, **self._who(options))
        )

    def adopt(
        self,
        record: RecordRef,
        state: Any,
        context: Any,
        *,
        machine: str | None = None,
        legacy_status: str | None = None,
        dry_run: bool = False,
        **options: Unpack[CallOptions],
    ) -> TransitionResult:
        """Put a record that has only a legacy status into its workflow at ``state`` (a backfill).

        ``state`` is a state value (``"awaiting_payment"``, ``{"sale": "x"}``)
        and ``context`` the context to hold there; both are validated like a
        persisted snapshot (:class:`InvalidSnapshotError` otherwise, nothing
        written).  The ``after`` timers of the states it lands in are armed
        as if they had just been entered (``machine.enter_state``).  No entry
        action or effect runs and no hand-off either: the record is taken to
        be where its legacy status says.  The log row's event is
        ``orderflow.backfill``.  A record whose workflow has started already is
        refused (``refusal.kind == "already_started"``), so a backfill run
        twice changes nothing the second time.
        """
        chosen = self.machine_named(machine or getattr(record, "workflow_machine", None))
        return self.run(
            Adopt(
                record, starting=chosen, state=state, context=context,
                legacy_status=legacy_status, dry_run=dry_run, **self._who(options),
            )
        )  # fmt: skip

    def send(
        self, record: RecordRef, event: EventLike, **options: Unpack[SendOptions]
    ) -> TransitionResult:
        """Process ``event`` for ``record`` in one transaction, as ``actor`` (see the module doc).

        This is an outside door: an event whose payload carries ``actor``
        raises :class:`~orderflow.errors.ReservedEventFieldError` and an
        internal event type (``xstate.*``, ``orderflow.*``)
        :class:`~orderflow.errors.UnknownEventError`, with nothing written.
        ``expected_version`` turns on the caller's own optimistic check: the
        send raises :class:`StaleRecordError` if the record moved since the
        caller read it at that ``workflow_version``.
        """
        return self.run(Send(record, event=outside_event(event), **self._who(options)))

    def deliver(
        self,
        record: RecordRef,
        event: EventLike,
        *,
        idempotency_key: str | None = None,
        to: str | None = None,
        **options: Unpack[CallOptions],
    ) -> TransitionResult:
        """The service's internal path: an event raised inside, such as a due timer or a hand-off.

        Like :meth:`send`, but internal event types (``xstate.after.*``, ...)
        are taken; who acts is still ``actor`` (written over anything the
        event says).  ``to`` addresses a child machine of the record's
        machine (child ids joined by ``/``), as the invocation worker does
        with the result of a function actor a child started.  The timer
        worker, the invocation worker and the coordinator come in here;
        never wire it to input from outside.
        """
        return self.run(
            Send(
                record, event=plain_event(event), internal=True, idempotency_key=idempotency_key,
                to=to or None, **self._who(options),
            )
        )  # fmt: skip

    def transition(
        self,
        record: RecordRef,
        to_state: str,
        *,
        params: Mapping[str, Any] | None = None,
        idempotency_key: str | None = None,
        dry_run: bool = False,
        **options: Unpack[CallOptions],
    ) -> TransitionResult:
        """Move the record into ``to_state`` by the one event that leads there (``params`` is its payload).

        With ``workflow_enabled`` off this is a direct legacy status update,
        logged as such.  An outside door, as :meth:`send` is: ``params``
        carrying ``actor`` are refused, and no internal event is chosen.
        """
        payload = _params(outside_event({**(params or {}), "type": "?"}))
        return self.run(
            MoveTo(
                record, legacy_to=to_state, params=payload, idempotency_key=idempotency_key,
                dry_run=dry_run, **self._who(options),
            )
        )  # fmt: skip

    def request_override(
        self,
        record: RecordRef,
        kind: str,
        reason: str,
        *,
        idempotency_key: str | None = None,
        **options: Unpack[CallOptions],
    ) -> TransitionResult:
        """Ask for an override of ``kind`` (``"credit"``, ``"admin"``): its request event, and a row.

        The machine opens the request in its context; the service writes the
        :class:`~orderflow.store.OverrideRequest` row in the same transaction.
        A kind the machine does not have is refused (``refusal.kind == "not_found"``).
        """
        return self.run(
            RequestOverride(
                record, overrides=self.overrides, kind=kind, reason=reason,
                idempotency_key=idempotency_key, **self._who(options),
            )
        )  # fmt: skip

    def decide_override(
        self,
        record: RecordRef,
        request_id: str,
        *,
        approve: bool,
        idempotency_key: str | None = None,
        **options: Unpack[CallOptions],
    ) -> TransitionResult:
        """Approve or reject the open override request ``request_id`` (its id in the context).

        ``actor`` needs the role the request's kind names; without it the
        answer is ``success=False`` with ``refusal.kind == "forbidden"``, and
        nothing is written or logged.  An id the record does not hold is
        ``"not_found"``.  The row records who decided, when, and the note.
        One transaction: the request is looked up on the locked record.
        """
        return self.run(
            Decide(
                record, overrides=self.overrides, request_id=request_id, approve=approve,
                idempotency_key=idempotency_key, **self._who(options),
            )
        )  # fmt: skip

    def bulk_send(
        self,
        records: Iterable[RecordRef],
        event: EventLike,
        *,
        progress: Callable[[int, TransitionResult | None], None] | None = None,
        **options: Unpack[SendOptions],
    ) -> BulkResult:
        """``send`` to each record in its own transaction; failures are counted with their reasons.

        A record that is missing, tampered with or refused is a failure with
        its reason; the others still move.  ``idempotency_key`` is used for
        every record (keys are per record), so running the same bulk job
        again after it stopped half-way moves only the records it had not
        reached: the others answer with their earlier result
        (``idempotent=True``).  ``progress(done, result)`` is called after
        each record (``result`` is None when the send raised).  An event that
        is wrong whatever the record (not an event, or naming who acts) raises
        once, before any record is read.
        """
        event = outside_event(event)
        results: list[TransitionResult] = []
        failures: list[BulkFailure] = []
        for done, record in enumerate(records, start=1):
            result: TransitionResult | None = None
            try:
                result = self.send(record, event, **options)
            except (OrderflowError, IntegrityError) as exc:
                failures.append(BulkFailure(self.record_label(record), str(exc)))
            else:
                results.append(result)
                if not result.success:
                    failures.append(BulkFailure(result.record_id, result.reason or "refused"))
            if progress is not None:
                progress(done, result)
        succeeded = sum(1 for r in results if r.success)
        return BulkResult(succeeded, len(failures), tuple(failures), tuple(results))

    def rerun_finish_hooks(
        self, record: RecordRef, *, actor: Principal | str | None = None
    ) -> Snapshot:
        """Run the finish hooks again for a record whose machine finished earlier, in one locked transaction.

        For records that finished before a hook was installed, or to repair a
        hand-off by hand; hooks that keep their own unique links (as the
        PhaseCoordinator's do) make a repeat a no-op.  Raises
        :class:`~orderflow.errors.NotFinishedError` if the record's machine
        has not finished.
        """
        command = Command(record, principal=_principal(actor))
        with self._units() as unit:
            work = pipeline.begin(self, unit, command, self._bridge)
            try:
                with self.bound(unit):
                    snapshot = pipeline.not_finished_snapshot(work)
                    pipeline.run_finish_hooks(work, snapshot, None)
                unit.commit()
            except BaseException:
                unit.rollback()
                raise
            return snapshot

    # -- what the pipeline asks of its service -------------------------------------------------

    def record_label(self, record: RecordRef) -> str:
        """The record id a bulk failure reports, even for a reference whose key is unusable."""
        return key_label(record)

    def run(self, command: Command) -> TransitionResult:
        """Run ``command`` through the pipeline in a session of this service's own."""
        with self._units() as unit:
            return pipeline.run(self, unit, command, self._bridge)

    def acting(self, actor: Principal | str | None) -> dict[str, Any] | None:
        """``actor`` as every event carries it, with the roles its permissions grant."""
        return acting_user(_principal(actor), self.roles)

    @contextlib.contextmanager
    def _sessions(self) -> Iterator[Session]:
        """A session of this service's own for a read (closed, never committed, after it)."""
        with self._units() as unit:
            yield unit.session

    @contextlib.contextmanager
    def bound(self, unit: Unit) -> Iterator[None]:
        """The database-backed ports read the call's session while the block runs (made when one asks)."""
        if self.scope is None:
            yield
            return
        with self.scope.bind(lambda: unit.session):
            yield

    def rehydrate(self, machine: Machine, row: Any) -> tuple[Snapshot, str | None]:
        """The row's snapshot on ``machine``, after any registered migration (and the version it came from)."""
        data, migrated_from = self.migrations.upgrade(
            machine.id, machine.version, snapshot_data(row)
        )
        return machine.resolve_snapshot(data), migrated_from

    def machine_for(self, row: Any) -> Machine:
        """The machine a row names (``workflow_machine``); a name this service lacks is a bad snapshot."""
        name = row.workflow_machine
        if name is None and len(self.machines) == 1:  # as start() picks the only machine
            return next(iter(self.machines.values()))
        machine = self.machines.get(name)
        if machine is None:
            raise InvalidSnapshotError(
                f"the record names machine {name!r}, which this service does not have "
                f"(it has {sorted(self.machines)})",
                "$.workflow_machine",
            )
        return machine

    def machine_named(self, name: str | None) -> Machine:
        if name is None:
            if len(self.machines) != 1:
                raise ConfigurationError(
                    f"say which machine: this service has {sorted(self.machines)}",
                    setting="machine",
                )
            return next(iter(self.machines.values()))
        if name not in self.machines:
            raise UnknownMachineError(name, self.machines, holder="this service has")
        return self.machines[name]

    def machine_of(self, snapshot: Snapshot) -> Machine:
        assert snapshot.machine is not None, "the service only holds snapshots its machines made"
        return self.machines[snapshot.machine.id]

    @staticmethod
    def _who(options: Mapping[str, Any]) -> dict[str, Any]:
        """Call options as a command's fields (``actor`` becomes its principal)."""
        fields = dict(options)
        fields["principal"] = _principal(fields.pop("actor", None))
        return fields


def _attempt(
    machine: Machine, snapshot: Snapshot, option: EventOption, acting: Any
) -> TransitionAttempt:
    if option.allowed and not option.needs_payload:
        after = machine.transition(
            snapshot, as_machine_reads(machine, {"type": option.event}, acting)
        )[0]
        target = dotted_path(after.value) or str(after.value)
        return TransitionAttempt(True, target, snapshot.value, option.event)
    target = ", ".join(option.targets) or "?"
    return TransitionAttempt(False, target, snapshot.value, option.event, option.reason)


def refuse_unpersistable_actors(
    machine: Machine, path: str = "", *, functions: bool = True, child_timers: bool = True
) -> None:
    """A clear error for the actors a driver cannot persist.

    Machine children live in their parent's row and move in its transaction.
    A function actor becomes a durable invocation (a row of its own, run by
    the invocation worker) and a child machine's timer a timer row with the
    child's path, where the driver's journal writes them (``functions``,
    ``child_timers``).  Where it does not, such a machine is refused here,
    saying what to do, rather than failing at the first send.
    """
    where = f"machine '{machine.id}'" + (f" (the child at '{path}')" if path else "")
    for name, logic in machine.implementations.actors.items():
        if isinstance(logic, Machine):
            refuse_unpersistable_actors(
                logic, f"{path}/{name}" if path else name,
                functions=functions, child_timers=child_timers,
            )  # fmt: skip
        elif not functions:
            raise ConfigurationError(
                f"{where} can start the function actor '{name}'; this service's driver does not "
                "write durable invocations yet (the SQLAlchemy WorkflowService does). "
                "Run the machine with orderflow.create_actor, or do the work in an effect "
                "that answers with an event",
                setting="machines",
            )
    has_timers = machine.schedules_raised_events or any(node.after for node in machine.nodes)
    if path and has_timers and not child_timers:
        raise ConfigurationError(
            f"{where} has timers; this service's driver arms timers for the record's own "
            "machine only, not for its child machines (the SQLAlchemy WorkflowService does). "
            "Put the delay in the parent, or run the machine with orderflow.create_actor",
            setting="machines",
        )


def _principal(actor: Principal | str | None) -> Principal | None:
    return Principal(actor) if isinstance(actor, str) else actor


def _params(event: Mapping[str, Any]) -> dict[str, Any]:
    """A payload without its event type (``transition``'s ``params``)."""
    return {k: v for k, v in event.items() if k != "type"}
