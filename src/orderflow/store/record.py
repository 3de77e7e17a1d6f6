"""The ``WorkflowRecord`` mixin: a snapshot in two columns, and the way back and forth.

``workflow_state`` holds the snapshot without its context (value, status,
history, pending timers, machine id and definition version);
``workflow_context`` holds the context; ``workflow_version`` counts the
writes, so a write can check nobody moved the record since it was read.
A legacy ``status`` column follows the state through the model's declared
``__workflow_status__`` mapping, so readers that predate the workflow keep
working.

:func:`rehydrate` goes through ``machine.resolve_snapshot``: a tampered or
stale ``workflow_state`` raises :class:`~orderflow.errors.InvalidSnapshotError`,
it is never reinterpreted.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, ClassVar

import sqlalchemy as sa
from sqlalchemy import Integer, String, inspect
from sqlalchemy.orm import Mapped, mapped_column

from orderflow.chart import Machine, Snapshot
from orderflow.errors import InvalidRecordKeyError, InvalidSnapshotError
from orderflow.store.base import NullableJSONDocument


class WorkflowRecord:
    """Mix into any SQLAlchemy 2 declarative model whose rows a machine moves.

        class Invoice(Base, WorkflowRecord):
            __tablename__ = "invoices"
            __workflow_status__ = {"draft": "draft", "sent": "open", "paid": "closed"}
            id: Mapped[int] = mapped_column(primary_key=True)

    ``__workflow_status__`` maps a state (a dotted path such as
    ``"sale.awaiting_payment"``, matched as ``snapshot.matches`` does) to the
    legacy ``status`` value; the most specific matching path wins.  A state
    the mapping does not cover leaves ``status`` as it was.  With no mapping
    at all, ``status`` is the dotted path of the state (for a non-parallel
    state value).

    The columns may have any database names: redeclare an attribute with
    its own name (``workflow_state: Mapped[dict | None] =
    mapped_column("workflowState", NullableJSONDocument)``); orderflow finds
    every column through the mapping.  A model without a legacy status sets
    ``status = None`` in its class body: it then has no such column, and
    ``workflow_enabled=False`` has nothing to fall back to (the service says so).
    """

    __workflow_status__: ClassVar[Mapping[str, str]] = {}

    workflow_machine: Mapped[str | None] = mapped_column(String(100), default=None)
    workflow_state: Mapped[dict[str, Any] | None] = mapped_column(
        NullableJSONDocument, default=None
    )
    workflow_context: Mapped[Any] = mapped_column(NullableJSONDocument, default=None, nullable=True)
    workflow_version: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    status: Mapped[str | None] = mapped_column(String(64), default=None, index=True)


def snapshot_data(record: WorkflowRecord) -> dict[str, Any]:
    """The record's persisted snapshot as one dict (what ``snapshot.to_json()`` gave)."""
    state = record.workflow_state
    if state is None:
        raise InvalidSnapshotError(
            f"{record_label(record)} has no workflow_state; start its workflow first",
            "$.workflow_state",
        )
    if not isinstance(state, Mapping):
        raise InvalidSnapshotError(
            f"workflow_state of {record_label(record)} must be a JSON object, "
            f"not {type(state).__name__}",
            "$.workflow_state",
        )
    if "context" in state:
        raise InvalidSnapshotError(
            "workflow_state must not carry the context; it lives in workflow_context",
            "$.workflow_state.context",
        )
    return {**state, "context": record.workflow_context}


def rehydrate(machine: Machine, record: WorkflowRecord) -> Snapshot:
    """The record's snapshot, validated against ``machine``; :class:`InvalidSnapshotError` if it does not fit."""
    return machine.resolve_snapshot(snapshot_data(record))


def has_legacy_status(model: type[Any]) -> bool:
    """Does ``model`` map a legacy ``status`` column (one that set ``status = None`` does not)?"""
    found = _HAS_STATUS.get(model)
    if found is None:
        mapper = inspect(model, raiseerr=False)
        if mapper is not None:
            found = "status" in mapper.attrs
        else:  # a model of another ORM (Django's): a ``status`` field, unless set to None
            found = getattr(model, "status", None) is not None
        _HAS_STATUS[model] = found
    return found


_HAS_STATUS: dict[type[Any], bool] = {}


