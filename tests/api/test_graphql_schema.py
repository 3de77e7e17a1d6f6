"""The GraphQL schema, run with strawberry's ``execute_sync``: reads, writes, and every refusal.

A refusal (no actor, the wrong permission, bad input) is a GraphQL error
with ``extensions.code`` and leaves the database exactly as it was: no log
row, no version bump, no decided request.
"""

from __future__ import annotations

import logging
import re
import shutil
from typing import Any

import pytest
from api_support import (
    ADMIN,
    CLERK,
    CONTROLLER,
    error_codes,
    graphql,
    sale_awaiting_admin_override,
    sale_on_credit_hold,
    sent_quotation,
    set_credit,
    tally,
)
from sqlalchemy import event

from orderflow.api import queries
from orderflow.service import WorkflowService

WORKFLOW = """
query($type: String!, $id: ID!) {
  workflow(recordType: $type, recordId: $id) {
    recordType recordId reference machine machineVersion value states activeStateIds status
    legacyStatus version context
    allowedEvents { event allowed reason targets needsPayload permitted refusal payload }
    log { event fromState toState actorUser actorLabel recordVersion }
    timers { timerId event dueAt }
    overrideRequests { requestId kind status reason requestedBy decidedBy }
    diagram(format: MERMAID) { format source }
  }
}
"""

APPROVE = """
mutation($id: ID!, $request: String!, $note: String! = "") {
  approveOverride(recordType: "sale_orders", recordId: $id, requestId: $request, note: $note) {
    success fromState toState reason version
  }
}
"""

SEND = """
mutation($id: ID!, $event: String!, $payload: JSON, $key: String, $dry: Boolean! = false,
         $expected: Int) {
  sendEvent(recordType: "sale_orders", recordId: $id, event: $event, payload: $payload,
            idempotencyKey: $key, dryRun: $dry, expectedVersion: $expected) {
    success event fromState toState reason idempotent dryRun version effects emitted logIds
  }
}
"""


def workflow_of(
    service: WorkflowService, record_id: Any, actor: Any = ADMIN, record_type: str = "sale_orders"
) -> dict[str, Any]:
    result = graphql(service, WORKFLOW, {"type": record_type, "id": str(record_id)}, actor=actor)
    assert result.errors is None, result.errors
    return dict(result.data["workflow"])


def test_a_sale_awaiting_an_override_shows_its_state_context_log_and_requests(
    service: WorkflowService,
) -> None:
    sale = sale_awaiting_admin_override(service)
    flow = workflow_of(service, sale.id)
    assert (flow["recordType"], flow["recordId"], flow["reference"]) == (
        "sale_orders",
        str(sale.id),
        "S-1",
    )
    assert (flow["machine"], flow["value"], flow["status"]) == (
        "sale",
        "admin_override_pending",
        "active",
    )
    assert flow["states"] == ["admin_override_pending"]
    assert flow["activeStateIds"] == ["sale", "sale.admin_override_pending"]
    assert flow["version"] == sale.workflow_version == 4
    assert flow["context"]["overrides"][0]["reason"] == "a loyal customer"
    assert [row["event"] for row in flow["log"]] == [
        "xstate.init", "SELECT_PAYMENT_METHOD", "xstate.done.actor.credit_check",
        "REQUEST_ADMIN_OVERRIDE",
    ]  # fmt: skip
    assert flow["log"][-1]["actorLabel"] == "Clara Clerk"
    assert flow["overrideRequests"] == [
        {"requestId": "admin-1", "kind": "admin", "status": "open", "reason": "a loyal customer",
         "requestedBy": "u-clerk", "decidedBy": None},
    ]  # fmt: skip
    assert flow["diagram"]["format"] == "MERMAID"
    assert "class sale_admin_override_pending active" in flow["diagram"]["source"]


