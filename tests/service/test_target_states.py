"""The target-state API: transitions_for_state, allowed_transitions, can_transition, transition."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from orderflow.errors import IdempotencyKeyReusedError, UnknownStateError
from orderflow.service import LEGACY_EVENT, Principal, WorkflowService
from orderflow.store import TransitionLog
from workflow_db import Database, Ticket


def started(service: WorkflowService) -> Ticket:
    ticket = Ticket(workflow_machine="ticket")
    service.start(ticket)
    return ticket


def test_transitions_for_state_lists_what_leaves_it(service: WorkflowService) -> None:
    options = service.transitions_for_state("open")
    assert [(o.event, o.targets, o.guard) for o in options] == [
        ("PAY", ("ticket.paid",), "enough"),
        ("HOLD", ("ticket.held",), None),
        ("CANCEL", ("ticket.cancelled",), None),
    ]


def test_allowed_events_give_the_guard_reason_or_the_payload_needed(
    service: WorkflowService,
) -> None:
    ticket = started(service)
    options = {o.event: o for o in service.allowed_events(ticket)}
    assert options["PAY"].needs_payload and "amount" in (options["PAY"].reason or "")
    assert options["PAY"].targets == ("ticket.paid",)  # where it leads is known without one
    assert "\n" not in (options["PAY"].reason or "")  # one line, not pydantic's report
    assert options["HOLD"].allowed and options["HOLD"].targets == ("ticket.held",)
    assert service.can(ticket, {"type": "PAY", "amount": 10})
    assert not service.can(ticket, {"type": "PAY", "amount": 1})


def test_an_event_that_needs_a_payload_names_its_fixed_target(service: WorkflowService) -> None:
    ticket = started(service)
    attempts = {a.event: a for a in service.allowed_transitions(ticket)}
    assert attempts["PAY"].to_state == "ticket.paid" and not attempts["PAY"].allowed


def test_transitions_for_a_state_include_its_timers_and_an_unknown_state_is_clear(
    service: WorkflowService,
) -> None:
    options = service.transitions_for_state("held")
    assert any(o.event.startswith("xstate.after.60000") for o in options)
    with pytest.raises(UnknownStateError, match="has no state 'helt'"):
        service.transitions_for_state("helt")


def test_allowed_transitions_name_the_states_one_event_away(service: WorkflowService) -> None:
    ticket = started(service)
    service.send(ticket, "HOLD")
    attempts = {a.to_state: a for a in service.allowed_transitions(ticket)}
    assert attempts["open"].allowed and attempts["open"].event == "RELEASE"
    assert attempts["cancelled"].event == "CANCEL"


def test_can_transition_finds_the_event_and_explains_a_block(service: WorkflowService) -> None:
    ticket = started(service)
    assert service.can_transition(ticket, "held").event == "HOLD"
    blocked = service.can_transition(ticket, "paid", params={"amount": 2})
    assert not blocked.allowed and "below the minimum" in (blocked.reason or "")
    assert service.can_transition(ticket, "paid", params={"amount": 20}).event == "PAY"
    assert not service.can_transition(ticket, "shipped").allowed
    assert "already in" in (service.can_transition(ticket, "open").reason or "")


def test_a_target_state_may_be_named_by_its_id(service: WorkflowService) -> None:
    ticket = started(service)
    assert service.can_transition(ticket, "#ticket.held").event == "HOLD"
    assert service.can_transition(ticket, "ticket.held").event == "HOLD"
    assert "already in" in (service.can_transition(ticket, "#ticket.open").reason or "")


def test_transition_sends_the_event_that_leads_to_the_state(service: WorkflowService) -> None:
    ticket = started(service)
    result = service.transition(
        ticket, "paid", params={"amount": 20}, actor=Principal("u1"), note="n"
    )
    assert result.success and result.event == "PAY" and result.effects == ("capture",)
    assert ticket.status == "PAID"


def test_a_retried_transition_replays_and_a_reused_key_for_another_target_is_refused(
    service: WorkflowService,
) -> None:
    ticket = started(service)
    first = service.transition(ticket, "paid", params={"amount": 20}, idempotency_key="t-1")
    again = service.transition(ticket, "paid", params={"amount": 20}, idempotency_key="t-1")
    assert first.success and again.idempotent and again.to_state == "paid"
    with pytest.raises(IdempotencyKeyReusedError):
        service.transition(ticket, "shipped", idempotency_key="t-1")
    with pytest.raises(IdempotencyKeyReusedError):  # send and transition are different requests
        service.send(ticket, {"type": "PAY", "amount": 20}, idempotency_key="t-1")
    assert ticket.status == "PAID"


def test_with_the_workflow_disabled_transition_updates_the_legacy_status_and_logs_it(
    service: WorkflowService, database: Database
) -> None:
    ticket = started(service)
    service.workflow_enabled = False
    refused = service.send(ticket, "HOLD")
    assert not refused.success and "workflow is disabled" in (refused.reason or "")
    result = service.transition(
        ticket, "shipped", actor=Principal("ops", "Ops on call"), note="incident 12"
    )
    assert result.success and result.event == LEGACY_EVENT
    assert (ticket.status, ticket.workflow_version) == ("DONE", 2)
    assert ticket.workflow_state is not None and ticket.workflow_state["value"] == "open"
    with database.Session() as session:
        log = session.scalars(select(TransitionLog).order_by(TransitionLog.id.desc())).first()
        assert log is not None and log.details["workflow_enabled"] is False
        assert (log.from_state, log.to_state, log.actor_label) == (
            {"status": "OPEN"},
            {"status": "DONE"},
            "Ops on call",
        )
