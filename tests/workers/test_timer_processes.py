"""Several timer-worker processes share the due timers: each fires once, and a killed worker loses none.

Each worker is a forked process with its own engine.  On PostgreSQL they
claim disjoint rows with ``FOR UPDATE SKIP LOCKED``; on a SQLite file they
take turns at the write lock.  A firing is counted by its side effect (a
``Capture`` row written by the ``ring`` effect in the firing's
transaction), by its log row, and by the timer row's status.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
from collections.abc import Callable
from datetime import datetime
from typing import Any

from alarms import (
    alarm_service,
    arm,
    child_sessions,
    later,
    ring,
    ring_log_rows,
    rings_by_alarm,
    timer_statuses,
)
from sqlalchemy import select

import orderflow
from orderflow.chart import Action
from orderflow.service import WorkflowService
from orderflow.store import ScheduledEvent
from orderflow.workers import fire_due_timers
from workflow_db import Database, Ticket

fork = multiprocessing.get_context("fork")
WORKERS, TIMERS, BATCH = 4, 60, 5


def _worker(
    database: Database,
    now: datetime,
    effect: Callable[[Any, Any, Action], Any] = ring,
) -> None:
    """Fire batches until none is left, in a forked process; exit without touching inherited state."""
    try:
        Session = child_sessions(database)
        service = alarm_service(Session, effect)
        idle = 0
        while idle < 3:  # a batch can come back empty while other workers hold the rest
            idle = 0 if fire_due_timers(service, Session, now=now, batch=BATCH) else idle + 1
    finally:
        os._exit(0)


def _run(processes: list[Any]) -> list[int | None]:
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=120)
    return [process.exitcode for process in processes]


def _assert_each_fired_once(database: Database, timers: int) -> None:
    assert rings_by_alarm(database) == dict.fromkeys(range(1, timers + 1), 1)
    assert ring_log_rows(database) == {str(i): 1 for i in range(1, timers + 1)}
    assert timer_statuses(database) == {"fired": timers}


def test_worker_processes_fire_every_due_timer_exactly_once(shared_database: Database) -> None:
    arm(alarm_service(shared_database.Session), TIMERS)
    now = later()

    exits = _run(
        [fork.Process(target=_worker, args=(shared_database, now)) for _ in range(WORKERS)]
    )

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
    doomed = fork.Process(target=_worker, args=(shared_database, now, _ring_then_die_on(3)))
    doomed.start()
    doomed.join(timeout=60)
    assert doomed.exitcode == -signal.SIGKILL
    assert rings_by_alarm(shared_database) == {}  # its batch died with it

    survivors = [
        fork.Process(target=_worker, args=(shared_database, now)) for _ in range(WORKERS - 1)
    ]
    assert _run(survivors) == [0] * (WORKERS - 1)

    _assert_each_fired_once(shared_database, TIMERS)


def test_a_worker_killed_while_others_run_loses_no_timer(shared_database: Database) -> None:
    arm(alarm_service(shared_database.Session), TIMERS)
    now = later()
    processes = [fork.Process(target=_worker, args=(shared_database, now, _ring_then_die_on(7)))]
    processes += [
        fork.Process(target=_worker, args=(shared_database, now)) for _ in range(WORKERS - 1)
    ]

    exits = _run(processes)
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


def _race_worker(database: Database, now: datetime, outcomes: Any) -> None:
    """One timer per batch, so that workers would split a record's timers if they could."""
    try:
        Session = child_sessions(database)
        service = _race_service(Session)
        idle = 0
        while idle < 3:
            firings = fire_due_timers(service, Session, now=now, batch=1)
            outcomes.put([f.outcome for f in firings])
            idle = 0 if firings else idle + 1
    finally:
        os._exit(0)


def test_workers_fire_one_records_timers_in_due_order_without_deadlocking(
    shared_database: Database,
) -> None:
    records = 24
    service = _race_service(shared_database.Session)
    for ticket_id in range(1, records + 1):
        assert service.start(Ticket(id=ticket_id, title="race"), machine="race").success
    outcomes = fork.Queue()

    exits = _run(
        [fork.Process(target=_race_worker, args=(shared_database, later(), outcomes))
         for _ in range(WORKERS)]
    )  # fmt: skip

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
