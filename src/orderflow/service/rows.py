"""Finding a record's row: its table name, key column, and the locked read of one send.

The statements are built once per model (a service keeps them in a
:class:`RowReader`) and run as prepared driver SQL
(:mod:`orderflow.service.statements`), so a send pays for neither the ORM's
planning nor Core's per-statement work.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, bindparam, inspect, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from orderflow.errors import NotAWorkflowRecordError, OrderflowError, RecordNotFoundError
from orderflow.service.statements import Prepared
from orderflow.store import WorkflowRecord, record_identity

if TYPE_CHECKING:
    from orderflow.service.drivers import Unit

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


def identity(row: Any) -> tuple[type[Any], Any]:
    """A row's model and key: a :class:`LoadedRow`'s, or a mapped instance's."""
    if isinstance(row, LoadedRow):
        return row.model, row.key
    return type(row), key_of(row)


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


def current_version(where: Session | Connection, model: type[Any], key: Any) -> int | None:
    """The version the row has in the database now (after a failed optimistic write)."""
    found = where.execute(
        select(model.workflow_version).where(key_column(model) == key)
    ).scalar_one_or_none()
    return None if found is None else int(found)


#: the columns of ``WorkflowRecord`` a call reads and writes, by attribute name
STATE_ATTRIBUTES = (
    "workflow_machine", "workflow_state", "workflow_context", "workflow_version", "status",
)  # fmt: skip


class LoadedRow:
    """A record's workflow columns as one call read them (with Core), and its ORM instance on demand.

    Most sends never need the mapped instance: only an effect handler, a
    finish hook or a port reads it.  :meth:`instance` loads it then (the row
    is already locked by this transaction) and keeps it in step with what
    the call writes.
    """

    __slots__ = (
        "_instance", "_unit", "key", "model", "status", "workflow_context",
        "workflow_machine", "workflow_state", "workflow_version",
    )  # fmt: skip

    model: type[Any]
    key: Any
    workflow_machine: str | None
    workflow_state: dict[str, Any] | None
    workflow_context: Any
    workflow_version: int
    status: str | None

    def __init__(self, unit: Unit, model: type[Any], key: Any, values: Mapping[str, Any]) -> None:
        self._unit = unit
        self._instance: Any = None
        self.model = model
        self.key = key
        self.workflow_machine = values.get("workflow_machine")
        self.workflow_state = values.get("workflow_state")
        self.workflow_context = values.get("workflow_context")
        self.workflow_version = values.get("workflow_version")  # type: ignore[assignment]
        self.status = values.get("status")  # None: a model without a legacy status

    @classmethod
    def of(cls, unit: Unit, instance: Any, key: Any) -> LoadedRow:
        """The row of an instance the session holds already (a record a start inserted)."""
        values = {name: getattr(instance, name, None) for name in STATE_ATTRIBUTES}
        row = cls(unit, type(instance), key, values)
        row._instance = instance
        return row

    def instance(self) -> Any:
        """The mapped instance of this row in the call's session (loaded the first time)."""
        if self._instance is None:
            found = self._unit.session.get(self.model, self.key, populate_existing=True)
            if found is None:  # pragma: no cover - the row is locked by this transaction
                raise RecordNotFoundError(table_name(self.model), str(self.key))
            self._instance = found
        return self._instance

    def written(self, values: dict[str, Any]) -> None:
        """What the call wrote to the row: here, and on the instance if it was loaded."""
        for name, value in values.items():
            setattr(self, name, value)
            if self._instance is not None:
                set_committed_value(self._instance, name, value)


class RowReader:
    """Reads a record's row into a call, locked or not, with statements built once per model."""

    def __init__(self) -> None:
        self._queries: dict[tuple[type[Any], bool], tuple[Prepared, tuple[str, ...]]] = {}

    def load(
        self, unit: Unit, record: RecordRef, *, lock: bool, insert: bool = False
    ) -> tuple[LoadedRow, Any]:
        """The record's row (inserted first when ``insert`` and new) and its key."""
        if insert and not isinstance(record, tuple) and has_no_key(record):
            return self._inserted(unit, record, None)
        model, key = record_identity(record)
        if not issubclass(model, WorkflowRecord):
            raise NotAWorkflowRecordError(model)
        found = self._queries.get((model, lock))
        if found is None:
            query = columns_query(model, lock)
            found = self._queries[model, lock] = (
                Prepared(query),
                tuple(query.selected_columns.keys()),
            )
        query, names = found
        values = query.one_or_none(unit.connection, {"record_key": key})
        if values is None:
            if insert and not isinstance(record, tuple):
                return self._inserted(unit, record, key)
            raise RecordNotFoundError(table_name(model), str(key))
        return LoadedRow(unit, model, key, dict(zip(names, values, strict=True))), key

    @staticmethod
    def _inserted(unit: Unit, record: Any, key: Any) -> tuple[LoadedRow, Any]:
        if not isinstance(record, WorkflowRecord):
            raise NotAWorkflowRecordError(type(record))
        unit.session.add(record)
        unit.session.flush()
        key = record_identity(record)[1] if key is None else key
        return LoadedRow.of(unit, record, key), key


def columns_query(model: type[Any], lock: bool) -> Any:
    """``SELECT <workflow columns> WHERE <key> = :record_key`` (``FOR UPDATE`` when ``lock``)."""
    mapper = inspect(model)
    columns = [
        mapper.attrs[name].columns[0].label(name)
        for name in STATE_ATTRIBUTES
        if name in mapper.attrs
    ]
    (key,) = mapper.local_table.primary_key.columns
    query = select(*columns).where(key == bindparam("record_key"))
    return query.with_for_update() if lock else query
