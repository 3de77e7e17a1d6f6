"""Reading a record's row in a Django call: the key checked, the row locked ``SELECT ... FOR UPDATE``.

A record reference is a model instance or a ``(Model, primary key)`` pair,
as for the SQLAlchemy driver; a key that cannot name a row (``"abc"`` for an
integer key, ``3.5``, a number outside the column's range) is refused before
any query with :class:`~orderflow.errors.InvalidRecordKeyError`.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.db.backends.base.operations import BaseDatabaseOperations

from orderflow.django.statements import RecordStatements
from orderflow.errors import InvalidRecordKeyError, NotAWorkflowRecordError, RecordNotFoundError
from orderflow.service.rows import STATE_ATTRIBUTES

if TYPE_CHECKING:
    from orderflow.django.driver import DjangoCall

BASE = "orderflow.django.models.WorkflowModel"
_INTEGER_TEXT = re.compile(r"\s*[+-]?[0-9]{1,40}\s*", re.ASCII)


def record_type(model: type[Any]) -> str:
    """The record type the log, outbox and timers name a model's rows by: its table."""
    return str(model._meta.db_table)


def model_of(record: Any) -> type[Any]:
    return record[0] if isinstance(record, tuple) else type(record)


def checked_model(model: Any) -> type[Any]:
    from orderflow.django.models import WorkflowModel

    if not (isinstance(model, type) and issubclass(model, WorkflowModel)):
        raise NotAWorkflowRecordError(model if isinstance(model, type) else type(model), base=BASE)
    return model


def key_value(model: type[Any], key: Any) -> Any:
    """``key`` as a value of ``model``'s primary key, or :class:`InvalidRecordKeyError`."""
    field = model._meta.pk
    kind = field.get_internal_type()
    shown = str(key) if len(str(key)) <= 60 else str(key)[:57] + "..."
    bounds = BaseDatabaseOperations.integer_field_ranges.get(kind)
    if bounds is not None:  # the declared column's width, the same on every database
        if isinstance(key, bool) or not isinstance(key, int | str):
            raise InvalidRecordKeyError(record_type(model), shown, "int")
        if isinstance(key, str) and _INTEGER_TEXT.fullmatch(key) is None:
            raise InvalidRecordKeyError(record_type(model), shown, "int")
        number = int(key)
        low, high = bounds
        if not low <= number <= high:
            raise InvalidRecordKeyError(record_type(model), shown, f"integers from {low} to {high}")
        return number
    if key is None or isinstance(key, list | dict | tuple | bool):
        raise InvalidRecordKeyError(record_type(model), shown, kind)
    try:
        return field.to_python(key)
    except ValidationError:
        raise InvalidRecordKeyError(record_type(model), shown, kind) from None


def identity(record: Any) -> tuple[type[Any], Any]:
    """The model and primary key a reference names (an instance, or a ``(Model, key)`` pair)."""
    if isinstance(record, tuple):
        if len(record) != 2:
            raise TypeError(f"a record reference is (Model, primary key), not {record!r}")
        model = checked_model(record[0])
        return model, key_value(model, record[1])
    model = checked_model(type(record))
    if record.pk is None:
        raise TypeError(f"{model.__name__} has no primary key yet; save it first")
    return model, key_value(model, record.pk)


def state_fields(model: type[Any]) -> tuple[str, ...]:
    """The workflow fields ``model`` has (``status`` only when it was not set to None)."""
    names = {field.name for field in model._meta.concrete_fields}
    return tuple(name for name in STATE_ATTRIBUTES if name in names)


class DjangoRow:
    """A record's workflow fields as one call read them, and its model instance on demand."""

    __slots__ = (
        "_instance", "_using", "key", "model", "status", "workflow_context", "workflow_machine",
        "workflow_state", "workflow_version",
    )  # fmt: skip

    def __init__(
        self, using: str, model: type[Any], key: Any, values: dict[str, Any], instance: Any = None
    ) -> None:
        self._using = using
        self._instance = instance
        self.model = model
        self.key = key
        for name in STATE_ATTRIBUTES:
            setattr(self, name, values.get(name))

    def instance(self) -> Any:
        """The model instance of this row (loaded the first time; the row is locked already)."""
        if self._instance is None:
            found = self.model._base_manager.using(self._using).filter(pk=self.key).first()
            if found is None:  # pragma: no cover - the row is locked by this transaction
                raise RecordNotFoundError(record_type(self.model), str(self.key))
            self._instance = found
        return self._instance

    def written(self, values: dict[str, Any]) -> None:
        """What the call wrote to the row: here, and on the instance if it was loaded."""
        for name, value in values.items():
            setattr(self, name, value)
            if self._instance is not None:
                setattr(self._instance, name, value)


class DjangoRowReader:
    """Reads a record's row into a call: ``SELECT ... FOR UPDATE`` when it locks.

    Its statements are built once per model and database (:mod:`orderflow.django.statements`);
    the journal writes the same model's row through them.
    """

    def __init__(self) -> None:
        self._statements: dict[tuple[type[Any], str], RecordStatements] = {}

    def statements(self, model: type[Any], using: str) -> RecordStatements:
        found = self._statements.get((model, using))
        if found is None:
            found = self._statements[model, using] = RecordStatements(
                model, using, state_fields(model)
            )
        return found

    def load(
        self, call: DjangoCall, record: Any, *, lock: bool, insert: bool = False
    ) -> tuple[DjangoRow, Any]:
        """The record's row (a new instance saved first when ``insert``) and its key."""
        using = call.using
        if insert and not isinstance(record, tuple) and record._state.adding:
            model = checked_model(type(record))
            exists = record.pk is not None and (
                model._base_manager.using(using).filter(pk=record.pk).exists()
            )
            if not exists:
                record.save(using=using, force_insert=True)
                values = {name: getattr(record, name) for name in state_fields(model)}
                key = key_value(model, record.pk)
                return DjangoRow(using, model, key, values, record), key
        model, key = identity(record)
        found = self.statements(model, using).read(key, lock=lock)
        if found is None:
            raise RecordNotFoundError(record_type(model), str(key))
        return DjangoRow(using, model, key, found), key
