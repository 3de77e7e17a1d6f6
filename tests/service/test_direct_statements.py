"""The short way to the driver (``orderflow.service.direct``): what it must keep.

A send's own statements run straight on the driver's cursor: sqlite3's and psycopg's
for the sync driver; psycopg's ``AsyncConnection`` and SQLAlchemy's DBAPI adapter of
asyncpg for the async one.  It must not change what anybody sees: statement listeners see
every statement (the short way is not taken then), a database error is SQLAlchemy's
exception class as in the sync driver and rolls the whole step back, and a connection
the server dropped is thrown away, not lent to the next call.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy import CheckConstraint, event, func, select
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, sessionmaker

import orderflow
from orderflow.service import AsyncWorkflowService, Principal, WorkflowService
from orderflow.service.direct import DirectStatements
from orderflow.store import TransitionLog, WorkflowRecord
from workflow_db import NO_POSTGRES, POSTGRES_URL, Database, async_engine_for, open_database

CLERK = Principal("u-7", "Clara Clerk")


class LampBase(DeclarativeBase):
    pass


class Lamp(LampBase, WorkflowRecord):
    """A record of the test's own whose table refuses a third write (a CHECK on the version)."""

    __tablename__ = "direct_lamps"
    __table_args__ = (CheckConstraint("workflow_version < 3", name="lamp_wears_out"),)

    id: Mapped[int] = mapped_column(primary_key=True)


class Bulb(LampBase, WorkflowRecord):
    """A record of the test's own that any number of moves may write."""

    __tablename__ = "direct_bulbs"

    id: Mapped[int] = mapped_column(primary_key=True)


LAMP = orderflow.create_machine(
    {
        "id": "lamp",
        "initial": "off",
        "states": {"off": {"on": {"FLIP": "on"}}, "on": {"on": {"FLIP": "off"}}},
    }
)


