"""Sale overrides through the service: a request opens a row, a decision needs the role.

The sale machine keeps its override requests in its context and checks the
acting user's role; the service derives that role from the sender's
*permissions* (``Policies.role_grants``, configuration), writes it into the
event itself, refuses a decision without it before the machine sees it, and
keeps ``workflow_override_requests`` in step.  A refusal writes nothing
and is logged nowhere: the caller's result is the only trace.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from orderflow.errors import ReservedEventFieldError
from orderflow.orders import Policies
from orderflow.service import DatabaseCredit, Principal, WorkflowService, order_service
from orderflow.service.queries import PendingInvocation
from orderflow.service.queries import pending_invocations as pending_rows
from orderflow.store import OutboxEvent, SaleOrder, TransitionLog
from orderflow.workers import run_due_invocations
from workflow_db import NO_POSTGRES, POSTGRES_URL, Database, open_database

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
CLERK = Principal("u-clerk", "Clara Clerk", frozenset({"sale.create"}))
CONTROLLER = Principal("u-credit", "Carl Controller", frozenset({"finance.credit"}))
ADMIN = Principal("u-admin", "Ada Admin", frozenset({"sale.override.admin"}))


@pytest.fixture(params=["sqlite-memory", "postgresql"])
def sales_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    if request.param == "postgresql" and POSTGRES_URL is None:
        pytest.skip(NO_POSTGRES)
    with open_database(request.param, tmp_path) as database:
        yield database


@pytest.fixture
def service(sales_db: Database) -> WorkflowService:
    """Database-backed ports; the credit approver's role is granted by ``finance.credit`` (configured)."""
    policies = Policies(
        role_grants={"credit_approver": ("finance.credit",), "admin": ("sale.override.admin",)}
    )
    return order_service(sales_db.Session, machines=("sale",), policies=policies, clock=lambda: NOW)


def set_credit(service: WorkflowService, customer_id: str, limit: str) -> None:
    with service.session_factory() as session:
        DatabaseCredit(lambda: session).set_profile(customer_id, Decimal(limit))
        session.commit()


def on_credit_hold(service: WorkflowService) -> SaleOrder:
    set_credit(service, "C-1", "0")
    sale = SaleOrder(reference="S-1", customer_id="C-1", workflow_machine="sale")
    assert service.start(
        sale, input={"customer_id": "C-1", "currency": "EUR", "total": "500.00", "sale_id": "S-1"}
    )
    result = service.send(
        sale, {"type": "SELECT_PAYMENT_METHOD", "method": "on_account"}, actor=CLERK
    )
    assert result.success and result.to_state == {"processing": "credit_check"}, result
    (run,) = run_due_invocations(service, service.session_factory)  # the credit check
    assert run.outcome == "delivered"
    assert service.snapshot(sale).matches("processing.credit_hold")
    return sale


def pending_invocations(service: WorkflowService, sale: SaleOrder) -> list[PendingInvocation]:
    with service.session_factory() as session:
        return list(pending_rows(session, "sale_orders", str(sale.id)))


def rows(database: Database, model: Any) -> int:
    with database.Session() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_an_on_account_sale_within_its_limit_clears_on_the_database_credit_check(
    service: WorkflowService,
) -> None:
    set_credit(service, "C-2", "1000")
    sale = SaleOrder(reference="S-2", customer_id="C-2", workflow_machine="sale")
    service.start(sale, input={"customer_id": "C-2", "currency": "EUR", "total": "500.00"})
    result = service.send(sale, {"type": "SELECT_PAYMENT_METHOD", "method": "on_account"})
    assert result.to_state == {"processing": "credit_check"}  # the check is a durable invocation
    (pending,) = pending_invocations(service, sale)
    assert (pending.src, pending.input) == ("check_credit", {"customer_id": "C-2", "currency": "EUR"})
    set_credit(service, "C-2", "400")  # the worker reads the credit when it runs the check
    (run,) = run_due_invocations(service, service.session_factory)
    assert run.outcome == "delivered"
    snapshot = service.snapshot(sale)
    assert snapshot.matches("processing.credit_hold")
    assert snapshot.context.credit.available == Decimal("400.00")
    set_credit(service, "C-2", "1000")
    service.send(sale, {"type": "SELECT_PAYMENT_METHOD", "method": "on_account"})
    run_due_invocations(service, service.session_factory)
    snapshot = service.snapshot(sale)
    assert snapshot.value == "cleared" and snapshot.context.clearance.basis == "credit_limit"
    assert snapshot.context.credit.available == Decimal("1000.00")
    assert pending_invocations(service, sale) == []


def test_requesting_an_override_opens_a_row_in_the_same_transaction(
    service: WorkflowService, sales_db: Database
) -> None:
    sale = on_credit_hold(service)
    result = service.request_override(sale, "credit", "long-standing customer", actor=CLERK)
    assert result.success and result.to_state == {"processing": "credit_override_pending"}
    (request,) = service.override_requests(sale)
    assert (request.request_key, request.kind, request.status) == ("credit-1", "credit", "open")
    assert (request.reason, request.requested_by, request.decided_by) == (
        "long-standing customer", "u-clerk", None,
    )  # fmt: skip
    with sales_db.Session() as session:
        types = session.scalars(select(OutboxEvent.event_type).order_by(OutboxEvent.id)).all()
    # the domain event, and the approvers' notification from the database notification port
    assert sorted(types) == ["orderflow.notify", "sale.override_requested"]


