"""Several timer-worker processes share the due timers: each fires once, and a killed worker loses none.

Each worker is a forked process with its own engine.  On PostgreSQL they
claim disjoint rows with ``FOR UPDATE SKIP LOCKED``; on a SQLite file they
take turns at the write lock.  A firing is counted by its side effect (a
``Capture`` row written by the ``ring`` effect in the firing's
transaction), by its log row, and by the timer row's status.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable
from datetime import datetime
from typing import Any

from alarms import (
    alarm_service,
    arm,
    later,
    ring,
    ring_log_rows,
    rings_by_alarm,
    timer_statuses,
)
from processes import child_sessions, fork, in_child, run, until_idle, workers
from sqlalchemy import select

import orderflow
from orderflow.chart import Action
from orderflow.service import WorkflowService
from orderflow.store import ScheduledEvent
from orderflow.workers import fire_due_timers
from workflow_db import Database, Ticket

WORKERS, TIMERS, BATCH = 4, 60, 5


@in_child
def _worker(
    database: Database,
    now: datetime,
    effect: Callable[[Any, Any, Action], Any] = ring,
) -> None:
    """Fire batches until none is left, in a forked process."""
    Session = child_sessions(database)
    service = alarm_service(Session, effect)
    until_idle(lambda: fire_due_timers(service, Session, now=now, batch=BATCH))


def _assert_each_fired_once(database: Database, timers: int) -> None:
    assert rings_by_alarm(database) == dict.fromkeys(range(1, timers + 1), 1)
    assert ring_log_rows(database) == {str(i): 1 for i in range(1, timers + 1)}
    assert timer_statuses(database) == {"fired": timers}


def test_worker_processes_fire_every_due_timer_exactly_once(shared_database: Database) -> None:
    arm(alarm_service(shared_database.Session), TIMERS)
    now = later()

    exits = run(workers(WORKERS, _worker, shared_database, now))

    assert exits == [0] * WORKERS
    _assert_each_fired_once(shared_database, TIMERS)


def _ring_then_die_on(nth: int) -> Callable[[Any, Any, Action], Any]:
    """A ring effect that SIGKILLs its own process at the ``nth`` firing, mid-batch."""
    rung = 0

    def effect(session: Any, record: Any, action: Action) -> None:
        nonlocal rung
        rung += 1
        ring(session, record, action)
        if rung == nth:
            session.flush()  # the firing is written, not committed: the worker dies holding it
            os.kill(os.getpid(), signal.SIGKILL)

    return effect


def test_a_worker_killed_mid_batch_loses_no_timer_and_fires_none_twice(
    shared_database: Database,
) -> None:
    arm(alarm_service(shared_database.Session), TIMERS)
    now = later()
    doomed = workers(1, _worker, shared_database, now, _ring_then_die_on(3))
    assert run(doomed, timeout=60) == [-signal.SIGKILL]
    assert rings_by_alarm(shared_database) == {}  # its batch died with it

    assert run(workers(WORKERS - 1, _worker, shared_database, now)) == [0] * (WORKERS - 1)

    _assert_each_fired_once(shared_database, TIMERS)


def test_a_worker_killed_while_others_run_loses_no_timer(shared_database: Database) -> None:
    arm(alarm_service(shared_database.Session), TIMERS)
    now = later()
    processes = workers(1, _worker, shared_database, now, _ring_then_die_on(7))
    processes += workers(WORKERS - 1, _worker, shared_database, now)

    exits = run(processes)
    # a sweep after everyone stopped, as a restarted worker would do
    fire_due_timers(
        alarm_service(shared_database.Session), shared_database.Session, now=now, batch=TIMERS
    )

    assert exits[0] in (-signal.SIGKILL, 0)  # 0 only if the others left it fewer than 7 timers
    assert exits[1:] == [0] * (WORKERS - 1)
    _assert_each_fired_once(shared_database, TIMERS)


#: two timers in one state: whichever fires first leaves the state and cancels the other
RACE: dict[str, Any] = {
    "id": "race",
    "version": "1",
    "initial": "waiting",
    "states": {
        "waiting": {"after": {"1000": "first", "2000": "second"}},
        "first": {},
        "second": {},
    },
}


def _race_service(Session: Any) -> WorkflowService:
    return WorkflowService(Session, {"race": orderflow.create_machine(RACE)})


@in_child
def _race_worker(database: Database, now: datetime, outcomes: Any) -> None:
    """One timer per batch, so that workers would split a record's timers if they could."""
    Session = child_sessions(database)
    service = _race_service(Session)

    def batch() -> list[Any]:
        firings = fire_due_timers(service, Session, now=now, batch=1)
        outcomes.put([f.outcome for f in firings])
        return firings

    until_idle(batch)


def test_workers_fire_one_records_timers_in_due_order_without_deadlocking(
    shared_database: Database,
) -> None:
    records = 24
    service = _race_service(shared_database.Session)
    for ticket_id in range(1, records + 1):
        assert service.start(Ticket(id=ticket_id, title="race"), machine="race").success
    outcomes = fork.Queue()

    exits = run(workers(WORKERS, _race_worker, shared_database, later(), outcomes))

    assert exits == [0] * WORKERS
    seen: list[str] = []
    while not outcomes.empty():
        seen.extend(outcomes.get())
    # a worker that took the later timer while another held the earlier one of the same record
    # would fire out of order, or deadlock with it (PostgreSQL then aborts one as a "retry")
    assert "retry" not in seen
    with shared_database.Session() as session:
        states = {row.workflow_state["value"] for row in session.scalars(select(Ticket))}
        statuses = sorted(session.scalars(select(ScheduledEvent.status)))
    assert states == {"first"}
    assert statuses == ["cancelled"] * records + ["fired"] * records
