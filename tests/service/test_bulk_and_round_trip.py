"""Bulk sends, and a whole flow driven with a rehydrate from the database before every event."""

from __future__ import annotations

from typing import Any

from orderflow.service import TransitionResult, WorkflowService
from workflow_db import Database, Ticket, capture, ticket_machine


def test_bulk_send_counts_successes_and_failures_with_reasons(service: WorkflowService) -> None:
    tickets = []
    for _ in range(4):
        ticket = Ticket(workflow_machine="ticket")
        service.start(ticket)
        tickets.append(ticket)
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
        assert service.send((Ticket, ticket.id), event).success
        assert _plain(service.snapshot((Ticket, ticket.id)).to_json()) == _plain(pure.to_json())
    assert pure.status == "done" and pure.value == "shipped"
