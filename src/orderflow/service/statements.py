"""A send's own statements, compiled once per database and run as the driver's SQL.

A send runs three statements: the locked read of the record's row, the
versioned update and the log insert.  Executing a Core statement costs
SQLAlchemy about as much Python as the rest of the step (a cache lookup for
its compiled form, an execution context, a result with its metadata), work
that does not change from one send to the next.  A :class:`Prepared`
statement does it once per dialect: the SQL text, the order of its
parameters and each parameter's and result column's type processor.  A send
then runs ``connection.exec_driver_sql``, so the connection's events
(``before_cursor_execute``, tracing), its echo and its exception wrapping
(``IntegrityError``) are those of any other statement.

A connection with a ``schema_translate_map`` runs the Core statement
itself: its SQL depends on the map.  A connection that carries
:class:`~orderflow.service.direct.DirectStatements` under the execution option
:data:`DIRECT` (on sqlite3, psycopg and asyncpg, when no statement listener or echo would
miss them) runs the prepared SQL on the driver's cursor through it rather than
through ``exec_driver_sql``.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.engine import Dialect

#: the execution option under which a connection carries its ``DirectStatements``
DIRECT = "orderflow_direct"


class _Form:
    """One statement as one dialect runs it."""

    __slots__ = ("names", "pick", "positional", "processors", "results", "sql")

    def __init__(self, statement: Any, columns: tuple[Any, ...], dialect: Dialect) -> None:
        compiled = statement.compile(dialect=dialect)
        if compiled.escaped_bind_names or getattr(compiled, "has_out_parameters", False):
            raise _Unpreparable
        self.sql: str = str(compiled)
        self.positional: bool = bool(dialect.positional)
        binds = compiled.binds
        self.names: tuple[str, ...] = (
            tuple(compiled.positiontup or ()) if self.positional else tuple(binds)
        )
        #: the values in the statement's order, as a tuple, whatever their number
        self.pick = _tuple_getter(self.names)
        #: (position, processor) of each parameter whose type converts it for the driver
        self.processors: tuple[tuple[int, Callable[[Any], Any]], ...] = tuple(
            (index, process)
            for index, name in enumerate(self.names)
            if (process := binds[name].type.dialect_impl(dialect).bind_processor(dialect))
        )
        self.results: tuple[tuple[int, Callable[[Any], Any]], ...] = tuple(
            (index, process)
            for index, column in enumerate(columns)
            if (process := column.type.dialect_impl(dialect).result_processor(dialect, None))
        )

    def parameters(self, values: Mapping[str, Any]) -> Any:
        picked = self.pick(values)
        if self.processors:
            ordered = list(picked)
            for index, process in self.processors:
                ordered[index] = process(ordered[index])
            picked = tuple(ordered)
        if self.positional:
            return picked
        return dict(zip(self.names, picked, strict=True))

    def row(self, raw: Any) -> tuple[Any, ...]:
        if not self.results:
            return tuple(raw)
        values = list(raw)
        for index, process in self.results:
            values[index] = process(values[index])
        return tuple(values)


def _tuple_getter(names: tuple[str, ...]) -> Callable[[Mapping[str, Any]], tuple[Any, ...]]:
    if not names:
        return lambda _values: ()
    if len(names) == 1:
        (name,) = names
        return lambda values: (values[name],)
    return operator.itemgetter(*names)


def _driver_sql(
    connection: Connection, options: Mapping[str, Any], sql: str, parameters: Any
) -> Any:
    """Run prepared ``sql``: the short way when the connection carries one, else as driver SQL."""
    direct = options.get(DIRECT)
    if direct is not None:
        return direct.run(sql, parameters)
    return connection.exec_driver_sql(sql, parameters)


class _Unpreparable(Exception):
    """The statement needs SQLAlchemy's own execution on this dialect (never leaves this module)."""


class Prepared:
    """A Core ``statement`` (bound parameters only) run as driver SQL, compiled once per dialect.

    ``columns`` are the columns its rows hold, for their types (a select's own by default).
    """

    __slots__ = ("_forms", "columns", "statement")

    def __init__(self, statement: Any, columns: tuple[Any, ...] | None = None) -> None:
        self.statement = statement
        self.columns = (
            tuple(getattr(statement, "selected_columns", ())) if columns is None else columns
        )
        self._forms: dict[Dialect, _Form | None] = {}

    def execute(self, connection: Connection, values: Mapping[str, Any]) -> Any:
        """Run the statement with ``values`` (by bind name) on ``connection``; its result
        (a ``CursorResult``, or a ``DirectResult``: ``rowcount``, ``lastrowid``, ``fetchone()``)."""
        options = connection.get_execution_options()
        form = self._form(connection, options)
        if form is None:
            return connection.execute(self.statement, dict(values))
        return _driver_sql(connection, options, form.sql, form.parameters(values))

    def one_or_none(
        self, connection: Connection, values: Mapping[str, Any]
    ) -> tuple[Any, ...] | None:
        """The statement's one row, its columns processed by their types (``None`` when none)."""
        options = connection.get_execution_options()
        form = self._form(connection, options)
        if form is None:
            found = connection.execute(self.statement, dict(values)).one_or_none()
            return None if found is None else tuple(found)
        raw = _driver_sql(connection, options, form.sql, form.parameters(values)).fetchone()
        return None if raw is None else form.row(raw)

    def _form(self, connection: Connection, options: Mapping[str, Any]) -> _Form | None:
        if options.get("schema_translate_map"):
            return None
        dialect = connection.dialect
        try:
            return self._forms[dialect]
        except KeyError:
            pass
        try:
            form: _Form | None = _Form(self.statement, self.columns, dialect)
        except _Unpreparable:
            form = None
        self._forms[dialect] = form
        return form


class PreparedInsert:
    """One row's ``INSERT`` that answers with the new row's key, the way the dialect does it best.

    Where the driver reports the key of the row it inserted (SQLite's ``lastrowid``) that
    is used; elsewhere the statement says ``RETURNING <key>``.
    """

    __slots__ = ("_plain", "_returning")

    def __init__(self, statement: Any, key: Any) -> None:
        self._plain = Prepared(statement, ())
        self._returning = Prepared(statement.returning(key), (key,))

    def inserted_key(self, connection: Connection, values: Mapping[str, Any]) -> Any:
        dialect = connection.dialect
        lastrowid = getattr(dialect, "postfetch_lastrowid", False)  # DefaultDialect's attribute
        if lastrowid and not dialect.favor_returning_over_lastrowid:
            return self._plain.execute(connection, values).lastrowid
        row = self._returning.one_or_none(connection, values)
        assert row is not None, "an INSERT ... RETURNING answered with no row"
        return row[0]
