"""Databases and a small machine for the store and service tests (shared by both conftests).

``open_database(kind)`` gives a migrated, empty database of one kind:
``sqlite-memory``, ``sqlite-file`` or ``postgresql`` (a fresh schema on the
server ``ORDERFLOW_TEST_POSTGRES_URL`` names, dropped afterwards), plus the
test-only tables ``tickets`` and ``captures``.
"""

from __future__ import annotations

import asyncio
import importlib.util
import inspect
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import pytest
import sqlalchemy as sa
from pydantic import BaseModel, Field
from sqlalchemy import Engine, ForeignKey, MetaData, String
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker

import orderflow
from orderflow.chart import Action, Machine
from orderflow.service import AsyncWorkflowService
from orderflow.store import WorkflowRecord, create_async_engine, create_engine, upgrade

POSTGRES_URL = os.environ.get("ORDERFLOW_TEST_POSTGRES_URL")
KINDS = ("sqlite-memory", "sqlite-file", "postgresql")
NO_POSTGRES = "ORDERFLOW_TEST_POSTGRES_URL is not set; PostgreSQL store tests need a server"


class TestBase(DeclarativeBase):
    metadata = MetaData()


class Ticket(TestBase, WorkflowRecord):
    """A record the ticket machine moves; its legacy status follows a declared mapping."""

    __tablename__ = "tickets"
    __workflow_status__: ClassVar[dict[str, str]] = {
        "open": "OPEN",
        "held": "ON_HOLD",
        "paid": "PAID",
        "shipped": "DONE",
        "cancelled": "CANCELLED",
    }

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(100), default="")


class ChartRecord(TestBase, WorkflowRecord):
    """A record any machine may move (no legacy status mapping), for the property tests."""

    __tablename__ = "chart_records"

    id: Mapped[int] = mapped_column(primary_key=True)


class Parcel(TestBase, WorkflowRecord):
    """A record keyed by a UUID, not an integer: keys travel as text in the log and timer rows."""

    __tablename__ = "parcels"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)


class Capture(TestBase):
    """What the ``capture`` effect writes: one row per money capture, deliberately not unique."""

    __tablename__ = "captures"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"))
    amount: Mapped[int]


class Pay(BaseModel):
    amount: int = Field(gt=0)


TICKET: dict[str, Any] = {
    "id": "ticket",
    "version": "1",
    "initial": "open",
    "context": {"paid": 0},
    "states": {
        "open": {
            "on": {
                "PAY": {
                    "target": "paid",
                    "guard": "enough",
                    "actions": [
                        {"type": "capture"},
                        {"type": "emit", "params": {"event": {"type": "ticket.paid"}}},
                        {"type": "assign", "params": {"paid": 1}},
                    ],
                },
                "HOLD": "held",
                "CANCEL": "cancelled",
            }
        },
        "held": {"after": {"60000": "open"}, "on": {"RELEASE": "open", "CANCEL": "cancelled"}},
        "paid": {
            "on": {
                "SHIP": {
                    "target": "shipped",
                    "actions": [{"type": "emit", "params": {"event": {"type": "ticket.shipped"}}}],
                }
            }
        },
        "shipped": {"type": "final"},
        "cancelled": {"type": "final"},
    },
}


def enough(context: Any, event: Any, params: Any) -> tuple[bool, str]:
    return event.amount >= 10, f"amount {event.amount} is below the minimum of 10"


def ticket_machine(config: dict[str, Any] | None = None) -> Machine:
    return orderflow.setup(
        guards={"enough": enough}, actions={"capture": lambda *_: None}, events={"PAY": Pay}
    ).create_machine(config or TICKET)


def capture(session: Session, record: Any, action: Action) -> None:
    """The in-transaction effect: record the money taken."""
    session.add(Capture(ticket_id=record.id, amount=int(action.event.amount)))


@dataclass
class Database:
    kind: str
    engine: Engine
    Session: sessionmaker[Session]
    schema: str | None = None

    def engine_url(self) -> str:
        return self.engine.url.render_as_string(hide_password=False)

    def new_engine(self) -> Engine:
        """A second engine on the same database (for another process)."""
        return make_engine(self.engine_url(), self.schema)


def make_engine(url: str, schema: str | None) -> Engine:
    if schema is None:
        return create_engine(url)
    return create_engine(url, connect_args={"options": f"-csearch_path={schema}"})


