"""The async invocation worker binds the database-backed ports, as the sync worker does.

A function actor runs outside any step's transaction, so a port that reads the
service's ``TransactionScope`` finds no session there.  The sync worker binds one
of the function's own (``with_ports_session``); the async worker binds the sync
face of an ``AsyncSession`` of its own (``with_async_ports_session``), committed
when the function returns and rolled back when it raises.  Checked with the
shipped sale machine's credit check and with a function and a port of the test's own.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import String, select
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

import orderflow
from orderflow.chart import assign
from orderflow.orders import Policies, load_machine
from orderflow.orders.sale import CREDIT_CHECKED
from orderflow.service import (
    DatabaseCredit,
    Principal,
    TransactionScope,
    WorkflowService,
    database_ports,
)
from orderflow.store import Invocation, SaleOrder, TransitionLog, WorkflowRecord
from orderflow.workers import InvocationOptions, InvocationPolicy, run_due_invocations
from orderflow.workers.async_workers import run_due_invocations_async
from workflow_db import Awaiting, Database, awaiting_service

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
CLERK = Principal("u-clerk", "Clara Clerk", frozenset({"sale.create"}))
ON_ACCOUNT = {"type": "SELECT_PAYMENT_METHOD", "method": "on_account"}


def _batch(service: Awaiting, options: InvocationOptions | None = None) -> list[Any]:
    """One async batch, at the service's own clock."""
    return list(
        service.loop.run_until_complete(run_due_invocations_async(service.target, options=options))
    )


# -- the shipped sale machine's credit check --------------------------------------------------


@pytest.fixture
def async_sales(shared_database: Database) -> Iterator[Awaiting]:
    """An async service for the sale machine on the database-backed ports (its scope bound)."""
    scope, policies = TransactionScope(), Policies()
    ports = database_ports(scope, clock=lambda: NOW)
    machines = {"sale": load_machine("sale", ports=ports, policies=policies)}
    with awaiting_service(
        shared_database, machines, scope=scope, roles=policies.role_table(), clock=lambda: NOW
    ) as service:
        yield service


def test_the_async_worker_runs_the_credit_check_on_the_database_credit_port(
    shared_database: Database, async_sales: Awaiting
) -> None:
    with shared_database.Session() as session:
        DatabaseCredit(lambda: session).set_profile("C-1", Decimal("1000"))
        session.commit()
    sale = SaleOrder(reference="S-1", customer_id="C-1", workflow_machine="sale")
    lines = [{"sku": "CHAIR", "quantity": 2, "unit_price": "250.00"}]
    assert async_sales.start(sale, input={"customer_id": "C-1", "currency": "EUR",
                                          "total": "500.00", "lines": lines}, actor=CLERK)  # fmt: skip
    assert async_sales.send(sale, ON_ACCOUNT, actor=CLERK).to_state == {
        "processing": "credit_check"
    }

    runs = _batch(async_sales)

    assert [(r.actor_id, r.outcome) for r in runs] == [("credit_check", "delivered")]
    snapshot = async_sales.snapshot(sale)
    assert snapshot.value == "cleared"
    assert snapshot.context.credit.available == Decimal("1000.00")  # read by the worker's port
    with shared_database.Session() as session:
        assert session.scalars(select(Invocation.state)).all() == ["done"]
        logged = session.scalars(select(TransitionLog.event).where(
            TransitionLog.event == CREDIT_CHECKED)).all()  # fmt: skip
        assert logged == [CREDIT_CHECKED]


# -- a function and a port of the user's own ------------------------------------------------------


class StampBase(DeclarativeBase):
    pass


class Stamp(StampBase):
    """What the user's port writes: one row per stamp."""

    __tablename__ = "async_port_stamps"

    id: Mapped[int] = mapped_column(primary_key=True)
    label: Mapped[str] = mapped_column(String(40))


class Parcel(StampBase, WorkflowRecord):
    __tablename__ = "async_port_parcels"

    id: Mapped[int] = mapped_column(primary_key=True)


class Stamps:
    """The user's database-backed port: it reads the service's scope, as the shipped ports do."""

    def __init__(self, session: Callable[[], Session]) -> None:
        self._session = session

    def stamp(self, label: str) -> int:
        session = self._session()
        session.add(Stamp(label=label))
        session.flush()
        return len(session.scalars(select(Stamp.id)).all())


def _parcel_machine(scope: TransactionScope, *, fail: bool) -> orderflow.Machine:
    port = Stamps(scope)
    signals: list[bool] = []

    def stamp(value: Any, signal: threading.Event) -> dict[str, Any]:
        signals.append(isinstance(signal, threading.Event))
        count = port.stamp(value["label"])
        if fail:
            raise RuntimeError("the printer jammed")
        return {"stamps": count, "signalled": all(signals)}

    keep = assign(lambda context, event, params: {"result": event.output})
    return orderflow.setup(actors={"stamp": stamp}, actions={"keep": keep}).create_machine({
        "id": "parcel", "initial": "stamping", "context": {"result": None},
        "states": {
            "stamping": {"invoke": {
                "id": "stamp", "src": "stamp", "input": {"label": "fragile"},
                "onDone": {"target": "stamped", "actions": "keep"}, "onError": "jammed"}},
            "stamped": {"type": "final"}, "jammed": {"type": "final"},
        },
    })  # fmt: skip


OWN = InvocationOptions(
    models={"async_port_parcels": Parcel}, policy=InvocationPolicy(max_attempts=1)
)


def _stamps(database: Database) -> list[str]:
    with database.Session() as session:
        return list(session.scalars(select(Stamp.label)))


@pytest.mark.parametrize("fail", [False, True], ids=["returns", "raises"])
@pytest.mark.parametrize("driver", ["sync", "async"])
def test_a_users_own_function_reads_and_writes_through_its_port_in_a_session_of_its_own(
    shared_database: Database, driver: str, fail: bool
) -> None:
    StampBase.metadata.create_all(shared_database.engine)
    scope = TransactionScope()
    machines = {"parcel": _parcel_machine(scope, fail=fail)}
    if driver == "sync":
        service: Any = WorkflowService(shared_database.Session, machines, scope=scope)
        assert service.start(Parcel(id=1))
        runs = run_due_invocations(service, shared_database.Session, options=OWN)
        snapshot = service.snapshot((Parcel, 1))
    else:
        with awaiting_service(shared_database, machines, scope=scope) as awaiting:
            assert awaiting.start(Parcel(id=1))
            runs = _batch(awaiting, OWN)
            snapshot = awaiting.snapshot((Parcel, 1))

    if fail:  # what the function wrote rolls back with it; its error is delivered
        assert [r.outcome for r in runs] == ["failed"] and snapshot.value == "jammed"
        assert runs[0].detail == "RuntimeError: the printer jammed"  # the port worked, then
        assert _stamps(shared_database) == []
    else:  # committed with the function's return, and the function got its signal
        assert [r.outcome for r in runs] == ["delivered"] and snapshot.value == "stamped"
        assert snapshot.context["result"] == {"stamps": 1, "signalled": True}
        assert _stamps(shared_database) == ["fragile"]


def test_an_async_service_without_a_scope_runs_a_plain_function_as_before(
    shared_database: Database,
) -> None:
    StampBase.metadata.create_all(shared_database.engine)
    threads: list[str] = []

    def stamp(value: Any) -> dict[str, Any]:
        threads.append(threading.current_thread().name)
        return {"stamps": 0, "signalled": True}

    machine = orderflow.setup(actors={"stamp": stamp}).create_machine({
        "id": "parcel", "initial": "stamping",
        "states": {"stamping": {"invoke": {"id": "stamp", "src": "stamp", "onDone": "stamped"}},
                   "stamped": {"type": "final"}},
    })  # fmt: skip
    with awaiting_service(shared_database, {"parcel": machine}) as service:
        assert service.start(Parcel(id=1))
        assert [r.outcome for r in _batch(service, OWN)] == ["delivered"]
    assert threads and threads[0] != threading.main_thread().name  # on a thread, as before


def test_a_plain_function_holding_the_loop_is_still_signalled_at_its_timeout(
    shared_database: Database,
) -> None:
    """In ``run_sync`` the loop cannot time the function out: its own timer sets the signal."""
    StampBase.metadata.create_all(shared_database.engine)
    scope = TransactionScope()
    port = Stamps(scope)

    def polls(value: Any, signal: threading.Event) -> dict[str, Any]:
        port.stamp("half-done")
        while not signal.wait(0.01):  # holds the loop: only its timer can stop it
            pass
        return {"stamps": -1, "signalled": True}

    machine = orderflow.setup(actors={"stamp": polls}).create_machine({
        "id": "parcel", "initial": "stamping",
        "states": {"stamping": {"invoke": {"id": "stamp", "src": "stamp", "onError": "jammed"}},
                   "jammed": {"type": "final"}},
    })  # fmt: skip
    policy = InvocationPolicy(max_attempts=1, timeout=timedelta(seconds=0.1))
    options = InvocationOptions(models={"async_port_parcels": Parcel}, policy=policy)
    with awaiting_service(shared_database, {"parcel": machine}, scope=scope) as service:
        assert service.start(Parcel(id=1))
        runs = _batch(service, options)
        assert service.snapshot((Parcel, 1)).value == "jammed"

    assert [r.outcome for r in runs] == ["failed"]
    assert runs[0].detail == "TimeoutError: 'stamp' gave no answer within 0.1s"
    assert _stamps(shared_database) == []  # what it wrote before it stopped rolled back
