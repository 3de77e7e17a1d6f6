"""What only the async driver has: ``async def`` effects and hooks, concurrent tasks, the wrong driver.

The rest of the contract (send, refusals, idempotency, dry runs, joined
sessions, backfill) runs for both drivers through the ``service`` fixture.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

import orderflow
from orderflow.chart import Action
from orderflow.errors import EffectError, WrongDriverError
from orderflow.service import AsyncWorkflowService, FinishedRecord, Principal, WorkflowService
from orderflow.store import TransitionLog, WorkflowRecord
from workflow_db import (
    NO_POSTGRES,
    POSTGRES_URL,
    Capture,
    Database,
    Ticket,
    async_engine_for,
    open_database,
    ticket_machine,
)

CLERK = Principal("u-7", "Clara Clerk")


class CounterBase(DeclarativeBase):
    pass


class Counter(CounterBase, WorkflowRecord):
    """A record of the test's own, counted up by concurrent tasks."""

    __tablename__ = "async_counters"

    id: Mapped[int] = mapped_column(primary_key=True)


COUNTER = orderflow.setup(
    actions={
        "count": orderflow.assign(lambda context, event, params: {"n": context["n"] + 1}),
    }
).create_machine(
    {
        "id": "counter",
        "initial": "counting",
        "context": {"n": 0},
        "states": {
            "counting": {"on": {"ADD": {"actions": ["count"]}, "STOP": "stopped"}},
            "stopped": {"type": "final"},
        },
    }
)


@pytest.fixture(params=["sqlite-file", "postgresql"])
def file_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    if request.param == "postgresql" and POSTGRES_URL is None:
        pytest.skip(NO_POSTGRES)
    with open_database(request.param, tmp_path) as database:
        CounterBase.metadata.create_all(database.engine)
        yield database


@asynccontextmanager
async def async_sessions(database: Database) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = async_engine_for(database)
    try:
        yield async_sessionmaker(engine, expire_on_commit=False)
    finally:
        await engine.dispose()


def test_an_async_effect_gets_the_async_session_and_commits_with_the_step(
    file_database: Database,
) -> None:
    seen: list[type] = []

    async def capture(session: AsyncSession, record: Any, action: Action) -> None:
        seen.append(type(session))
        session.add(Capture(ticket_id=record.id, amount=int(action.event.amount)))
        await session.flush()

    async def main() -> None:
        async with async_sessions(file_database) as sessions:
            service = AsyncWorkflowService(
                sessions, {"ticket": ticket_machine()}, effects={"capture": capture}
            )
            ticket = Ticket(title="t", workflow_machine="ticket")
            assert (await service.start(ticket, actor=CLERK)).success
            result = await service.send(ticket, {"type": "PAY", "amount": 12}, actor=CLERK)
            assert result.success and result.effects == ("capture",)
            assert (await service.snapshot(ticket)).value == "paid"

    asyncio.run(main())
    assert seen == [AsyncSession]
    with file_database.Session() as session:
        assert session.scalar(select(func.count()).select_from(Capture)) == 1


def test_an_async_effect_that_raises_rolls_the_whole_step_back(file_database: Database) -> None:
    async def capture(session: AsyncSession, record: Any, action: Action) -> None:
        session.add(Capture(ticket_id=record.id, amount=1))
        await session.flush()
        raise RuntimeError("the provider said no")

    async def main() -> None:
        async with async_sessions(file_database) as sessions:
            service = AsyncWorkflowService(
                sessions, {"ticket": ticket_machine()}, effects={"capture": capture}
            )
            ticket = Ticket(title="t", workflow_machine="ticket")
            await service.start(ticket, actor=CLERK)
            with pytest.raises(EffectError, match="the provider said no"):
                await service.send(ticket, {"type": "PAY", "amount": 12}, actor=CLERK)
            assert (await service.snapshot(ticket)).value == "open"

    asyncio.run(main())
    with file_database.Session() as session:
        assert session.scalar(select(func.count()).select_from(Capture)) == 0
        assert session.scalar(select(func.count()).select_from(TransitionLog)) == 1


def test_an_async_finish_hook_starts_the_next_record_in_the_same_transaction(
    file_database: Database,
) -> None:
    started: list[int] = []

    async def next_phase(finished: FinishedRecord) -> None:
        assert isinstance(finished.session, AsyncSession)
        counter = Counter(workflow_machine="counter")
        result = await finished.service.start(counter, actor=finished.actor)
        assert result.success
        started.append(counter.id)

    async def main() -> None:
        async with async_sessions(file_database) as sessions:
            service = AsyncWorkflowService(
                sessions, {"ticket": ticket_machine(), "counter": COUNTER},
                effects={"capture": lambda *_: None}, finish_hooks=[next_phase],
            )  # fmt: skip
            ticket = Ticket(title="t", workflow_machine="ticket")
            await service.start(ticket, actor=CLERK)
            assert (await service.send(ticket, "CANCEL", actor=CLERK)).success

    asyncio.run(main())
    with file_database.Session() as session:
        (counter_id,) = started
        counter = session.get(Counter, counter_id)
        assert counter is not None and counter.workflow_state is not None
        assert counter.workflow_state["value"] == "counting"


def test_eight_concurrent_tasks_lose_no_update(file_database: Database) -> None:
    tasks, sends = 8, 5

    async def main() -> Counter:
        async with async_sessions(file_database) as sessions:
            service = AsyncWorkflowService(sessions, {"counter": COUNTER})
            counter = Counter(workflow_machine="counter")
            await service.start(counter, actor=CLERK)

            async def worker() -> None:
                for _ in range(sends):
                    assert (await service.send((Counter, counter.id), "ADD", actor=CLERK)).success

            await asyncio.gather(*(worker() for _ in range(tasks)))
            return counter

    counter = asyncio.run(main())
    with file_database.Session() as session:
        stored = session.get(Counter, counter.id)
        assert stored is not None
        assert stored.workflow_context == {"n": tasks * sends}
        assert stored.workflow_version == tasks * sends + 1


def test_the_wrong_driver_is_a_clear_type_error(file_database: Database) -> None:
    engine = async_engine_for(file_database)
    sessions = async_sessionmaker(engine)
    with pytest.raises(WrongDriverError, match="AsyncWorkflowService") as raised:
        WorkflowService(sessions, {"ticket": ticket_machine()})  # type: ignore[arg-type]
    assert isinstance(raised.value, TypeError)
    service = WorkflowService(lambda: sessions(), {"ticket": ticket_machine()})  # type: ignore[arg-type,return-value]
    with pytest.raises(WrongDriverError, match="AsyncWorkflowService"):
        service.snapshot((Ticket, 1))
    with pytest.raises(WrongDriverError, match="use WorkflowService"):
        AsyncWorkflowService(file_database.Session, {"ticket": ticket_machine()})  # type: ignore[arg-type]
    asyncio.run(engine.dispose())


def test_an_async_effect_under_the_sync_service_is_refused_and_writes_nothing(
    file_database: Database,
) -> None:
    async def capture(session: Any, record: Any, action: Action) -> None:
        raise AssertionError("never awaited")

    service = WorkflowService(
        file_database.Session, {"ticket": ticket_machine()}, effects={"capture": capture}
    )
    ticket = Ticket(title="t", workflow_machine="ticket")
    service.start(ticket, actor=CLERK)
    with pytest.raises(WrongDriverError, match="AsyncWorkflowService"):
        service.send(ticket, {"type": "PAY", "amount": 12}, actor=CLERK)
    assert service.snapshot(ticket).value == "open"