def state_columns(snapshot: Snapshot, model: type[WorkflowRecord]) -> dict[str, Any]:
    """The attribute values that store ``snapshot`` on a row of ``model`` (``workflow_version`` excluded).

    Keyed by attribute name (``workflow_state``), whatever the column is called in the database.
    """
    data = snapshot.to_json()
    context = data.pop("context")
    columns: dict[str, Any] = {
        "workflow_machine": data["machine"],
        "workflow_state": data,
        "workflow_context": context,
    }
    status = legacy_status(model, snapshot) if has_legacy_status(model) else None
    if status is not None:
        columns["status"] = status
    return columns


def persist(snapshot: Snapshot, record: WorkflowRecord) -> None:
    """Write ``snapshot`` onto ``record`` and bump ``workflow_version``; the caller's session flushes it.

    :class:`~orderflow.service.WorkflowService` does this itself, with the
    version check, the log row and the outbox in one transaction; use
    ``persist`` for records you move by hand.
    """
    for name, value in state_columns(snapshot, type(record)).items():
        setattr(record, name, value)
    record.workflow_version = (record.workflow_version or 0) + 1


def legacy_status(model: type[WorkflowRecord], snapshot: Snapshot) -> str | None:
    """The ``status`` value ``snapshot`` maps to on ``model``, or ``None`` to leave it unchanged.

    Worked out once per model, mapping and configuration (the state value is the
    configuration's), as every persisted move asks it.
    """
    mapping = model.__workflow_status__
    configuration = snapshot.configuration
    if not configuration:  # a snapshot made by hand: its value alone says
        return _legacy_status(mapping, snapshot)
    key = (model, configuration)
    found = _LEGACY_STATUS.get(key)
    if found is None or found[0] is not mapping:
        if len(_LEGACY_STATUS) >= 4096:  # machines made and dropped by the thousand (tests)
            _LEGACY_STATUS.clear()
        found = _LEGACY_STATUS[key] = (mapping, _legacy_status(mapping, snapshot))
    return found[1]


#: (model, configuration) -> (the model's status mapping, the status it gives)
_LEGACY_STATUS: dict[tuple[type[Any], frozenset[Any]], tuple[Mapping[str, str], str | None]] = {}


def _legacy_status(mapping: Mapping[str, str], snapshot: Snapshot) -> str | None:
    if not mapping:
        return dotted_path(snapshot.value)
    best: tuple[int, str] | None = None
    for path, status in mapping.items():
        if snapshot.matches(path):
            depth = path.count(".")
            if best is None or depth > best[0]:
                best = (depth, status)
    return None if best is None else best[1]


def status_for_state(model: type[WorkflowRecord], state: str) -> str:
    """The legacy status a state path maps to (the path itself when the mapping is silent)."""
    mapping = model.__workflow_status__
    if state in mapping:
        return mapping[state]
    for path in sorted(mapping, key=lambda p: -p.count(".")):
        if state.startswith(path + "."):
            return mapping[path]
    return state


def dotted_path(value: Any) -> str | None:
    """``{"a": {"b": "c"}}`` -> ``"a.b.c"``; ``None`` for a parallel value."""
    parts: list[str] = []
    while isinstance(value, Mapping):
        if len(value) != 1:
            return None
        ((key, value),) = value.items()
        parts.append(key)
    if isinstance(value, str):
        parts.append(value)
    return ".".join(parts) or None


def record_identity(record: object) -> tuple[type[Any], Any]:
    """The mapped class and the primary key of ``record`` (an instance or a ``(Model, pk)`` pair).

    Either key goes through :func:`primary_key_value`, so ``(Ticket, "12")``
    names the same row as ``(Ticket, 12)``, and ``(Ticket, "abc")`` or an
    instance whose key is ``"abc"`` is refused before any query.
    """
    if isinstance(record, tuple):
        if len(record) != 2:
            raise TypeError(f"a record reference is (Model, primary key), not {record!r}")
        model, key = record
        return model, primary_key_value(model, key)
    mapper = inspect(type(record))
    keys = mapper.primary_key_from_instance(record)
    if len(keys) != 1:
        raise TypeError(
            f"{type(record).__name__} needs a single-column primary key to be moved by the service"
        )
    if keys[0] is None:
        raise TypeError(f"{type(record).__name__} has no primary key yet; flush it first")
    return type(record), primary_key_value(type(record), keys[0])


