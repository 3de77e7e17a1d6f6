"""A function actor's error that no transition takes leaves the record in error, as XState does.

XState fails the parent of a promise actor that rejects where no ``onError``
listens.  Delivered through the service, that error event is the record's next
state, committed: ``status == "error"`` with the error, a log row saying so,
its timers and other invocations cancelled; every later event is refused as
``inactive``.  A guard that raises is another matter (user code failing): it
still rolls back and writes nothing.  The machine and the table are the test's own.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

import orderflow
import workflow_db as db
from orderflow.errors import TransitionFailedError
from orderflow.service import WorkflowService
from orderflow.service.results import INACTIVE
from orderflow.store import Invocation, ScheduledEvent, TransitionLog, WorkflowRecord

ERROR = {"type": "RuntimeError", "message": "the carrier refused"}


class ErrandBase(DeclarativeBase):
    pass


class Errand(ErrandBase, WorkflowRecord):
    __tablename__ = "unhandled_error_errands"

    id: Mapped[int] = mapped_column(primary_key=True)


def _never(input: Any) -> Any:
    raise AssertionError("the worker runs function actors, not these tests")


def _raises(context: Any, event: Any, params: Any) -> bool:
    raise ZeroDivisionError("division by zero")


ERRAND = orderflow.setup(actors={"book": _never}, guards={"raises": _raises}).create_machine({
    "id": "errand", "initial": "idle", "context": {"tries": 0},
    "states": {
        "idle": {"on": {"GO": "booking"}},
        "booking": {
            "invoke": [{"id": "carrier", "src": "book"}, {"id": "backup", "src": "book"}],
            "after": {"60000": "idle"},
            "on": {"BACK": "idle", "BOOM": {"guard": "raises", "target": "idle"}},
        },
    },
})  # fmt: skip


KID = orderflow.setup(actors={"book": _never}).create_machine({
    "id": "kid", "initial": "a", "states": {"a": {"invoke": {"id": "grand", "src": "book"}}},
})  # fmt: skip
#: a record whose child machine invokes the function: neither has an onError
HOLDER = orderflow.setup(actors={"kid": KID}).create_machine({
    "id": "holder", "initial": "holding",
    "states": {"holding": {"invoke": {"id": "kid", "src": "kid"}, "on": {"BACK": "holding"}}},
})  # fmt: skip


@pytest.fixture(params=["sync", "async"])
def service(request: pytest.FixtureRequest, database: db.Database) -> Iterator[Any]:
    ErrandBase.metadata.create_all(database.engine)
    machines = {"errand": ERRAND, "holder": HOLDER}
    if request.param == "sync":
        yield WorkflowService(database.Session, machines)
        return
    if database.kind == "sqlite-memory":
        pytest.skip("the async driver needs a SQLite file (in-memory SQLite is one connection)")
    with db.awaiting_service(database, machines) as awaiting:
        yield awaiting


def _booking(service: Any) -> Errand:
    errand = Errand(id=1, workflow_machine="errand")
    assert service.start(errand).success
    assert service.send(errand, "GO").to_state == "booking"
    return errand


def _rows(database: db.Database, model: Any, *columns: Any) -> list[tuple[Any, ...]]:
    with database.Session() as session:
        return [tuple(row) for row in session.execute(select(*columns).order_by(model.id))]


def test_an_error_no_transition_takes_commits_the_record_in_error(
    service: Any, database: db.Database
) -> None:
    _booking(service)
    failed = {"type": "xstate.error.actor.carrier", "error": ERROR}

    result = service.deliver((Errand, 1), failed, idempotency_key="invocation:1")

    assert result.success and result.error == ERROR and result.version == 3
    snapshot = service.snapshot((Errand, 1))
    assert (snapshot.status, snapshot.error, snapshot.value) == ("error", ERROR, "booking")
    assert dict(snapshot.children) == {} and snapshot.timers == ()
    event, details = _rows(database, TransitionLog, TransitionLog.event, TransitionLog.details)[-1]
    assert event == "xstate.error.actor.carrier"
    assert details["transition"]["status"] == "error" and details["error"] == ERROR
    # the other function actor and the timer are cancelled with the record's failure
    assert _rows(database, Invocation, Invocation.actor_id, Invocation.state) == [
        ("carrier", "pending"), ("backup", "cancelled"),
    ]  # fmt: skip
    assert _rows(database, ScheduledEvent, ScheduledEvent.status) == [("cancelled",)]
    # the same delivery again answers as the first did, and writes nothing
    again = service.deliver((Errand, 1), failed, idempotency_key="invocation:1")
    assert again.idempotent and again.error == ERROR and again.version == 3


def test_a_record_in_error_refuses_every_later_event_as_inactive(service: Any) -> None:
    errand = _booking(service)
    service.deliver((Errand, 1), {"type": "xstate.error.actor.carrier", "error": ERROR})

    for refused in (
        service.send(errand, "BACK"),
        service.deliver((Errand, 1), {"type": "xstate.error.actor.backup", "error": ERROR}),
    ):
        assert not refused.success and refused.refusal.kind == INACTIVE
    assert service.snapshot((Errand, 1)).status == "error"


def test_a_guard_that_raises_still_rolls_back(service: Any, database: db.Database) -> None:
    errand = _booking(service)
    logged = _rows(database, TransitionLog, TransitionLog.id)

    with pytest.raises(TransitionFailedError, match="ZeroDivisionError"):
        service.send(errand, "BOOM")

    assert _rows(database, TransitionLog, TransitionLog.id) == logged
    snapshot = service.snapshot((Errand, 1))
    assert (snapshot.status, snapshot.value) == ("active", "booking")


def test_a_child_machine_failing_unhandled_fails_the_record_the_same_way(
    service: Any, database: db.Database
) -> None:
    holder = Errand(id=2, workflow_machine="holder")
    assert service.start(holder).success
    failed = {"type": "xstate.error.actor.grand", "error": ERROR}

    result = service.deliver((Errand, 2), failed, to="kid", idempotency_key="invocation:9")

    assert result.success and result.error == ERROR
    snapshot = service.snapshot((Errand, 2))
    assert (snapshot.status, snapshot.error, dict(snapshot.children)) == ("error", ERROR, {})
    assert not service.send(holder, "BACK").success
