"""The Django workers: due timers delivered through the service, the outbox relayed in order.

One record at a time, in the service's lock order: the record's row first
(``select_for_update(skip_locked=True)``, so workers on many machines take
disjoint records), then its due timer rows; each timer's event goes in
through :meth:`~orderflow.service.WorkflowService.deliver` inside that same
transaction (a savepoint of it) under the key ``timer:<row id>:<timer id>``,
so a timer fires once in effect even when a worker dies half-way.  A timer
whose record no longer takes its event is marked fired with the reason in
``last_error`` (XState drops it too); one whose record is gone is cancelled.
On SQLite, ``transaction_mode: IMMEDIATE`` makes workers take turns.

The relay publishes pending outbox rows per record in ``sequence`` order
with the same :class:`~orderflow.workers.relay.RetryPolicy` and
:class:`~orderflow.workers.relay.OutboxMessage` as the SQLAlchemy relay (any
of its publishers works here); a record's later events wait while an
earlier one waits out its backoff.

There is no invocation table in the store yet: when there is, its batch
runs here, between the timers and the relay.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.apps import apps
from django.db import transaction

from orderflow.django.rows import record_type
from orderflow.errors import OrderflowError, PublishError, RecordNotFoundError
from orderflow.service.results import Principal
from orderflow.store.workflow_tables import CANCELLED, DEAD, FIRED, PENDING, PUBLISHED
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
