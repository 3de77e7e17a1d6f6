"""The service's start takes an input that a machine's named context function turns into its context."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import func, select

import orderflow
import workflow_db as db
from orderflow.errors import InvalidInputError
from orderflow.service import WorkflowService
from orderflow.store import TransitionLog
from workflow_db import ChartRecord, Database

SEATS: dict[str, Any] = {
    "id": "seats",
    "initial": "holding",
    "context": "fromBooking",
    "states": {
        "holding": {"on": {"CONFIRM": {"target": "booked", "guard": "enoughSeats"}}},
        "booked": {"type": "final"},
    },
}


def from_booking(input: Any) -> dict[str, Any]:
    if not isinstance(input, dict) or input.get("seats", 0) < 1:
        raise ValueError("a booking needs at least one seat")
    return {"seats": input["seats"], "venue": input["venue"].upper()}


@pytest.fixture(params=["sync", "async"])
def service(request: pytest.FixtureRequest, database: Database) -> Iterator[Any]:
    machine = orderflow.setup(
        contexts={"fromBooking": from_booking},
        guards={"enoughSeats": lambda c, e, p: c["seats"] <= 4},
    ).create_machine(SEATS)
    if request.param == "sync":
        yield WorkflowService(database.Session, {"seats": machine})
        return
    if database.kind == "sqlite-memory":
        pytest.skip("the async driver needs a SQLite file (in-memory SQLite is one connection)")
    with db.awaiting_service(database, {"seats": machine}) as awaiting:
        yield awaiting


def log_rows(database: Database) -> int:
    with database.Session() as session:
        return int(session.scalar(select(func.count()).select_from(TransitionLog)) or 0)


def test_start_gives_the_input_to_the_context_function(service: Any, database: Database) -> None:
    record = ChartRecord(workflow_machine="seats")
    assert service.start(record, input={"seats": 3, "venue": "hall"}).success
    snapshot = service.snapshot(record)
    assert snapshot.context == {"seats": 3, "venue": "HALL"}
    assert service.send(record, "CONFIRM").success
    assert service.snapshot(record).status == "done"


def test_an_input_the_function_refuses_raises_and_writes_nothing(
    service: Any, database: Database
) -> None:
    record = ChartRecord(workflow_machine="seats")
    with pytest.raises(InvalidInputError, match="at least one seat"):
        service.start(record, input={"seats": 0, "venue": "hall"})
    assert log_rows(database) == 0
    with database.Session() as session:
        assert session.scalar(select(func.count()).select_from(ChartRecord)) == 0
