"""The Django workers: due timers and invocations delivered through the service, the outbox relayed.

One record at a time, in the service's lock order: the record's row first
(``select_for_update(skip_locked=True)``, so workers on many machines take
disjoint records), then its due timer rows; each timer's event goes in
through :meth:`~orderflow.service.WorkflowService.deliver` inside that same
transaction (a savepoint of it) under the key ``timer:<row id>:<timer id>``,
so a timer fires once in effect even when a worker dies half-way; a child
machine's timer (its row's ``actor_path``) goes to that child.  A timer
whose record no longer takes its event is marked fired with the reason in
``last_error`` (XState drops it too); one whose record is gone is cancelled.
On SQLite, ``transaction_mode: IMMEDIATE`` makes workers take turns.

Durable invocations (:func:`run_due_invocations`) go as in
:mod:`orderflow.workers.invocations`, with its rules
(:mod:`orderflow.workers.invocation_rules`: policy, claim, run, settling):
one short transaction claims due rows (``select_for_update(skip_locked=True)``
on PostgreSQL, so workers take disjoint rows; SQLite's ``BEGIN IMMEDIATE``
makes them take turns), the functions run outside any transaction, and one
transaction delivers each answer under the key ``invocation:<row id>``, the
record's row locked before the invocation's, and marks the row with it.

The relay publishes pending outbox rows per record in ``sequence`` order
with the same :class:`~orderflow.workers.relay.RetryPolicy` and
:class:`~orderflow.workers.relay.OutboxMessage` as the SQLAlchemy relay (any
of its publishers works here); a record's later events wait while an
earlier one waits out its backoff.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.apps import apps
from django.db import DatabaseError, InterfaceError, transaction
from django.db.models import Q

from orderflow.django.rows import key_value, record_type
from orderflow.errors import (
    InvalidRecordKeyError,
    OrderflowError,
    PublishError,
    RecordNotFoundError,
)
from orderflow.service.results import Principal
from orderflow.store.workflow_tables import CANCELLED, DEAD, FIRED, PENDING, PUBLISHED, RUNNING
from orderflow.workers.invocation_rules import (
    Answer,
    Claim,
    InvocationOptions,
    InvocationRun,
    claim_row,
    function_for,
    invocation_idempotency_key,
    mark_delivered_earlier,
    new_claim,
    run_claim,
    settle,
)
from orderflow.workers.relay import OutboxMessage, RelayReport, RetryPolicy

TIMER_ACTOR = Principal("orderflow.timer-worker", "timer worker")
DEFAULT_RETRY = RetryPolicy()


@dataclass
class TimerReport:
    """What one batch of timers came to, by scheduled-event id."""

    fired: list[int] = field(default_factory=list)
    dropped: list[int] = field(default_factory=list)
    cancelled: list[int] = field(default_factory=list)
    retried: list[int] = field(default_factory=list)
    dead: list[int] = field(default_factory=list)

    def __len__(self) -> int:
        return sum(
            len(v) for v in (self.fired, self.dropped, self.cancelled, self.retried, self.dead)
        )


def workflow_models() -> dict[str, type[Any]]:
    """Every installed :class:`WorkflowModel` subclass, by the record type its rows are logged as."""
    from orderflow.django.models import WorkflowModel

    return {
        record_type(model): model for model in apps.get_models() if issubclass(model, WorkflowModel)
    }


def fire_due_timers(
    service: Any,
    *,
    batch: int = 100,
    now: datetime | None = None,
    retry: RetryPolicy = DEFAULT_RETRY,
) -> TimerReport:
    """Deliver the timers due by ``now`` (one batch); only those of the service's own machines."""
    from orderflow.django.models import ScheduledEvent

    now = service.clock() if now is None else now
    models = workflow_models()
    due = ScheduledEvent._base_manager.using(service.using).filter(
        status=PENDING, due_at__lte=now, machine__in=list(service.machines),
        record_type__in=list(models),
    )  # fmt: skip
    report = TimerReport()
    records = list(
        due.order_by("record_type", "record_id")
        .values_list("record_type", "record_id")
        .distinct()[:batch]
    )
    for kind, record_id in records:
        _fire_record(service, models[kind], kind, record_id, now, retry, report)
    return report


