"""What bad input gets from the service: a clear error, and nothing written."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select, update

import orderflow
from orderflow.chart import Action
from orderflow.errors import (
    EffectError,
    InvalidEventError,
    InvalidRecordKeyError,
    InvalidSnapshotError,
    TransitionFailedError,
    UnknownEventError,
)
from orderflow.service import WorkflowService
from orderflow.store import OutboxEvent, TransitionLog
from workflow_db import TICKET, Capture, Database, Ticket, capture, ticket_machine


def written(database: Database) -> tuple[Any, ...]:
    """The rows a send could write: counts of log, outbox and captures, and every ticket as stored."""
    with database.Session() as session:
        counts = tuple(
            int(session.scalar(select(func.count()).select_from(m)) or 0)
            for m in (TransitionLog, OutboxEvent, Capture)
        )
        tickets = session.execute(
            select(
                Ticket.id, Ticket.workflow_machine, Ticket.workflow_state,
                Ticket.workflow_context, Ticket.workflow_version, Ticket.status,
            ).order_by(Ticket.id)
        ).all()  # fmt: skip
        return (*counts, [tuple(row) for row in tickets])


def started(service: WorkflowService) -> Ticket:
    ticket = Ticket(workflow_machine="ticket")
    service.start(ticket)
    return ticket


@pytest.mark.parametrize(
    ("column", "value", "message"),
    [
        (
            "workflow_state",
            {"machine": "ticket", "version": "1", "value": "nowhere", "status": "active"},
            "no child state 'nowhere'",
        ),
        (
            "workflow_state",
            {
                "machine": "ticket",
                "version": "1",
                "value": {"open": "x", "paid": "y"},
                "status": "active",
            },
            "exactly one active child",
        ),
        ("workflow_state", ["open"], "must be a JSON object"),
        (
            "workflow_state",
            {"machine": "ticket", "version": "1", "value": "shipped", "status": "active"},
            "final state",
        ),
        (
            "workflow_state",
            {"machine": "ticket", "version": "9", "value": "open", "status": "active"},
            "no migration from version '9'",
        ),
        ("workflow_context", ["not", "a", "mapping"], "context"),
        ("workflow_machine", "stranger", "does not have"),
    ],
)
def test_a_tampered_row_is_refused_and_nothing_is_written(
    service: WorkflowService, database: Database, column: str, value: Any, message: str
) -> None:
    ticket = started(service)
    with database.Session.begin() as session:
        session.execute(update(Ticket).where(Ticket.id == ticket.id).values({column: value}))
    before = written(database)
    with pytest.raises(InvalidSnapshotError, match=message):
        service.send(ticket, "HOLD")
    assert written(database) == before


def test_an_effect_that_raises_rolls_back_the_whole_transition(database: Database) -> None:
    def failing(session: Any, record: Any, action: Action) -> None:
        capture(session, record, action)
        session.flush()  # the capture row is really in the transaction when the next line raises
        raise RuntimeError("card declined")

    service = WorkflowService(
        database.Session, {"ticket": ticket_machine()}, effects={"capture": failing}
    )
    ticket = started(service)
    before = written(database)
    with pytest.raises(EffectError, match=r"Effect 'capture' failed.*card declined") as caught:
        service.send(ticket, {"type": "PAY", "amount": 50}, idempotency_key="k")
    assert isinstance(caught.value.__cause__, RuntimeError)
    assert written(database) == before
    assert service.snapshot(ticket).value == "open"
    assert ticket.workflow_version == 1


def test_a_guard_that_raises_is_an_error_and_writes_nothing(database: Database) -> None:
    def broken(*_: Any) -> bool:
        raise ZeroDivisionError("bad guard")

    machine = orderflow.setup(
        guards={"enough": broken}, actions={"capture": lambda *_: None}
    ).create_machine(TICKET)
    service = WorkflowService(database.Session, {"ticket": machine}, effects={"capture": capture})
    ticket = started(service)
    before = written(database)
    with pytest.raises(TransitionFailedError, match="ZeroDivisionError"):
        service.send(ticket, {"type": "PAY", "amount": 50})
    assert written(database) == before


@pytest.mark.parametrize(
    ("event", "error", "message"),
    [
        ("SHIPP", UnknownEventError, "no transition for event 'SHIPP'"),
        ({"type": "PAY", "amount": "lots"}, InvalidEventError, "does not fit Pay"),
        ({"type": "PAY"}, InvalidEventError, "does not fit Pay"),
        ({"amount": 50}, InvalidEventError, "type"),
        ({"type": 7}, InvalidEventError, "type"),
        ("", InvalidEventError, "type"),
    ],
)
def test_an_unknown_or_malformed_event_is_refused_and_nothing_is_written(
    service: WorkflowService, database: Database, event: Any, error: type[Exception], message: str
) -> None:
    ticket = started(service)
    before = written(database)
    with pytest.raises(error, match=message):
        service.send(ticket, event, idempotency_key="k")
    assert written(database) == before
    # the key was not spent on the refused event: the same key moves the record now
    assert service.send(ticket, {"type": "PAY", "amount": 50}, idempotency_key="k").success


def test_a_record_key_the_primary_key_cannot_hold_is_refused_and_nothing_is_written(
    service: WorkflowService, database: Database
) -> None:
    ticket = started(service)
    before = written(database)
    for key in ("abc", 3.5, None):
        with pytest.raises(InvalidRecordKeyError, match="cannot name a tickets record"):
            service.send((Ticket, key), "HOLD")
    assert written(database) == before
    bulk = service.bulk_send([(Ticket, "abc"), (Ticket, str(ticket.id))], "HOLD")
    assert (bulk.succeeded, bulk.failed) == (1, 1)
    assert bulk.failures[0].record_id == "abc"
    assert service.snapshot((Ticket, str(ticket.id))).value == "held"


def test_a_key_too_large_for_the_column_is_refused_on_every_engine_and_bulk_moves_the_rest(
    service: WorkflowService, database: Database
) -> None:
    ticket = started(service)
    before = written(database)
    for key in ("99999999999999999999", 2**31, -(2**40)):
        with pytest.raises(InvalidRecordKeyError, match="cannot name a tickets record"):
            service.send((Ticket, key), "HOLD")
    with pytest.raises(InvalidRecordKeyError):
        service.send(Ticket(id="abc", workflow_machine="ticket"), "HOLD")
    with pytest.raises(InvalidRecordKeyError):
        service.start(Ticket(id=2**40, workflow_machine="ticket"))
    assert written(database) == before
    bulk = service.bulk_send(
        [(Ticket, "99999999999999999999"), Ticket(id="abc"), (Ticket, str(ticket.id))], "HOLD"
    )
    assert (bulk.succeeded, bulk.failed) == (1, 2)
    assert service.snapshot((Ticket, ticket.id)).value == "held"

