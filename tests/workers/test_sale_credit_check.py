"""The shipped sale machine's credit check is a durable invocation, end to end.

Choosing to pay on account enters ``processing.credit_check``, which invokes the
function actor ``check_credit``: the step writes its ``workflow_invocations`` row,
the invocation worker runs the check against the database-backed credit port (a
session of its own, outside any step) and delivers the answer once, and the
PhaseCoordinator hands a cleared sale to fulfilment as it does for any other
finishing step.  Each test stops a process where a crash would: after the step's
commit, after the check ran but before its delivery, and with the state left
before the worker came.  The same holds for a sale kept in a table of the user's own.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import String, func, select
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from orderflow.errors import UnknownEventError
from orderflow.orders import in_memory_ports, load_machine
from orderflow.orders.sale import CREDIT_CHECKED
from orderflow.service import (
    DatabaseCredit,
    PhaseCoordinator,
    Principal,
    WorkflowService,
    order_service,
)
from orderflow.store import Fulfillment, Invocation, SaleOrder, TransitionLog, WorkflowRecord
from orderflow.workers import InvocationOptions, run_due_invocations
from orderflow.workers.invocations import (
    Answer,
    Claim,
    claim_invocations,
    deliver_answers,
    run_claim,
    with_ports_session,
)
from workflow_db import Database

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
CLERK = Principal("u-clerk", "Clara Clerk", frozenset({"sale.create"}))
ON_ACCOUNT = {"type": "SELECT_PAYMENT_METHOD", "method": "on_account"}
OPTIONS = InvocationOptions().resolved()
LEASE = OPTIONS.policy.timeout + OPTIONS.policy.lease_margin


def shipped_service(database: Database) -> WorkflowService:
    """The shipped machines on the database-backed ports, with the coordinator, as a process starts them."""
    return order_service(
        database.Session, finish_hooks=[PhaseCoordinator.for_orders()], clock=lambda: NOW
    )


def set_credit(database: Database, customer_id: str, limit: str) -> None:
    with database.Session() as session:
        DatabaseCredit(lambda: session).set_profile(customer_id, Decimal(limit))
        session.commit()


def sale_on_account(service: WorkflowService, customer_id: str) -> SaleOrder:
    sale = SaleOrder(reference=f"S-{customer_id}", customer_id=customer_id, workflow_machine="sale")
    lines = [{"sku": "CHAIR", "quantity": 2, "unit_price": "250.00"}]
    assert service.start(sale, input={"customer_id": customer_id, "currency": "EUR",
                                      "total": "500.00", "lines": lines}, actor=CLERK)  # fmt: skip
    moved = service.send(sale, ON_ACCOUNT, actor=CLERK)
    assert moved.to_state == {"processing": "credit_check"}, moved
    return sale


def claimed_credit_check(
    database: Database, customer_id: str, *, limit: str
) -> tuple[WorkflowService, SaleOrder, Claim]:
    """A sale on account whose credit check a worker has claimed (and not yet run)."""
    set_credit(database, customer_id, limit)
    service = shipped_service(database)
    sale = sale_on_account(service, customer_id)
    (claim,) = claim_invocations(service, database.Session, NOW, OPTIONS)
    return service, sale, claim


def run(service: WorkflowService, database: Database, claim: Claim) -> Answer:
    """Run a claim as the worker's batch does (the ports bound to a session of its own)."""
    return run_claim(with_ports_session(service, database.Session, claim))


def logged(database: Database, record_id: Any, event: str) -> int:
    with database.Session() as session:
        count = session.scalar(
            select(func.count()).select_from(TransitionLog).where(
                TransitionLog.record_id == str(record_id), TransitionLog.event == event
            )
        )  # fmt: skip
    return int(count or 0)


def invocation_rows(database: Database, record_id: Any) -> list[tuple[str, int]]:
    with database.Session() as session:
        rows = session.scalars(
            select(Invocation).where(Invocation.record_id == str(record_id)).order_by(Invocation.id)
        )
        return [(row.state, row.attempts) for row in rows]