def test_allowed_events_carry_the_guard_reasons_and_the_actors_verdict(
    service: WorkflowService,
) -> None:
    sale = sale_awaiting_admin_override(service)
    by_admin = {o["event"]: o for o in workflow_of(service, sale.id, ADMIN)["allowedEvents"]}
    by_clerk = {o["event"]: o for o in workflow_of(service, sale.id, CLERK)["allowedEvents"]}
    assert set(by_admin) == {"ADMIN_OVERRIDE_APPROVED", "ADMIN_OVERRIDE_REJECTED", "CANCEL"}
    approve = by_admin["ADMIN_OVERRIDE_APPROVED"]
    assert (approve["permitted"], approve["refusal"], approve["payload"]) == (
        True, None, {"request_id": "admin-1"},
    )  # fmt: skip
    assert approve["needsPayload"] and "request_id" in approve["reason"]
    refused = by_clerk["ADMIN_OVERRIDE_APPROVED"]
    assert refused["permitted"] is False
    assert refused["refusal"] == (
        "Clara Clerk may not decide admin overrides: that needs the 'admin' role, which the "
        "permission 'sale.override.admin' grants"
    )
    assert by_clerk["CANCEL"]["permitted"] is True


def test_an_admin_approves_the_override_and_the_sale_clears(service: WorkflowService) -> None:
    sale = sale_awaiting_admin_override(service)
    result = graphql(
        service, APPROVE, {"id": str(sale.id), "request": "admin-1", "note": "ok"}, actor=ADMIN
    )
    assert result.errors is None, result.errors
    assert result.data["approveOverride"] == {
        "success": True, "fromState": "admin_override_pending", "toState": "cleared",
        "reason": None, "version": 5,
    }  # fmt: skip
    flow = workflow_of(service, sale.id)
    assert (flow["value"], flow["status"]) == ("cleared", "done")
    assert flow["overrideRequests"][0]["status"] == "approved"
    assert flow["overrideRequests"][0]["decidedBy"] == "u-admin"
    assert flow["log"][-1]["actorUser"] == "u-admin"


def test_a_clerk_may_not_approve_and_nothing_is_written(service: WorkflowService) -> None:
    sale = sale_awaiting_admin_override(service)
    before = tally(service)
    result = graphql(service, APPROVE, {"id": str(sale.id), "request": "admin-1"}, actor=CLERK)
    assert result.data is None
    assert error_codes(result) == [
        ("FORBIDDEN", "Clara Clerk may not decide admin overrides: that needs the 'admin' "
                      "role, which the permission 'sale.override.admin' grants"),
    ]  # fmt: skip
    assert tally(service) == before
    assert service.snapshot(sale).value == "admin_override_pending"


def test_a_credit_controller_may_not_decide_an_admin_override_sent_as_a_raw_event(
    service: WorkflowService,
) -> None:
    sale = sale_awaiting_admin_override(service)
    before = tally(service)
    payload = {"request_id": "admin-1"}
    result = graphql(
        service, SEND, {"id": str(sale.id), "event": "ADMIN_OVERRIDE_APPROVED", "payload": payload},
        actor=CONTROLLER,
    )  # fmt: skip
    assert error_codes(result)[0][0] == "FORBIDDEN"
    assert tally(service) == before


def test_an_event_that_names_someone_else_as_its_actor_is_refused(
    service: WorkflowService,
) -> None:
    sale = sale_awaiting_admin_override(service)
    before = tally(service)
    payload = {"request_id": "admin-1", "actor": {"id": "u-admin", "roles": ["admin"]}}
    result = graphql(
        service, SEND, {"id": str(sale.id), "event": "ADMIN_OVERRIDE_APPROVED", "payload": payload},
        actor=CLERK,
    )  # fmt: skip
    ((code, message),) = error_codes(result)
    assert code == "INVALID_EVENT" and "actor" in message  # who acts is never the payload's word
    del payload["actor"]
    result = graphql(
        service, SEND, {"id": str(sale.id), "event": "ADMIN_OVERRIDE_APPROVED", "payload": payload},
        actor=CLERK,
    )  # fmt: skip
    assert error_codes(result)[0][0] == "FORBIDDEN"  # and the clerk may not decide as itself
    assert tally(service) == before


