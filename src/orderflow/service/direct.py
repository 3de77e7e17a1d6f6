"""The short way for a send's own statements: straight to the driver's cursor, in the same transaction.

A send runs three or four statements of its own (the locked read, the versioned
update, the log insert), prepared once per dialect
(:mod:`orderflow.service.statements`).  Run through ``exec_driver_sql``, each
still costs SQLAlchemy an execution context and a result object; through its
psycopg asyncio adapter, a cursor adapter, an ``asyncio.Lock`` and its rows
copied into a deque as well (docs/benchmarks.md measures both).  :class:`DirectStatements` runs them on the driver's
own connection under SQLAlchemy's: a cursor of the sqlite3 or psycopg
connection for the sync driver; for the async one, a cursor of psycopg's
``AsyncConnection`` (awaited from the call's greenlet) or of SQLAlchemy's DBAPI
adapter for asyncpg (which begins the transaction, prepares and caches the
statement and translates asyncpg's errors, as for SQLAlchemy's own
statements).  Everything else (user code's session, begin and commit, the
pool) still goes through SQLAlchemy.

What a statement run this way keeps from SQLAlchemy: its SQL and parameter
processing (compiled once per dialect), the exception classes
(``sqlalchemy.exc.IntegrityError`` and the rest: a driver's error goes through
SQLAlchemy's own handling, which also invalidates a lost connection and the
pool's older ones).  What it would skip is the connection's statement events
and echo, so :func:`go_direct` leaves a connection alone (its statements go the
usual way) when it has ``before_cursor_execute``, ``after_cursor_execute`` or
``handle_error`` listeners or logs its SQL: a listener never misses a statement.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.util import await_only

from orderflow.service.statements import DIRECT


class DirectResult:
    """What a statement run directly answered: its row count, first row and inserted row id."""

    __slots__ = ("_row", "lastrowid", "rowcount")

    def __init__(self, rowcount: int, row: tuple[Any, ...] | None, lastrowid: Any) -> None:
        self.rowcount = rowcount
        self._row = row
        self.lastrowid = lastrowid

    def fetchone(self) -> tuple[Any, ...] | None:
        return self._row


class DirectStatements:
    """Runs driver SQL on a cursor of ``connection``'s DBAPI connection: a sync driver's own,
    or SQLAlchemy's adapter of an async one."""

    __slots__ = ("_connection", "_cursor", "_driver")

    def __init__(self, connection: Connection) -> None:
        self._connection = connection
        self._driver: Any = self._driver_of(connection)
        self._cursor: Any = None  # one cursor for the transaction's statements

    @staticmethod
    def _driver_of(connection: Connection) -> Any:
        return connection.connection.dbapi_connection

    def run(self, sql: str, parameters: Mapping[str, Any] | Sequence[Any]) -> DirectResult:
        """Run ``sql`` with ``parameters`` (the dialect's style); what it answered."""
        try:
            return self._run(sql, parameters)
        except self._connection.dialect.loaded_dbapi.Error as error:
            # SQLAlchemy's own handling of a driver's error, as for any statement: wrapped in
            # its exception class, and on a lost connection this one invalidated and the
            # pool's older ones too (a server restart drops them all).  The one private call.
            self._connection._handle_dbapi_exception(error, sql, parameters, None, None)

    def _run(self, sql: str, parameters: Any) -> DirectResult:
        cursor = self._cursor
        if cursor is None:
            cursor = self._cursor = self._driver.cursor()
        cursor.execute(sql, parameters)
        row = None if cursor.description is None else cursor.fetchone()
        return DirectResult(cursor.rowcount, row, getattr(cursor, "lastrowid", None))


class AwaitedStatements(DirectStatements):
    """The same on psycopg's ``AsyncConnection``, awaited from the call's greenlet."""

    __slots__ = ()

    @staticmethod
    def _driver_of(connection: Connection) -> Any:
        return connection.connection.driver_connection

    def _run(self, sql: str, parameters: Any) -> DirectResult:
        return await_only(self._run_async(sql, parameters))

    async def _run_async(self, sql: str, parameters: Any) -> DirectResult:
        cursor = self._cursor
        if cursor is None or cursor.closed:
            cursor = self._cursor = self._driver.cursor()
        await cursor.execute(sql, parameters)
        row = None if cursor.description is None else await cursor.fetchone()
        return DirectResult(cursor.rowcount, row, None)  # PostgreSQL answers keys with RETURNING


#: the drivers the short way knows, (async?, driver name) -> its runner: the sync drivers' own
#: cursors, psycopg's ``AsyncConnection`` awaited, and asyncpg through SQLAlchemy's DBAPI
#: adapter of it (a plain cursor whose calls await inside)
RUNNERS: dict[tuple[bool, str], type[DirectStatements]] = {
    (False, "pysqlite"): DirectStatements,
    (False, "psycopg"): DirectStatements,
    (True, "psycopg"): AwaitedStatements,
    (True, "asyncpg"): DirectStatements,
}


def direct_statements(connection: Connection) -> DirectStatements | None:
    """The short way for ``connection`` when its driver has one and nothing would miss the
    statements (no statement listeners, no echo); else ``None``."""
    dialect = connection.dialect
    runner = RUNNERS.get((dialect.is_async, dialect.driver))
    if runner is None:
        return None
    dispatch = connection.dispatch
    if (
        dispatch.before_cursor_execute
        or dispatch.after_cursor_execute
        or dialect.dispatch.handle_error
        or connection.engine.logger.isEnabledFor(logging.INFO)
    ):
        return None
    return runner(connection)


def go_direct(connection: Connection) -> None:
    """Let the prepared statements on ``connection`` take the short way where they can."""
    direct = direct_statements(connection)
    if direct is not None:
        connection.execution_options(**{DIRECT: direct})
