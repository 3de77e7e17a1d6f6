"""Engines configured for workflow writes on SQLite and PostgreSQL.

SQLite has no ``SELECT ... FOR UPDATE``.  Its equivalent is to take the
write lock when the transaction begins (``BEGIN IMMEDIATE``), so two
processes moving the same record queue up instead of both reading version
*n* and one failing at commit.  pysqlite's own transaction handling begins
lazily, before the first write, which is too late; :func:`create_engine`
turns it off and begins every transaction itself.  File databases also get
WAL (readers never wait for the writer) and a busy timeout.  PostgreSQL
needs nothing special: the service locks the row.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy
from sqlalchemy import Engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.pool import StaticPool


def create_engine(
    url: str | URL, *, busy_timeout_ms: int = 30_000, wal: bool = True, **kwargs: Any
) -> Engine:
    """``sqlalchemy.create_engine`` with the SQLite settings the service relies on (see the module doc)."""
    url = make_url(url)
    if url.get_backend_name() != "sqlite":
        return sqlalchemy.create_engine(url, **kwargs)
    in_memory = url.database in (None, "", ":memory:")
    if in_memory:
        kwargs.setdefault("poolclass", StaticPool)
        kwargs.setdefault("connect_args", {"check_same_thread": False})
    engine = sqlalchemy.create_engine(url, **kwargs)

    @event.listens_for(engine, "connect")
    def _configure(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we emit BEGIN ourselves, below
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
        cursor.execute("PRAGMA foreign_keys = ON")
        if wal and not in_memory:
            cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine
