"""Engines configured for workflow writes on SQLite and PostgreSQL.

SQLite has no ``SELECT ... FOR UPDATE``.  Its equivalent is to take the
write lock when the transaction begins (``BEGIN IMMEDIATE``), so two
processes moving the same record queue up instead of both reading version
*n* and one failing at commit.  pysqlite's own transaction handling begins
lazily, before the first write, which is too late; :func:`create_engine`
turns it off and begins every transaction itself.  File databases also get
WAL (readers never wait for the writer) and a busy timeout.  PostgreSQL
needs nothing special: the service locks the row.

An in-memory database lives in one connection, which every session shares
(``StaticPool``), so SQLite's own lock cannot keep two threads' transactions
apart: one thread's commit would take another's half-done work with it.
The engine gives that connection to one thread at a time instead, from
checkout to checkin, waiting up to the busy timeout as a file database
would.
"""

from __future__ import annotations

import sqlite3
import threading
from typing import TYPE_CHECKING, Any

import sqlalchemy
from sqlalchemy import Engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.pool import StaticPool

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine


def create_engine(
    url: str | URL, *, busy_timeout_ms: int = 30_000, wal: bool = True, **kwargs: Any
) -> Engine:
    """``sqlalchemy.create_engine`` with the SQLite settings the service relies on (see the module doc)."""
    url = make_url(url)
    if url.get_backend_name() != "sqlite":
        return sqlalchemy.create_engine(url, **kwargs)
    in_memory = url.database in (None, "", ":memory:")
    if in_memory:
        kwargs.setdefault("poolclass", SharedConnectionPool)
        kwargs.setdefault("connect_args", {"check_same_thread": False})
    engine = sqlalchemy.create_engine(url, **kwargs)
    if isinstance(engine.pool, SharedConnectionPool):
        engine.pool.turn.timeout = busy_timeout_ms / 1000
    _configure_sqlite(engine, busy_timeout_ms=busy_timeout_ms, wal=wal and not in_memory)
    return engine


def create_async_engine(
    url: str | URL, *, busy_timeout_ms: int = 30_000, wal: bool = True, **kwargs: Any
) -> AsyncEngine:
    """``sqlalchemy.ext.asyncio.create_async_engine`` with the same SQLite settings (see the module doc).

    ``sqlite:///file.db`` becomes ``sqlite+aiosqlite``, ``postgresql://`` and
    ``postgresql+psycopg://`` psycopg 3's async driver; ``postgresql+asyncpg://`` stays
    asyncpg (``pip install 'orderflow[asyncpg]'``).  An in-memory SQLite
    database lives in one connection, which tasks cannot take turns on: it
    is refused (use a file).
    """
    from sqlalchemy.ext.asyncio import create_async_engine as create

    url = make_url(url)
    if url.get_backend_name() == "postgresql" and url.get_driver_name() in ("psycopg2", "psycopg"):
        url = url.set(drivername="postgresql+psycopg")
    if url.get_backend_name() != "sqlite":
        return create(url, **kwargs)
    if url.database in (None, "", ":memory:"):
        raise ValueError(
            "the async driver needs a SQLite file: an in-memory database lives in one "
            "connection, which concurrent tasks cannot share"
        )
    engine = create(url.set(drivername="sqlite+aiosqlite"), **kwargs)
    _configure_sqlite(engine.sync_engine, busy_timeout_ms=busy_timeout_ms, wal=wal)
    return engine


def _configure_sqlite(engine: Engine, *, busy_timeout_ms: int, wal: bool) -> None:
    """Begin every transaction with ``BEGIN IMMEDIATE``; busy timeout, foreign keys, WAL."""

    @event.listens_for(engine, "connect")
    def _configure(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we emit BEGIN ourselves, below
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
        cursor.execute("PRAGMA foreign_keys = ON")
        if wal:
            cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


class SharedConnectionPool(StaticPool):
    """``StaticPool`` (one connection for everyone) that lends it to one thread at a time.

    A thread asking while another holds it waits, up to ``turn.timeout``
    seconds, then gets SQLite's own "database is locked" error.
    """

    #: its log lines are SQLAlchemy's pool messages: logged where StaticPool logs them
    _sqla_logger_namespace = "sqlalchemy.pool.impl.StaticPool"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.turn = _Turn(30.0)

    def recreate(self) -> SharedConnectionPool:
        pool = super().recreate()
        assert isinstance(pool, SharedConnectionPool)
        pool.turn.timeout = self.turn.timeout
        return pool

    def _do_get(self) -> Any:
        self.turn.take()
        try:
            return super()._do_get()
        except BaseException:
            self.turn.give()
            raise

    def _do_return_conn(self, record: Any) -> None:
        super()._do_return_conn(record)
        self.turn.give()


class _Turn:
    """One thread at a time holds the shared in-memory connection.

    The holder asking again shares it without waiting.  SQLAlchemy returns a
    shared connection once, at its first check-in, so the turn is not
    counted: that return ends it.
    """

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self._changed = threading.Condition()
        self._owner: int | None = None

    def take(self) -> None:
        me = threading.get_ident()
        with self._changed:
            if not self._changed.wait_for(lambda: self._owner in (None, me), self.timeout):
                raise sqlite3.OperationalError(
                    "database is locked: another thread holds the in-memory database's connection"
                )
            self._owner = me

    def give(self) -> None:
        with self._changed:
            self._owner = None
            self._changed.notify_all()