def test_a_decision_without_the_permission_is_refused_writes_nothing_and_logs_nothing(
    service: WorkflowService, sales_db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    sale = on_credit_hold(service)
    service.request_override(sale, "credit", "please", actor=CLERK)
    logs, version = rows(sales_db, TransitionLog), sale.workflow_version
    caplog.set_level(logging.DEBUG)
    for actor in (CLERK, ADMIN):  # the admin permission does not cover credit overrides
        result = service.decide_override(sale, "credit-1", approve=True, actor=actor)
        assert not result.success
        assert result.reason == (
            f"{actor.label} may not decide credit overrides: that needs the "
            "'credit-approver' role, which the permission 'finance.credit' grants"
        )
    assert [r for r in caplog.records if r.name.startswith("orderflow")] == []
    assert rows(sales_db, TransitionLog) == logs
    assert service.snapshot(sale).matches("processing.credit_override_pending")
    assert (service.snapshot(sale).context.overrides[0].status, sale.workflow_version) == (
        "open", version,
    )  # fmt: skip
    (request,) = service.override_requests(sale)
    assert (request.status, request.decided_by, request.decided_at) == ("open", None, None)


def test_a_decision_with_the_permission_clears_the_sale_and_records_who_and_when(
    service: WorkflowService,
) -> None:
    sale = on_credit_hold(service)
    service.request_override(sale, "credit", "please", actor=CLERK)
    result = service.decide_override(
        sale, "credit-1", approve=True, actor=CONTROLLER, note="paid on time for years"
    )
    assert result.success and result.to_state == "cleared", result.reason
    (request,) = service.override_requests(sale)
    assert (request.status, request.decided_by, request.decided_at) == ("approved", "u-credit", NOW)
    assert request.note == "paid on time for years"
    clearance = service.snapshot(sale).context.clearance
    assert (clearance.basis, clearance.by, clearance.override_id) == (
        "credit_override", "u-credit", "credit-1",
    )  # fmt: skip


def test_a_rejected_admin_override_returns_through_history_and_withdraws_nothing_else(
    service: WorkflowService,
) -> None:
    sale = on_credit_hold(service)
    service.request_override(sale, "admin", "VIP", actor=CLERK)
    assert service.decide_override(sale, "admin-1", approve=False, actor=ADMIN, note="no")
    assert service.snapshot(sale).matches("processing.credit_hold")
    (request,) = service.override_requests(sale)
    assert (request.kind, request.status, request.decided_by) == ("admin", "rejected", "u-admin")


def test_an_approved_admin_override_withdraws_the_open_credit_request(
    service: WorkflowService,
) -> None:
    sale = on_credit_hold(service)
    service.request_override(sale, "credit", "please", actor=CLERK)
    service.request_override(sale, "admin", "VIP", actor=CLERK)
    assert service.decide_override(sale, "admin-2", approve=True, actor=ADMIN)
    statuses = {r.request_key: (r.status, r.decided_by) for r in service.override_requests(sale)}
    assert statuses == {"credit-1": ("withdrawn", "u-admin"), "admin-2": ("approved", "u-admin")}


def test_a_decision_sent_directly_is_checked_and_may_not_name_anyone(
    service: WorkflowService, sales_db: Database
) -> None:
    sale = on_credit_hold(service)
    service.request_override(sale, "credit", "please", actor=CLERK)
    approve = {"type": "CREDIT_OVERRIDE_APPROVED", "request_id": "credit-1"}
    refused = service.send(sale, approve)
    assert not refused.success and "needs an authenticated actor with the 'credit-approver'" in (
        refused.reason or ""
    )
    logs = rows(sales_db, TransitionLog)
    for named in ({"id": "u-credit", "roles": ["credit-approver"]}, {"id": CONTROLLER.id}):
        with pytest.raises(ReservedEventFieldError, match="reserved field 'actor'"):
            service.send(sale, {**approve, "actor": named}, actor=CONTROLLER)
    assert rows(sales_db, TransitionLog) == logs
    assert service.send(sale, approve, actor=CONTROLLER).to_state == "cleared"
    assert service.snapshot(sale).context.overrides[0].decided_by == CONTROLLER.id


def test_an_unknown_request_id_is_refused_with_a_reason(service: WorkflowService) -> None:
    sale = on_credit_hold(service)
    result = service.decide_override(sale, "nothing-9", approve=True, actor=ADMIN)
    assert (
        not result.success
        and result.reason == "there is no override request 'nothing-9' on this record"
    )


def test_the_services_override_requests_are_read_values_oldest_first(
    service: WorkflowService,
) -> None:
    from dataclasses import FrozenInstanceError

    from orderflow.service.queries import RequestedOverride

    sale = on_credit_hold(service)
    service.request_override(sale, "credit", "please", actor=CLERK)
    service.request_override(sale, "admin", "VIP", actor=CLERK)
    requests = service.override_requests(sale)
    assert all(isinstance(r, RequestedOverride) for r in requests)
    assert [r.request_key for r in requests] == ["credit-1", "admin-2"]
    with pytest.raises(FrozenInstanceError):
        requests[0].status = "approved"  # type: ignore[misc]
    assert service.override_requests((SaleOrder, sale.id + 1)) == []
