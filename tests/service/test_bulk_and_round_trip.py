"""Bulk sends, and a whole flow driven with a rehydrate from the database before every event."""

from __future__ import annotations

import contextlib
import warnings
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, reject, settings
from hypothesis import strategies as st
from sqlalchemy import func, select, update

import orderflow
from orderflow.chart import Machine
from orderflow.errors import InfiniteLoopError, UnknownEventError
from orderflow.service import TransitionResult, WorkflowService
from orderflow.store import TransitionLog
from orderflow.testing import event_sequences, machine_configs
from workflow_db import ChartRecord, Database, Ticket, awaiting_service, capture, ticket_machine


def started_tickets(service: WorkflowService, count: int) -> list[Ticket]:
    tickets = [Ticket(workflow_machine="ticket") for _ in range(count)]
    for ticket in tickets:
        service.start(ticket)
    return tickets


def test_bulk_send_counts_successes_and_failures_with_reasons(service: WorkflowService) -> None:
    tickets = started_tickets(service, 4)
    service.send(tickets[0], "CANCEL")
    seen: list[tuple[int, bool]] = []

    def progress(done: int, result: TransitionResult | None) -> None:
        seen.append((done, bool(result)))

    dry = service.bulk_send(tickets, "HOLD", dry_run=True)
    assert (dry.succeeded, dry.failed) == (3, 1)
    assert all(t.status in ("OPEN", "CANCELLED") for t in tickets)
    result = service.bulk_send(tickets, "HOLD", progress=progress)
    assert (result.succeeded, result.failed) == (3, 1)
    assert (
        result.failures[0].record_id == str(tickets[0].id) and "done" in result.failures[0].reason
    )
    assert seen == [(1, False), (2, True), (3, True), (4, True)]


def _plain(data: dict[str, Any]) -> dict[str, Any]:
    return {**data, "timers": [{k: v for k, v in t.items() if k != "due"} for t in data["timers"]]}


def test_a_round_trip_through_the_database_ends_where_the_pure_core_ends(
    database: Database,
) -> None:
    machine = ticket_machine()
    events: list[Any] = [
        "HOLD",
        "RELEASE",
        "HOLD",
        "xstate.after.60000.ticket.held",
        {"type": "PAY", "amount": 11},
        "SHIP",
    ]
    pure, _ = machine.initial_transition()
    ticket = Ticket(workflow_machine="ticket")
    WorkflowService(database.Session, {"ticket": machine}, effects={"capture": capture}).start(
        ticket
    )
    for event in events:
        pure, _ = machine.transition(pure, event)
        # a new service and session each time: the only memory is the database
        service = WorkflowService(
            database.Session, {"ticket": ticket_machine()}, effects={"capture": capture}
        )
        # the timer's event comes in through the internal path, as the timer worker sends it
        door = service.deliver if str(event).startswith("xstate.") else service.send
        assert door((Ticket, ticket.id), event).success
        assert _plain(service.snapshot((Ticket, ticket.id)).to_json()) == _plain(pure.to_json())
    assert pure.status == "done" and pure.value == "shipped"


def test_bulk_send_counts_missing_and_tampered_records_and_moves_the_rest(
    service: WorkflowService, database: Database
) -> None:
    good = started_tickets(service, 3)
    tampered = good.pop(1)
    with database.Session.begin() as session:
        session.execute(
            update(Ticket).where(Ticket.id == tampered.id).values(workflow_state=["open"])
        )
    result = service.bulk_send([good[0], tampered, (Ticket, 9999), good[1]], "HOLD")
    assert (result.succeeded, result.failed) == (2, 2)
    reasons = {failure.record_id: failure.reason for failure in result.failures}
    assert "must be a JSON object" in reasons[str(tampered.id)]
    assert "9999" in reasons["9999"]
    assert [service.snapshot(t).value for t in good] == ["held", "held"]
    with database.Session() as session:
        stored = session.get(Ticket, tampered.id)
        assert stored is not None and stored.workflow_state == ["open"]
        assert stored.workflow_version == 1


def test_a_bulk_job_run_again_with_its_key_moves_only_the_records_it_had_not_reached(
    service: WorkflowService, database: Database
) -> None:
    tickets = started_tickets(service, 4)
    first = service.bulk_send(tickets[:2], "HOLD", idempotency_key="hold-all")
    assert (first.succeeded, first.failed) == (2, 0)
    again = service.bulk_send(tickets, "HOLD", idempotency_key="hold-all")
    assert (again.succeeded, again.failed) == (4, 0)
    assert [r.idempotent for r in again.results] == [True, True, False, False]
    assert [service.snapshot(t).value for t in tickets] == ["held"] * 4
    with database.Session() as session:
        holds = session.scalar(
            select(func.count()).select_from(TransitionLog).where(TransitionLog.event == "HOLD")
        )
    assert holds == 4


def _chart_machine(config: dict[str, Any]) -> Machine:
    with warnings.catch_warnings():  # random charts have unreachable states
        warnings.simplefilter("ignore", orderflow.DefinitionWarning)
        return orderflow.create_machine(config)


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
@pytest.mark.parametrize("driver", ["sync", "async"])
def test_any_chart_moved_through_the_database_agrees_with_the_pure_core_at_every_step(
    database: Database, driver: str, data: st.DataObject
) -> None:
    if driver == "async" and database.kind == "sqlite-memory":
        pytest.skip("the async driver needs a SQLite file (in-memory SQLite is one connection)")
    machine = _chart_machine(data.draw(machine_configs(max_depth=3), label="config"))
    try:
        pure, _ = machine.initial_transition()
    except InfiniteLoopError:
        reject()  # a '*' transition that catches the chart's own done events, for ever
    assume(pure.status == "active")
    with contextlib.ExitStack() as stack:
        service: Any = WorkflowService(database.Session, {machine.id: machine})
        if driver == "async":  # the same stages, driven on an event loop
            service = stack.enter_context(awaiting_service(database, {machine.id: machine}))
        _walk(service, machine, pure, data)


def _walk(service: Any, machine: Any, pure: Any, data: st.DataObject) -> None:
    record = ChartRecord(workflow_machine=machine.id)
    service.start(record)
    ref = (ChartRecord, record.id)
    for event_type in data.draw(event_sequences(machine, max_size=10), label="events"):
        try:
            after, _ = machine.transition(pure, {"type": event_type})
        except InfiniteLoopError:
            reject()  # the same, on an event
        try:
            result = service.send(ref, event_type)
        except UnknownEventError:
            assert after.to_json() == pure.to_json()  # no state names it: the core ignores it
            continue
        stored = service.snapshot(ref)  # rehydrated from the row, as the next request would
        assert stored.to_json() == after.to_json(), (event_type, result.reason)
        assert result.success == (
            after.to_json() != pure.to_json() or machine.can(pure, event_type)
        )
        pure = after
        if pure.status != "active":
            break
