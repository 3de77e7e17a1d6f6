"""Finding a record's row: its table name, key column, and the locked read of one send.

The statements are built once per model (a service keeps them in a
:class:`RowReader`); SQLAlchemy compiles a statement with bound parameters
once, so a send pays for neither the ORM's planning nor a new compile.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam, inspect, select
from sqlalchemy.orm import Session

from orderflow.errors import NotAWorkflowRecordError, OrderflowError, RecordNotFoundError
from orderflow.store import WorkflowRecord, record_identity

RecordRef = Any  # a mapped WorkflowRecord instance, or a (Model, primary key) pair


def table_name(model: type[Any]) -> str:
    """The record type the log, outbox and timers name a model's rows by."""
    return str(getattr(model, "__tablename__", model.__name__))


def model_of(record: RecordRef) -> type[Any]:
    return record[0] if isinstance(record, tuple) else type(record)


def key_column(model: type[Any]) -> Any:
    """The mapped primary-key attribute of ``model`` (looked up once per model)."""
    found = _KEY_COLUMNS.get(model)
    if found is None:
        (column,) = inspect(model).primary_key
        found = _KEY_COLUMNS[model] = getattr(
            model, inspect(model).get_property_by_column(column).key
        )
    return found


_KEY_COLUMNS: dict[type[Any], Any] = {}


def key_of(row: Any) -> Any:
    return getattr(row, key_column(type(row)).key)


def has_no_key(record: Any) -> bool:
    return any(k is None for k in inspect(type(record)).primary_key_from_instance(record))


def key_label(record: RecordRef) -> str:
    """The record id a bulk failure reports, even for a reference whose key is unusable."""
    if isinstance(record, tuple):
        return str(record[-1]) if record else "?"
    try:
        return str(record_identity(record)[1])
    except (OrderflowError, TypeError):
        return "?"


def current_version(session: Session, row: Any) -> int | None:
    """The version the row has in the database now (after a failed optimistic write)."""
    model = type(row)
    found = session.execute(
        select(model.workflow_version).where(key_column(model) == key_of(row))
    ).scalar_one_or_none()
    return None if found is None else int(found)


class RowReader:
    """Reads a record's row into a session, locked or not, with statements built once."""

    def __init__(self) -> None:
        self._queries: dict[tuple[type[Any], bool, bool], Any] = {}

    def load(
        self, session: Session, record: RecordRef, *, lock: bool, insert: bool = False
    ) -> tuple[Any, Any]:
        """The record's row in ``session`` (inserted first when ``insert`` and new) and its key."""
        if insert and not isinstance(record, tuple) and has_no_key(record):
            session.add(record)
            session.flush()
            return record, record_identity(record)[1]
        model, key = record_identity(record)
        row = session.execute(self._query(session, model, lock), {"record_key": key})
        found = row.scalar_one_or_none()
        if found is None:
            if insert and not isinstance(record, tuple):
                session.add(record)
                session.flush()
                return record, key
            raise RecordNotFoundError(table_name(model), str(key))
        if not isinstance(found, WorkflowRecord):
            raise NotAWorkflowRecordError(model)
        return found, key

    def _query(self, session: Session, model: type[Any], lock: bool) -> Any:
        # a session that holds no instance yet (every send's own) needs no refresh of one
        refresh = bool(session.identity_map)
        query = self._queries.get((model, lock, refresh))
        if query is None:
            query = self._queries[model, lock, refresh] = row_query(model, lock, refresh)
        return query


def row_query(model: type[Any], lock: bool, refresh: bool) -> Any:
    """``SELECT <model> WHERE <key> = :record_key`` (``FOR UPDATE`` when ``lock``).

    With ``refresh``, ``populate_existing`` overwrites an instance the session
    already holds with the row as read now (a session that holds none does
    not pay for it).
    """
    query = select(model).where(key_column(model) == bindparam("record_key"))
    if lock:
        query = query.with_for_update()
    return query.execution_options(populate_existing=True) if refresh else query
