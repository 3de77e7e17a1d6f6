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

import copy
import dataclasses
import hashlib
import json
import logging
from collections.abc import Callable, Iterable, Mapping
from contextlib import ExitStack
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel
from sqlalchemy import Table, bindparam, func, insert, inspect, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from orderflow.chart import Action, Machine, Snapshot, Timer
from orderflow.errors import (
    EffectError,
    IdempotencyKeyReusedError,
    InvalidSnapshotError,
    MissingImplementationError,
    OrderflowError,
    RecordNotFoundError,
    StaleRecordError,
    TransitionFailedError,
    UnknownEventError,
)
from orderflow.service.definition_versions import DefinitionMigrations, SnapshotMigration
from orderflow.service.identity import (
    ACTOR_FIELD,
    RoleMapping,
    acting_user,
    is_internal_event,
    json_payload,
    outside_event,
    plain_event,
    refuse_internal,
    with_actor,
)
from orderflow.service.overrides import OverrideRules, override_refusal, record_overrides
from orderflow.service.ports import OUTBOX_WRITTEN, TransactionScope
from orderflow.service.results import (
    BulkFailure,
    BulkResult,
    EventOption,
    Principal,
    TransitionAttempt,
    TransitionOption,
    TransitionResult,
)
from orderflow.service.target_states import (
    event_options,
    find_event,
    handles,
    transitions_from,
)
from orderflow.store import (
    OutboxEvent,
    OverrideRequest,
    ScheduledEvent,
    TransitionLog,
    WorkflowRecord,
    record_identity,
    snapshot_data,
    state_columns,
    status_for_state,
)
from orderflow.store.base import utcnow
from orderflow.store.record import dotted_path
from orderflow.store.workflow_tables import CANCELLED, FIRED, PENDING

logger = logging.getLogger("orderflow.service")

EventLike = str | Mapping[str, Any] | BaseModel
#: handler(session, record, action) -> None, an event, or a list of events to process next
EffectHandler = Callable[[Session, Any, Action], Any]
RecordRef = Any  # a mapped WorkflowRecord instance, or a (Model, primary key) pair

LEGACY_EVENT = "orderflow.legacy_status"
#: the log event of a record put into its workflow at a given state by ``adopt`` (a backfill)
BACKFILL_EVENT = "orderflow.backfill"
#: the reason ``start`` and ``adopt`` give for a record whose workflow is already running
ALREADY_STARTED = "the workflow of this record has already started"


@dataclasses.dataclass
class _Step:
    """One macrostep inside a send, with what it did."""

    event: dict[str, Any]
    before: Snapshot | None
    after: Snapshot
    effects: list[str] = dataclasses.field(default_factory=list)
    emitted: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    scheduled: list[str] = dataclasses.field(default_factory=list)
    cancelled: list[str] = dataclasses.field(default_factory=list)
    log_id: int | None = None
    #: outbox rows the step's effects wrote themselves (a notification port's), given its log row
    outbox: list[OutboxEvent] = dataclasses.field(default_factory=list)


class _Refused(Exception):
    """The event does not move the record; the service answers with ``success=False``."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


Chooser = Callable[[Machine, Snapshot | None], tuple[EventLike | None, str | None]]
#: what a caller asked for, fingerprinted with its idempotency key (or made from the machine
#: and who acts, when the fingerprint is of the event as the machine reads it)
Request = Mapping[str, Any] | Callable[[Machine, Any], Mapping[str, Any]]


@dataclasses.dataclass(frozen=True)
class FinishedRecord:
    """A record whose machine reached a top-level final state in the transaction running now.

    ``session`` is that transaction's session and ``record`` its locked row;
    ``service`` is the same service with every call joined to this
    transaction (each in a SAVEPOINT), so a hook can start the next record's
    machine and have it commit, or roll back, with the transition that
    finished this one.  ``log_id`` is the log row of the finishing step
    (``None`` when hooks run again for a record finished earlier).
    """

    session: Session
    service: WorkflowService
    record: Any
    record_type: str
    record_id: str
    machine: Machine
    snapshot: Snapshot
    actor: Principal | None
    log_id: int | None


#: hook(finished) -> None, run inside the transaction that finished a record's machine
FinishHook = Callable[[FinishedRecord], None]


class WorkflowService:
    """Persisted transitions for records that mix in :class:`~orderflow.store.WorkflowRecord`.

    ``session_factory`` makes a new SQLAlchemy ``Session`` (a ``sessionmaker``);
    the service opens one per call.  ``machines`` maps machine id to machine;
    a record names its machine in ``workflow_machine``.  ``effects`` maps a
    named effect to ``handler(session, record, action)``, run inside the
    transaction; an effect without a handler falls back to the machine's own
    implementation, ``impl(context, event, params)``.  ``workflow_enabled``
    may be switched off at run time for an emergency rollback to direct
    legacy status updates (:meth:`transition` only).

    Who acts is the ``actor`` argument of each call, the authenticated
    principal, never a field of the event: the service writes it into
    every event it runs (``event["actor"]``, with the roles ``roles`` grants
    for its permissions, see :mod:`orderflow.service.identity`), refuses an
    event from outside that carries it, and refuses internal event types
    (``xstate.*``, ``orderflow.*``) at its outside doors (``send``,
    ``bulk_send``, ``transition``).  Timers and hand-offs come in through
    :meth:`deliver`.

    ``scope`` is the :class:`~orderflow.service.ports.TransactionScope` the
    database-backed ports read their session from; the service binds each
    transaction's session to it.  ``overrides`` are the override rules of
    the machines that have them (:func:`~orderflow.service.overrides.sale_override_rules`):
    who may decide, and the ``OverrideRequest`` rows kept in step.
    ``finish_hooks`` run, in order, inside the transaction in which a
    record's machine reaches a top-level final state (see :class:`FinishedRecord`).
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
        roles: RoleMapping
        | Mapping[str, Iterable[str]]
        | Callable[[Principal], Iterable[str]]
        | None = None,
    ) -> None:
        for key, machine in machines.items():
            if key != machine.id:
                raise ValueError(
                    f"machines must be keyed by their id: '{key}' holds '{machine.id}'"
                )
        self.session_factory = session_factory
        self.machines = dict(machines)
        self.effects = dict(effects or {})
        self.workflow_enabled = workflow_enabled
        self.clock = clock
        self.max_follow_ups = max_follow_ups
        self._migrations = DefinitionMigrations()
        self.scope = scope
        self._updates: dict[tuple[type[Any], tuple[str, ...]], Any] = {}
        self._loads: dict[tuple[type[Any], bool, bool], Any] = {}
        self.overrides = {rules.machine: rules for rules in overrides}
        self.finish_hooks = tuple(finish_hooks)
        self.roles = roles if isinstance(roles, RoleMapping) else RoleMapping(roles)
        unknown = set(self.overrides) - set(self.machines)
        if unknown:
            raise ValueError(
                f"override rules for machines this service does not have: {sorted(unknown)}"
            )

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
        if machine_id not in self.machines:
            raise ValueError(
                f"this service has no machine '{machine_id}' (it has {sorted(self.machines)})"
            )
        self._migrations.register(machine_id, from_version, to_version, fn)

    def joined(self, session: Session) -> WorkflowService:
        """This service with every call run in a SAVEPOINT of ``session``'s transaction.

        Its "commit" releases the savepoint and its rollback undoes that call
        only; nothing is durable until ``session`` commits.
        """
        connection = session.connection()
        joined = copy.copy(self)
        joined.session_factory = lambda: Session(
            bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
        )
        return joined

    def rerun_finish_hooks(
        self, record: RecordRef, *, actor: Principal | str | None = None
    ) -> Snapshot:
        """Run the finish hooks again for a record whose machine finished earlier, in one locked transaction.

        For records that finished before a hook was installed, or to repair a
        hand-off by hand; hooks that keep their own unique links (as the
        PhaseCoordinator's do) make a repeat a no-op.  Raises ``ValueError``
        if the record's machine has not finished.
        """
        who = _actor(actor)
        session = self.session_factory()
        session.expire_on_commit = False
        bound = ExitStack()
        if self.scope is not None:
            bound.enter_context(self.scope.bind(session))
        try:
            row, key = self._load(session, record, lock=True)
            machine = self._machine_for(row)
            snapshot, _ = self._rehydrate(machine, row)
            record_type, record_id = _table(type(row)), str(key)
            if snapshot.status != "done":
                raise ValueError(
                    f"{record_type} {record_id!r} has not finished: its machine '{machine.id}' is "
                    f"{snapshot.status} in {snapshot.value!r}"
                )
            self._run_finish_hooks(
                session, row, machine, snapshot, record_type, record_id, who, None
            )
            session.commit()
            return snapshot
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()
            bound.close()

    # -- reading -----------------------------------------------------------------------------

    def snapshot(self, record: RecordRef) -> Snapshot:
        """The record's current snapshot, read from the database (migrated, validated)."""
        with self.session_factory() as session:
            row, _ = self._load(session, record, lock=False)
            return self._rehydrate(self._machine_for(row), row)[0]

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
        machine = self._machine_of(snapshot)
        if is_internal_event(machine, str(data.get("type"))):
            return False
        return machine.can(snapshot, self._as(machine, data, self._acting(actor)))

    def allowed_events(
        self, record: RecordRef, *, actor: Principal | str | None = None
    ) -> list[EventOption]:
        """The events the record's active states take from outside, allowed or not for ``actor`` with the guard's reason."""
        snapshot = self.snapshot(record)
        return event_options(self._machine_of(snapshot), snapshot, self._acting(actor))

    def transitions_for_state(
        self, state: str, machine: str | None = None
    ) -> list[TransitionOption]:
        """The transitions that apply while ``state`` is active (guards not evaluated)."""
        return transitions_from(self._machine_named(machine), state)

    def allowed_transitions(
        self, record: RecordRef, *, actor: Principal | str | None = None
    ) -> list[TransitionAttempt]:
        """Every state one event away from the record's state, each allowed for ``actor`` or not with the reason."""
        snapshot = self.snapshot(record)
        machine = self._machine_of(snapshot)
        acting = self._acting(actor)
        attempts = []
        for option in event_options(machine, snapshot, acting):
            if option.allowed and not option.needs_payload:
                event = with_actor(machine, {"type": option.event}, acting)
                after, _ = machine.transition(snapshot, event)
                target = dotted_path(after.value) or str(after.value)
                attempts.append(TransitionAttempt(True, target, snapshot.value, option.event))
            else:
                target = ", ".join(option.targets) or "?"
                attempts.append(
                    TransitionAttempt(False, target, snapshot.value, option.event, option.reason)
                )
        return attempts

    def can_transition(
        self,
        record: RecordRef,
        to_state: str,
        params: Mapping[str, Any] | None = None,
        *,
        actor: Principal | str | None = None,
    ) -> TransitionAttempt:
        """Can one event sent by ``actor`` move the record into ``to_state``, and which (see ``target_states``)?"""
        params = outside_event({**(params or {}), "type": "?"})
        snapshot = self.snapshot(record)
        return find_event(
            self._machine_of(snapshot), snapshot, to_state, _params(params), self._acting(actor)
        )

    def permission_refusal(
        self, machine: str, event_type: str, actor: Principal | str | None
    ) -> str | None:
        """Why ``actor`` may not send ``event_type`` to a record of ``machine`` at all, or None.

        The service's own rule, checked before the machine sees the event
        (deciding an override needs the role its kind names, which the
        actor's permissions grant through ``roles``); the API asks it
        first to answer with a permission error.
        """
        rules = self.overrides.get(machine)
        if rules is None:
            return None
        return override_refusal(rules, event_type, _actor(actor), self.roles)

    # -- writing -----------------------------------------------------------------------------

    def start(
        self,
        record: RecordRef,
        *,
        machine: str | None = None,
        input: Any = None,
        actor: Principal | str | None = None,
        note: str = "",
        dry_run: bool = False,
    ) -> TransitionResult:
        """Enter the initial state of ``machine`` for a record that has no workflow state yet.

        A new (transient) record is inserted in the same transaction.
        """
        chosen = self._machine_named(machine or getattr(record, "workflow_machine", None))

        def choose(_: Machine, snapshot: Snapshot | None) -> tuple[EventLike | None, str | None]:
            if snapshot is not None:
                return None, ALREADY_STARTED
            return {"type": "xstate.init", "input": input}, None

        return self._execute(
            record, choose, actor=actor, note=note, idempotency_key=None, dry_run=dry_run,
            expected_version=None, starting=chosen,
        )  # fmt: skip

    def adopt(
        self,
        record: RecordRef,
        state: Any,
        context: Any,
        *,
        machine: str | None = None,
        legacy_status: str | None = None,
        actor: Principal | str | None = None,
        note: str = "",
        dry_run: bool = False,
    ) -> TransitionResult:
        """Put a record that has only a legacy status into its workflow at ``state`` (a backfill).

        ``state`` is a state value (``"awaiting_payment"``, ``{"sale": "x"}``)
        and ``context`` the context to hold there; both are validated like a
        persisted snapshot (:class:`InvalidSnapshotError` otherwise, nothing
        written).  The ``after`` timers of the states it lands in are armed
        as if they had just been entered.  No entry action or effect runs and
        no hand-off either: the record is taken to be where its legacy status
        says.  The log row's event is ``orderflow.backfill``.  A record whose
        workflow has started already is refused (``success=False``), so a
        backfill run twice changes nothing the second time.
        """
        chosen = self._machine_named(machine or getattr(record, "workflow_machine", None))
        event: dict[str, Any] = {
            "type": BACKFILL_EVENT, "state": state, "context": context,
            "legacy_status": legacy_status,
        }  # fmt: skip

        def choose(_: Machine, snapshot: Snapshot | None) -> tuple[EventLike | None, str | None]:
            if snapshot is not None:
                return None, ALREADY_STARTED
            return event, None

        return self._execute(
            record, choose, actor=actor, note=note, idempotency_key=None, dry_run=dry_run,
            expected_version=None, starting=chosen,
        )  # fmt: skip

    def send(
        self,
        record: RecordRef,
        event: EventLike,
        *,
        actor: Principal | str | None = None,
        note: str = "",
        idempotency_key: str | None = None,
        dry_run: bool = False,
        expected_version: int | None = None,
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
        return self._send(
            record, outside_event(event), actor=actor, note=note,
            idempotency_key=idempotency_key, dry_run=dry_run, expected_version=expected_version,
            internal=False,
        )  # fmt: skip

    def deliver(
        self,
        record: RecordRef,
        event: EventLike,
        *,
        actor: Principal | str | None = None,
        note: str = "",
        idempotency_key: str | None = None,
    ) -> TransitionResult:
        """The service's internal path: an event raised inside, such as a due timer or a hand-off.

        Like :meth:`send`, but internal event types (``xstate.after.*``, ...)
        are taken; who acts is still ``actor`` (written over anything the
        event says).  The timer worker and the coordinator come in here;
        never wire it to input from outside.
        """
        return self._send(
            record, plain_event(event), actor=actor, note=note,
            idempotency_key=idempotency_key, dry_run=False, expected_version=None, internal=True,
        )  # fmt: skip

    def _send(
        self,
        record: RecordRef,
        plain: dict[str, Any],
        *,
        actor: Principal | str | None,
        note: str,
        idempotency_key: str | None,
        dry_run: bool,
        expected_version: int | None,
        internal: bool,
    ) -> TransitionResult:
        def choose(
            machine: Machine, snapshot: Snapshot | None
        ) -> tuple[EventLike | None, str | None]:
            if not internal:
                refuse_internal(machine, plain.get("type"))
            if snapshot is None:
                return None, "the workflow of this record has not started; call start() first"
            return plain, None

        def request(machine: Machine, acting: Any) -> dict[str, Any]:
            # the event as the machine reads it (its payload model's values), so "10" and
            # Decimal("10") for a number field are one request; who acts is not part of it
            event = self._as(machine, plain, acting)
            return {"send": {k: v for k, v in event.items() if k != ACTOR_FIELD}}

        return self._execute(
            record, choose, actor=actor, note=note, idempotency_key=idempotency_key,
            dry_run=dry_run, expected_version=expected_version, request=request,
        )  # fmt: skip

    def transition(
        self,
        record: RecordRef,
        to_state: str,
        *,
        actor: Principal | str | None = None,
        note: str = "",
        params: Mapping[str, Any] | None = None,
        idempotency_key: str | None = None,
        dry_run: bool = False,
    ) -> TransitionResult:
        """Move the record into ``to_state`` by the one event that leads there (``params`` is its payload).

        With ``workflow_enabled`` off this is a direct legacy status update,
        logged as such.  An outside door, as :meth:`send` is: ``params``
        carrying ``actor`` are refused, and no internal event is chosen.
        """
        payload = _params(outside_event({**(params or {}), "type": "?"}))
        who = _actor(actor)

        def choose(
            machine: Machine, snapshot: Snapshot | None
        ) -> tuple[EventLike | None, str | None]:
            if snapshot is None:
                return None, "the workflow of this record has not started; call start() first"
            attempt = find_event(machine, snapshot, to_state, payload, self._acting(who))
            if not attempt.allowed or attempt.event is None:
                return None, attempt.reason
            return {**payload, "type": attempt.event}, None

        return self._execute(
            record, choose, actor=who, note=note, idempotency_key=idempotency_key,
            dry_run=dry_run, expected_version=None, legacy_to=to_state,
            request={"transition": to_state, "params": json_payload(payload)},
        )  # fmt: skip

    def request_override(
        self,
        record: RecordRef,
        kind: str,
        reason: str,
        *,
        actor: Principal | str | None = None,
        note: str = "",
        idempotency_key: str | None = None,
    ) -> TransitionResult:
        """Ask for an override of ``kind`` (``"credit"``, ``"admin"``): its request event, and a row.

        The machine opens the request in its context; the service writes the
        :class:`~orderflow.store.OverrideRequest` row in the same transaction.
        """
        rules = self._override_rules(record)
        event = {"type": rules.kind(kind).request_event, "reason": reason}
        return self.send(record, event, actor=actor, note=note, idempotency_key=idempotency_key)

    def decide_override(
        self,
        record: RecordRef,
        request_id: str,
        *,
        approve: bool,
        actor: Principal,
        note: str = "",
        idempotency_key: str | None = None,
    ) -> TransitionResult:
        """Approve or reject the open override request ``request_id`` (its id in the context).

        ``actor`` needs the permission the request's kind is configured with;
        without it the answer is ``success=False`` with the reason, and nothing
        is written or logged.  The row records who decided, when, and the note.
        """
        rules = self._override_rules(record)
        kind_name = request_id.rsplit("-", 1)[0]
        with self.session_factory() as session:
            model, key = record_identity(record)
            found = session.scalar(
                select(OverrideRequest.kind).where(
                    OverrideRequest.record_type == _table(model),
                    OverrideRequest.record_id == str(key),
                    OverrideRequest.request_key == request_id,
                )
            )
        if found is not None:
            kind_name = found
        if kind_name not in rules.kind_names:
            return TransitionResult(
                False, _table(model), str(key), None, None, None,
                reason=f"there is no override request '{request_id}' on this record",
            )  # fmt: skip
        kind = rules.kind(kind_name)
        event = {
            "type": kind.decision_events[0 if approve else 1],
            "request_id": request_id,
            "note": note,
        }
        return self.send(record, event, actor=actor, note=note, idempotency_key=idempotency_key)

    def override_requests(self, record: RecordRef) -> list[OverrideRequest]:
        """The record's override requests, oldest first."""
        model, key = record_identity(record)
        with self.session_factory() as session:
            return list(
                session.scalars(
                    select(OverrideRequest)
                    .where(
                        OverrideRequest.record_type == _table(model),
                        OverrideRequest.record_id == str(key),
                    )
                    .order_by(OverrideRequest.id)
                )
            )

    def _override_rules(self, record: RecordRef) -> OverrideRules:
        name = getattr(record, "workflow_machine", None)
        if name is None:
            name = self._machine_of(self.snapshot(record)).id
        rules = self.overrides.get(name)
        if rules is None:
            raise ValueError(f"this service has no override rules for machine '{name}'")
        return rules

    def bulk_send(
        self,
        records: Iterable[RecordRef],
        event: EventLike,
        *,
        actor: Principal | str | None = None,
        note: str = "",
        dry_run: bool = False,
        idempotency_key: str | None = None,
        progress: Callable[[int, TransitionResult | None], None] | None = None,
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
                result = self.send(
                    record, event, actor=actor, note=note, dry_run=dry_run,
                    idempotency_key=idempotency_key,
                )  # fmt: skip
            except (OrderflowError, IntegrityError) as exc:
                failures.append(BulkFailure(_key_label(record), str(exc)))
            else:
                results.append(result)
                if not result.success:
                    failures.append(BulkFailure(result.record_id, result.reason or "refused"))
            if progress is not None:
                progress(done, result)
        succeeded = sum(1 for r in results if r.success)
        return BulkResult(succeeded, len(failures), tuple(failures), tuple(results))

    # -- who acts ----------------------------------------------------------------------------

    def _acting(self, actor: Principal | str | None) -> dict[str, Any] | None:
        """``actor`` as every event carries it, with the roles its permissions grant."""
        return acting_user(_actor(actor), self.roles)

    def _as(self, machine: Machine, data: Mapping[str, Any], acting: Any) -> dict[str, Any]:
        """``data`` as the machine reads it: who acts written in, the payload validated and JSON."""
        event = with_actor(machine, data, acting)
        if machine.implementations.events.get(str(event.get("type"))) is None:
            event = json_payload(event)  # what guards read is what the log keeps
        return json_payload(machine.event(event).data)

    # -- the transaction ---------------------------------------------------------------------

    def _execute(
        self,
        record: RecordRef,
        choose: Chooser,
        *,
        actor: Principal | str | None,
        note: str,
        idempotency_key: str | None,
        dry_run: bool,
        expected_version: int | None,
        starting: Machine | None = None,
        legacy_to: str | None = None,
        request: Request | None = None,
        first_try: bool = True,
    ) -> TransitionResult:
        model = record[0] if isinstance(record, tuple) else type(record)
        digest = None
        record_type, record_id = _table(model), "?"
        who = _actor(actor)
        acting = self._acting(who)
        session = self.session_factory()
        session.expire_on_commit = False
        bound = ExitStack()
        if self.scope is not None:
            bound.enter_context(self.scope.bind(session))
        try:
            row, key = self._load(session, record, lock=True, insert=starting is not None)
            record_id = str(key)
            if idempotency_key is not None:
                if callable(request):
                    request = request(starting or self._machine_for(row), acting)
                digest = request_digest(request)
                earlier = self._earlier(session, record_type, record_id, idempotency_key, digest)
                if earlier is not None:
                    session.rollback()
                    return earlier
            read_version = row.workflow_version or 0
            if expected_version is not None and read_version != expected_version:
                raise StaleRecordError(record_type, record_id, expected_version, read_version)

            def refused(reason: str | None, before: Any = None) -> TransitionResult:
                status = row.status  # read before the rollback expires the row (a reload)
                session.rollback()
                return TransitionResult(
                    False, record_type, record_id, None, before, before,
                    reason=reason, dry_run=dry_run, version=read_version, status=status,
                )  # fmt: skip

            if not self.workflow_enabled:
                if legacy_to is None:
                    return refused(
                        "the workflow is disabled (workflow_enabled=False); only "
                        "transition(record, to_state) works then, as a direct legacy status update"
                    )
                result = self._legacy_update(
                    session, row, legacy_to, who, note, idempotency_key, digest, dry_run,
                    read_version,
                )  # fmt: skip
                self._finish(session, record, row, dry_run)
                return result

            machine = starting or self._machine_for(row)
            snapshot, migrated_from = (
                (None, None) if row.workflow_state is None else self._rehydrate(machine, row)
            )
            if starting is None and snapshot is None:
                return refused("the workflow of this record has not started; call start() first")
            event, reason = choose(machine, snapshot)
            if event is None:
                return refused(reason, None if snapshot is None else snapshot.value)
            assert isinstance(event, Mapping)
            rules = self.overrides.get(machine.id)
            if rules is not None:
                reason = override_refusal(rules, str(event.get("type")), who, self.roles)
                if reason is not None:  # refused before the machine sees it; written nowhere
                    return refused(reason, None if snapshot is None else snapshot.value)
            try:
                steps = self._run(
                    session, row, machine, snapshot, event, acting, dry_run, record_type,
                    record_id,
                )  # fmt: skip
            except _Refused as refusal:
                return refused(refusal.reason, None if snapshot is None else snapshot.value)
            # a dry run reports the status the row has; a write, the one it will have
            columns = None if dry_run else state_columns(steps[-1].after, type(row))
            status = row.status if columns is None else columns.get("status", row.status)
            result = self._result(record_type, record_id, steps, read_version, status, dry_run)
            if columns is not None:
                self._write(
                    session, row, machine, steps, read_version, who, note, idempotency_key,
                    digest, migrated_from, result, columns,
                )  # fmt: skip
                if steps[-1].after.status == "done" and steps[0].event["type"] != BACKFILL_EVENT:
                    self._run_finish_hooks(
                        session, row, machine, steps[-1].after, record_type, record_id, who,
                        steps[-1].log_id,
                    )  # fmt: skip
            self._finish(session, record, row, dry_run)
            return self._with_log_ids(result, steps)
        except IntegrityError:
            session.rollback()
            if idempotency_key is not None:  # a concurrent send with the same key won the race
                with self.session_factory() as again:
                    earlier = self._earlier(again, record_type, record_id, idempotency_key, digest)
                if earlier is not None:
                    return earlier
            if starting is not None and first_try:
                # a concurrent start inserted the same new key first: once more, now that the
                # row is there to load (refused as already started, or started if it is not)
                return self._execute(
                    record, choose, actor=who, note=note, idempotency_key=idempotency_key,
                    dry_run=dry_run, expected_version=expected_version, starting=starting,
                    legacy_to=legacy_to, request=request, first_try=False,
                )  # fmt: skip
            raise
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()
            bound.close()

    def _run_finish_hooks(
        self,
        session: Session,
        row: Any,
        machine: Machine,
        snapshot: Snapshot,
        record_type: str,
        record_id: str,
        actor: Principal | None,
        log_id: int | None,
    ) -> None:
        if not self.finish_hooks:
            return
        finished = FinishedRecord(
            session, self.joined(session), row, record_type, record_id, machine, snapshot,
            actor, log_id,
        )  # fmt: skip
        for hook in self.finish_hooks:
            hook(finished)
        session.flush()

    def _refusal(
        self, machine: Machine, snapshot: Snapshot, event: Mapping[str, Any]
    ) -> str | None:
        """Why ``snapshot`` cannot take ``event`` at all (None if it may); raises for an unknown event."""
        event_type = str(event.get("type"))
        if not handles(machine, event_type):
            raise UnknownEventError(machine.id, event_type)
        if snapshot.status != "active":
            return f"the workflow of this record is {snapshot.status}; it takes no more events"
        return None

    def _run(
        self,
        session: Session,
        row: Any,
        machine: Machine,
        snapshot: Snapshot | None,
        event: Mapping[str, Any],
        acting: Any,
        dry_run: bool,
        record_type: str,
        record_id: str,
    ) -> list[_Step]:
        """The macrosteps of this send: the event's, then those of the events its effects answered.

        Every event, the caller's and the effects' replies alike, carries who acts (``acting``).
        """
        steps: list[_Step] = []
        queue: list[EventLike] = [event]
        current = snapshot
        while queue:
            if len(steps) > self.max_follow_ups:
                raise OrderflowError(
                    f"effects kept answering with events after {self.max_follow_ups} follow-up steps "
                    f"of {record_type} {record_id!r}; check the effects' replies"
                )
            next_event = queue.pop(0)
            if current is None:
                data = dict(next_event)  # type: ignore[arg-type]
                if data["type"] == BACKFILL_EVENT:
                    after, actions = _adopted(machine, data)
                else:
                    after, actions = machine.initial_transition(input=data.get("input"))
                if after.status == "error":
                    raise TransitionFailedError(record_type, record_id, "xstate.init", after.error)
            else:
                # a malformed event or a payload that fails its model raises InvalidEventError
                data = self._as(machine, plain_event(next_event), acting)
                reason = self._refusal(machine, current, data)
                if reason is None:
                    after, actions = machine.transition(current, data)
                    if after.status == "error":
                        raise TransitionFailedError(
                            record_type, record_id, str(data["type"]), after.error
                        )
                    if not machine.can(current, data):
                        reason = str(machine.explain(current, data))
                if reason is not None:
                    if not steps:
                        raise _Refused(reason)
                    logger.info("follow-up of %s %s ignored: %s", record_type, record_id, reason)
                    continue
            step = _Step(data, current, after)
            replies = self._perform(
                session, row, machine, step, actions, dry_run, record_type, record_id
            )
            if step.effects and not dry_run:
                step.outbox = session.info.pop(OUTBOX_WRITTEN, [])
            steps.append(step)
            queue[:0] = replies
            current = step.after
        return steps

    def _perform(
        self,
        session: Session,
        row: Any,
        machine: Machine,
        step: _Step,
        actions: list[Action],
        dry_run: bool,
        record_type: str,
        record_id: str,
    ) -> list[EventLike]:
        """Run one step's actions in order; return the events the effects answered with."""
        replies: list[EventLike] = []
        due: dict[str, float] = {}
        now = self.clock()
        if step.before is not None and not dry_run:
            # The core consumes the first pending timer whose event this is: its row has fired.
            # Settled first, so a schedule below that re-arms the same id cancels nothing fired.
            delivered = next(
                (t.id for t in step.before.timers if t.event.get("type") == step.event["type"]),
                None,
            )
            if delivered is not None:
                self._cancel_timers(session, record_type, record_id, [delivered], FIRED)
        for action in actions:
            if action.type == "emit":
                step.emitted.append(dict(action.params["event"]))
            elif action.type == "log":
                logger.info("%s %s: %s", record_type, record_id, action.params.get("message"))
            elif action.type == "schedule":
                timer_id = str(action.params["id"])
                step.scheduled.append(timer_id)
                due_at = now + timedelta(milliseconds=float(action.params["delay"]))
                due[timer_id] = due_at.timestamp() * 1000
                if not dry_run:
                    self._cancel_timers(session, record_type, record_id, [timer_id], CANCELLED)
                    session.add(
                        ScheduledEvent(
                            record_type=record_type, record_id=record_id, machine=machine.id,
                            timer_id=timer_id, event=dict(action.params["event"]),
                            due_at=due_at, status=PENDING,
                        )
                    )  # fmt: skip
            elif action.type == "cancel":
                step.cancelled.append(str(action.params["id"]))
                if not dry_run:
                    self._cancel_timers(
                        session, record_type, record_id, step.cancelled[-1:], CANCELLED
                    )
            else:
                step.effects.append(action.type)
                if not dry_run:
                    replies.extend(
                        self._effect(session, row, machine, step, action, record_type, record_id)
                    )
        if due:
            timers = tuple(
                dataclasses.replace(t, due=due[t.id]) if t.id in due else t
                for t in step.after.timers
            )
            step.after = dataclasses.replace(step.after, timers=timers)
        return replies

    def _effect(
        self,
        session: Session,
        row: Any,
        machine: Machine,
        step: _Step,
        action: Action,
        record_type: str,
        record_id: str,
    ) -> list[EventLike]:
        handler = self.effects.get(action.type)
        try:
            if handler is not None:
                answer = handler(session, row, action)
            elif action.type in machine.effects:
                answer = machine.effects[action.type](
                    step.after.context, action.event, action.params
                )
            else:
                raise MissingImplementationError("action", action.type)
        except MissingImplementationError:
            raise
        except Exception as exc:
            raise EffectError(
                record_type, record_id, str(step.event["type"]), action.type, exc
            ) from exc
        if answer is None:
            return []
        if isinstance(answer, str | Mapping | BaseModel):
            return [answer]
        if isinstance(answer, list | tuple):
            return list(answer)
        raise EffectError(
            record_type, record_id, str(step.event["type"]), action.type,
            TypeError(f"an effect may return None, an event or a list of events, not {type(answer).__name__}"),
        )  # fmt: skip

    def _cancel_timers(
        self, session: Session, record_type: str, record_id: str, ids: list[str], status: str
    ) -> None:
        session.execute(
            update(ScheduledEvent)
            .where(
                ScheduledEvent.record_type == record_type,
                ScheduledEvent.record_id == record_id,
                ScheduledEvent.timer_id.in_(ids),
                ScheduledEvent.status == PENDING,
            )
            .values(status=status, settled_at=self.clock())
            .execution_options(synchronize_session=False)
        )

    def _write(
        self,
        session: Session,
        row: Any,
        machine: Machine,
        steps: list[_Step],
        read_version: int,
        actor: Principal | None,
        note: str,
        idempotency_key: str | None,
        digest: str | None,
        migrated_from: str | None,
        result: TransitionResult,
        columns: dict[str, Any],
    ) -> None:
        """Write ``columns`` (the last step's snapshot), the log rows, override rows and the outbox."""
        model = type(row)
        record_type, record_id = result.record_type, result.record_id
        new_version = read_version + len(steps)
        # Core statements go straight to the transaction's connection: nothing of the ORM's
        # (autoflush, bind lookup, ORM compile) is needed for them, and effects' ORM writes
        # are flushed below, before the commit
        connection = session.connection()
        written = connection.execute(
            self._versioned_update(model, tuple(columns)),
            {
                **{f"new_{name}": value for name, value in columns.items()},
                "new_workflow_version": new_version,
                "record_key": getattr(row, _pk_column(model).key),
                "read_version": read_version,
            },
        )
        if written.rowcount != 1:
            raise StaleRecordError(
                record_type, record_id, read_version, _current_version(session, row)
            )
        for name, value in {**columns, "workflow_version": new_version}.items():
            set_committed_value(row, name, value)
        logs: list[dict[str, Any]] = []
        for index, step in enumerate(steps):
            details: dict[str, Any] = {
                "event": step.event,
                "transition": {
                    "from": None if step.before is None else _value(step.before),
                    "to": _value(step.after),
                    "status": step.after.status,
                },
                "effects": step.effects,
                "emitted": step.emitted,
                "scheduled": step.scheduled,
                "cancelled": step.cancelled,
            }
            if index == 0:
                if migrated_from is not None:
                    details["migrated_from"] = migrated_from
                if digest is not None:
                    details["request"] = digest
                details["result"] = result.to_json()
            logs.append(
                {
                    "record_type": record_type, "record_id": record_id, "machine": machine.id,
                    "machine_version": machine.version, "event": str(step.event["type"]),
                    "from_state": details["transition"]["from"],
                    "to_state": details["transition"]["to"],
                    "record_version": read_version + index + 1,
                    "actor_user": None if actor is None else actor.id,
                    "actor_label": None if actor is None else (actor.label or actor.id),
                    "note": note, "metadata": details,
                    "idempotency_key": idempotency_key if index == 0 else None,
                    "created_at": self.clock(),
                }
            )  # fmt: skip
        if len(logs) == 1:  # the common case: a plain INSERT ... RETURNING, not a batch
            log_ids = [connection.execute(_LOG_INSERT_ONE, logs[0]).scalar_one()]
        else:
            log_ids = list(connection.execute(_LOG_INSERT, logs).scalars())
        for step, log_id in zip(steps, log_ids, strict=True):
            step.log_id = log_id
            for outbox in step.outbox:
                outbox.transition_id = log_id
        rules = self.overrides.get(machine.id)
        if rules is not None:
            before = steps[0].before
            record_overrides(
                session, rules, record_type, record_id,
                None if before is None else before.to_json()["context"],
                columns["workflow_context"], actor, self.clock(),
            )  # fmt: skip
        if any(step.emitted for step in steps):
            sequence = (
                session.scalar(
                    select(func.coalesce(func.max(OutboxEvent.sequence), 0)).where(
                        OutboxEvent.record_type == record_type, OutboxEvent.record_id == record_id
                    )
                )
                or 0
            )
            for step in steps:
                for emitted in step.emitted:
                    sequence += 1
                    session.add(
                        OutboxEvent(
                            record_type=record_type, record_id=record_id, sequence=sequence,
                            event_type=str(emitted.get("type")), payload=emitted,
                            transition_id=step.log_id, status=PENDING, attempts=0,
                            available_at=self.clock(), created_at=self.clock(),
                        )
                    )  # fmt: skip
        session.flush()

    def _versioned_update(self, model: type[Any], names: tuple[str, ...]) -> Any:
        """The version-checked UPDATE of ``model`` setting ``names``, built once per service."""
        key = (model, names)
        statement = self._updates.get(key)
        if statement is None:
            statement = self._updates[key] = _versioned_update(model, names)
        return statement

    def _legacy_update(
        self,
        session: Session,
        row: Any,
        to_state: str,
        actor: Principal | None,
        note: str,
        idempotency_key: str | None,
        digest: str | None,
        dry_run: bool,
        read_version: int,
    ) -> TransitionResult:
        """The emergency path: set the legacy status directly, bump the version, log that we did."""
        model = type(row)
        record_type, record_id = _table(model), str(record_identity(row)[1])
        old, new = row.status, status_for_state(model, to_state)
        result = TransitionResult(
            True, record_type, record_id, LEGACY_EVENT, {"status": old}, {"status": new},
            dry_run=dry_run, version=read_version + (0 if dry_run else 1), status=new, steps=1,
            reason="workflow disabled: direct legacy status update",
        )  # fmt: skip
        if dry_run:
            return result
        pk = _pk_column(model)
        written = session.execute(
            update(model)
            .where(pk == getattr(row, pk.key), model.workflow_version == read_version)
            .values(status=new, workflow_version=read_version + 1)
            .execution_options(synchronize_session=False)
        )
        if written.rowcount != 1:  # type: ignore[attr-defined]
            raise StaleRecordError(
                record_type, record_id, read_version, _current_version(session, row)
            )
        set_committed_value(row, "status", new)
        set_committed_value(row, "workflow_version", read_version + 1)
        log = TransitionLog(
            record_type=record_type, record_id=record_id, machine=row.workflow_machine or "",
            machine_version=None, event=LEGACY_EVENT, from_state={"status": old},
            to_state={"status": new}, record_version=read_version + 1,
            actor_user=None if actor is None else actor.id,
            actor_label=None if actor is None else (actor.label or actor.id), note=note,
            details={
                "workflow_enabled": False, "fallback": "direct legacy status update",
                "to_state": to_state, "result": result.to_json(),
                **({} if digest is None else {"request": digest}),
            },
            idempotency_key=idempotency_key, created_at=self.clock(),
        )  # fmt: skip
        session.add(log)
        session.flush()
        return dataclasses.replace(result, log_ids=(log.id,))

    def _finish(self, session: Session, record: RecordRef, row: Any, dry_run: bool) -> None:
        if dry_run:
            session.rollback()
            return
        session.commit()
        if record is not row and not isinstance(record, tuple):
            for name in (
                "workflow_machine",
                "workflow_state",
                "workflow_context",
                "workflow_version",
                "status",
            ):
                set_committed_value(record, name, getattr(row, name))

    # -- loading -----------------------------------------------------------------------------

    def _load(
        self, session: Session, record: RecordRef, *, lock: bool, insert: bool = False
    ) -> tuple[Any, Any]:
        """The record's row in ``session`` (inserted first when ``insert`` and new) and its key."""
        if insert and not isinstance(record, tuple) and _has_no_key(record):
            session.add(record)
            session.flush()
            return record, record_identity(record)[1]
        model, key = record_identity(record)
        # a session that holds no instance yet (every send's own) needs no refresh of one
        refresh = bool(session.identity_map)
        query = self._loads.get((model, lock, refresh))
        if query is None:
            query = self._loads[model, lock, refresh] = _row_query(model, lock, refresh)
        row = session.execute(query, {"record_key": key}).scalar_one_or_none()
        if row is None:
            if insert and not isinstance(record, tuple):
                session.add(record)
                session.flush()
                return record, key
            raise RecordNotFoundError(_table(model), str(key))
        if not isinstance(row, WorkflowRecord):
            raise TypeError(f"{model.__name__} does not mix in orderflow.store.WorkflowRecord")
        return row, key

    def _rehydrate(self, machine: Machine, row: Any) -> tuple[Snapshot, str | None]:
        data = snapshot_data(row)
        data, migrated_from = self._migrations.upgrade(machine.id, machine.version, data)
        return machine.resolve_snapshot(data), migrated_from

    def _machine_for(self, row: Any) -> Machine:
        name = row.workflow_machine
        machine = self.machines.get(name)
        if machine is None:
            raise InvalidSnapshotError(
                f"the record names machine {name!r}, which this service does not have "
                f"(it has {sorted(self.machines)})",
                "$.workflow_machine",
            )
        return machine

    def _machine_named(self, name: str | None) -> Machine:
        if name is None:
            if len(self.machines) != 1:
                raise ValueError(f"say which machine: this service has {sorted(self.machines)}")
            return next(iter(self.machines.values()))
        if name not in self.machines:
            raise KeyError(f"this service has no machine '{name}' (it has {sorted(self.machines)})")
        return self.machines[name]

    def _machine_of(self, snapshot: Snapshot) -> Machine:
        assert snapshot.machine is not None, "the service only holds snapshots its machines made"
        return self.machines[snapshot.machine.id]

    def _earlier(
        self, session: Session, record_type: str, record_id: str, key: str, digest: str | None
    ) -> TransitionResult | None:
        """The first answer given under ``key``, or None; a different request under it raises."""
        log = session.execute(
            select(TransitionLog).where(
                TransitionLog.record_type == record_type,
                TransitionLog.record_id == record_id,
                TransitionLog.idempotency_key == key,
            )
        ).scalar_one_or_none()
        if log is None:
            return None
        first = log.details.get("request")  # None on rows written before requests were kept
        if digest is not None and first is not None and first != digest:
            raise IdempotencyKeyReusedError(record_type, record_id, key, log.event)
        result = TransitionResult.from_json(log.details["result"])
        return dataclasses.replace(result.replayed(), log_ids=(log.id,))

    def _result(
        self,
        record_type: str,
        record_id: str,
        steps: list[_Step],
        read_version: int,
        status: str | None,
        dry_run: bool,
    ) -> TransitionResult:
        first, last = steps[0], steps[-1]
        return TransitionResult(
            True, record_type, record_id, str(first.event["type"]),
            None if first.before is None else _value(first.before), _value(last.after),
            effects=tuple(e for s in steps for e in s.effects),
            emitted=tuple(e for s in steps for e in s.emitted),
            scheduled=tuple(t for s in steps for t in s.scheduled),
            cancelled=tuple(t for s in steps for t in s.cancelled),
            dry_run=dry_run, version=read_version if dry_run else read_version + len(steps),
            status=status, steps=len(steps),
        )  # fmt: skip

    @staticmethod
    def _with_log_ids(result: TransitionResult, steps: list[_Step]) -> TransitionResult:
        ids = tuple(s.log_id for s in steps if s.log_id is not None)
        return dataclasses.replace(result, log_ids=ids) if ids else result


#: the log rows of one send, in one statement that answers with their ids in order
_LOG_TABLE: Table = TransitionLog.__table__  # type: ignore[assignment]
_LOG_INSERT = insert(_LOG_TABLE).returning(_LOG_TABLE.c.id, sort_by_parameter_order=True)
_LOG_INSERT_ONE = insert(_LOG_TABLE).returning(_LOG_TABLE.c.id)


def _versioned_update(model: type[Any], names: tuple[str, ...]) -> Any:
    """``UPDATE <table> SET <names>, workflow_version WHERE <key> AND workflow_version = <read>``.

    Built once per model and column set (the service keeps it): a Core statement with bound
    parameters, which SQLAlchemy compiles once and the ORM need not plan.
    """
    table = inspect(model).local_table
    (key,) = table.primary_key.columns
    return (
        update(table)
        .where(
            key == bindparam("record_key"), table.c.workflow_version == bindparam("read_version")
        )
        .values({table.c[name]: bindparam(f"new_{name}") for name in (*names, "workflow_version")})
    )


def _row_query(model: type[Any], lock: bool, refresh: bool) -> Any:
    """``SELECT <model> WHERE <key> = :record_key`` (``FOR UPDATE`` when ``lock``), built once per service.

    With ``refresh``, ``populate_existing`` overwrites an instance the session
    already holds with the row as read now (a session that holds none does
    not pay for it).
    """
    query = select(model).where(_pk_column(model) == bindparam("record_key"))
    if lock:
        query = query.with_for_update()
    return query.execution_options(populate_existing=True) if refresh else query


def request_digest(request: Mapping[str, Any] | None) -> str:
    """A fingerprint of what a caller asked for, kept with its idempotency key's log row.

    Canonical JSON (sorted keys; decimals, dates and the like as text), so a
    retry whose payload lists the same fields in another order, or spells
    ``Decimal("10")`` for ``"10"``, is the same request.
    """
    try:
        text = json.dumps(request or {}, sort_keys=True, separators=(",", ":"), default=str)
    except TypeError:  # keys of mixed types cannot be sorted: the payload's own order, then
        text = json.dumps(request or {}, separators=(",", ":"), default=str)
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def _key_label(record: RecordRef) -> str:
    """The record id a bulk failure reports, even for a reference whose key is unusable."""
    if isinstance(record, tuple):
        return str(record[-1]) if record else "?"
    try:
        return str(record_identity(record)[1])
    except (OrderflowError, TypeError):
        return "?"


def _has_no_key(record: Any) -> bool:
    return any(k is None for k in inspect(type(record)).primary_key_from_instance(record))


def _actor(actor: Principal | str | None) -> Principal | None:
    return Principal(actor) if isinstance(actor, str) else actor


def _params(event: Mapping[str, Any]) -> dict[str, Any]:
    """A payload without its event type (``transition``'s ``params``)."""
    return {k: v for k, v in event.items() if k != "type"}


def _value(snapshot: Snapshot) -> Any:
    """The snapshot's state value as plain JSON (without serialising its context)."""
    return _plain_value(snapshot.value)


def _plain_value(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {key: _plain_value(sub) for key, sub in value.items()}
    return value


def _table(model: type[Any]) -> str:
    return str(getattr(model, "__tablename__", model.__name__))


def _pk_column(model: type[Any]) -> Any:
    """The mapped primary-key attribute of ``model`` (looked up once per model)."""
    found = _PK_COLUMNS.get(model)
    if found is None:
        (column,) = inspect(model).primary_key
        found = _PK_COLUMNS[model] = getattr(
            model, inspect(model).get_property_by_column(column).key
        )
    return found


_PK_COLUMNS: dict[type[Any], Any] = {}


def _adopted(machine: Machine, event: dict[str, Any]) -> tuple[Snapshot, list[Action]]:
    """The snapshot of a record put at ``event["state"]``, with the timers of its states armed."""
    snapshot = machine.resolve_snapshot({
        "machine": machine.id, "version": machine.version,
        "value": event["state"], "context": event["context"],
    })  # fmt: skip
    if snapshot.status != "active":
        return snapshot, []
    cause = machine.event({"type": BACKFILL_EVENT})
    timers = tuple(
        Timer(delayed.event_type, {"type": delayed.event_type},
              machine.resolve_delay(delayed.delay, snapshot.context, cause))
        for state in sorted(snapshot.configuration, key=lambda node: node.order)
        for delayed in state.after
    )  # fmt: skip
    actions = [Action("schedule", timer.to_json(), {"type": BACKFILL_EVENT}) for timer in timers]
    return dataclasses.replace(snapshot, timers=timers), actions


def bump_version(session: Session, row: Any) -> int:
    """Count one more write to ``row`` (a hand-off's log row on it): version-checked, like a send.

    Every log row stands for one version bump, so a record's log and its
    ``workflow_version`` always agree, and a writer holding the old version
    fails its optimistic check instead of overwriting what the hand-off did.
    """
    model = type(row)
    pk = _pk_column(model)
    read = row.workflow_version or 0
    written = session.execute(
        update(model)
        .where(pk == getattr(row, pk.key), model.workflow_version == read)
        .values(workflow_version=read + 1)
        .execution_options(synchronize_session=False)
    )
    if written.rowcount != 1:  # type: ignore[attr-defined]
        raise StaleRecordError(
            _table(model), str(getattr(row, pk.key)), read, _current_version(session, row)
        )
    set_committed_value(row, "workflow_version", read + 1)
    return read + 1


def _current_version(session: Session, row: Any) -> int | None:
    model = type(row)
    pk = _pk_column(model)
    found = session.execute(
        select(model.workflow_version).where(pk == getattr(row, pk.key))
    ).scalar_one_or_none()
    return None if found is None else int(found)
