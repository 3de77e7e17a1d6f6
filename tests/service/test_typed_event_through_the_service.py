"""One event, one shape through the service: effect handlers, the machine's own effects and
finish hooks get the TypedEvent the guards and assignments got (sync and async drivers)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import BaseModel
from sqlalchemy import String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

import orderflow
from orderflow import TypedEvent
from orderflow.chart import Action
from orderflow.service import FinishedRecord, Principal, WorkflowService
from orderflow.store import WorkflowRecord
from workflow_db import Database, awaiting_service

AGENT = Principal("u-3", "Ada Agent")


class Base(DeclarativeBase):
    pass


class Job(Base, WorkflowRecord):
    __tablename__ = "typed_event_jobs"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(40), default="")


class Assign(BaseModel):
    assignee: str


class Finish(BaseModel):
    outcome: str


seen: list[tuple[str, Any]] = []


def assignee_known(context: Any, event: Any, params: Any) -> bool:
    seen.append(("guard", event))
    return event.assignee in {"ada", "bo"}


def own_effect(context: Any, event: Any, params: Any) -> None:
    """The machine's own implementation (no handler given): ``impl(context, event, params)``."""
    seen.append(("own effect", event))


def handler(session: Any, record: Job, action: Action) -> None:
    """An effect handler of the service, on the locked row."""
    seen.append(("handler", action.event))
    assert record.id is not None and action.event.assignee in {"ada", "bo"}


def hook(finished: FinishedRecord) -> None:
    seen.append(("finish hook", finished.event))


JOBS = orderflow.setup(
    events={"ASSIGN": Assign, "FINISH": Finish},
    guards={"assignee_known": assignee_known},
    actions={
        "take": orderflow.assign(lambda context, event, params: {"owner": event.assignee}),
        "tell": lambda context, event, params: None,
        "log_it": own_effect,
        "announce": orderflow.emit(
            lambda context, event, params: {"type": "job.assigned", "to": event.assignee}
        ),
    },
).create_machine({
    "id": "job",
    "initial": "new",
    "context": {"owner": None},
    "states": {
        "new": {"on": {"ASSIGN": {"guard": "assignee_known", "target": "taken",
                                  "actions": ["take", "tell", "log_it", "announce"]}}},
        "taken": {"on": {"FINISH": {"target": "done", "actions": ["log_it"]}}},
        "done": {"type": "final"},
    },
})  # fmt: skip


@pytest.fixture(params=["sync", "async"])
def jobs(request: pytest.FixtureRequest, database: Database) -> Iterator[Any]:
    Base.metadata.create_all(database.engine)
    options: dict[str, Any] = {"effects": {"tell": handler}, "finish_hooks": [hook]}
    seen.clear()
    if request.param == "sync":
        yield WorkflowService(database.Session, {"job": JOBS}, **options)
        return
    if database.kind == "sqlite-memory":
        pytest.skip("the async driver needs a SQLite file (in-memory SQLite is one connection)")
    with awaiting_service(database, {"job": JOBS}, **options) as service:
        yield service


def test_handlers_effects_and_finish_hooks_get_the_guards_typed_event(jobs: Any) -> None:
    job = Job(workflow_machine="job")
    assert jobs.start(job, actor=AGENT).success
    moved = jobs.send(job, {"type": "ASSIGN", "assignee": "ada"}, actor=AGENT)
    assert moved.success, moved.reason
    assert [kind for kind, _ in seen] == ["guard", "handler", "own effect"]
    guard_event = seen[0][1]
    assert all(event is guard_event for _, event in seen)  # one object, not a copy per door
    assert isinstance(guard_event, TypedEvent) and guard_event.payload == Assign(assignee="ada")
    assert moved.emitted == ({"type": "job.assigned", "to": "ada"},)
    assert jobs.snapshot(job).context == {"owner": "ada"}

    seen.clear()
    finished = jobs.send(job, {"type": "FINISH", "outcome": "fixed"}, actor=AGENT)
    assert finished.success and finished.to_state == "done"
    (_, effect_event), (kind, hook_event) = seen
    assert kind == "finish hook" and hook_event is effect_event
    assert hook_event.payload == Finish(outcome="fixed") and hook_event.outcome == "fixed"


def test_hooks_run_again_for_a_finished_record_get_no_event(jobs: Any) -> None:
    job = Job(workflow_machine="job")
    jobs.start(job, actor=AGENT)
    jobs.send(job, {"type": "ASSIGN", "assignee": "bo"}, actor=AGENT)
    jobs.send(job, {"type": "FINISH", "outcome": "fixed"}, actor=AGENT)
    seen.clear()
    jobs.rerun_finish_hooks(job)
    assert seen == [("finish hook", None)]