OPERATIONS = {
    "workflow": 'query { workflow(recordType: "sale_orders", recordId: "1") { value } }',
    "records": "query { records { recordId } }",
    "overrideRequests": "query { overrideRequests { kind } }",
    "creditSnapshot": 'query { creditSnapshot(customerId: "C-1") { limit } }',
    "sendEvent": 'mutation { sendEvent(recordType: "sale_orders", recordId: "1", event: "CANCEL") '
    "{ success } }",
    "requestOverride": 'mutation { requestOverride(recordType: "sale_orders", recordId: "1", '
    'kind: "credit", reason: "x") { success } }',
    "approveOverride": 'mutation { approveOverride(recordType: "sale_orders", recordId: "1", '
    'requestId: "admin-1") { success } }',
    "rejectOverride": 'mutation { rejectOverride(recordType: "sale_orders", recordId: "1", '
    'requestId: "admin-1") { success } }',
}


@pytest.mark.parametrize("operation", sorted(OPERATIONS))
def test_every_operation_without_an_actor_is_refused_and_writes_nothing(
    service: WorkflowService, operation: str
) -> None:
    sale_awaiting_admin_override(service)
    before = tally(service)
    result = graphql(service, OPERATIONS[operation])
    assert result.data is None
    (code, message) = error_codes(result)[0]
    assert code == "UNAUTHENTICATED"
    assert "needs an authenticated actor" in message
    assert tally(service) == before


def test_a_refused_token_is_reported_with_its_reason(service: WorkflowService) -> None:
    sale = sale_awaiting_admin_override(service)
    before = tally(service)
    result = graphql(
        service, APPROVE, {"id": str(sale.id), "request": "admin-1"},
        authentication_error="the token has expired; ask for a new one",
    )  # fmt: skip
    assert error_codes(result) == [("UNAUTHENTICATED", "the token has expired; ask for a new one")]
    me = graphql(
        service, "{ me { id } }", authentication_error="the token has expired; ask for a new one"
    )
    assert error_codes(me)[0][0] == "UNAUTHENTICATED"
    assert graphql(service, "{ me { id } }").data == {"me": None}
    assert tally(service) == before


def test_me_is_the_authenticated_actor(service: WorkflowService) -> None:
    result = graphql(service, "{ me { id label permissions } }", actor=ADMIN)
    assert result.data == {
        "me": {"id": "u-admin", "label": "Ada Admin", "permissions": ["sale.override.admin"]}
    }


@pytest.mark.parametrize(
    ("record_type", "record_id", "code", "message"),
    [
        (
            "sale_orders",
            "999",
            "NOT_FOUND",
            "There is no sale_orders with id '999' in the database.",
        ),
        (
            "invoices",
            "1",
            "BAD_REQUEST",
            "there is no record type 'invoices'; this API serves "
            "quotations, sale_orders, fulfillments",
        ),
        (
            "sale_orders",
            "one",
            "BAD_REQUEST",
            "'one' is not a valid id for sale_orders (its key is int)",
        ),
    ],
)
def test_an_unknown_record_is_a_clear_error(
    service: WorkflowService, record_type: str, record_id: str, code: str, message: str
) -> None:
    result = graphql(service, WORKFLOW, {"type": record_type, "id": record_id}, actor=ADMIN)
    assert error_codes(result) == [(code, message)]


