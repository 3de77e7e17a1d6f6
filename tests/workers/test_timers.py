"""The timer worker delivers due ScheduledEvent rows through the service, once, and records what happened."""

from __future__ import annotations

import gc
import logging
import uuid
from datetime import timedelta
from typing import Any

import pytest
from alarms import (
    RING,
    alarm_service,
    arm,
    later,
    ring_log_rows,
    rings_by_alarm,
    timer_statuses,
)
from sqlalchemy import String, select
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from orderflow.chart import Action
from orderflow.service import WorkflowService
from orderflow.store import OutboxEvent, ScheduledEvent, TransitionLog, WorkflowRecord
from orderflow.workers import TimerWorker, fire_due_timers, timer_idempotency_key
from orderflow.workers.timers import workflow_models
from workflow_db import Database, Parcel, Ticket


def test_a_due_timer_fires_once_through_the_service(database: Database) -> None:
    service = alarm_service(database.Session)
    arm(service, 3)

    firings = fire_due_timers(service, database.Session, now=later())

    assert [f.outcome for f in firings] == ["fired"] * 3
    assert rings_by_alarm(database) == {1: 1, 2: 1, 3: 1}
    assert timer_statuses(database) == {"fired": 3}
    assert all(service.snapshot((Ticket, i)).matches("rung") for i in (1, 2, 3))
    assert fire_due_timers(service, database.Session, now=later()) == []
    assert rings_by_alarm(database) == {1: 1, 2: 1, 3: 1}


def test_the_firing_is_logged_with_the_timer_as_idempotency_key_and_emits_to_the_outbox(
    database: Database,
) -> None:
    service = alarm_service(database.Session)
    arm(service, 1)
    fire_due_timers(service, database.Session, now=later())

    with database.Session() as session:
        timer = session.execute(select(ScheduledEvent)).scalar_one()
        log = session.execute(select(TransitionLog).where(TransitionLog.event == RING)).scalar_one()
        outbox = session.execute(select(OutboxEvent)).scalar_one()
    assert log.idempotency_key == timer_idempotency_key(timer)
    assert log.actor_user == "orderflow.timer-worker"
    assert timer.settled_at is not None and timer.last_error is None
    assert (outbox.event_type, outbox.transition_id) == ("alarm.rung", log.id)


def test_a_timer_that_is_not_due_yet_waits(database: Database) -> None:
    service = alarm_service(database.Session)
    arm(service, 2)

    assert fire_due_timers(service, database.Session, now=later(minutes=0.5)) == []
    assert timer_statuses(database) == {"pending": 2}


def test_a_timer_cancelled_by_leaving_its_state_never_fires(database: Database) -> None:
    service = alarm_service(database.Session)
    arm(service, 2)
    assert service.send((Ticket, 1), "DISARM").success

    firings = fire_due_timers(service, database.Session, now=later())

    assert [(f.record_id, f.outcome) for f in firings] == [("2", "fired")]
    assert timer_statuses(database) == {"cancelled": 1, "fired": 1}
    assert rings_by_alarm(database) == {2: 1}


def test_a_rearmed_timer_fires_again_under_a_new_key(database: Database) -> None:
    service = alarm_service(database.Session)
    arm(service, 1)
    fire_due_timers(service, database.Session, now=later())
    assert service.send((Ticket, 1), "REARM").success

    firings = fire_due_timers(service, database.Session, now=later(minutes=4))

    assert [f.outcome for f in firings] == ["fired"]
    assert rings_by_alarm(database) == {1: 2}
    assert ring_log_rows(database) == {"1": 2}


def test_a_timer_event_the_record_does_not_take_is_dropped_and_settled(database: Database) -> None:
    service = alarm_service(database.Session)
    arm(service, 1, muted=True)

    (firing,) = fire_due_timers(service, database.Session, now=later())

    assert firing.outcome == "dropped" and firing.detail is not None
    assert "muted" in firing.detail
    with database.Session() as session:
        timer = session.execute(select(ScheduledEvent)).scalar_one()
    assert timer.status == "fired" and "muted" in (timer.last_error or "")
    assert service.snapshot((Ticket, 1)).matches("armed")


def test_an_effect_that_raises_is_retried_with_backoff_then_parked_dead(
    database: Database,
) -> None:
    def broken_ring(session: Any, record: Any, action: Action) -> None:
        raise RuntimeError("the bell is broken")

    service = alarm_service(database.Session, broken_ring)
    arm(service, 1)
    now = later()

    first = fire_due_timers(service, database.Session, now=now, max_attempts=3)
    assert [f.outcome for f in first] == ["retry"]
    with database.Session() as session:
        timer = session.execute(select(ScheduledEvent)).scalar_one()
    assert timer.attempts == 1 and "the bell is broken" in (timer.last_error or "")
    assert timer.due_at == now + timedelta(seconds=30)
    assert fire_due_timers(service, database.Session, now=now + timedelta(seconds=29)) == []

    second = fire_due_timers(
        service, database.Session, now=now + timedelta(seconds=30), max_attempts=3
    )
    assert [f.outcome for f in second] == ["retry"]
    third = fire_due_timers(
        service, database.Session, now=now + timedelta(minutes=5), max_attempts=3
    )
    assert [f.outcome for f in third] == ["dead"]
    assert timer_statuses(database) == {"dead": 1}
    assert service.snapshot((Ticket, 1)).matches("armed")  # every failed firing rolled back
    assert rings_by_alarm(database) == {}