def _fire_record(
    service: Any, model: type[Any], kind: str, record_id: str, now: datetime, retry: RetryPolicy,
    report: TimerReport,
) -> None:  # fmt: skip
    from orderflow.django.models import ScheduledEvent

    using = service.using
    timers = ScheduledEvent._base_manager.using(using)
    with transaction.atomic(using=using):
        record = model._base_manager.using(using).select_for_update(skip_locked=True)
        if not record.filter(pk=record_id).exists():
            if model._base_manager.using(using).filter(pk=record_id).exists():
                return  # another worker holds it: its timers are that worker's this time
            gone = timers.filter(record_type=kind, record_id=record_id, status=PENDING)
            report.cancelled.extend(gone.values_list("pk", flat=True))
            gone.update(status=CANCELLED, settled_at=now, last_error="the record is gone")
            return
        rows = list(
            timers.select_for_update(skip_locked=True)
            .filter(record_type=kind, record_id=record_id, status=PENDING, due_at__lte=now)
            .order_by("due_at", "id")
        )
        for row in rows:
            if not timers.filter(pk=row.pk, status=PENDING).exists():
                continue  # an earlier firing of this batch cancelled it
            _fire_one(service, model, row, now, retry, report)


def _fire_one(
    service: Any, model: type[Any], row: Any, now: datetime, retry: RetryPolicy, report: TimerReport
) -> None:
    from orderflow.django.models import ScheduledEvent

    timers = ScheduledEvent._base_manager.using(service.using).filter(pk=row.pk)
    try:
        result = service.deliver(
            (model, row.record_id), row.event, idempotency_key=f"timer:{row.pk}:{row.timer_id}",
            to=row.actor_path or None,  # a child machine's timer goes to that child
            actor=TIMER_ACTOR,
        )  # fmt: skip
    except RecordNotFoundError:
        timers.update(status=CANCELLED, settled_at=now, last_error="the record is gone")
        report.cancelled.append(row.pk)
        return
    except OrderflowError as exc:
        attempts = row.attempts + 1
        if attempts >= retry.max_attempts:
            timers.update(status=DEAD, attempts=attempts, last_error=str(exc), settled_at=now)
            report.dead.append(row.pk)
        else:
            timers.update(
                attempts=attempts, last_error=str(exc), due_at=now + retry.delay(attempts)
            )
            report.retried.append(row.pk)
        return
    if result.success:
        timers.update(status=FIRED, settled_at=now)  # the pipeline settled it already; idempotent
        report.fired.append(row.pk)
    else:
        timers.update(status=FIRED, settled_at=now, last_error=f"dropped: {result.reason}")
        report.dropped.append(row.pk)


#: the invocation columns a claim or a settling writes
_INVOCATION_FIELDS = (
    "state", "attempts", "due_at", "lease_until", "lease_token", "last_error", "result",
    "settled_at",
)  # fmt: skip


def run_due_invocations(
    service: Any, *, now: datetime | None = None, options: InvocationOptions | None = None
) -> list[InvocationRun]:
    """Claim, run and deliver one batch of due invocations of the service's machines.

    ``options.models`` defaults to every installed :class:`WorkflowModel` subclass.
    """
    now = service.clock() if now is None else now
    options = (options or InvocationOptions()).resolved(workflow_models)
    claims = claim_invocations(service, now, options)
    if not claims:
        return []
    return deliver_answers(service, [run_claim(claim) for claim in claims], now, options)


def claim_invocations(service: Any, now: datetime, options: InvocationOptions) -> list[Claim]:
    """Claim up to ``options.batch`` due invocations (pending and due, or running under a lease
    that expired) in one committed transaction; only those of the service's machines and models."""
    from orderflow.django.models import Invocation

    using, models = service.using, options.models or {}
    due = Q(state=PENDING, due_at__lte=now) | Q(state=RUNNING, lease_until__lte=now)
    with transaction.atomic(using=using):
        rows = list(
            Invocation._base_manager.using(using)
            .select_for_update(skip_locked=True)
            .filter(due, machine__in=list(service.machines), record_type__in=list(models))
            .order_by("due_at", "id")[: options.batch]
        )
        claims = []
        for row in rows:
            if _delivered_already(using, row, now):
                row.save(using=using, update_fields=_INVOCATION_FIELDS)
                continue
            policy = options.policy_for(row.src)
            problem = claim_row(row, policy, now)
            found = function_for(service, row, _state_reader(models[row.record_type], row, using))
            row.save(using=using, update_fields=_INVOCATION_FIELDS)
            claims.append(new_claim(row, policy, problem, found))
    return claims


def _delivered_already(using: str, row: Any, now: datetime) -> bool:
    """A row claimed before whose delivery is in the log (committed apart from its mark): done."""
    from orderflow.django.models import TransitionLog

    if row.state != RUNNING:
        return False
    logged = TransitionLog._base_manager.using(using).filter(
        record_type=row.record_type, record_id=row.record_id,
        idempotency_key=invocation_idempotency_key(row.pk),
    )  # fmt: skip
    if not logged.exists():
        return False
    mark_delivered_earlier(row, now)
    return True


