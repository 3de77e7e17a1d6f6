"""The driver's per-step SQL, built once per model and database: a locked read, a versioned update, a log insert.

A send is three statements; building each through the ORM (a queryset,
its compiler, a model instance for the log row) costs more Python than the
rest of the step.  These are the same statements, written once per model
and database alias from the model's own metadata (its table, its columns,
whatever they are called), with every value prepared by its field
(``get_db_prep_save``) and every JSON column read back through the field
(``from_db_value``), so they mean exactly what the ORM would have sent.
A database without ``SELECT ... FOR UPDATE`` (SQLite) gets the plain read:
there, ``transaction_mode: IMMEDIATE`` takes the write lock at BEGIN.
"""

from __future__ import annotations

from typing import Any

from django.db import connections
from django.db.models import JSONField


class RecordStatements:
    """The read and the versioned update of one model's workflow fields, on one database."""

    def __init__(self, model: type[Any], using: str, names: tuple[str, ...]) -> None:
        connection = connections[using]
        quote = connection.ops.quote_name
        self.using = using
        self.fields = {name: model._meta.get_field(name) for name in names}
        self.names = names
        self.table = quote(model._meta.db_table)
        self.key = quote(model._meta.pk.column)
        self.key_field = model._meta.pk
        columns = ", ".join(quote(field.column) for field in self.fields.values())
        read = f"SELECT {columns} FROM {self.table} WHERE {self.key} = %s"
        self.read_sql = read
        self.locked_sql = read + (
            " FOR UPDATE" if connection.features.has_select_for_update else ""
        )
        self.json = tuple(isinstance(field, JSONField) for field in self.fields.values())
        self._updates: dict[tuple[str, ...], str] = {}
        self._moves: dict[tuple[str, ...], str] = {}

    def read(self, key: Any, *, lock: bool) -> dict[str, Any] | None:
        connection = connections[self.using]
        with connection.cursor() as cursor:
            cursor.execute(self.locked_sql if lock else self.read_sql, [self._key(key)])
            found = cursor.fetchone()
        if found is None:
            return None
        values: dict[str, Any] = {}
        for (name, field), is_json, value in zip(
            self.fields.items(), self.json, found, strict=True
        ):
            values[name] = field.from_db_value(value, None, connection) if is_json else value
        return values

    def update(self, key: Any, values: dict[str, Any], read: int) -> int:
        """``UPDATE ... SET <values> WHERE <key> AND workflow_version = <read>``; rows written."""
        connection = connections[self.using]
        with connection.cursor() as cursor:
            cursor.execute(self._update_sql(tuple(values)), self._update_params(key, values, read))
            return int(cursor.rowcount)

    def move(self, key: Any, values: dict[str, Any], read: int, log: LogInsert,
             entry: dict[str, Any]) -> int | None:  # fmt: skip
        """The versioned update and one log row in one statement (PostgreSQL); None when stale.

        ``WITH moved AS (UPDATE ... RETURNING 1) INSERT ... SELECT ... FROM moved``: one
        round trip less than :meth:`update` then :meth:`LogInsert.insert`, and no log row
        when the version check fails.
        """
        names = tuple(values)
        sql = self._moves.get(names)
        if sql is None:
            sql = self._moves[names] = (
                f"WITH moved AS ({self._update_sql(names)} RETURNING 1) "
                f"{log.into} SELECT {log.marks} FROM moved RETURNING {log.key}"
            )
        params = [*self._update_params(key, values, read), *log.params(entry)]
        with connections[self.using].cursor() as cursor:
            cursor.execute(sql, params)
            found = cursor.fetchone()
        return None if found is None else int(found[0])

    def _update_sql(self, names: tuple[str, ...]) -> str:
        sql = self._updates.get(names)
        if sql is None:
            quote = connections[self.using].ops.quote_name
            sets = ", ".join(f"{quote(self.fields[name].column)} = %s" for name in names)
            version = quote(self.fields["workflow_version"].column)
            sql = self._updates[names] = (
                f"UPDATE {self.table} SET {sets} WHERE {self.key} = %s AND {version} = %s"
            )
        return sql

    def _update_params(self, key: Any, values: dict[str, Any], read: int) -> list[Any]:
        connection = connections[self.using]
        params = [self.fields[n].get_db_prep_save(values[n], connection) for n in values]
        return [*params, self._key(key), read]

    def _key(self, key: Any) -> Any:
        return self.key_field.get_db_prep_value(key, connections[self.using])


class LogInsert:
    """``INSERT INTO workflow_transition_log ... RETURNING id`` on one database."""

    def __init__(self, using: str) -> None:
        from orderflow.django.models import TransitionLog

        connection = connections[using]
        quote = connection.ops.quote_name
        self.using = using
        self.fields = [f for f in TransitionLog._meta.concrete_fields if not f.primary_key]
        self.returns = bool(connection.features.can_return_columns_from_insert)
        columns = ", ".join(quote(field.column) for field in self.fields)
        self.marks = ", ".join(["%s"] * len(self.fields))
        self.into = f"INSERT INTO {quote(TransitionLog._meta.db_table)} ({columns})"
        self.key = quote(TransitionLog._meta.pk.column)
        self.sql = f"{self.into} VALUES ({self.marks})"
        if self.returns:
            self.sql += f" RETURNING {self.key}"

    def params(self, values: dict[str, Any]) -> list[Any]:
        connection = connections[self.using]
        return [field.get_db_prep_save(values[field.attname], connection) for field in self.fields]

    def insert(self, values: dict[str, Any]) -> int:
        connection = connections[self.using]
        params = self.params(values)
        with connection.cursor() as cursor:
            cursor.execute(self.sql, params)
            if self.returns:
                return int(cursor.fetchone()[0])
            return int(connection.ops.last_insert_id(cursor, "workflow_transition_log", "id"))