def test_a_failing_timer_does_not_undo_the_others_in_its_batch(database: Database) -> None:
    def ring_but_not_two(session: Any, record: Any, action: Action) -> None:
        if record.id == 2:
            raise RuntimeError("alarm 2 is broken")
        from alarms import ring

        ring(session, record, action)

    service = alarm_service(database.Session, ring_but_not_two)
    arm(service, 3)

    firings = fire_due_timers(service, database.Session, now=later())

    assert {f.record_id: f.outcome for f in firings} == {"1": "fired", "2": "retry", "3": "fired"}
    assert rings_by_alarm(database) == {1: 1, 3: 1}
    assert timer_statuses(database) == {"fired": 2, "pending": 1}


def test_a_restarted_service_resumes_pending_timers_with_nothing_to_rearm(
    database: Database,
) -> None:
    arm(alarm_service(database.Session), 2)
    if database.kind != "sqlite-memory":
        database.engine.dispose()  # the old process and its connections are gone

    fresh = alarm_service(database.Session)  # a new service knows nothing but the database
    firings = fire_due_timers(fresh, database.Session, now=later())

    assert [f.outcome for f in firings] == ["fired", "fired"]
    assert rings_by_alarm(database) == {1: 1, 2: 1}


def test_the_worker_loop_fires_in_batches_until_stopped(database: Database) -> None:
    service = alarm_service(database.Session)
    arm(service, 7)
    moment = later()
    worker = TimerWorker(service, database.Session, batch=3, poll_interval=0, clock=lambda: moment)

    worker.run(max_batches=4)

    assert worker.fired == 7
    assert rings_by_alarm(database) == dict.fromkeys(range(1, 8), 1)


def test_a_timer_the_worker_cannot_deliver_is_left_untouched(database: Database) -> None:
    service: WorkflowService = alarm_service(database.Session)
    arm(service, 2)
    with database.Session.begin() as session:  # another service's timer on the same database
        other = session.scalars(select(ScheduledEvent).where(ScheduledEvent.record_id == "2")).one()
        other.machine = "helpdesk"
    before = _timer_rows(database)

    assert fire_due_timers(service, database.Session, now=later(), models={}) == []
    assert _timer_rows(database) == before  # no model for "tickets": nothing claimed
    (firing,) = fire_due_timers(service, database.Session, now=later())
    assert (firing.outcome, firing.record_id) == ("fired", "1")
    after = _timer_rows(database)
    assert after["2"] == before["2"]  # the helpdesk's timer: not attempted, not rewritten


def _timer_rows(database: Database) -> dict[str, tuple[Any, ...]]:
    with database.Session() as session:
        rows = session.execute(
            select(
                ScheduledEvent.record_id, ScheduledEvent.status, ScheduledEvent.attempts,
                ScheduledEvent.due_at, ScheduledEvent.last_error,
            )
        ).all()  # fmt: skip
    return {str(row[0]): tuple(row[1:]) for row in rows}


def test_a_timer_row_naming_a_key_no_record_can_have_is_settled_and_the_batch_goes_on(
    database: Database,
) -> None:
    service: WorkflowService = alarm_service(database.Session)
    arm(service, 2)
    with database.Session.begin() as session:
        row = session.scalars(select(ScheduledEvent).where(ScheduledEvent.record_id == "1")).one()
        row.record_id = "not-a-number"

    firings = fire_due_timers(service, database.Session, now=later())

    assert sorted(f.outcome for f in firings) == ["cancelled", "fired"]
    assert rings_by_alarm(database) == {2: 1}
    assert timer_statuses(database) == {"cancelled": 1, "fired": 1}


def test_a_record_keyed_by_a_uuid_has_its_timer_fired_and_logged_under_its_key(
    database: Database,
) -> None:
    rung: list[Any] = []
    service: WorkflowService = alarm_service(
        database.Session, lambda session, record, action: rung.append(record.id)
    )
    parcel = Parcel(workflow_machine="alarm")
    assert service.start(parcel)
    assert isinstance(parcel.id, uuid.UUID)

    # models= named: the docs' own examples map a "parcels" table too, in this test run
    (firing,) = fire_due_timers(service, database.Session, now=later(), models={"parcels": Parcel})

    assert (firing.outcome, firing.record_id) == ("fired", str(parcel.id))
    assert service.snapshot((Parcel, str(parcel.id))).value == "rung"
    assert service.snapshot((Parcel, parcel.id)).value == "rung"
    assert ring_log_rows(database) == {str(parcel.id): 1} and rung == [parcel.id]


def test_a_table_two_models_map_is_left_to_models_and_never_guessed(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class OtherBase(DeclarativeBase):
        pass

    class OtherTickets(OtherBase, WorkflowRecord):  # a second class for the "tickets" table
        __tablename__ = "tickets"
        id: Mapped[str] = mapped_column(String(10), primary_key=True)

    try:
        with caplog.at_level(logging.WARNING, logger="orderflow.workers.timers"):
            models = workflow_models()
        assert "tickets" not in models
        assert "table 'tickets' is mapped by" in caplog.text and "OtherTickets" in caplog.text
    finally:
        OtherBase.registry.dispose()
        del OtherTickets
        gc.collect()
    assert workflow_models()["tickets"] is Ticket