def _state_reader(model: type[Any], row: Any, using: str) -> Callable[[], Any]:
    """Reads the persisted ``workflow_state`` of the record ``row`` belongs to (None if gone)."""

    def read() -> Any:
        try:
            key = key_value(model, row.record_id)
        except InvalidRecordKeyError:
            return None
        rows = model._base_manager.using(using).filter(pk=key)
        return rows.values_list("workflow_state", flat=True).first()

    return read


def deliver_answers(
    service: Any, answers: list[Answer], now: datetime, options: InvocationOptions
) -> list[InvocationRun]:
    """Settle each answer (:func:`~orderflow.workers.invocation_rules.settle`) in one
    transaction, records locked in key order, each delivery a savepoint of it."""
    ordered = sorted(answers, key=lambda a: (a.claim.record_type, a.claim.record_id))
    with transaction.atomic(using=service.using):
        return [_settle(service, answer, now, options) for answer in ordered]


def _settle(
    service: Any, answer: Answer, now: datetime, options: InvocationOptions
) -> InvocationRun:
    from orderflow.django.models import Invocation

    using, claim = service.using, answer.claim
    model = (options.models or {})[claim.record_type]
    gone = not _lock_record(model, claim.record_id, using)
    row = Invocation._base_manager.using(using).select_for_update().get(pk=claim.invocation_id)
    run = settle(service, row, model, answer, now, options.actor, gone=gone, contended=_contended)
    row.save(using=using, update_fields=_INVOCATION_FIELDS)
    return run


def _lock_record(model: type[Any], record_id: str, using: str) -> bool:
    """Lock the record's row, waiting for it (the service locks it before invocation rows);
    False when it is gone."""
    try:
        key = key_value(model, record_id)
    except InvalidRecordKeyError:
        return False
    return bool(model._base_manager.using(using).select_for_update().filter(pk=key).exists())


def _contended(exc: Exception) -> str | None:
    """A database error out of a delivery (its savepoint rolled back): the row is left running
    for its lease to expire and the next claim to deliver once; a lost connection ends the batch."""
    if isinstance(exc, InterfaceError):
        raise exc
    return str(exc) if isinstance(exc, DatabaseError) else None


def relay_outbox(
    service: Any,
    publish: Callable[[OutboxMessage], None],
    *,
    batch: int = 100,
    retry: RetryPolicy = DEFAULT_RETRY,
    now: datetime | None = None,
) -> RelayReport:
    """Publish one batch of ready outbox events of the app's records, in order per record."""
    from orderflow.django.models import OutboxEvent

    now = service.clock() if now is None else now
    report = RelayReport()
    outbox = OutboxEvent._base_manager.using(service.using)
    with transaction.atomic(using=service.using):
        rows = list(
            outbox.select_for_update(skip_locked=True)
            .filter(status=PENDING, record_type__in=list(workflow_models()))
            .order_by("record_type", "record_id", "sequence")[:batch]
        )
        waiting: set[tuple[str, str]] = set()
        for row in rows:
            record = (row.record_type, row.record_id)
            if record in waiting or row.available_at > now:
                waiting.add(record)  # a record's later events wait for its earlier ones
                continue
            try:
                publish(OutboxMessage.from_row(row))
            except Exception as exc:
                waiting.add(record)
                retryable = not isinstance(exc, PublishError) or exc.retryable
                attempts = row.attempts + 1
                if retryable and attempts < retry.max_attempts:
                    outbox.filter(pk=row.pk).update(
                        attempts=attempts,
                        last_error=str(exc),
                        available_at=now + retry.delay(attempts),
                    )
                    report.retried.append(row.event_id)
                else:
                    outbox.filter(pk=row.pk).update(
                        status=DEAD, attempts=attempts, last_error=str(exc)
                    )
                    report.dead.append(row.event_id)
                continue
            outbox.filter(pk=row.pk).update(
                status=PUBLISHED, published_at=now, attempts=row.attempts + 1
            )
            report.published.append(row.event_id)
    return report


def publisher_from_settings() -> Callable[[OutboxMessage], None] | None:
    """``ORDERFLOW["PUBLISHER"]``: a publisher object (``.publish(message)``) or a function."""
    from orderflow.django import conf

    path = conf.setting("PUBLISHER")
    if not path:
        return None
    found = conf.load(str(path), "PUBLISHER")
    publish = getattr(found, "publish", found)
    if not callable(publish):
        from orderflow.errors import ConfigurationError

        raise ConfigurationError(
            f"ORDERFLOW['PUBLISHER'] = {path!r} is neither a function nor has .publish(message)",
            setting="PUBLISHER",
        )
    return publish  # type: ignore[no-any-return]
