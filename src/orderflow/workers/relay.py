"""The outbox relay: publish ``OutboxEvent`` rows at least once, in order per record.

    relay = OutboxRelay(Session, WebhookPublisher(url, secret=...))
    relay.run(stop)                      # or relay.run_once() for one batch

One batch is one database transaction: select the events that are ready,
hand each to the publisher in id order (which is ``sequence`` order for
each record, because the service writes a record's events under the
record's lock), mark what was published, commit.  A relay that dies after
publishing and before committing publishes those events again next time, so
delivery is *at least once*; every message carries the event's stable
``event_id`` for consumers to drop the duplicates.

Order per record holds across failures: when an event fails, the record's
later events wait behind it (in this batch, and in later ones while the
event waits out its backoff).  A failure the publisher calls retryable
(a 5xx, a network error, a broker that did not confirm) is retried after
``base_delay * 2**(attempts-1)`` (capped at ``max_delay``) until
``max_attempts``; then, or at once for a permanent failure (a 4xx), the
event is parked as ``dead`` with its error, and the record's later events
go on.  A dead event is for a person to look at (and set back to
``pending`` to replay).

On PostgreSQL one relay publishes at a time: each batch first takes a
transaction-scoped advisory lock and skips the round when another relay
holds it, so several ``orderflow worker`` processes can each run a relay
without two of them interleaving one record's events.  The lock goes with
the transaction, so a relay that dies hands over at once.  (On SQLite the
engine's ``BEGIN IMMEDIATE`` already serialises the relays.)
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import and_, exists, select, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, aliased

from orderflow.errors import PublishError as PublishError
from orderflow.store import OutboxEvent
from orderflow.store.base import utcnow
from orderflow.store.workflow_tables import DEAD, PENDING, PUBLISHED

logger = logging.getLogger("orderflow.workers.relay")

#: the advisory lock key the relays share on PostgreSQL ("orderflw" as a 64-bit integer)
RELAY_LOCK_KEY = int.from_bytes(b"orderflw", "big") & 0x7FFF_FFFF_FFFF_FFFF


@dataclass(frozen=True)
class OutboxMessage:
    """One outbox event as a publisher sees it; ``to_json()`` is the body every publisher sends."""

    event_id: str
    event_type: str
    record_type: str
    record_id: str
    sequence: int
    payload: Mapping[str, Any]
    created_at: datetime

    @classmethod
    def from_row(cls, row: OutboxEvent) -> OutboxMessage:
        return cls(
            row.event_id, row.event_type, row.record_type, row.record_id, row.sequence,
            dict(row.payload), row.created_at,
        )  # fmt: skip

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.event_id,
            "type": self.event_type,
            "record": {"type": self.record_type, "id": self.record_id},
            "sequence": self.sequence,
            "payload": dict(self.payload),
            "created_at": self.created_at.isoformat(),
        }


class Publisher(Protocol):
    """Delivers one message or raises :class:`PublishError` (any other exception counts as retryable)."""

    def publish(self, message: OutboxMessage) -> None: ...


@dataclass
class RelayReport:
    """What one batch did, by event id."""

    published: list[str] = field(default_factory=list)
    retried: list[str] = field(default_factory=list)
    dead: list[str] = field(default_factory=list)
    skipped: bool = False  # another relay held the lock

    def __len__(self) -> int:
        return len(self.published) + len(self.retried) + len(self.dead)


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 8
    base_delay: timedelta = timedelta(seconds=1)
    max_delay: timedelta = timedelta(hours=1)

    def delay(self, attempts: int) -> timedelta:
        delay: timedelta = self.base_delay * 2 ** max(attempts - 1, 0)
        return min(delay, self.max_delay)


def relay_outbox(
    session_factory: Callable[[], Session],
    publisher: Publisher,
    *,
    batch: int = 100,
    retry: RetryPolicy = RetryPolicy(),
    now: datetime | None = None,
    record_types: Collection[str] | None = None,
) -> RelayReport:
    """Publish one batch of ready outbox events (see the module doc).

    ``record_types`` limits the batch to the events of those records (a
    service's own tables); the others are left untouched for their own relay.
    """
    now = utcnow() if now is None else now
    report = RelayReport()
    session = session_factory()
    try:
        if session.get_bind().dialect.name == "postgresql" and not session.scalar(
            text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": RELAY_LOCK_KEY}
        ):
            session.rollback()
            report.skipped = True
            return report
        blocked: set[tuple[str, str]] = set()
        for row in session.execute(_ready(now, batch, record_types)).scalars():
            record = (row.record_type, row.record_id)
            if record in blocked:
                continue
            row.attempts = (row.attempts or 0) + 1
            try:
                publisher.publish(OutboxMessage.from_row(row))
            except Exception as exc:
                retryable = exc.retryable if isinstance(exc, PublishError) else True
                row.last_error = f"{type(exc).__name__}: {exc}"
                if retryable and row.attempts < retry.max_attempts:
                    row.available_at = now + retry.delay(row.attempts)
                    blocked.add(record)
                    report.retried.append(row.event_id)
                    logger.warning("event %s (%s %s #%d) failed, attempt %d, retried at %s: %s",
                                   row.event_id, *record, row.sequence, row.attempts,
                                   row.available_at, row.last_error)  # fmt: skip
                else:
                    row.status = DEAD
                    report.dead.append(row.event_id)
                    logger.error("event %s (%s %s #%d) is dead after %d attempts: %s",
                                 row.event_id, *record, row.sequence, row.attempts,
                                 row.last_error)  # fmt: skip
                continue
            row.status, row.published_at = PUBLISHED, now
            report.published.append(row.event_id)
        session.commit()
        return report
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def _ready(now: datetime, batch: int, record_types: Collection[str] | None = None) -> Any:
    """Pending events that are due and have no earlier pending event of their record still waiting."""
    earlier = aliased(OutboxEvent)
    waiting_before = exists().where(
        and_(
            earlier.record_type == OutboxEvent.record_type,
            earlier.record_id == OutboxEvent.record_id,
            earlier.status == PENDING,
            earlier.sequence < OutboxEvent.sequence,
            earlier.available_at > now,
        )
    )
    query = select(OutboxEvent).where(
        OutboxEvent.status == PENDING, OutboxEvent.available_at <= now, ~waiting_before
    )
    if record_types is not None:
        query = query.where(OutboxEvent.record_type.in_(tuple(record_types)))
    return query.order_by(OutboxEvent.id).limit(batch)


class OutboxRelay:
    """Run :func:`relay_outbox` in a loop until stopped, sleeping when a batch found nothing to do."""

    def __init__(
        self,
        session_factory: Callable[[], Session],
        publisher: Publisher,
        *,
        batch: int = 100,
        retry: RetryPolicy = RetryPolicy(),
        poll_interval: float = 0.5,
        clock: Callable[[], datetime] = utcnow,
        record_types: Collection[str] | None = None,
    ) -> None:
        self.session_factory = session_factory
        self.record_types = record_types
        self.publisher = publisher
        self.batch = batch
        self.retry = retry
        self.poll_interval = poll_interval
        self.clock = clock
        self.published = 0

    def run_once(self) -> RelayReport:
        report = relay_outbox(
            self.session_factory, self.publisher, batch=self.batch, retry=self.retry,
            now=self.clock(), record_types=self.record_types,
        )  # fmt: skip
        self.published += len(report.published)
        return report

    def run(self, stop: threading.Event | None = None, *, max_batches: int | None = None) -> None:
        stop = stop or threading.Event()
        batches = 0
        while not stop.is_set() and (max_batches is None or batches < max_batches):
            try:
                report = self.run_once()
            except OperationalError as exc:  # the database went away: wait, then try again
                logger.warning("relay batch failed, retrying: %s", exc)
                report = RelayReport()
            batches += 1
            if not report.published:
                stop.wait(self.poll_interval)
