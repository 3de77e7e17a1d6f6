"""Durable ``after`` timers: deliver each due ``ScheduledEvent`` through the service, exactly once in effect.

    fired = fire_due_timers(service, Session)            # one batch, now
    TimerWorker(service, Session).run(stop)              # until ``stop`` is set

One batch is one database transaction:

1. claim up to ``batch`` pending rows whose ``due_at`` has passed, a whole
   record at a time: lock the record's row, then its due timer rows, both
   with ``SELECT ... FOR UPDATE SKIP LOCKED`` on PostgreSQL, so workers on
   many machines take disjoint records, in the lock order the service
   keeps (SQLite has no row locks: the engine from
   :func:`orderflow.store.create_engine` takes the database write lock at
   ``BEGIN IMMEDIATE``, so workers there simply take turns);
2. send each timer's event through the service *inside that same
   transaction*: the service gets a session joined to the worker's
   connection in a SAVEPOINT, so its "commit" only releases the savepoint
   and its rollback (a refused event, an effect that raised) undoes that
   one timer only; the idempotency key is the timer's own id
   (``timer:<row id>:<timer id>``);
3. mark each row ``fired`` (or record the failure) and commit once.

The transition, its log, its outbox rows and the ``fired`` mark therefore
commit together or not at all.  A worker killed while holding a batch
commits nothing: PostgreSQL rolls its transaction back and releases its
row locks, and the next worker fires those timers again, for the first time
in effect.  Nothing lives in memory between batches, so a restarted process
resumes every pending timer without re-arming anything.

Records are processed in (record type, record id) order within a batch, and
each record's timers in due order; a timer an earlier firing cancelled is
not delivered.  A row whose delivery still hits a lock conflict (a lock
timeout, say) is left pending for the next batch without counting as an attempt;
any other exception counts as an attempt, pushes ``due_at`` back with
exponential backoff and, after ``max_attempts``, parks the row as ``dead``
with its error.

A worker claims only the timers it can deliver: those of its service's
machines, on the record types it has models for.  Rows of other services
sharing the database are left untouched: not claimed, not attempted, never
rewritten.

An event the record no longer takes (a guard blocks the ``after``
transition) is dropped, as XState drops it: the row is ``fired`` and
``last_error`` says why nothing happened.  A row whose record is gone is
``cancelled``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, inspect, select
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session

from orderflow.errors import InvalidRecordKeyError, RecordNotFoundError
from orderflow.service import Principal, WorkflowService
from orderflow.store import ScheduledEvent, WorkflowRecord, primary_key_value
from orderflow.store.workflow_tables import CANCELLED, DEAD, FIRED, PENDING

logger = logging.getLogger("orderflow.workers.timers")

TIMER_ACTOR = Principal("orderflow.timer-worker", "timer worker")
#: how a firing ended: delivered, dropped (the record did not take it), retry later, dead, record gone
OUTCOMES = ("fired", "dropped", "retry", "dead", "cancelled")


@dataclass(frozen=True)
class TimerFiring:
    """What one claimed timer came to in a batch."""

    scheduled_id: int
    timer_id: str
    record_type: str
    record_id: str
    outcome: str
    detail: str | None = None


def timer_idempotency_key(row: ScheduledEvent) -> str:
    """The idempotency key a delivery of ``row`` uses: unique per row, so a re-armed timer fires again."""
    return f"timer:{row.id}:{row.timer_id}"[:200]


def workflow_models() -> dict[str, type[Any]]:
    """Every mapped model that mixes in ``WorkflowRecord``, by table name.

    A table name two different models map (in two registries) is left out,
    with a warning: guessing could deliver a timer to the wrong class, or
    settle it as gone.  Its timers fail as "no model" until ``models=``
    says which class is meant.
    """
    found: dict[str, type[Any]] = {}
    ambiguous: dict[str, set[str]] = {}
    pending: list[type[Any]] = [WorkflowRecord]
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        table = getattr(cls, "__tablename__", None)
        if not isinstance(table, str) or inspect(cls, raiseerr=False) is None:
            continue
        known = found.setdefault(table, cls)
        if known is not cls and known.__table__ is not cls.__table__:
            ambiguous.setdefault(table, {_qualified(known)}).add(_qualified(cls))
    for table, classes in ambiguous.items():
        del found[table]
        logger.warning(
            "table %r is mapped by %s; the timer worker needs models= to know which", table,
            ", ".join(sorted(classes)),
        )  # fmt: skip
    return found


def _qualified(cls: type[Any]) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def fire_due_timers(
    service: WorkflowService,
    session_factory: Callable[[], Session],
    *,
    now: datetime | None = None,
    batch: int = 50,
    models: Mapping[str, type[Any]] | None = None,
    max_attempts: int = 5,
    retry_delay: timedelta = timedelta(seconds=30),
    max_retry_delay: timedelta = timedelta(hours=1),
    actor: Principal = TIMER_ACTOR,
) -> list[TimerFiring]:
    """Claim and deliver one batch of due timers (see the module doc); returns what each came to.

    ``models`` maps a record type (table name) to its model; by default
    every mapped ``WorkflowRecord`` subclass.  ``now`` defaults to the
    service's clock.
    """
    now = service.clock() if now is None else now
    by_table = dict(models) if models is not None else workflow_models()
    session = session_factory()
    try:
        rows = _claim(session, now, batch, by_table, tuple(service.machines))
        if not rows:
            session.rollback()
            return []
        joined = service.joined(session)
        firings = []
        for row in rows:
            session.refresh(row)  # an earlier firing in this batch may have cancelled it
            if row.status != PENDING:
                firings.append(TimerFiring(row.id, row.timer_id, row.record_type, row.record_id,
                                           "cancelled", "cancelled by an earlier firing"))  # fmt: skip
                continue
            firing = _deliver(
                joined, row, by_table, now, actor, max_attempts, retry_delay, max_retry_delay
            )
            firings.append(firing)
        session.commit()
        return firings
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def _claim(
    session: Session,
    now: datetime,
    batch: int,
    models: Mapping[str, type[Any]],
    machines: tuple[str, ...],
) -> list[ScheduledEvent]:
    """Up to ``batch`` due rows, whole records at a time, each record's row locked first.

    Locking the record before its timers is the order the service keeps
    (it locks the record, then settles or cancels that record's timer rows),
    so a worker never holds a timer row that another transaction, holding
    the record, needs: no deadlock, and one record's due timers fire in due
    order in one batch.  A record another worker holds is skipped
    (``SKIP LOCKED``) and its timers wait for the next batch.
    """
    due = (
        ScheduledEvent.status == PENDING,
        ScheduledEvent.due_at <= now,
        # only what this worker can deliver: other services' rows are left as they are
        ScheduledEvent.machine.in_(machines),
        ScheduledEvent.record_type.in_(tuple(models)),
    )
    records = session.execute(
        select(ScheduledEvent.record_type, ScheduledEvent.record_id)
        .where(*due)
        .group_by(ScheduledEvent.record_type, ScheduledEvent.record_id)
        .order_by(
            func.min(ScheduledEvent.due_at), ScheduledEvent.record_type, ScheduledEvent.record_id
        )
        .limit(batch)
    ).all()
    claimed: list[ScheduledEvent] = []
    for record_type, record_id in sorted(records):
        if len(claimed) >= batch:
            break
        model = models.get(record_type)
        if model is not None and not _lock_record(session, model, record_id):
            continue
        claimed.extend(
            session.execute(
                select(ScheduledEvent)
                .where(
                    *due,
                    ScheduledEvent.record_type == record_type,
                    ScheduledEvent.record_id == record_id,
                )
                .order_by(ScheduledEvent.due_at, ScheduledEvent.id)
                .with_for_update(skip_locked=True)
            ).scalars()
        )
    return claimed


def _lock_record(session: Session, model: type[Any], record_id: str) -> bool:
    """Lock the record's row unless another transaction holds it; True if it is ours (or gone)."""
    (column,) = inspect(model).primary_key
    try:
        key = primary_key_value(model, record_id)
    except InvalidRecordKeyError:
        return True  # no row can have that key: gone, as below
    if session.execute(select(column).where(column == key)).first() is None:
        return True  # gone: its timers are claimed and settled as cancelled
    locked = session.execute(
        select(column).where(column == key).with_for_update(skip_locked=True)
    ).first()
    return locked is not None


def _deliver(
    service: WorkflowService,
    row: ScheduledEvent,
    models: Mapping[str, type[Any]],
    now: datetime,
    actor: Principal,
    max_attempts: int,
    retry_delay: timedelta,
    max_retry_delay: timedelta,
) -> TimerFiring:
    def outcome(name: str, detail: str | None = None) -> TimerFiring:
        return TimerFiring(row.id, row.timer_id, row.record_type, row.record_id, name, detail)

    model = models.get(row.record_type)
    try:
        if model is None:
            raise LookupError(
                f"no model for record type {row.record_type!r}; pass models= to the timer worker "
                f"(it knows {sorted(models)})"
            )
        result = service.deliver(  # the internal path: timer events never come from outside
            (model, row.record_id),  # the service converts the text to the key's type
            row.event,
            to=row.actor_path or None,  # a child machine's timer goes to that child
            actor=actor,
            note=f"timer {row.timer_id} due {row.due_at.isoformat()}",
            idempotency_key=timer_idempotency_key(row),
        )
    except RecordNotFoundError as exc:
        _settle(row, CANCELLED, now, str(exc))
        return outcome("cancelled", str(exc))
    except OperationalError as exc:
        if exc.connection_invalidated:
            raise
        # a lock conflict (deadlock victim, lock timeout): the service rolled its savepoint back
        logger.info("timer %s of %s %s contended, retried next batch: %s",
                    row.timer_id, row.record_type, row.record_id, exc.orig)  # fmt: skip
        return outcome("retry", str(exc.orig))
    except DBAPIError as exc:
        if exc.connection_invalidated:
            raise
        return _failed(row, exc, now, max_attempts, retry_delay, max_retry_delay, outcome)
    except Exception as exc:
        return _failed(row, exc, now, max_attempts, retry_delay, max_retry_delay, outcome)
    if result.success:
        # the service marks a delivered timer fired itself, except when the transition re-arms
        # the same timer id (it then marks the old row cancelled): this row did fire
        _settle(row, FIRED, now, None)
        return outcome("fired")
    _settle(row, FIRED, now, f"delivered, not taken: {result.reason}")
    return outcome("dropped", result.reason)


def _failed(
    row: ScheduledEvent,
    exc: BaseException,
    now: datetime,
    max_attempts: int,
    retry_delay: timedelta,
    max_retry_delay: timedelta,
    outcome: Callable[[str, str | None], TimerFiring],
) -> TimerFiring:
    error = f"{type(exc).__name__}: {exc}"
    row.attempts = (row.attempts or 0) + 1
    row.last_error = error
    if row.attempts >= max_attempts:
        row.status, row.settled_at = DEAD, now
        logger.error("timer %s of %s %s is dead after %d attempts: %s",
                     row.timer_id, row.record_type, row.record_id, row.attempts, error)  # fmt: skip
        return outcome("dead", error)
    delay: timedelta = retry_delay * 2 ** (row.attempts - 1)
    row.due_at = now + min(delay, max_retry_delay)
    logger.warning("timer %s of %s %s failed (attempt %d), retried at %s: %s",
                   row.timer_id, row.record_type, row.record_id, row.attempts, row.due_at, error)  # fmt: skip
    return outcome("retry", error)


def _settle(row: ScheduledEvent, status: str, now: datetime, note: str | None) -> None:
    row.status, row.settled_at = status, now
    if note is not None:
        row.last_error = note


class TimerWorker:
    """Fire due timers in a loop until stopped: a batch, then a short sleep when there was nothing to do.

    Safe to run in many processes on PostgreSQL (see the module doc); on
    SQLite run one.  ``run`` returns when ``stop`` is set (or after
    ``max_batches`` batches, for tests and benchmarks).
    """

    def __init__(
        self,
        service: WorkflowService,
        session_factory: Callable[[], Session],
        *,
        batch: int = 50,
        poll_interval: float = 1.0,
        models: Mapping[str, type[Any]] | None = None,
        max_attempts: int = 5,
        retry_delay: timedelta = timedelta(seconds=30),
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.service = service
        self.session_factory = session_factory
        self.batch = batch
        self.poll_interval = poll_interval
        self.models = dict(models) if models is not None else workflow_models()
        self.max_attempts = max_attempts
        self.retry_delay = retry_delay
        self.clock = clock or service.clock
        self.fired = 0

    def run_once(self) -> list[TimerFiring]:
        """One batch (see :func:`fire_due_timers`)."""
        firings = fire_due_timers(
            self.service, self.session_factory, now=self.clock(), batch=self.batch,
            models=self.models, max_attempts=self.max_attempts, retry_delay=self.retry_delay,
        )  # fmt: skip
        self.fired += sum(1 for f in firings if f.outcome == "fired")
        return firings

    def run(self, stop: threading.Event | None = None, *, max_batches: int | None = None) -> None:
        stop = stop or threading.Event()
        batches = 0
        while not stop.is_set() and (max_batches is None or batches < max_batches):
            try:
                firings = self.run_once()
            except OperationalError as exc:  # the database went away: wait, then try again
                logger.warning("timer batch failed, retrying: %s", exc)
                firings = []
            batches += 1
            if not _made_progress(firings):
                stop.wait(self.poll_interval)


def _made_progress(firings: Iterable[TimerFiring]) -> bool:
    return any(f.outcome != "retry" for f in firings)