def primary_key_value(model: type[Any], key: Any) -> Any:
    """``key`` as a value of ``model``'s single-column primary key, or :class:`InvalidRecordKeyError`.

    A key of the column's own type is kept; text that spells one (``"12"``
    for an integer key, a UUID's text for a UUID key) is converted, and so
    is an integer for a text key.  Anything else (``"abc"`` or ``3.5`` for
    an integer key, ``None``, a list) cannot name a row, and is said so
    before any query, the same on every engine.  So is an integer outside
    the column's range (SQL's: 16 bits for ``SmallInteger``, 32 for
    ``Integer``, 64 for ``BigInteger``), which PostgreSQL would refuse with a
    ``DataError`` and SQLite with an ``OverflowError``; the width is the
    column's declared type, not the engine's, so a key is refused or taken
    alike on every engine.  Types without a Python equivalent pass through
    to the database.
    """
    found = _KEY_TYPES.get(model)
    if found is None:
        found = _KEY_TYPES[model] = _key_type(model)
    python_type, bits = found
    if python_type is object:
        return key
    if isinstance(key, python_type) and not (isinstance(key, bool) and python_type is not bool):
        converted: Any = key
    else:
        converted = _converted(python_type, key)
        if converted is _UNCONVERTED:
            return key
    expected = python_type.__name__
    if converted is not None and bits is not None:
        low, high = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
        if not low <= converted <= high:
            converted, expected = None, f"integers from {low} to {high}"
    if converted is None:
        table = str(getattr(model, "__tablename__", model.__name__))
        raise InvalidRecordKeyError(table, _shown(key), expected)
    return converted


def _converted(python_type: type[Any], key: Any) -> Any:
    """``key`` converted to ``python_type``; None if it cannot be, ``_UNCONVERTED`` to pass it on."""
    converted: Any = None
    if python_type is int and isinstance(key, str):
        converted = _integer(key)
    elif python_type is str and isinstance(key, int) and not isinstance(key, bool):
        converted = str(key)
    elif isinstance(key, str) and python_type not in (int, str, bool):
        try:
            converted = python_type(key)
        except TypeError:  # a type not built from text (a date): the database reads the text
            return _UNCONVERTED
        except (ValueError, ArithmeticError):
            converted = None
    return converted


def _integer(text: str) -> int | None:
    """The integer ``text`` spells in ASCII digits (an optional sign, blanks around), else None.

    ``str.isdigit`` would take ``"²"``, which ``int`` refuses, and ``int``
    refuses text of more than 4,300 digits: neither may escape as a
    ``ValueError``.  Forty digits are more than any SQL integer column holds,
    so a longer number is kept as one that is out of every column's range.
    """
    found = _INTEGER_TEXT.fullmatch(text)
    if found is None:
        return None
    sign, digits = found.groups()
    digits = digits.lstrip("0") or "0"
    if len(digits) > 40:
        return -(10**40) if sign == "-" else 10**40
    return int(sign + digits)


def _shown(key: Any) -> str:
    """A key as an error message shows it: long ones cut short."""
    text = str(key)
    return text if len(text) <= 60 else text[:57] + "..."


#: what ``_converted`` answers for a key the database should read as it is
_UNCONVERTED = object()
#: an integer as text: an optional sign and ASCII digits, blanks around
_INTEGER_TEXT = re.compile(r"\s*([+-]?)([0-9]+)\s*", re.ASCII)
#: the signed width of SQL's integer types, by SQLAlchemy type
_INTEGER_BITS = ((sa.SmallInteger, 16), (sa.BigInteger, 64), (sa.Integer, 32))


def _key_type(model: type[Any]) -> tuple[type[Any], int | None]:
    """The Python type of ``model``'s single primary-key column (``object``: no Python
    equivalent), and its width in bits when it is an integer type."""
    mapper = inspect(model, raiseerr=False)
    if mapper is None or not hasattr(mapper, "primary_key"):
        raise TypeError(f"{model!r} is not a mapped SQLAlchemy model")
    if len(mapper.primary_key) != 1:
        raise TypeError(
            f"{model.__name__} needs a single-column primary key to be moved by the service"
        )
    column_type = mapper.primary_key[0].type
    bits = next((b for kind, b in _INTEGER_BITS if isinstance(column_type, kind)), None)
    try:
        return column_type.python_type, bits
    except NotImplementedError:
        return object, None


_KEY_TYPES: dict[type[Any], tuple[type[Any], int | None]] = {}


def record_label(record: object) -> str:
    model, key = getattr(record, "model", None), getattr(record, "key", None)
    if isinstance(model, type) and key is not None:  # a view of a row (the service's LoadedRow)
        return f"{getattr(model, '__tablename__', model.__name__)} {key!r}"
    table = getattr(type(record), "__tablename__", type(record).__name__)
    try:
        keys = inspect(type(record)).primary_key_from_instance(record)
    except Exception:  # an unmapped object: its class name is enough for a message
        return str(table)
    return f"{table} {keys[0]!r}" if len(keys) == 1 else str(table)
