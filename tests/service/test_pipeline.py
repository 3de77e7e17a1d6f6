"""The pipeline reads what the core says: one evaluation per event, typed refusals, its timer rule.

Each test builds its own table and machine, so nothing here leans on the
shipped order machines.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

import orderflow
from orderflow.io.scxml import loads
from orderflow.service import (
    REFUSAL_KINDS,
    Principal,
    Refusal,
    WorkflowService,
)
from orderflow.service.results import (
    ALREADY_STARTED,
    DISABLED,
    GUARDED,
    INACTIVE,
    NOT_STARTED,
    UNHANDLED,
)
from orderflow.store import ScheduledEvent, TransitionLog, WorkflowRecord
from workflow_db import Database

CLERK = Principal("u-1", "Clerk")


class LocalBase(DeclarativeBase):
    pass


class Job(LocalBase, WorkflowRecord):
    """The test's own table, keyed by an integer, with no legacy status mapping."""

    __tablename__ = "pipeline_jobs"

    id: Mapped[int] = mapped_column(primary_key=True)


@pytest.fixture
def db(database: Database) -> Iterator[Database]:
    LocalBase.metadata.create_all(database.engine)
    yield database


def counted_machine(calls: list[str]) -> Any:
    def small(context: Any, event: Any, params: Any) -> tuple[bool, str]:
        calls.append("small")
        return event.size < 3, f"size {event.size} is not small"

    return orderflow.setup(guards={"small": small}).create_machine(
        {
            "id": "job",
            "initial": "queued",
            "states": {
                "queued": {"on": {"RUN": {"target": "done", "guard": "small"}}},
                "done": {"type": "final"},
            },
        }
    )


def test_a_refused_event_is_evaluated_once_and_its_refusal_is_typed(db: Database) -> None:
    calls: list[str] = []
    service = WorkflowService(db.Session, {"job": counted_machine(calls)})
    job = Job(workflow_machine="job")
    service.start(job, actor=CLERK)
    calls.clear()
    result = service.send(job, {"type": "RUN", "size": 7}, actor=CLERK)
    assert calls == ["small"], "the guard ran once: no second evaluation to explain the refusal"
    assert not result.success and isinstance(result.refusal, Refusal)
    assert result.refusal.kind == GUARDED and result.refusal.kind in REFUSAL_KINDS
    assert "size 7 is not small" in (result.reason or "")
    calls.clear()
    assert service.send(job, {"type": "RUN", "size": 1}, actor=CLERK).success
    assert calls == ["small"]


def test_each_refusal_kind_says_why(db: Database) -> None:
    service = WorkflowService(db.Session, {"job": counted_machine([])})
    job = Job(workflow_machine="job")
    with db.Session() as session:
        session.add(Job(id=5, workflow_machine="job"))
        session.commit()
    kinds = [service.send((Job, 5), {"type": "RUN", "size": 1}).refusal]
    service.start(job, actor=CLERK)
    kinds.append(service.start(job, actor=CLERK).refusal)
    service.send(job, {"type": "RUN", "size": 1}, actor=CLERK)
    kinds.append(service.send(job, {"type": "RUN", "size": 1}, actor=CLERK).refusal)
    service.workflow_enabled = False
    kinds.append(service.send(job, {"type": "RUN", "size": 1}, actor=CLERK).refusal)
    assert [k.kind if k else None for k in kinds] == [
        NOT_STARTED, ALREADY_STARTED, INACTIVE, DISABLED,
    ]  # fmt: skip
    assert all(k is not None and k.reason for k in kinds)


def test_an_event_the_state_does_not_take_is_unhandled(db: Database) -> None:
    machine = orderflow.create_machine(
        {
            "id": "job",
            "initial": "a",
            "states": {"a": {"on": {"GO": "b"}}, "b": {"on": {"BACK": "a"}}},
        }
    )
    service = WorkflowService(db.Session, {"job": machine})
    job = Job(workflow_machine="job")
    service.start(job)
    refusal = service.send(job, "BACK").refusal
    assert refusal is not None and refusal.kind == UNHANDLED


TWO_PINGS = """<scxml xmlns="http://www.w3.org/2005/07/scxml" version="1.0" datamodel="python"
       name="job" initial="waiting">
  <state id="waiting">
    <onentry>
      <send id="first" event="ping" delay="1s"><param name="n" expr="1"/></send>
      <send id="second" event="ping" delay="2s"><param name="n" expr="2"/></send>
    </onentry>
    <transition event="ping" cond="_event.data['n'] == 2" target="pinged"/>
  </state>
  <final id="pinged"/>
</scxml>"""


def timer_rows(db: Database) -> dict[str, str]:
    with db.Session() as session:
        rows = session.execute(select(ScheduledEvent.timer_id, ScheduledEvent.status)).all()
    return {str(timer_id): str(status) for timer_id, status in rows}


def test_an_scxml_delivery_settles_its_own_send_not_the_first_of_the_same_name(
    db: Database,
) -> None:
    machine = loads(TWO_PINGS)
    service = WorkflowService(db.Session, {machine.id: machine})
    job = Job(workflow_machine=machine.id)
    assert service.start(job).success
    assert timer_rows(db) == {"first": "pending", "second": "pending"}
    second = next(t for t in service.snapshot(job).timers if t.id == "second")
    result = service.deliver(job, dict(second.event))
    assert result.success and result.to_state == "pinged"
    # "first" carries the same event name: the old rule (first pending timer of the type)
    # settled it as fired; the core consumed "second", and the machine finishing cancels "first"
    assert timer_rows(db) == {"first": "cancelled", "second": "fired"}
    with db.Session() as session:
        assert (
            session.scalar(select(TransitionLog.event).order_by(TransitionLog.id.desc())) == "ping"
        )


def test_a_refused_delivery_writes_nothing(db: Database) -> None:
    machine = loads(TWO_PINGS)
    service = WorkflowService(db.Session, {machine.id: machine})
    job = Job(workflow_machine=machine.id)
    service.start(job)
    first = next(t for t in service.snapshot(job).timers if t.id == "first")
    result = service.deliver(job, dict(first.event))
    assert not result.success and result.refusal is not None
    assert result.refusal.kind == GUARDED
    assert timer_rows(db) == {"first": "pending", "second": "pending"}  # the worker settles it