@pytest.mark.parametrize(
    ("event", "payload", "code", "fragment"),
    [
        (
            "NO_SUCH_EVENT",
            None,
            "UNKNOWN_EVENT",
            "Machine 'sale' has no transition for event 'NO_SUCH_EVENT'",
        ),
        (
            "SELECT_PAYMENT_METHOD",
            '{"method": ',
            "INVALID_EVENT",
            "the payload of 'SELECT_PAYMENT_METHOD' is not valid JSON",
        ),
        ("SELECT_PAYMENT_METHOD", [1, 2], "INVALID_EVENT", "must be a JSON object, not list"),
        (
            "SELECT_PAYMENT_METHOD",
            {"method": {"no": "such"}},
            "INVALID_EVENT",
            "does not fit SelectPaymentMethod",
        ),
        ("CANCEL", {"type": "SHIP"}, "INVALID_EVENT", "the payload names event type 'SHIP'"),
    ],
)
def test_bad_input_is_a_clear_error_and_writes_nothing(
    service: WorkflowService, event: str, payload: Any, code: str, fragment: str
) -> None:
    sale = sale_on_credit_hold(service)
    before = tally(service)
    result = graphql(
        service, SEND, {"id": str(sale.id), "event": event, "payload": payload}, actor=ADMIN
    )
    assert result.data is None
    ((found_code, message),) = error_codes(result)
    assert found_code == code and fragment in message, message
    assert tally(service) == before


def test_an_event_the_state_does_not_take_is_a_refused_result_not_an_error(
    service: WorkflowService,
) -> None:
    sale = sale_awaiting_admin_override(service)
    before = tally(service)
    payload = {"method": "card"}
    result = graphql(
        service,
        SEND,
        {"id": str(sale.id), "event": "SELECT_PAYMENT_METHOD", "payload": payload},
        actor=ADMIN,
    )
    assert result.errors is None
    answer = result.data["sendEvent"]
    assert answer["success"] is False and answer["reason"]
    assert tally(service) == before


def test_a_dry_run_answers_with_the_move_and_writes_nothing(service: WorkflowService) -> None:
    sale = sale_awaiting_admin_override(service)
    before = tally(service)
    result = graphql(
        service, SEND, {"id": str(sale.id), "event": "ADMIN_OVERRIDE_APPROVED",
                        "payload": {"request_id": "admin-1"}, "dry": True}, actor=ADMIN,
    )  # fmt: skip
    answer = result.data["sendEvent"]
    assert (answer["success"], answer["dryRun"], answer["toState"]) == (True, True, "cleared")
    assert [e["type"] for e in answer["emitted"]] == ["sale.override_decided", "sale.cleared"]
    assert tally(service) == before


def test_an_idempotency_key_answers_a_repeat_with_the_first_result(
    service: WorkflowService,
) -> None:
    sale = sale_on_credit_hold(service)
    variables = {"id": str(sale.id), "event": "CANCEL", "key": "cancel-once"}
    first = graphql(service, SEND, variables, actor=ADMIN).data["sendEvent"]
    after_first = tally(service)
    again = graphql(service, SEND, variables, actor=ADMIN).data["sendEvent"]
    assert first["success"] and not first["idempotent"]
    assert again["idempotent"] and again["logIds"] == first["logIds"]
    assert tally(service) == after_first
    reused = graphql(service, SEND, {**variables, "event": "SUBMIT"}, actor=ADMIN)
    assert error_codes(reused)[0][0] == "IDEMPOTENCY_KEY_REUSED"
    assert tally(service) == after_first


def test_a_stale_expected_version_is_an_error_and_writes_nothing(service: WorkflowService) -> None:
    sale = sale_on_credit_hold(service)
    before = tally(service)
    result = graphql(
        service, SEND, {"id": str(sale.id), "event": "CANCEL", "expected": 1}, actor=ADMIN
    )
    assert error_codes(result)[0][0] == "STALE_RECORD"
    assert tally(service) == before


def test_requesting_and_rejecting_a_credit_override(service: WorkflowService) -> None:
    sale = sale_on_credit_hold(service)
    request = graphql(
        service,
        'mutation($id: ID!) { requestOverride(recordType: "sale_orders", recordId: $id, '
        'kind: "credit", reason: "pays late but pays") { success toState } }',
        {"id": str(sale.id)}, actor=CLERK,
    )  # fmt: skip
    assert request.data["requestOverride"] == {
        "success": True, "toState": {"processing": "credit_override_pending"},
    }  # fmt: skip
    reject = graphql(
        service,
        'mutation($id: ID!) { rejectOverride(recordType: "sale_orders", recordId: $id, '
        'requestId: "credit-1", note: "no") { success toState } }',
        {"id": str(sale.id)}, actor=CONTROLLER,
    )  # fmt: skip
    assert reject.data["rejectOverride"] == {
        "success": True,
        "toState": {"processing": "credit_hold"},
    }