def test_a_crash_after_the_step_commits_loses_no_credit_check_and_it_is_delivered_once(
    database: Database,
) -> None:
    set_credit(database, "C-1", "1000")
    sale = sale_on_account(shipped_service(database), "C-1")
    assert invocation_rows(database, sale.id) == [("pending", 0)]  # committed with the step

    restarted = shipped_service(database)  # the process that took the step died; another runs
    runs = run_due_invocations(restarted, database.Session)
    assert [(r.actor_id, r.outcome) for r in runs] == [("credit_check", "delivered")]
    assert run_due_invocations(restarted, database.Session, now=NOW + 2 * LEASE) == []

    snapshot = restarted.snapshot(sale)
    assert snapshot.value == "cleared" and snapshot.context.clearance.basis == "credit_limit"
    assert snapshot.context.credit.available == Decimal("1000.00")  # read by the worker
    assert logged(database, sale.id, CREDIT_CHECKED) == 1
    assert invocation_rows(database, sale.id) == [("done", 1)]
    with database.Session() as session:  # the coordinator handed the cleared sale on, unchanged
        handed = session.scalars(select(Fulfillment).where(Fulfillment.sale_order_id == sale.id))
        assert len(handed.all()) == 1


def test_a_worker_that_dies_after_the_check_leaves_it_to_the_next_claim_delivered_once(
    database: Database,
) -> None:
    service, sale, claim = claimed_credit_check(database, "C-2", limit="100")
    answer = run(service, database, claim)
    assert answer.output["available"] == "100.00"  # ... and the worker dies before delivering

    assert run_due_invocations(service, database.Session, now=NOW + LEASE / 2) == []
    runs = run_due_invocations(service, database.Session, now=NOW + LEASE)
    assert [r.outcome for r in runs] == ["delivered"]
    assert service.snapshot(sale).matches("processing.credit_hold")  # over the limit
    assert logged(database, sale.id, CREDIT_CHECKED) == 1
    assert invocation_rows(database, sale.id) == [("done", 2)]  # run twice, delivered once


def test_a_sale_cancelled_before_the_worker_came_never_hears_its_credit_check(
    database: Database,
) -> None:
    service, sale, claim = claimed_credit_check(database, "C-3", limit="1000")  # a worker runs it
    assert service.send(sale, {"type": "CANCEL", "reason": "void"}, actor=CLERK).success

    runs = deliver_answers(service, database.Session, [run(service, database, claim)], NOW, OPTIONS)
    assert [r.outcome for r in runs] == ["cancelled"]
    assert service.snapshot(sale).value == "cancelled"
    assert logged(database, sale.id, CREDIT_CHECKED) == 0
    assert invocation_rows(database, sale.id) == [("cancelled", 1)]


class CounterBase(DeclarativeBase):
    pass


class CounterSale(CounterBase, WorkflowRecord):
    """A sale at a shop counter, in the user's own table with its own columns."""

    __tablename__ = "h1_counter_sales"

    id: Mapped[int] = mapped_column(primary_key=True)
    till: Mapped[str] = mapped_column(String(20), default="till-1")


def test_the_credit_check_of_a_sale_in_a_table_of_the_users_own_is_durable_too(
    database: Database,
) -> None:
    CounterBase.metadata.create_all(database.engine)
    ports = in_memory_ports()
    ports.credit.set_profile("C-9", Decimal("5000"), open_balance=Decimal("4800"))
    machines = {"sale": load_machine("sale", ports=ports)}
    service = WorkflowService(database.Session, machines, clock=lambda: NOW)
    sale = CounterSale(id=7)
    assert service.start(sale, input={"customer_id": "C-9", "currency": "EUR", "total": "300.00"})
    assert service.send(sale, ON_ACCOUNT).to_state == {"processing": "credit_check"}

    restarted = WorkflowService(database.Session, machines, clock=lambda: NOW)
    options = InvocationOptions(models={"h1_counter_sales": CounterSale})
    runs = run_due_invocations(restarted, database.Session, options=options)
    assert [(r.record_type, r.record_id, r.outcome) for r in runs] == [
        ("h1_counter_sales", "7", "delivered")
    ]
    assert run_due_invocations(restarted, database.Session, options=options) == []
    snapshot = restarted.snapshot((CounterSale, 7))
    assert snapshot.matches("processing.credit_hold")  # 200.00 available, 300.00 asked
    assert snapshot.context.credit.available == Decimal("200.00")
    assert logged(database, 7, CREDIT_CHECKED) == 1


def test_no_outside_caller_can_answer_the_credit_check_in_the_workers_place(
    database: Database,
) -> None:
    service = shipped_service(database)
    sale = sale_on_account(service, "C-4")  # no credit at all: the worker's check would hold it
    forged = {"type": CREDIT_CHECKED, "output": {"limit": "9999.00", "open_balance": "0.00",
              "overdue": "0.00", "available": "9999.00", "taken_at": "2025-03-01T12:00:00Z"}}  # fmt: skip
    with pytest.raises(UnknownEventError) as refused:
        service.send(sale, forged, actor=CLERK)
    assert refused.value.internal
    assert service.snapshot(sale).matches("processing.credit_check")
    assert invocation_rows(database, sale.id) == [("pending", 0)]
