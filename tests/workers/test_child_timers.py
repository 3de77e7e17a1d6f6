"""A child machine's ``after`` timers in the service: a timer row with the child's path.

The row is written in the transaction of the step that armed the timer,
cancelled by the step that stops the child, and fired by the timer worker to
that child (``to=`` its path), with a machine and a table of the test's own.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

import orderflow
from orderflow.errors import ConfigurationError
from orderflow.service import WorkflowService
from orderflow.store import ScheduledEvent, WorkflowRecord
from orderflow.store.base import utcnow
from orderflow.workers import fire_due_timers
from workflow_db import Database


class LeaseBase(DeclarativeBase):
    pass


class Lease(LeaseBase, WorkflowRecord):
    __tablename__ = "child_timer_leases"

    id: Mapped[int] = mapped_column(primary_key=True)


#: the child: expires a minute after it starts, unless renewed (which arms the timer again)
EXPIRY = orderflow.create_machine(
    {
        "id": "expiry",
        "initial": "running",
        "states": {
            "running": {
                "after": {"60000": "expired"},
                "on": {"RENEW": {"target": "running", "reenter": True}},
            },
            "expired": {"type": "final"},
        },
    }
)
PARENT = orderflow.setup(actors={"expiry": EXPIRY}).create_machine(
    {
        "id": "lease",
        "initial": "held",
        "states": {
            "held": {
                "invoke": {"id": "clock", "src": "expiry", "onDone": "lapsed"},
                "on": {"RETURN": "returned"},
            },
            "lapsed": {"type": "final"},
            "returned": {"type": "final"},
        },
    }
)
MODELS = {"child_timer_leases": Lease}


@pytest.fixture
def service(database: Database) -> WorkflowService:
    LeaseBase.metadata.create_all(database.engine)
    return WorkflowService(database.Session, {"lease": PARENT})


def _timers(database: Database) -> list[tuple[str, str, str]]:
    with database.Session() as session:
        rows = session.scalars(select(ScheduledEvent).order_by(ScheduledEvent.id))
        return [(row.actor_path, row.timer_id, row.status) for row in rows]


def test_a_child_timer_is_a_row_with_the_childs_path_fired_to_that_child(
    service: WorkflowService, database: Database
) -> None:
    service.start(Lease(id=1))
    [(path, timer_id, status)] = _timers(database)
    assert (path, status) == ("clock", "pending")

    later = utcnow() + timedelta(minutes=2)
    firings = fire_due_timers(service, database.Session, now=later, models=MODELS)

    assert [f.outcome for f in firings] == ["fired"]
    assert service.snapshot((Lease, 1)).value == "lapsed"  # the child expired: onDone
    assert _timers(database) == [("clock", timer_id, "fired")]


def test_re_arming_a_child_timer_replaces_its_row(
    service: WorkflowService, database: Database
) -> None:
    service.start(Lease(id=1))
    moved = service.deliver((Lease, 1), {"type": "RENEW"}, to="clock")
    assert moved.success
    assert [status for _, _, status in _timers(database)] == ["cancelled", "pending"]


def test_stopping_the_child_cancels_its_timer_row(
    service: WorkflowService, database: Database
) -> None:
    service.start(Lease(id=1))
    assert service.send((Lease, 1), "RETURN").success
    assert [status for _, _, status in _timers(database)] == ["cancelled"]
    later = utcnow() + timedelta(minutes=2)
    assert fire_due_timers(service, database.Session, now=later, models=MODELS) == []
    assert service.snapshot((Lease, 1)).value == "returned"


def test_a_driver_that_keeps_no_child_timers_refuses_the_machine() -> None:
    class OwnTimersOnly(WorkflowService):
        durable_child_timers = False

    with pytest.raises(ConfigurationError, match=r"child at 'expiry'.*has timers"):
        OwnTimersOnly(lambda: None, {"lease": PARENT})  # type: ignore[arg-type, return-value]