@pytest.fixture(params=["sqlite-file", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    if request.param == "postgresql" and POSTGRES_URL is None:
        pytest.skip(NO_POSTGRES)
    with open_database(request.param, tmp_path) as opened:
        LampBase.metadata.create_all(opened.engine)
        try:
            yield opened
        finally:
            LampBase.metadata.drop_all(opened.engine)


#: the drivers of a send: sync, and async (aiosqlite or psycopg) or async on asyncpg
DRIVERS = ["sync", "async", "async-asyncpg"]


def postgres_driver(database: Database, driver: str) -> str:
    """The async PostgreSQL driver ``driver`` names (asyncpg only runs on PostgreSQL)."""
    if driver == "async-asyncpg":
        if database.kind != "postgresql":
            pytest.skip("asyncpg is a PostgreSQL driver")
        return "asyncpg"
    return "psycopg"


def run_async(database: Database, body: Any, driver: str = "async", **engine_options: Any) -> Any:
    """``body(service, engine)`` with an async service on ``database`` and ``driver``, awaited."""
    pg_driver = postgres_driver(database, driver)

    async def main() -> Any:
        engine = async_engine_for(database, pg_driver, **engine_options)
        if database.kind == "postgresql":
            assert engine.dialect.driver == pg_driver
        try:
            service = AsyncWorkflowService(async_sessionmaker(engine), {"lamp": LAMP})
            return await body(service, engine)
        finally:
            await engine.dispose()

    return asyncio.run(main())


def flip_once(database: Database, driver: str, before_send: Any = None) -> Any:
    """Start a lamp and flip it once through ``driver``; ``before_send(engine)`` runs between."""
    if driver == "sync":
        service = WorkflowService(database.Session, {"lamp": LAMP})
        lamp = Lamp(workflow_machine="lamp")
        service.start(lamp, actor=CLERK)
        if before_send is not None:
            before_send(database.engine)
        assert service.send((Lamp, lamp.id), "FLIP", actor=CLERK).success
        return service.snapshot((Lamp, lamp.id)).value

    async def body(service: AsyncWorkflowService, engine: AsyncEngine) -> Any:
        lamp = Lamp(workflow_machine="lamp")
        await service.start(lamp, actor=CLERK)
        if before_send is not None:
            before_send(engine.sync_engine)
        assert (await service.send((Lamp, lamp.id), "FLIP", actor=CLERK)).success
        return (await service.snapshot((Lamp, lamp.id))).value

    return run_async(database, body, driver)


@pytest.mark.parametrize("driver", DRIVERS)
def test_a_statement_listener_sees_every_statement_of_a_send(
    database: Database, driver: str
) -> None:
    seen: list[str] = []

    def remember(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(" ".join(statement.split()).upper())

    def listen(engine: Any) -> None:
        event.listen(engine, "before_cursor_execute", remember)

    try:
        assert flip_once(database, driver, listen) == "on"
    finally:
        if driver == "sync" and event.contains(database.engine, "before_cursor_execute", remember):
            event.remove(database.engine, "before_cursor_execute", remember)
    assert any(s.startswith("SELECT") and "DIRECT_LAMPS" in s for s in seen), seen
    assert any("UPDATE DIRECT_LAMPS" in s for s in seen), seen
    assert any("INSERT INTO WORKFLOW_TRANSITION_LOG" in s or "WITH MOVED" in s for s in seen)


@pytest.mark.parametrize("driver", DRIVERS)
def test_without_listeners_a_send_goes_straight_to_the_driver(
    database: Database, driver: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    ran: list[str] = []
    original = DirectStatements.run

    def counting(self: DirectStatements, sql: str, parameters: Any) -> Any:
        ran.append(sql)
        return original(self, sql, parameters)

    monkeypatch.setattr(DirectStatements, "run", counting)
    assert flip_once(database, driver, lambda engine: ran.clear()) == "on"
    if driver == "async" and database.kind == "sqlite-file":
        assert ran == []  # aiosqlite: SQLAlchemy's own way
    else:
        assert len(ran) >= 2  # the locked read, and the move with its log row


@pytest.mark.parametrize("driver", DRIVERS)
def test_a_database_error_is_sqlalchemys_and_writes_nothing(
    database: Database, driver: str
) -> None:
    """The table's CHECK refuses the second move: the same exception class from both drivers."""

    def sync_body() -> tuple[int, Any]:
        service = WorkflowService(database.Session, {"lamp": LAMP})
        lamp = Lamp(workflow_machine="lamp")
        service.start(lamp, actor=CLERK)
        assert service.send((Lamp, lamp.id), "FLIP", actor=CLERK).success
        with pytest.raises(IntegrityError, match=r"lamp_wears_out|CHECK constraint failed"):
            service.send((Lamp, lamp.id), "FLIP", actor=CLERK)
        return lamp.id, service.snapshot((Lamp, lamp.id)).value

    async def async_body(service: AsyncWorkflowService, engine: AsyncEngine) -> tuple[int, Any]:
        lamp = Lamp(workflow_machine="lamp")
        await service.start(lamp, actor=CLERK)
        assert (await service.send((Lamp, lamp.id), "FLIP", actor=CLERK)).success
        with pytest.raises(IntegrityError, match=r"lamp_wears_out|CHECK constraint failed"):
            await service.send((Lamp, lamp.id), "FLIP", actor=CLERK)
        return lamp.id, (await service.snapshot((Lamp, lamp.id))).value

    lamp_id, value = sync_body() if driver == "sync" else run_async(database, async_body, driver)
    assert value == "on"
    with database.Session() as session:
        stored = session.get(Lamp, lamp_id)
        assert stored is not None and stored.workflow_version == 2
        logged = session.scalars(
            select(TransitionLog.event).where(TransitionLog.record_id == str(lamp_id))
        ).all()
        assert list(logged) == ["xstate.init", "FLIP"]


@pytest.mark.parametrize("driver", ["async", "async-asyncpg"])
def test_connections_the_server_dropped_are_thrown_away(database: Database, driver: str) -> None:
    """A server restart drops every pooled connection: one call fails, the next ones work."""
    if database.kind != "postgresql":
        pytest.skip("a server-side disconnect needs PostgreSQL")
    assert POSTGRES_URL is not None
    dsn = POSTGRES_URL.replace("postgresql+psycopg://", "postgresql://")
    pids: set[int] = set()

    def note_backend(session: Any, record: Any, action: Any) -> None:
        pids.add(session.execute(select(func.pg_backend_pid())).scalar_one())

    async def body(service: AsyncWorkflowService, engine: AsyncEngine) -> Any:
        bulbs = [Bulb(workflow_machine="lamp") for _ in range(3)]
        for bulb in bulbs:
            await service.start(bulb, actor=CLERK)
        noting = AsyncWorkflowService(
            async_sessionmaker(engine), {"lamp": NOTING}, effects={"note": note_backend}
        )
        # three sends at once: the pool now holds three connections
        await asyncio.gather(*(noting.send((Bulb, b.id), "FLIP", actor=CLERK) for b in bulbs))
        assert len(pids) == 3
        with psycopg.connect(dsn, autocommit=True) as other:  # "the server restarted"
            for pid in pids:
                other.execute("SELECT pg_terminate_backend(%s)", (pid,))
        with pytest.raises(DBAPIError) as raised:
            await service.send((Bulb, bulbs[0].id), "FLIP", actor=CLERK)
        assert raised.value.connection_invalidated
        for bulb in bulbs:  # none of the dead connections is lent again
            assert (await service.send((Bulb, bulb.id), "FLIP", actor=CLERK)).success
        return [(await service.snapshot((Bulb, b.id))).value for b in bulbs]

    assert run_async(database, body, driver) == ["off", "off", "off"]


NOTING = orderflow.setup(actions={"note": lambda *_: None}).create_machine(
    {
        "id": "lamp",
        "initial": "off",
        "states": {
            "off": {"on": {"FLIP": {"target": "on", "actions": ["note"]}}},
            "on": {"on": {"FLIP": "off"}},
        },
    }
)


@pytest.mark.parametrize("driver", ["async", "async-asyncpg"])
def test_a_cancelled_send_is_all_or_nothing_and_gives_its_connection_back(
    database: Database, driver: str
) -> None:
    """A request cancelled mid-send (a client gone): the step is committed whole or not at
    all, and by the time the caller sees the cancellation the connection is back in the pool
    and nothing holds a lock (on SQLite another writer gets the file at once)."""
    rng = random.Random(7)

    def file_is_free() -> None:
        if database.kind == "sqlite-file":
            path = database.engine.url.database
            assert path is not None
            with contextlib.closing(sqlite3.connect(path, timeout=0)) as other:
                other.execute("BEGIN IMMEDIATE")  # "database is locked" if a send still held it
                other.rollback()

    async def body(service: AsyncWorkflowService, engine: AsyncEngine) -> tuple[int, int, int]:
        bulb = Bulb(workflow_machine="lamp")
        await service.start(bulb, actor=CLERK)
        answered = 0
        for _ in range(60):
            task = asyncio.ensure_future(service.send((Bulb, bulb.id), "FLIP", actor=CLERK))
            await asyncio.sleep(rng.random() * 0.004)
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                answered += (await task).success
            assert engine.pool.checkedout() == 0  # type: ignore[attr-defined]
            file_is_free()
        final = await service.send((Bulb, bulb.id), "FLIP", actor=CLERK)
        assert final.success
        return bulb.id, answered, final.version

    bulb_id, answered, version = run_async(database, body, driver)
    with database.Session() as session:
        logged = session.scalars(
            select(TransitionLog.record_version).where(
                TransitionLog.record_type == "direct_bulbs",
                TransitionLog.record_id == str(bulb_id),
            )
        ).all()
        stored = session.get(Bulb, bulb_id)
        assert stored is not None
    # one log row per version, no gap and no double: every committed step is whole
    assert sorted(logged) == list(range(1, version + 1))
    assert stored.workflow_version == version >= answered + 2


def test_the_sync_driver_throws_away_connections_the_server_dropped(database: Database) -> None:
    if database.kind != "postgresql":
        pytest.skip("a server-side disconnect needs PostgreSQL")
    assert POSTGRES_URL is not None
    dsn = POSTGRES_URL.replace("postgresql+psycopg://", "postgresql://")
    engine = database.new_engine()  # a pool of this test's own
    try:
        service = WorkflowService(sessionmaker(engine), {"lamp": LAMP})
        bulb = Bulb(workflow_machine="lamp")
        service.start(bulb, actor=CLERK)
        held = [engine.connect() for _ in range(3)]  # the pool now holds three connections
        pids = [c.exec_driver_sql("SELECT pg_backend_pid()").scalar_one() for c in held]
        for connection in held:
            connection.close()
        with psycopg.connect(dsn, autocommit=True) as other:  # "the server restarted"
            for pid in pids:
                other.execute("SELECT pg_terminate_backend(%s)", (pid,))
        with pytest.raises(DBAPIError) as raised:
            service.send((Bulb, bulb.id), "FLIP", actor=CLERK)
        assert raised.value.connection_invalidated
        for _ in range(3):  # none of the dead connections is lent again
            assert service.send((Bulb, bulb.id), "FLIP", actor=CLERK).success
        assert service.snapshot((Bulb, bulb.id)).value == "on"
    finally:
        engine.dispose()
