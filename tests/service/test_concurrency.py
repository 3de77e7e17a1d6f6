"""Several processes moving the same records at once; a process killed inside a transaction.

These run on PostgreSQL (``SELECT ... FOR UPDATE``) and on a SQLite file
(``BEGIN IMMEDIATE``), each worker a separate process with its own engine.
"""

from __future__ import annotations

import multiprocessing
import os
import random
import signal
from collections import Counter
from collections.abc import Callable
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import sessionmaker

from orderflow.chart import Action
from orderflow.service import WorkflowService
from orderflow.store import TransitionLog
from workflow_db import (
    Capture,
    Database,
    Ticket,
    capture,
    make_engine,
    ticket_machine,
)

WORKERS, SENDS, RECORDS = 4, 40, 6
PAY = {"type": "PAY", "amount": 20}
CHOICES: list[Any] = [PAY, PAY, "HOLD", "RELEASE", "RELEASE", "SHIP", "SHIP", "CANCEL"]
fork = multiprocessing.get_context("fork")


def _in_child(database: Database, work: Callable[[WorkflowService], Any], results: Any) -> None:
    """Run ``work`` in a forked process on its own engine; never touch the parent's connections."""
    try:
        engine = make_engine(database.engine_url(), database.schema)
        effects = getattr(work, "effects", {"capture": capture})
        service = WorkflowService(
            sessionmaker(engine, expire_on_commit=False),
            {"ticket": ticket_machine()},
            effects=effects,
        )
        results.put(work(service))
    except BaseException as exc:
        results.put(exc)
    finally:
        results.close()
        results.join_thread()
        os._exit(0)  # skip finalizers: inherited connections belong to the parent


def _hammer(
    seed: int, ids: list[int]
) -> Callable[[WorkflowService], list[tuple[int, str, str | None, bool, bool]]]:
    def work(service: WorkflowService) -> list[tuple[int, str, str | None, bool, bool]]:
        rng = random.Random(seed)
        outcomes = []
        for _ in range(SENDS):
            record = rng.choice(ids)
            event = rng.choice(CHOICES)
            key = f"pay-{record}" if event is PAY and rng.random() < 0.5 else None
            result = service.send((Ticket, record), event, idempotency_key=key)
            name = event if isinstance(event, str) else event["type"]
            outcomes.append((record, name, key, result.success, result.idempotent))
        return outcomes

    return work


def test_concurrent_processes_never_lose_or_double_a_step(shared_database: Database) -> None:
    database = shared_database
    service = WorkflowService(
        database.Session, {"ticket": ticket_machine()}, effects={"capture": capture}
    )
    ids = []
    for _ in range(RECORDS):
        ticket = Ticket(workflow_machine="ticket")
        service.start(ticket)
        ids.append(ticket.id)
    database.engine.dispose()
    results = fork.Queue()
    workers = [
        fork.Process(target=_in_child, args=(database, _hammer(seed, ids), results))
        for seed in range(WORKERS)
    ]
    for worker in workers:
        worker.start()
    outcomes = [results.get(timeout=60) for _ in workers]
    for worker in workers:
        worker.join(timeout=30)
    for outcome in outcomes:
        if isinstance(outcome, BaseException):
            raise outcome
    flat = [o for outcome in outcomes for o in outcome]

    machine = ticket_machine()
    with database.Session() as session:
        for record in ids:
            ticket = session.get(Ticket, record)
            assert ticket is not None
            logs = session.scalars(
                select(TransitionLog)
                .where(TransitionLog.record_id == str(record))
                .order_by(TransitionLog.id)
            ).all()
            # one log row per version bump, numbered without gaps
            assert [log.record_version for log in logs] == list(
                range(1, ticket.workflow_version + 1)
            )
            # no capture recorded twice, and each one explained by a logged PAY
            captures = session.scalar(
                select(func.count()).select_from(Capture).where(Capture.ticket_id == record)
            )
            assert captures == sum(1 for log in logs if log.event == "PAY") <= 1
            # the state is the one the log explains, replayed on the pure core
            snapshot, _ = machine.initial_transition()
            for log in logs[1:]:
                assert log.from_state == snapshot.to_json()["value"]
                snapshot, _ = machine.transition(snapshot, log.details["event"])
            assert ticket.workflow_state is not None
            assert snapshot.value == ticket.workflow_state["value"]
            assert snapshot.context == ticket.workflow_context
        keys = Counter(
            session.scalars(
                select(TransitionLog.idempotency_key).where(
                    TransitionLog.idempotency_key.is_not(None)
                )
            ).all()
        )
    assert all(n == 1 for n in keys.values())
    applied = Counter(
        key for _, _, key, success, idempotent in flat if key and success and not idempotent
    )
    assert all(n == 1 for n in applied.values())
    assert set(applied) == set(keys)
    # every success that was not a replay is exactly one logged step
    fresh = sum(1 for _, _, _, success, idempotent in flat if success and not idempotent)
    with database.Session() as session:
        assert session.scalar(select(func.count()).select_from(TransitionLog)) == fresh + RECORDS


def test_a_process_killed_inside_the_transaction_leaves_no_partial_write(
    shared_database: Database,
) -> None:
    database = shared_database
    service = WorkflowService(
        database.Session, {"ticket": ticket_machine()}, effects={"capture": capture}
    )
    ticket = Ticket(workflow_machine="ticket")
    service.start(ticket)
    database.engine.dispose()
    inside = fork.Event()

    def capture_then_hang(session: Any, record: Any, action: Action) -> None:
        capture(session, record, action)
        session.flush()  # the capture row is written inside the open transaction
        inside.set()
        signal.pause()

    def work(service: WorkflowService) -> None:
        service.send((Ticket, ticket.id), {"type": "PAY", "amount": 30}, idempotency_key="once")

    work.effects = {"capture": capture_then_hang}  # type: ignore[attr-defined]
    results = fork.Queue()
    child = fork.Process(target=_in_child, args=(database, work, results))
    child.start()
    assert inside.wait(timeout=30), "the child never reached its effect"
    os.kill(child.pid or 0, signal.SIGKILL)
    child.join(timeout=30)
    assert child.exitcode == -signal.SIGKILL

    with database.Session() as session:
        assert session.scalar(select(func.count()).select_from(Capture)) == 0
        assert session.scalar(select(func.count()).select_from(TransitionLog)) == 1
        row = session.get(Ticket, ticket.id)
        assert row is not None and (row.workflow_version, row.status) == (1, "OPEN")
    # the lock died with the process: the same request goes through now, once
    result = service.send(ticket, {"type": "PAY", "amount": 30}, idempotency_key="once")
    assert result.success and not result.idempotent and ticket.status == "PAID"
