"""WorkflowService.send: one transaction per event, with its log row, outbox rows and timers."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import event, func, select

import orderflow
from orderflow.errors import (
    IdempotencyKeyReusedError,
    InvalidEventError,
    RecordNotFoundError,
    StaleRecordError,
    UnknownEventError,
)
from orderflow.service import Principal, WorkflowService
from orderflow.store import OutboxEvent, ScheduledEvent, TransitionLog
from workflow_db import Capture, ChartRecord, Database, Ticket, caller_session

CLERK = Principal("u-7", "Clara Clerk", frozenset({"sales"}))


def new_ticket(service: WorkflowService, title: str = "t") -> Ticket:
    ticket = Ticket(title=title, workflow_machine="ticket")
    result = service.start(ticket, actor=CLERK)
    assert result.success, result.reason
    return ticket


def count(database: Database, model: Any, **where: Any) -> int:
    with database.Session() as session:
        query = select(func.count()).select_from(model)
        for name, value in where.items():
            query = query.where(getattr(model, name) == value)
        return int(session.scalar(query) or 0)


def test_start_inserts_the_record_in_its_initial_state_with_a_log_row(
    service: WorkflowService, database: Database
) -> None:
    ticket = new_ticket(service)
    assert ticket.id is not None
    assert ticket.workflow_state is not None and ticket.workflow_state["value"] == "open"
    assert "context" not in ticket.workflow_state
    assert ticket.workflow_context == {"paid": 0}
    assert (ticket.workflow_version, ticket.status) == (1, "OPEN")
    assert count(database, TransitionLog) == 1


def test_send_moves_the_record_runs_the_effect_and_writes_log_and_outbox(
    service: WorkflowService, database: Database
) -> None:
    ticket = new_ticket(service)
    result = service.send(ticket, {"type": "PAY", "amount": 25}, actor=CLERK, note="phone order")
    assert result.success and not result.idempotent
    assert (result.from_state, result.to_state) == ("open", "paid")
    assert result.effects == ("capture",)
    assert result.emitted == ({"type": "ticket.paid"},)
    assert (result.version, result.status) == (2, "PAID")
    assert (ticket.workflow_version, ticket.status) == (2, "PAID")  # the caller's object follows
    with database.Session() as session:
        row = session.get(Ticket, ticket.id)
        assert row is not None and row.workflow_state is not None
        assert (row.workflow_state["value"], row.workflow_context, row.status) == (
            "paid",
            {"paid": 1},
            "PAID",
        )
        log = session.scalars(select(TransitionLog).order_by(TransitionLog.id.desc())).first()
        assert log is not None
        assert (log.event, log.from_state, log.to_state, log.record_version) == (
            "PAY",
            "open",
            "paid",
            2,
        )
        assert (log.actor_user, log.actor_label, log.note) == ("u-7", "Clara Clerk", "phone order")
        assert log.details["effects"] == ["capture"]
        assert log.details["event"] == {"type": "PAY", "amount": 25}
        outbox = session.scalars(select(OutboxEvent)).one()
        assert (outbox.event_type, outbox.sequence, outbox.status, outbox.transition_id) == (
            "ticket.paid",
            1,
            "pending",
            log.id,
        )
        assert len(outbox.event_id) == 36
        assert session.scalar(select(func.count()).select_from(Capture)) == 1


def test_outbox_sequence_counts_per_record(service: WorkflowService, database: Database) -> None:
    first, second = new_ticket(service, "a"), new_ticket(service, "b")
    service.send(first, {"type": "PAY", "amount": 10})
    service.send(second, {"type": "PAY", "amount": 10})
    service.send(first, "SHIP")
    with database.Session() as session:
        rows = session.execute(
            select(OutboxEvent.record_id, OutboxEvent.sequence, OutboxEvent.event_type).order_by(
                OutboxEvent.id
            )
        ).all()
    assert [tuple(r) for r in rows] == [
        (str(first.id), 1, "ticket.paid"),
        (str(second.id), 1, "ticket.paid"),
        (str(first.id), 2, "ticket.shipped"),
    ]


def test_a_blocked_guard_is_a_refusal_with_its_reason_and_writes_nothing(
    service: WorkflowService, database: Database
) -> None:
    ticket = new_ticket(service)
    result = service.send(ticket, {"type": "PAY", "amount": 3})
    assert not result.success
    assert result.reason is not None and "amount 3 is below the minimum of 10" in result.reason
    assert count(database, TransitionLog) == 1 and count(database, Capture) == 0
    assert service.snapshot(ticket).value == "open"


def test_a_refusal_reads_the_row_once_and_opens_no_second_transaction(
    service: WorkflowService, database: Database
) -> None:
    ticket = new_ticket(service)
    statements: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(" ".join(statement.split())[:40])

    engine = getattr(service, "sync_engine", None) or database.engine
    event.listen(engine, "before_cursor_execute", seen)
    try:
        result = service.send((Ticket, ticket.id), "SHIP")
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    assert not result.success and result.status == "OPEN"
    # the locked read of the row, and on SQLite the BEGIN IMMEDIATE before it: nothing after
    reads = [s for s in statements if not s.startswith("BEGIN")]
    assert len(reads) == 1 and reads[0].startswith("SELECT tickets.")
    assert len(statements) <= 2


def test_an_event_the_current_state_does_not_take_is_a_refusal(service: WorkflowService) -> None:
    ticket = new_ticket(service)
    result = service.send(ticket, "SHIP")
    assert not result.success and result.reason == "no active state handles 'SHIP'"


def test_an_event_no_state_handles_raises_unknown_event(
    service: WorkflowService, database: Database
) -> None:
    ticket = new_ticket(service)
    with pytest.raises(UnknownEventError, match="no transition for event 'SHIPP'"):
        service.send(ticket, "SHIPP")
    assert count(database, TransitionLog) == 1


def test_an_unknown_event_suggests_the_names_it_is_close_to(service: WorkflowService) -> None:
    ticket = new_ticket(service)
    with pytest.raises(UnknownEventError, match="did you mean 'SHIP'"):
        service.send(ticket, "SHIPP")


def test_a_payload_error_is_one_line_naming_each_field(service: WorkflowService) -> None:
    ticket = new_ticket(service)
    with pytest.raises(InvalidEventError) as raised:
        service.send(ticket, {"type": "PAY", "amount": "lots"})
    message = str(raised.value)
    assert "\n" not in message and "amount: " in message and "does not fit Pay" in message


def test_a_payload_that_fails_its_model_raises_and_writes_nothing(
    service: WorkflowService, database: Database
) -> None:
    ticket = new_ticket(service)
    with pytest.raises(InvalidEventError, match="does not fit Pay"):
        service.send(ticket, {"type": "PAY", "amount": "lots"})
    assert count(database, TransitionLog) == 1 and count(database, Capture) == 0


def test_a_finished_record_takes_no_more_events(service: WorkflowService) -> None:
    ticket = new_ticket(service)
    service.send(ticket, "CANCEL")
    result = service.send(ticket, "HOLD")
    assert not result.success and result.reason is not None and "is done" in result.reason


def test_an_idempotency_key_applies_once_and_replays_the_first_result(
    service: WorkflowService, database: Database
) -> None:
    ticket = new_ticket(service)
    first = service.send(ticket, {"type": "PAY", "amount": 10}, idempotency_key="req-1")
    again = service.send(ticket, {"type": "PAY", "amount": 10}, idempotency_key="req-1")
    assert first.success and again.success and again.idempotent and not first.idempotent
    assert (again.from_state, again.to_state, again.effects, again.version) == (
        "open",
        "paid",
        ("capture",),
        2,
    )
    assert count(database, Capture) == 1 and count(database, TransitionLog) == 2


@pytest.mark.parametrize(
    "other",
    [{"type": "PAY", "amount": 99}, {"type": "PAY", "amount": 11}, "HOLD"],
)
def test_an_idempotency_key_reused_for_a_different_request_is_refused_and_writes_nothing(
    service: WorkflowService, database: Database, other: Any
) -> None:
    ticket = new_ticket(service)
    assert service.send(ticket, {"type": "PAY", "amount": 10}, idempotency_key="req-1").success
    before = count(database, TransitionLog), count(database, Capture), ticket.workflow_version
    with pytest.raises(IdempotencyKeyReusedError, match=r"'req-1' was used .* different request"):
        service.send(ticket, other, idempotency_key="req-1")
    assert (count(database, TransitionLog), count(database, Capture)) == before[:2]
    assert service.snapshot(ticket).value == "paid" and ticket.workflow_version == before[2]


def test_the_same_request_is_the_same_whatever_the_key_order_of_its_payload(
    service: WorkflowService,
) -> None:
    ticket = new_ticket(service)
    service.send(ticket, {"type": "PAY", "amount": 10}, idempotency_key="req-1")
    assert service.send(ticket, {"amount": 10, "type": "PAY"}, idempotency_key="req-1").idempotent


@pytest.mark.parametrize(
    "retry",
    [
        {"type": "PAY", "amount": Decimal("10")},
        {"type": "PAY", "amount": "10"},
        {"type": "PAY", "amount": 10.0},
        {"type": "PAY", "amount": 10, "ignored": "the model drops it"},
    ],
)
def test_a_retry_is_the_same_request_when_the_machine_reads_the_same_event(
    service: WorkflowService, retry: dict[str, Any]
) -> None:
    ticket = new_ticket(service)
    service.send(ticket, {"type": "PAY", "amount": 10}, idempotency_key="req-1")
    assert service.send(ticket, retry, idempotency_key="req-1").idempotent


def test_an_untyped_payload_with_keys_that_are_not_text_is_refused_and_writes_nothing(
    service: WorkflowService, database: Database
) -> None:
    ticket = new_ticket(service)
    before = count(database, TransitionLog), ticket.workflow_version
    with pytest.raises(InvalidEventError, match=r"key 1 at \$\.meta that is not text"):
        service.send(ticket, {"type": "HOLD", "meta": {1: "one", "two": 2}}, idempotency_key="h")
    assert (count(database, TransitionLog), ticket.workflow_version) == before
    assert not service.send(ticket, "HOLD", idempotency_key="h").idempotent  # the key is unspent


def test_an_idempotency_key_is_per_record(service: WorkflowService) -> None:
    first, second = new_ticket(service, "a"), new_ticket(service, "b")
    assert not service.send(first, "HOLD", idempotency_key="k").idempotent
    assert not service.send(second, "HOLD", idempotency_key="k").idempotent


def test_dry_run_reports_the_transition_and_writes_nothing(
    service: WorkflowService, database: Database
) -> None:
    ticket = new_ticket(service)
    result = service.send(ticket, {"type": "PAY", "amount": 10}, dry_run=True, idempotency_key="d")
    assert result.success and result.dry_run
    assert (result.to_state, result.effects, result.emitted) == (
        "paid",
        ("capture",),
        ({"type": "ticket.paid"},),
    )
    assert count(database, TransitionLog) == 1
    assert count(database, Capture) == 0 and count(database, OutboxEvent) == 0
    assert service.snapshot(ticket).value == "open"
    assert not service.send(ticket, {"type": "PAY", "amount": 10}, idempotency_key="d").idempotent


def test_expected_version_refuses_a_record_that_moved(
    service: WorkflowService, database: Database
) -> None:
    ticket = new_ticket(service)
    service.send(ticket, "HOLD")
    with pytest.raises(
        StaleRecordError, match="is at version 2, not at the expected workflow version 1"
    ):
        service.send(ticket, "RELEASE", expected_version=1)
    assert count(database, TransitionLog) == 2


def test_a_record_that_is_not_there_is_reported(service: WorkflowService) -> None:
    with pytest.raises(RecordNotFoundError, match="no tickets with id '404'"):
        service.send((Ticket, 404), "HOLD")


def test_after_timers_become_scheduled_rows_and_are_cancelled_on_exit(
    service: WorkflowService, database: Database
) -> None:
    ticket = new_ticket(service)
    held = service.send(ticket, "HOLD")
    assert held.scheduled == ("xstate.after.60000.ticket.held",)
    with database.Session() as session:
        timer = session.scalars(select(ScheduledEvent)).one()
        assert (timer.status, timer.event) == (
            "pending",
            {"type": "xstate.after.60000.ticket.held"},
        )
        assert timer.due_at > timer.created_at
    assert ticket.workflow_state is not None
    assert ticket.workflow_state["timers"][0]["due"] > 0
    released = service.send(ticket, "RELEASE")
    assert released.cancelled == ("xstate.after.60000.ticket.held",)
    with database.Session() as session:
        assert session.scalars(select(ScheduledEvent.status)).all() == ["cancelled"]


def test_delivering_a_timer_marks_its_row_fired(
    service: WorkflowService, database: Database
) -> None:
    ticket = new_ticket(service)
    service.send(ticket, "HOLD")
    result = service.deliver(ticket, "xstate.after.60000.ticket.held")
    assert result.success and result.to_state == "open"
    with database.Session() as session:
        assert session.scalars(select(ScheduledEvent.status)).all() == ["fired"]


def test_a_delivered_timer_that_rearms_itself_is_marked_fired_and_a_new_row_waits(
    database: Database,
) -> None:
    import copy

    import workflow_db

    config = copy.deepcopy(workflow_db.TICKET)
    config["states"]["held"]["after"] = {"60000": {"target": "held", "reenter": True}}
    service = WorkflowService(
        database.Session,
        {"ticket": workflow_db.ticket_machine(config)},
        effects={"capture": workflow_db.capture},
    )
    ticket = new_ticket(service)
    service.send(ticket, "HOLD")
    result = service.deliver(ticket, "xstate.after.60000.ticket.held")
    assert result.success and result.scheduled == ("xstate.after.60000.ticket.held",)
    with database.Session() as session:
        rows = session.scalars(select(ScheduledEvent).order_by(ScheduledEvent.id)).all()
        assert [row.status for row in rows] == ["fired", "pending"]


def test_a_partial_wildcard_takes_its_own_prefix_through_the_service_as_in_the_core(
    database: Database,
) -> None:
    machine = orderflow.create_machine(
        {
            "id": "feedback",
            "initial": "asking",
            "states": {"asking": {"on": {"feedback.*": "thanked"}}, "thanked": {}},
        }
    )
    service = WorkflowService(database.Session, {"feedback": machine})
    record = ChartRecord(workflow_machine="feedback")
    service.start(record)
    assert service.can(record, "feedback") and service.send(record, "feedback").success
    assert service.snapshot(record).value == "thanked"
    with pytest.raises(UnknownEventError):
        service.send(record, "feedbackx")


def test_a_joined_send_commits_or_rolls_back_with_the_callers_transaction(
    service: WorkflowService, database: Database
) -> None:
    ticket = new_ticket(service)
    with caller_session(service, database) as session:
        row = session.get(Ticket, ticket.id)
        assert row is not None
        row.title = "renamed"
        assert service.joined(session).send(row, {"type": "PAY", "amount": 10}).success
        assert row.status == "PAID"  # the caller's instance sees the step at once
        session.rollback()
    assert service.snapshot(ticket).value == "open"
    assert count(database, TransitionLog) == 1 and count(database, Capture) == 0
    with caller_session(service, database) as session:
        row = session.get(Ticket, ticket.id)
        assert row is not None and row.title != "renamed"
        row.title = "renamed"
        assert service.joined(session).send(row, {"type": "PAY", "amount": 10}).success
        session.commit()
    assert service.snapshot(ticket).value == "paid"
    assert count(database, TransitionLog) == 2 and count(database, Capture) == 1
    with database.Session() as session:
        stored = session.get(Ticket, ticket.id)
        assert stored is not None and stored.title == "renamed"
