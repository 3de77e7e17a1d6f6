"""The async timer worker and relay: the sync workers' batches, driven on the event loop."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from alarms import alarm_machine, later, rings_by_alarm, timer_statuses
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from orderflow.chart import Action
from orderflow.service import AsyncWorkflowService
from orderflow.store import OutboxEvent
from orderflow.workers import (
    AsyncOutboxRelay,
    AsyncTimerWorker,
    OutboxMessage,
    fire_due_timers_async,
    relay_outbox_async,
)
from workflow_db import Capture, Database, Ticket, async_engine_for


async def ring(session: AsyncSession, record: Any, action: Action) -> None:
    """The alarm's ring as an async effect: one Capture row per firing."""
    session.add(Capture(ticket_id=record.id, amount=1))


@pytest.fixture
def file_database(shared_database: Database) -> Database:
    return shared_database  # a SQLite file or PostgreSQL: the async driver's engines


def test_due_timers_fire_once_through_the_async_service(file_database: Database) -> None:
    async def main() -> list[str]:
        engine = async_engine_for(file_database)
        try:
            sessions = async_sessionmaker(engine, expire_on_commit=False)
            service = AsyncWorkflowService(
                sessions, {"alarm": alarm_machine()}, effects={"ring": ring}
            )
            for ticket_id in (1, 2, 3):
                await service.start(Ticket(id=ticket_id, title="alarm"), machine="alarm")
            firings = await fire_due_timers_async(service, now=later(), models={"tickets": Ticket})
            again = await fire_due_timers_async(service, now=later(), models={"tickets": Ticket})
            assert again == []
            worker = AsyncTimerWorker(service, models={"tickets": Ticket}, clock=later)
            await worker.run(max_batches=1)
            assert worker.fired == 0
            return [f.outcome for f in firings]
        finally:
            await engine.dispose()

    assert asyncio.run(main()) == ["fired"] * 3
    assert rings_by_alarm(file_database) == {1: 1, 2: 1, 3: 1}
    assert timer_statuses(file_database) == {"fired": 3}


class AsyncPublisher:
    def __init__(self) -> None:
        self.sent: list[tuple[str, int]] = []

    async def publish(self, message: OutboxMessage) -> None:
        await asyncio.sleep(0)
        self.sent.append((message.event_type, message.sequence))


def test_the_async_relay_publishes_in_order_through_an_async_publisher(
    file_database: Database,
) -> None:
    with file_database.Session() as session:
        session.add_all(
            OutboxEvent(
                record_type="tickets", record_id="1", sequence=n, event_type=f"e{n}",
                payload={"type": f"e{n}"}, status="pending", attempts=0,
                available_at=later(-5), created_at=later(-5),
            )
            for n in (1, 2, 3)
        )  # fmt: skip
        session.commit()
    publisher = AsyncPublisher()

    async def main() -> int:
        engine = async_engine_for(file_database)
        try:
            sessions = async_sessionmaker(engine, expire_on_commit=False)
            report = await relay_outbox_async(sessions, publisher)
            assert len(report.published) == 3
            relay = AsyncOutboxRelay(sessions, publisher, poll_interval=0.01)
            await relay.run(max_batches=2)  # nothing left: it rests between batches
            return relay.published
        finally:
            await engine.dispose()

    assert asyncio.run(main()) == 0
    assert publisher.sent == [("e1", 1), ("e2", 2), ("e3", 3)]