@pytest.mark.parametrize(
    ("variables", "code", "message"),
    [
        (
            {"kind": "golden", "reason": "x"},
            "BAD_REQUEST",
            "machine 'sale' has no override kind 'golden'; it has credit, admin",
        ),
        ({"kind": "credit", "reason": "  "}, "BAD_REQUEST", "an override request needs a reason"),
    ],
)
def test_a_bad_override_request_is_a_clear_error(
    service: WorkflowService, variables: dict[str, str], code: str, message: str
) -> None:
    sale = sale_on_credit_hold(service)
    before = tally(service)
    result = graphql(
        service,
        'mutation($id: ID!, $kind: String!, $reason: String!) { requestOverride(recordType: '
        '"sale_orders", recordId: $id, kind: $kind, reason: $reason) { success } }',
        {"id": str(sale.id), **variables}, actor=CLERK,
    )  # fmt: skip
    assert error_codes(result) == [(code, message)]
    assert tally(service) == before


def test_deciding_a_request_that_does_not_exist_is_not_found(service: WorkflowService) -> None:
    sale = sale_awaiting_admin_override(service)
    result = graphql(service, APPROVE, {"id": str(sale.id), "request": "admin-7"}, actor=ADMIN)
    assert error_codes(result) == [
        ("NOT_FOUND", "there is no override request 'admin-7' on sale_orders '1'")
    ]


def test_overrides_on_a_machine_without_them_are_a_clear_error(service: WorkflowService) -> None:
    quotation = sent_quotation(service)
    result = graphql(
        service,
        'mutation($id: ID!) { requestOverride(recordType: "quotations", recordId: $id, '
        'kind: "credit", reason: "x") { success } }',
        {"id": str(quotation.id)}, actor=CLERK,
    )  # fmt: skip
    ((code, message),) = error_codes(result)
    assert code == "BAD_REQUEST" and "runs a machine without overrides" in message


def test_override_requests_filter_by_status_and_kind(service: WorkflowService) -> None:
    first = sale_awaiting_admin_override(service, "S-1")
    second = sale_on_credit_hold(service, "S-2")
    assert service.request_override(second, "credit", "please", actor=CLERK)
    graphql(service, APPROVE, {"id": str(first.id), "request": "admin-1"}, actor=ADMIN)
    query = """query($status: String, $kind: String) {
      overrideRequests(status: $status, kind: $kind) { recordId requestId kind status } }"""

    def listed(**filters: str) -> list[tuple[str, str, str]]:
        rows = graphql(service, query, filters, actor=ADMIN).data["overrideRequests"]
        return [(r["recordId"], r["requestId"], r["status"]) for r in rows]

    assert listed() == [
        (str(second.id), "credit-1", "open"),
        (str(first.id), "admin-1", "approved"),
    ]
    assert listed(status="open") == [(str(second.id), "credit-1", "open")]
    assert listed(kind="admin") == [(str(first.id), "admin-1", "approved")]
    assert listed(status="open", kind="admin") == []


def test_a_customers_credit_snapshot(service: WorkflowService) -> None:
    set_credit(service, "C-9", "2500.5")
    result = graphql(
        service, '{ creditSnapshot(customerId: "C-9") { customerId currency limit openBalance overdue available } }',
        actor=CLERK,
    )  # fmt: skip
    assert result.data["creditSnapshot"] == {
        "customerId": "C-9", "currency": "EUR", "limit": "2500.50", "openBalance": "0.00",
        "overdue": "0.00", "available": "2500.50",
    }  # fmt: skip