@contextmanager
def open_database(kind: str, tmp_path: Path) -> Iterator[Database]:
    schema = None
    if kind == "sqlite-memory":
        engine = create_engine("sqlite://")
    elif kind == "sqlite-file":
        engine = create_engine(f"sqlite:///{tmp_path / 'orderflow.db'}")
    else:
        assert POSTGRES_URL is not None
        schema = f"t_{uuid.uuid4().hex[:12]}"
        admin = sa.create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.exec_driver_sql(f"CREATE SCHEMA {schema}")
        engine = make_engine(POSTGRES_URL, schema)
    try:
        upgrade(engine)
        TestBase.metadata.create_all(engine)
        yield Database(kind, engine, sessionmaker(engine, expire_on_commit=False), schema)
    finally:
        engine.dispose()
        if schema is not None:
            with admin.connect() as connection:
                connection.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
            admin.dispose()


class Awaiting:
    """An async object (``AsyncWorkflowService``, ``AsyncSession``) driven from plain test code.

    Every coroutine method is awaited on one loop, and what it returns that
    is async itself comes back wrapped too, so the service's contract tests
    take a ``service`` and call it, unchanged, for the async driver (see
    ``tests/service/conftest.py``).
    """

    def __init__(self, target: Any, loop: asyncio.AbstractEventLoop, engine: Any = None) -> None:
        object.__setattr__(self, "target", target)
        object.__setattr__(self, "loop", loop)
        #: the async engine's sync face, for tests that listen to the statements sent
        object.__setattr__(self, "sync_engine", None if engine is None else engine.sync_engine)
        object.__setattr__(self, "engine", engine)

    def __getattr__(self, name: str) -> Any:
        found = getattr(self.target, name)
        if not callable(found):
            return found

        def call(*args: Any, **kwargs: Any) -> Any:
            args = tuple(a.target if isinstance(a, Awaiting) else a for a in args)
            answer = found(*args, **kwargs)
            if inspect.isawaitable(answer):
                answer = self.loop.run_until_complete(answer)
            if isinstance(answer, AsyncWorkflowService | AsyncSession):
                return Awaiting(answer, self.loop, self.engine)
            return answer

        return call

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self.target, name, value)

    @contextmanager
    def caller_session(self) -> Iterator[Awaiting]:
        """An ``AsyncSession`` of the caller's own (to join), closed after the block."""
        session = AsyncSession(self.engine, expire_on_commit=False)
        try:
            yield Awaiting(session, self.loop, self.engine)
        finally:
            self.loop.run_until_complete(session.close())


@contextmanager
def caller_session(service: Any, database: Database) -> Iterator[Any]:
    """A session of the caller's own for ``service``'s driver: sync, or an awaited ``AsyncSession``."""
    if isinstance(service, Awaiting):
        with service.caller_session() as session:
            yield session
    else:
        with database.Session() as session:
            yield session


#: the async drivers on PostgreSQL: psycopg 3's ``AsyncConnection`` and asyncpg
ASYNC_POSTGRES_DRIVERS = ("psycopg", "asyncpg")
NO_ASYNCPG = "asyncpg is not installed (pip install asyncpg; CI installs it with the dev extras)"


def async_engine_for(database: Database, driver: str = "psycopg", **options: Any) -> AsyncEngine:
    """An async engine on the same database as ``database`` (its schema on PostgreSQL).

    On PostgreSQL ``driver`` picks the async driver (one of :data:`ASYNC_POSTGRES_DRIVERS`);
    SQLite's is always aiosqlite.
    """
    url = database.engine_url()
    if database.schema is None:
        return create_async_engine(url, **options)
    if driver == "asyncpg":
        if importlib.util.find_spec("asyncpg") is None:
            pytest.skip(NO_ASYNCPG)
        return create_async_engine(
            sa.make_url(url).set(drivername="postgresql+asyncpg"),
            connect_args={"server_settings": {"search_path": database.schema}},
            **options,
        )
    assert driver == "psycopg", driver
    return create_async_engine(
        url, connect_args={"options": f"-csearch_path={database.schema}"}, **options
    )


@contextmanager
def awaiting_service(
    database: Database, machines: dict[str, Machine], driver: str = "psycopg", **options: Any
) -> Iterator[Awaiting]:
    """An ``AsyncWorkflowService`` on ``database``, for sync test code (its loop closed after)."""
    loop = asyncio.new_event_loop()
    engine = async_engine_for(database, driver)
    try:
        sessions = async_sessionmaker(engine, expire_on_commit=False)
        yield Awaiting(AsyncWorkflowService(sessions, machines, **options), loop, engine)
    finally:
        loop.run_until_complete(engine.dispose())
        loop.close()
