"""``create_engine``: SQLite set up so the service's transactions never interleave."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import sessionmaker

import workflow_db
from orderflow.service import WorkflowService
from orderflow.store import TransitionLog, create_engine, upgrade
from workflow_db import Ticket, capture, ticket_machine

THREADS, SENDS = 6, 40


@pytest.fixture(params=["sqlite-memory", "sqlite-file"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    yield "sqlite://" if request.param == "sqlite-memory" else f"sqlite:///{tmp_path / 'db.sqlite'}"


def test_threads_sharing_one_engine_never_lose_or_double_a_step(url: str) -> None:
    engine = create_engine(url)
    upgrade(engine)
    workflow_db.TestBase.metadata.create_all(engine)
    service = WorkflowService(
        sessionmaker(engine, expire_on_commit=False),
        {"ticket": ticket_machine()},
        effects={"capture": capture},
    )
    ids = []
    for _ in range(3):
        ticket = Ticket(workflow_machine="ticket")
        service.start(ticket)
        ids.append(ticket.id)
    errors: list[BaseException] = []
    moved = [0] * THREADS

    def work(worker: int) -> None:
        try:
            for n in range(SENDS):
                record = ids[(worker + n) % len(ids)]
                event = "HOLD" if (worker + n) % 2 else "RELEASE"
                moved[worker] += bool(service.send((Ticket, record), event))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(w,)) for w in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert errors == []
    with engine.connect() as connection:
        logs = connection.scalar(select(func.count()).select_from(TransitionLog))
        versions = connection.scalar(text("SELECT sum(workflow_version) FROM tickets"))
    # every success is one log row and one version bump (plus the three starts)
    assert logs == versions == sum(moved) + len(ids)
    engine.dispose()


def test_a_thread_waiting_longer_than_the_busy_timeout_is_told_the_database_is_locked() -> None:
    engine = create_engine("sqlite://", busy_timeout_ms=200)
    held, release = threading.Event(), threading.Event()

    def hold() -> None:
        with engine.begin() as connection:
            connection.execute(text("SELECT 1"))
            held.set()
            release.wait(10)

    holder = threading.Thread(target=hold)
    holder.start()
    assert held.wait(10)
    try:
        with pytest.raises(OperationalError, match="database is locked"), engine.begin():
            pass
    finally:
        release.set()
        holder.join()
    with engine.begin() as connection:  # the turn came back with the holder's connection
        assert connection.execute(text("SELECT 1")).scalar() == 1
    engine.dispose()
