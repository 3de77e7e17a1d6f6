"""Who acts, through the API's doors over HTTP: the token's bearer, never the payload.

The attacks of issue 16 replayed: a clerk approving a quotation by naming a
sales approver (or somebody else) in the payload, the inspector form doing
the same with a DECLINE, and a clerk firing the validity timer by sending
its internal event.  Each is refused and leaves the quotation, its log and
its outbox as they were.  A real sales approver approves with a token that
carries the permission, and no payload field.
"""

from __future__ import annotations

import html
import json
import warnings
from typing import Any

import pytest
from api_support import CLERK, SECRET, form_fields, sent_quotation

from orderflow.api import create_app, issue_token
from orderflow.service import Principal, WorkflowService
from orderflow.store import OutboxEvent, Quotation, ScheduledEvent, TransitionLog

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", "Using `httpx` with `starlette.testclient`")
    from starlette.testclient import TestClient

APPROVER = Principal("u-ann", "Ann Approver", frozenset({"quotation.approve"}))
BIG_ORDER = {"type": "ADD_LINE", "sku": "TABLE", "quantity": 10, "unit_price": "1500.00"}

SEND = """mutation($id: ID!, $event: String!, $p: JSON) {
  sendEvent(recordType: "quotations", recordId: $id, event: $event, payload: $p) {
    success fromState toState reason } }"""


@pytest.fixture
def client(service: WorkflowService) -> TestClient:
    return TestClient(create_app(service=service, secret=SECRET), follow_redirects=False)


def pending_approval(service: WorkflowService) -> Quotation:
    """A quotation big enough to need a sales approver: it waits in ``pending_approval``."""
    quotation = Quotation(reference="Q-15", customer_id="C-1", workflow_machine="quotation")
    service.start(quotation, input={"quotation_id": "Q-15", "customer_id": "C-1",
                                    "currency": "EUR"})  # fmt: skip
    assert service.send(quotation, BIG_ORDER, actor=CLERK)
    assert service.send(quotation, "SUBMIT", actor=CLERK).to_state == "pending_approval"
    return quotation


def stored(service: WorkflowService, quotation: Quotation) -> tuple[Any, ...]:
    """The quotation row, its log and its outbox and timers, as the database has them."""
    with service.session_factory() as session:
        row = session.get(Quotation, quotation.id)
        assert row is not None
        logs = [(r.event, r.actor_user) for r in session.query(TransitionLog).order_by("id")]
        outbox = [r.event_type for r in session.query(OutboxEvent).order_by("id")]
        timers = [(r.timer_id, r.status) for r in session.query(ScheduledEvent).order_by("id")]
        return row.workflow_state, row.workflow_context, row.workflow_version, logs, outbox, timers


def send(client: TestClient, actor: Principal, record_id: int, event: str, payload: Any) -> Any:
    response = client.post(
        "/graphql",
        json={"query": SEND, "variables": {"id": str(record_id), "event": event, "p": payload}},
        headers={"Authorization": f"Bearer {issue_token(SECRET, actor)}"},
    )
    assert response.status_code == 200, response.text
    return response.json()


@pytest.mark.parametrize(
    "named",
    [
        {"id": "u-clerk", "roles": ["sales-approver"]},
        {"id": "u-boss", "roles": ["sales-approver"], "permissions": ["quotation.approve"]},
        {"id": "u-clerk"},
        None,
    ],
)
def test_a_clerk_naming_an_approver_in_the_payload_is_refused_and_nothing_is_written(
    client: TestClient, service: WorkflowService, named: Any
) -> None:
    quotation = pending_approval(service)
    before = stored(service, quotation)
    answer = send(client, CLERK, quotation.id, "APPROVE", {"actor": named})
    assert answer["data"] is None
    (error,) = answer["errors"]
    assert error["extensions"]["code"] == "INVALID_EVENT"
    assert "reserved field 'actor'" in error["message"]
    assert stored(service, quotation) == before


def test_a_sales_approver_approves_with_the_permission_in_the_token_and_no_payload_field(
    client: TestClient, service: WorkflowService
) -> None:
    quotation = pending_approval(service)
    refused = send(client, CLERK, quotation.id, "APPROVE", {"reason": "please"})
    assert refused["data"]["sendEvent"]["success"] is False
    answer = send(client, APPROVER, quotation.id, "APPROVE", {"reason": "key account"})
    assert answer["data"]["sendEvent"] == {
        "success": True, "fromState": "pending_approval", "toState": "sent", "reason": None,
    }  # fmt: skip
    context = service.snapshot(quotation).to_json()["context"]
    with service.session_factory() as session:
        log = session.query(TransitionLog).order_by(TransitionLog.id.desc()).first()
        assert log is not None and (log.event, log.actor_user) == ("APPROVE", APPROVER.id)
    assert context["approver"] == APPROVER.id


@pytest.mark.parametrize(
    "event",
    ["xstate.after.validity.quotation.sent", "xstate.init", "xstate.done.state.quotation",
     "orderflow.backfill"],
)  # fmt: skip
def test_a_clerk_cannot_fire_a_timer_or_any_internal_event(
    client: TestClient, service: WorkflowService, event: str
) -> None:
    quotation = sent_quotation(service)
    before = stored(service, quotation)
    assert ("xstate.after.validity.quotation.sent", "pending") in before[-1]
    answer = send(client, CLERK, quotation.id, event, None)
    assert answer["data"] is None
    (error,) = answer["errors"]
    assert error["extensions"]["code"] == "UNKNOWN_EVENT", error
    assert stored(service, quotation) == before
    assert service.snapshot(quotation).value == "sent"


def test_the_inspector_form_cannot_decline_in_somebody_elses_name(
    client: TestClient, service: WorkflowService
) -> None:
    quotation = sent_quotation(service)
    assert client.post("/login", data={"token": issue_token(SECRET, CLERK)}).status_code == 303
    path = f"/records/quotations/{quotation.id}"
    page = client.get(path)
    assert page.status_code == 200
    fields = form_fields(page.text, "DECLINE")
    before = stored(service, quotation)
    forged = {"reason": "too expensive", "actor": {"id": "u-boss"}}
    response = client.post(path + "/events", data={**fields, "payload": json.dumps(forged)})
    assert response.status_code == 400
    assert "reserved field" in html.unescape(response.text)
    assert stored(service, quotation) == before
    honest = {**fields, "payload": json.dumps({"reason": "too expensive"})}
    assert client.post(path + "/events", data=honest).status_code in (200, 303)
    reasons = service.snapshot(quotation).to_json()["context"]["reasons"]
    assert [r["by"] for r in reasons] == [CLERK.id]


ALLOWED = """query($id: ID!) { workflow(recordType: "quotations", recordId: $id) {
  allowedEvents { event allowed reason permitted refusal } } }"""


def test_allowed_events_are_judged_for_the_bearer_of_the_token(
    client: TestClient, service: WorkflowService
) -> None:
    quotation = pending_approval(service)

    def approve_as(actor: Principal) -> dict[str, Any]:
        response = client.post(
            "/graphql", json={"query": ALLOWED, "variables": {"id": str(quotation.id)}},
            headers={"Authorization": f"Bearer {issue_token(SECRET, actor)}"},
        )  # fmt: skip
        options = response.json()["data"]["workflow"]["allowedEvents"]
        return next(o for o in options if o["event"] == "APPROVE")

    by_approver, by_clerk = approve_as(APPROVER), approve_as(CLERK)
    assert by_approver["allowed"] and by_approver["permitted"] is not False
    assert not by_clerk["allowed"] and by_clerk["permitted"] is False
    assert "sales-approver" in by_clerk["reason"]
