"""The async driver's short way for a send's own statements: straight to psycopg's ``AsyncConnection``.

The async driver runs the stages in a greenlet (:mod:`orderflow.service.drivers`).
Through SQLAlchemy's asyncio adapter each statement costs about twice the CPU
it costs the sync engine (a cursor adapter, an ``asyncio.Lock``, its rows copied
into a deque, an execution context), which is the whole gap between the async
and the sync service on PostgreSQL.  :class:`DirectStatements` runs the
statements the row reader and the journal prepare (:mod:`orderflow.service.statements`)
on the driver's own connection under the adapter, awaited from the greenlet,
in the same transaction; everything else (user code's session, commit, the
pool) still goes through SQLAlchemy.

What a statement run this way keeps from SQLAlchemy: its SQL and parameter
processing (compiled once per dialect), the exception classes
(``sqlalchemy.exc.IntegrityError`` and the rest, wrapped as SQLAlchemy wraps
them) and invalidation of a connection that was lost.  What it would skip is
the connection's statement events and echo, so :func:`direct_statements`
answers ``None`` (and the statements go the usual way) for a connection with
``before_cursor_execute``, ``after_cursor_execute`` or ``handle_error``
listeners, or with echo on: a listener never misses a statement.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.util import await_only


class DirectResult:
    """What a statement run directly answered: its row count and its first row (if any)."""

    __slots__ = ("_row", "rowcount")

    lastrowid = None  # PostgreSQL answers keys with RETURNING

    def __init__(self, rowcount: int, row: tuple[Any, ...] | None) -> None:
        self.rowcount = rowcount
        self._row = row

    def fetchone(self) -> tuple[Any, ...] | None:
        return self._row


class DirectStatements:
    """Runs driver SQL on ``connection``'s psycopg ``AsyncConnection``, awaited in its greenlet."""

    __slots__ = ("_connection", "_cursor", "_driver")

    def __init__(self, connection: Connection) -> None:
        self._connection = connection
        self._driver: Any = connection.connection.driver_connection
        self._cursor: Any = None  # one cursor for the transaction's statements

    def run(self, sql: str, parameters: Mapping[str, Any] | Sequence[Any]) -> DirectResult:
        """Run ``sql`` with ``parameters`` (the dialect's style); its row count and first row."""
        try:
            return await_only(self._run(sql, parameters))
        except self._connection.dialect.loaded_dbapi.Error as error:
            # SQLAlchemy's own handling of a driver's error, as for any statement: wrapped in
            # its exception class, and on a lost connection this one invalidated and the
            # pool's older ones too (a server restart drops them all).  The one private call.
            self._connection._handle_dbapi_exception(error, sql, parameters, None, None)

    async def _run(self, sql: str, parameters: Any) -> DirectResult:
        cursor = self._cursor
        if cursor is None or cursor.closed:
            cursor = self._cursor = self._driver.cursor()
        await cursor.execute(sql, parameters)
        row = None if cursor.description is None else await cursor.fetchone()
        return DirectResult(cursor.rowcount, row)


def direct_statements(connection: Connection) -> DirectStatements | None:
    """A :class:`DirectStatements` for ``connection`` of an async psycopg engine, when nothing
    would miss the statements (no statement listeners, no echo); else ``None``."""
    if connection.dialect.driver != "psycopg" or not connection.dialect.is_async:
        return None
    dispatch = connection.dispatch
    if (
        dispatch.before_cursor_execute
        or dispatch.after_cursor_execute
        or connection.dialect.dispatch.handle_error
        or connection.engine.logger.isEnabledFor(logging.INFO)
    ):
        return None
    return DirectStatements(connection)
