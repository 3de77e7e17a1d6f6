"""End to end: a durable invocation that fails where no ``onError`` listens fails its record.

XState fails the parent of a promise actor that rejects unhandled.  The
invocation worker delivers the error once its attempts are used up; the
record is then committed in ``error`` (its timer cancelled), the invocation
row is settled as failed with a note saying the record is in error, and
nothing is left to run or deliver.  The sync worker and the async one, on a
machine and a table of the test's own.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

import orderflow
from orderflow.service import WorkflowService
from orderflow.store import Invocation, ScheduledEvent, TransitionLog, WorkflowRecord
from orderflow.workers import (
    InvocationOptions,
    InvocationPolicy,
    invocation_idempotency_key,
    run_due_invocations,
    run_due_invocations_async,
)
from workflow_db import Database, awaiting_service

ERROR = {"type": "RuntimeError", "message": "the carrier refused"}


class ShipmentBase(DeclarativeBase):
    pass


class Shipment(ShipmentBase, WorkflowRecord):
    __tablename__ = "unhandled_invocation_shipments"

    id: Mapped[int] = mapped_column(primary_key=True)


OPTIONS = InvocationOptions(
    models={"unhandled_invocation_shipments": Shipment}, policy=InvocationPolicy(max_attempts=1)
)


def book(input: Any) -> Any:
    raise RuntimeError("the carrier refused")


SHIPMENT = orderflow.setup(actors={"book": book}).create_machine({
    "id": "shipment", "initial": "booking",
    "states": {"booking": {"invoke": {"id": "carrier", "src": "book"},
                           "after": {"3600000": "given_up"}},
               "given_up": {"type": "final"}},
})  # fmt: skip


@pytest.fixture
def db(database: Database) -> Iterator[Database]:
    ShipmentBase.metadata.create_all(database.engine)
    yield database


def _check_settled(db: Database, service: Any) -> None:
    snapshot = service.snapshot((Shipment, 1))
    assert (snapshot.status, snapshot.error, snapshot.value) == ("error", ERROR, "booking")
    with db.Session() as session:
        (row,) = session.scalars(select(Invocation)).all()
        assert row.state == "failed" and row.lease_token is None
        assert row.last_error == (
            "RuntimeError: the carrier refused; delivered, no transition takes it: "
            "the record is in error"
        )
        logged = session.execute(
            select(TransitionLog.event, TransitionLog.details).where(
                TransitionLog.idempotency_key == invocation_idempotency_key(row.id)
            )
        ).one()
        assert logged.event == "xstate.error.actor.carrier"
        assert logged.details["error"] == ERROR
        assert session.scalars(select(ScheduledEvent.status)).all() == ["cancelled"]


def test_the_worker_delivers_an_unhandled_error_and_the_record_stays_in_error(
    db: Database,
) -> None:
    service = WorkflowService(db.Session, {"shipment": SHIPMENT})
    assert service.start(Shipment(id=1)).success

    runs = run_due_invocations(service, db.Session, options=OPTIONS)

    assert [(r.actor_id, r.outcome) for r in runs] == [("carrier", "failed")]
    _check_settled(db, service)
    assert run_due_invocations(service, db.Session, options=OPTIONS) == []


def test_the_async_worker_delivers_an_unhandled_error_the_same_way(db: Database) -> None:
    if db.kind == "sqlite-memory":
        pytest.skip("the async driver needs a SQLite file (in-memory SQLite is one connection)")
    with awaiting_service(db, {"shipment": SHIPMENT}) as service:
        assert service.start(Shipment(id=1)).success

        runs = service.loop.run_until_complete(
            run_due_invocations_async(service.target, options=OPTIONS)
        )

        assert [(r.actor_id, r.outcome) for r in runs] == [("carrier", "failed")]
        _check_settled(db, service)


def test_a_second_invocation_of_the_failed_record_is_cancelled_not_delivered(db: Database) -> None:
    pair = orderflow.setup(actors={"book": book}).create_machine({
        "id": "shipment", "initial": "booking",
        "states": {"booking": {"invoke": [{"id": "carrier", "src": "book"},
                                          {"id": "backup", "src": "book"}]}},
    })  # fmt: skip
    service = WorkflowService(db.Session, {"shipment": pair})
    assert service.start(Shipment(id=1)).success

    runs = run_due_invocations(service, db.Session, options=OPTIONS)  # both claimed, both fail

    assert [(r.actor_id, r.outcome) for r in runs] == [("carrier", "failed"), ("backup", "cancelled")]
    assert service.snapshot((Shipment, 1)).error == ERROR
    with db.Session() as session:
        logged = session.scalars(select(TransitionLog.event).order_by(TransitionLog.id)).all()
    assert logged == ["xstate.init", "xstate.error.actor.carrier"]  # the second never delivered