def test_a_sent_quotation_shows_its_pending_validity_timer(service: WorkflowService) -> None:
    quotation = sent_quotation(service)
    flow = workflow_of(service, quotation.id, record_type="quotations")
    assert flow["value"] == "sent"
    ((timer,),) = [flow["timers"]]
    assert "validity" in timer["timerId"] and timer["dueAt"]


def test_records_are_listed_by_machine_and_state(service: WorkflowService) -> None:
    sale_awaiting_admin_override(service, "S-1")
    sale_on_credit_hold(service, "S-2")
    sent_quotation(service)
    query = "query($machine: String, $state: String) { records(machine: $machine, state: $state) { reference machine states } }"

    def listed(**filters: str) -> list[tuple[str, str, list[str]]]:
        rows = graphql(service, query, filters, actor=CLERK).data["records"]
        return [(r["reference"], r["machine"], r["states"]) for r in rows]

    assert listed() == [
        ("Q-1", "quotation", ["sent"]),
        ("S-2", "sale", ["processing.credit_hold"]),
        ("S-1", "sale", ["admin_override_pending"]),
    ]
    assert listed(machine="sale", state="processing") == [
        ("S-2", "sale", ["processing.credit_hold"])
    ]
    assert listed(state="processing.credit") == []


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed")
def test_the_svg_diagram_fills_the_active_state(service: WorkflowService) -> None:
    sale = sale_awaiting_admin_override(service)
    result = graphql(
        service, 'query($id: ID!) { workflow(recordType: "sale_orders", recordId: $id) { diagram { format source } } }',
        {"id": str(sale.id)}, actor=CLERK,
    )  # fmt: skip
    diagram = result.data["workflow"]["diagram"]
    assert diagram["format"] == "SVG" and diagram["source"].lstrip().startswith("<?xml")
    active = re.findall(
        r'class="node state atomic active">\s*<title>([^<]*)</title>', diagram["source"]
    )
    assert active == ["sale.admin_override_pending"]


def test_an_unexpected_exception_is_masked_for_the_caller_and_logged(
    service: WorkflowService, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    sale = sale_on_credit_hold(service)

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("the database password is hunter2")

    monkeypatch.setattr(queries, "transition_log", broken)
    with caplog.at_level(logging.ERROR, logger="orderflow.api"):
        result = graphql(
            service, 'query($id: ID!) { workflow(recordType: "sale_orders", recordId: $id) { log { event } } }',
            {"id": str(sale.id)}, actor=CLERK,
        )  # fmt: skip
    assert [e.message for e in result.errors] == ["Unexpected error."]
    assert "hunter2" in caplog.text


@pytest.mark.parametrize("mutation", ["send", "approve", "forbidden"])
def test_a_mutation_is_one_transaction_and_reads_the_record_once(
    service: WorkflowService, api_db: Any, mutation: str
) -> None:
    sale = sale_awaiting_admin_override(service)
    statements: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(" ".join(statement.split()))

    event.listen(api_db.engine, "before_cursor_execute", seen)
    try:
        if mutation == "send":
            result = graphql(service, SEND, {"id": str(sale.id), "event": "CANCEL"}, actor=ADMIN)
        else:
            result = graphql(
                service, APPROVE, {"id": str(sale.id), "request": "admin-1"},
                actor=ADMIN if mutation == "approve" else CLERK,
            )  # fmt: skip
    finally:
        event.remove(api_db.engine, "before_cursor_execute", seen)
    if mutation == "forbidden":
        assert error_codes(result)[0][0] == "FORBIDDEN"
    else:
        assert result.errors is None
    begins = [s for s in statements if s.startswith("BEGIN")]
    # the service's read of the record's workflow columns (an effect handler or a finish hook
    # may load the mapped instance as well, in the same transaction)
    reads = [s for s in statements if "AS workflow_machine" in s and "FROM sale_orders" in s]
    assert len(begins) == 1, statements  # one transaction: no snapshot read before the send
    assert len(reads) == 1, reads
