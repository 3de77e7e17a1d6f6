"""The outbox relay publishes at least once, in order per record, retries with backoff, then parks dead."""

from __future__ import annotations

from datetime import timedelta

from consumers import add_events, first_seen_sequences
from sqlalchemy import select

from orderflow.service import WorkflowService
from orderflow.store import OutboxEvent
from orderflow.store.base import utcnow
from orderflow.workers import OutboxMessage, OutboxRelay, PublishError, RetryPolicy, relay_outbox
from workflow_db import Database, Ticket, capture, ticket_machine


class Recorder:
    """A publisher that keeps what it was given, and fails as told (by record id and sequence)."""

    def __init__(self, failures: dict[tuple[str, int], PublishError] | None = None) -> None:
        self.messages: list[OutboxMessage] = []
        self.failures = failures or {}

    def publish(self, message: OutboxMessage) -> None:
        failure = self.failures.get((message.record_id, message.sequence))
        if failure is not None:
            raise failure
        self.messages.append(message)


def _rows(database: Database) -> list[OutboxEvent]:
    with database.Session() as session:
        return list(session.execute(select(OutboxEvent).order_by(OutboxEvent.id)).scalars())


def test_the_relay_publishes_events_the_service_wrote_in_order_and_marks_them(
    database: Database,
) -> None:
    service = WorkflowService(
        database.Session, {"ticket": ticket_machine()}, effects={"capture": capture}
    )
    service.start(Ticket(id=1), machine="ticket")
    service.send((Ticket, 1), {"type": "PAY", "amount": 20})
    service.send((Ticket, 1), "SHIP")
    publisher = Recorder()

    report = relay_outbox(database.Session, publisher)

    assert [(m.event_type, m.sequence) for m in publisher.messages] == [
        ("ticket.paid", 1),
        ("ticket.shipped", 2),
    ]
    rows = _rows(database)
    assert report.published == [r.event_id for r in rows]
    assert [m.event_id for m in publisher.messages] == [r.event_id for r in rows]
    assert all(r.status == "published" and r.published_at is not None for r in rows)
    assert publisher.messages[0].to_json()["record"] == {"type": "tickets", "id": "1"}
    assert len(relay_outbox(database.Session, publisher)) == 0


def test_a_retryable_failure_backs_off_and_holds_back_only_its_own_record(
    database: Database,
) -> None:
    add_events(database, {"a": 3, "b": 2})
    publisher = Recorder({("a", 2): PublishError("503 from the receiver")})
    now = utcnow()
    retry = RetryPolicy(max_attempts=3, base_delay=timedelta(seconds=10))

    report = relay_outbox(database.Session, publisher, retry=retry, now=now)

    assert [(m.record_id, m.sequence) for m in publisher.messages] == [("a", 1), ("b", 1), ("b", 2)]
    assert len(report.retried) == 1
    failed = next(r for r in _rows(database) if (r.record_id, r.sequence) == ("a", 2))
    assert failed.status == "pending" and failed.attempts == 1
    assert failed.available_at == now + timedelta(seconds=10)
    assert "503 from the receiver" in (failed.last_error or "")

    # while it waits, a's later events wait too
    assert (
        len(relay_outbox(database.Session, publisher, retry=retry, now=now + timedelta(seconds=5)))
        == 0
    )
    publisher.failures.clear()
    relay_outbox(database.Session, publisher, retry=retry, now=now + timedelta(seconds=10))
    assert first_seen_sequences([m.to_json() for m in publisher.messages]) == {
        "a": [1, 2, 3],
        "b": [1, 2],
    }
    assert {r.status for r in _rows(database)} == {"published"}


def test_an_event_that_keeps_failing_is_parked_dead_with_its_error(database: Database) -> None:
    add_events(database, {"a": 2})
    publisher = Recorder({("a", 1): PublishError("connection refused")})
    retry = RetryPolicy(max_attempts=3, base_delay=timedelta(seconds=1))
    now = utcnow()

    for step in range(3):
        relay_outbox(database.Session, publisher, retry=retry, now=now + timedelta(minutes=step))

    first, second = _rows(database)
    assert (first.status, first.attempts) == ("dead", 3)
    assert "connection refused" in (first.last_error or "")
    assert second.status == "published"  # the record's later events go on after a dead one


def test_a_permanent_failure_is_dead_at_once(database: Database) -> None:
    add_events(database, {"a": 1})
    publisher = Recorder({("a", 1): PublishError("400 Bad Request", retryable=False)})

    report = relay_outbox(database.Session, publisher)

    assert len(report.dead) == 1
    (row,) = _rows(database)
    assert (row.status, row.attempts) == ("dead", 1)


def test_any_other_exception_from_a_publisher_counts_as_retryable(database: Database) -> None:
    add_events(database, {"a": 1})

    class Broken:
        def publish(self, message: OutboxMessage) -> None:
            raise TimeoutError("slow broker")

    report = relay_outbox(database.Session, Broken())

    assert len(report.retried) == 1
    (row,) = _rows(database)
    assert row.status == "pending" and "TimeoutError: slow broker" in (row.last_error or "")


def test_the_relay_loop_publishes_in_batches_until_stopped(database: Database) -> None:
    add_events(database, {"a": 5, "b": 5})
    publisher = Recorder()
    relay = OutboxRelay(database.Session, publisher, batch=3, poll_interval=0)

    relay.run(max_batches=5)

    assert relay.published == 10
    assert first_seen_sequences([m.to_json() for m in publisher.messages]) == {
        "a": [1, 2, 3, 4, 5],
        "b": [1, 2, 3, 4, 5],
    }


def test_a_second_relay_on_postgresql_skips_while_the_first_holds_the_lock(
    postgres: Database,
) -> None:
    from sqlalchemy import text

    from orderflow.workers.relay import RELAY_LOCK_KEY

    add_events(postgres, {"a": 2})
    with postgres.engine.connect() as holder:
        holder.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": RELAY_LOCK_KEY})
        report = relay_outbox(postgres.Session, Recorder())
        assert report.skipped and len(report) == 0
    assert {r.status for r in _rows(postgres)} == {"pending"}
    assert len(relay_outbox(postgres.Session, Recorder()).published) == 2


def test_a_relay_limited_to_its_record_types_leaves_the_others_untouched(
    database: Database,
) -> None:
    now = utcnow()
    with database.Session.begin() as session:
        for record_type in ("tickets", "helpdesk_tickets"):
            session.add(
                OutboxEvent(
                    record_type=record_type, record_id="1", sequence=1, event_type="x",
                    payload={"type": "x"}, status="pending", attempts=0,
                    available_at=now - timedelta(seconds=1), created_at=now,
                )
            )  # fmt: skip
    publisher = Recorder()
    report = relay_outbox(database.Session, publisher, now=now, record_types={"tickets"})
    assert len(report.published) == 1
    rows = {row.record_type: (row.status, row.attempts) for row in _rows(database)}
    assert rows == {"tickets": ("published", 1), "helpdesk_tickets": ("pending", 0)}
