"""A record whose machine invokes child machines: the children live in its row.

Machine children are part of the snapshot (``snapshot.children``), so they
are persisted in ``workflow_state`` and move in the parent's transaction.
A function actor is a durable invocation (tests/workers/test_invocations.py)
and a child's timer a timer row with its path (tests/workers/test_child_timers.py);
a driver that keeps neither refuses such a machine when it is made.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

import orderflow
from orderflow.errors import ConfigurationError
from orderflow.service import WorkflowService
from orderflow.store import WorkflowRecord
from workflow_db import Database


class JobBase(DeclarativeBase):
    pass


class Job(JobBase, WorkflowRecord):
    __tablename__ = "actor_jobs"

    id: Mapped[int] = mapped_column(primary_key=True)


PINGER = orderflow.create_machine(
    {
        "id": "pinger",
        "initial": "waiting",
        "states": {
            "waiting": {
                "on": {
                    "PING": {
                        "target": "done",
                        "actions": [{"type": "sendParent", "params": {"event": {"type": "PONG"}}}],
                    }
                }
            },
            "done": {"type": "final"},
        },
    }
)


def parent_with(actors: dict[str, Any]) -> orderflow.Machine:
    return orderflow.setup(actors=actors).create_machine(
        {
            "id": "job",
            "context": {"pongs": 0},
            "initial": "running",
            "states": {
                "running": {
                    "invoke": {"id": "p", "src": "pinger", "onDone": "finished"},
                    "on": {
                        "GO": {
                            "actions": [
                                {"type": "sendTo", "params": {"to": "p", "event": {"type": "PING"}}}
                            ]
                        },
                        "PONG": {"actions": [{"type": "assign", "params": {"pongs": 1}}]},
                    },
                },
                "finished": {"type": "final"},
            },
        }
    )


def test_a_child_machine_lives_in_its_parents_row_and_moves_with_it(database: Database) -> None:
    JobBase.metadata.create_all(database.engine)
    service = WorkflowService(database.Session, {"job": parent_with({"pinger": PINGER})})
    job = Job(id=1, workflow_machine="job")
    assert service.start(job).success

    stored = service.snapshot(job)
    assert stored.children["p"].snapshot.value == "waiting"
    assert job.workflow_state is not None and job.workflow_state["children"]["p"]["src"] == "pinger"

    moved = service.send(job, "GO")  # the child answers PONG, then finishes: onDone
    assert moved.success and moved.to_state == "finished"
    finished = service.snapshot(job)
    assert finished.context["pongs"] == 1 and "p" not in finished.children


def test_a_function_actor_is_refused_only_by_a_driver_without_durable_invocations() -> None:
    machine = parent_with({"pinger": lambda input: {"ok": True}})
    WorkflowService(lambda: None, {"job": machine})  # type: ignore[arg-type, return-value]

    class WithoutInvocations(WorkflowService):
        durable_invocations = False

    with pytest.raises(ConfigurationError, match=r"function actor 'pinger'.*durable invocations"):
        WithoutInvocations(lambda: None, {"job": machine})  # type: ignore[arg-type, return-value]


def test_a_child_machine_with_timers_is_refused_only_by_a_driver_without_child_timers() -> None:
    slow = orderflow.create_machine(
        {"id": "slow", "initial": "a", "states": {"a": {"after": {"1000": "b"}}, "b": {}}}
    )
    machines = {"job": parent_with({"pinger": slow})}
    WorkflowService(lambda: None, machines)  # type: ignore[arg-type, return-value]

    class OwnTimersOnly(WorkflowService):
        durable_child_timers = False

    with pytest.raises(ConfigurationError, match=r"child at 'pinger'.*has timers"):
        OwnTimersOnly(lambda: None, machines)  # type: ignore[arg-type, return-value]


def test_a_child_machines_own_effect_runs_with_the_childs_context(database: Database) -> None:
    rang: list[Any] = []
    bell = orderflow.setup(
        actions={"ring": lambda context, event, params: rang.append(dict(context))}
    ).create_machine({"id": "bell", "initial": "a", "context": {"tone": "C"},
                      "states": {"a": {"on": {"RING": {"actions": "ring"}}}}})  # fmt: skip
    parent = orderflow.setup(actors={"bell": bell}).create_machine({
        "id": "job", "initial": "r", "context": {"pongs": 0},
        "states": {"r": {"invoke": {"id": "b", "src": "bell"}, "on": {"GO": {"actions": {
            "type": "sendTo", "params": {"to": "b", "event": {"type": "RING"}}}}}}},
    })  # fmt: skip
    JobBase.metadata.create_all(database.engine)
    service = WorkflowService(database.Session, {"job": parent})
    job = Job(id=2, workflow_machine="job")
    assert service.start(job).success
    moved = service.send(job, "GO")  # the parent gave no 'ring': the child's machine did
    assert moved.success and rang == [{"tone": "C"}]


def test_a_child_machines_effect_answers_that_child_as_the_in_memory_actor_does(
    database: Database,
) -> None:
    bell = orderflow.setup(
        actions={"ring": lambda context, event, params: {"type": "RANG"}}
    ).create_machine({"id": "bell", "initial": "a", "states": {
        "a": {"on": {"RING": {"actions": "ring"}, "RANG": "rung"}}, "rung": {}}})  # fmt: skip
    parent = orderflow.setup(actors={"bell": bell}).create_machine({
        "id": "job", "initial": "r", "context": {"pongs": 0},
        "states": {"r": {"invoke": {"id": "b", "src": "bell"}, "on": {
            "GO": {"actions": {"type": "sendTo", "params": {"to": "b", "event": {"type": "RING"}}}},
            "RANG": {"actions": {"type": "assign", "params": {"pongs": 99}}}}}},
    })  # fmt: skip
    actor = orderflow.create_actor(parent).start()
    actor.send("GO")
    JobBase.metadata.create_all(database.engine)
    service = WorkflowService(database.Session, {"job": parent})
    job = Job(id=3, workflow_machine="job")
    assert service.start(job).success
    assert service.send(job, "GO").success
    stored = service.snapshot(job)
    for snapshot in (actor.get_snapshot(), stored):
        assert snapshot.children["b"].snapshot.value == "rung"  # the answer went to the bell
        assert snapshot.context == {"pongs": 0}  # not to the record's machine
