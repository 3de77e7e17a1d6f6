"""Several invocation-worker processes share the due invocations: each is delivered once, none lost.

Each worker is a forked process with its own engine.  On PostgreSQL they
claim disjoint rows with ``FOR UPDATE SKIP LOCKED``; on a SQLite file they
take turns at the write lock.  A delivery is counted by its log row; a run
of the function by the row's attempts.
"""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Callable
from datetime import datetime
from typing import Any

from invoking import (
    MODELS,
    Booking,
    Charges,
    booking_machine,
    booking_service,
    create_tables,
    deliveries,
    invocation_states,
)
from processes import child_sessions, in_child, run, until_idle, workers
from sqlalchemy import select
from sqlalchemy.ext.asyncio import async_sessionmaker

from orderflow.service import AsyncWorkflowService
from orderflow.store import Invocation
from orderflow.store.base import utcnow
from orderflow.workers import (
    AsyncInvocationWorker,
    InvocationOptions,
    run_due_invocations,
    run_due_invocations_async,
)
from workflow_db import Database, async_engine_for

WORKERS, BOOKINGS, BATCH = 4, 40, 5
OPTIONS = InvocationOptions(models=MODELS, batch=BATCH)
LEASE = OPTIONS.policy.timeout + OPTIONS.policy.lease_margin


@in_child
def _worker(database: Database, now: datetime, charge: Callable[..., Any] | None = None) -> None:
    """Run batches until none is left, in a forked process."""
    Session = child_sessions(database)
    service = booking_service(Session, charge or Charges())
    until_idle(lambda: run_due_invocations(service, Session, now=now, options=OPTIONS))


@in_child
def _starter(database: Database, bookings: int) -> None:
    """Start the bookings and stop dead, as a process that crashes after its commits would."""
    Session = child_sessions(database)
    service = booking_service(Session)
    for booking_id in range(1, bookings + 1):
        service.start(Booking(id=booking_id))


def _assert_each_delivered_once(database: Database, bookings: int) -> None:
    assert deliveries(database) == {str(i): 1 for i in range(1, bookings + 1)}
    assert invocation_states(database) == {"done": bookings}
    service = booking_service(database.Session)
    for booking_id in range(1, bookings + 1):
        assert service.snapshot((Booking, booking_id)).value == "charged"


def _attempts(database: Database) -> list[int]:
    with database.Session() as session:
        return list(session.scalars(select(Invocation.attempts).order_by(Invocation.id)))


def test_worker_processes_deliver_every_invocation_exactly_once(shared_database: Database) -> None:
    create_tables(shared_database)
    assert run(workers(1, _starter, shared_database, BOOKINGS)) == [0]
    now = utcnow()

    exits = run(workers(WORKERS, _worker, shared_database, now))

    assert exits == [0] * WORKERS
    _assert_each_delivered_once(shared_database, BOOKINGS)
    assert _attempts(shared_database) == [1] * BOOKINGS  # no worker ran another's claim


def _charge_then_die_on(nth: int) -> Callable[[Any], Any]:
    """A charge that SIGKILLs its own process at the ``nth`` run: claimed and run, not delivered."""
    charges = Charges()

    def charge(value: Any) -> Any:
        answer = charges(value)
        if len(charges.calls) == nth:
            os.kill(os.getpid(), signal.SIGKILL)
        return answer

    return charge


def test_a_worker_killed_after_running_loses_no_invocation_and_delivers_none_twice(
    shared_database: Database,
) -> None:
    create_tables(shared_database)
    service = booking_service(shared_database.Session)
    for booking_id in range(1, BOOKINGS + 1):
        service.start(Booking(id=booking_id))
    now = utcnow()
    doomed = workers(1, _worker, shared_database, now, _charge_then_die_on(3))
    assert run(doomed, timeout=60) == [-signal.SIGKILL]
    assert deliveries(shared_database) == {}  # its batch was claimed and run, never delivered
    assert invocation_states(shared_database)["running"] == BATCH

    assert run(workers(3, _worker, shared_database, now)) == [0] * 3
    assert invocation_states(shared_database)["running"] == BATCH  # their lease holds them ...

    later = now + LEASE  # ... until it ends: then they are run again, and delivered once
    assert run(workers(3, _worker, shared_database, later)) == [0] * 3

    _assert_each_delivered_once(shared_database, BOOKINGS)
    assert sorted(_attempts(shared_database)) == [1] * (BOOKINGS - BATCH) + [2] * BATCH


def test_the_async_worker_awaits_the_functions_together_and_delivers_each_once(
    shared_database: Database,
) -> None:
    create_tables(shared_database)
    running = 0
    most = 0

    async def charge(value: Any) -> dict[str, Any]:
        nonlocal running, most
        running += 1
        most = max(most, running)
        await asyncio.sleep(0.05)
        running -= 1
        return {"receipt": "async", "amount": value["amount"]}

    async def main() -> list[str]:
        engine = async_engine_for(shared_database)
        try:
            sessions = async_sessionmaker(engine, expire_on_commit=False)
            service = AsyncWorkflowService(sessions, {"booking": booking_machine(charge)})
            for booking_id in (1, 2, 3):
                await service.start(Booking(id=booking_id))
            runs = await run_due_invocations_async(service, options=OPTIONS)
            worker = AsyncInvocationWorker(service, poll_interval=0, options=OPTIONS)
            await worker.run(max_batches=1)
            assert worker.delivered == 0
            return [r.outcome for r in runs]
        finally:
            await engine.dispose()

    assert asyncio.run(main()) == ["delivered"] * 3
    assert most == 3  # awaited together, with no transaction open
    _assert_each_delivered_once(shared_database, 3)
