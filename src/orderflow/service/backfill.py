"""Backfill: move records that only have a legacy ``status`` into their workflow.

A team adopting orderflow has rows written before it: a ``status`` column
and no ``workflow_state``.  A :class:`StatusMapping` says, per legacy
status, which state of which machine such a record is in and what its
context is; :func:`backfill` puts every such record there through
:meth:`WorkflowService.adopt`, one transaction per record, each with a log
row whose event is ``orderflow.backfill``.

    mapping = StatusMapping.model_validate_json(Path("sale-statuses.json").read_text())
    report = backfill(service, SaleOrder, mapping, dry_run=True)

The mapping as JSON (what ``orderflow backfill --mapping FILE`` reads)::

    {
      "machine": "sale",
      "statuses": {
        "pending": {
          "state": "awaiting_payment_method",
          "context": {"sale_id": "$reference", "customer_id": "$customer_id",
                      "currency": "$currency", "lines": [], "total": "$total"}
        },
        "paid": {"state": "cleared", "context": {...}}
      }
    }

A context value that is exactly ``"$<column>"`` takes that column of the
record (decimals and dates as JSON strings); ``"$$..."`` is a literal
string starting with ``$``.  Every value is validated against the
machine's context model before anything is written.

Running it twice changes nothing the second time: a record whose workflow
has started is skipped, and each adoption happens under the record's row
lock, so two backfills racing adopt each record once.  A record whose
status has no mapping, or whose mapped context fails validation, is
reported with its reason and left as it was.

The loop (:func:`adopt_all`) is the same for every driver; a driver supplies
only the reads (:class:`LegacyRecords`): the pending keys, and a record's
status and columns.  ``orderflow.django.backfill`` is Django's.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import inspect, select
from sqlalchemy.exc import IntegrityError

from orderflow.errors import ConfigurationError, OrderflowError
from orderflow.service.results import ALREADY_STARTED, Principal, TransitionResult
from orderflow.service.workflow import WorkflowService
from orderflow.store import has_legacy_status

BACKFILL_ACTOR = Principal("orderflow.backfill", "backfill")


class StatusTarget(BaseModel):
    """Where a record with one legacy status is: a state value and the context it holds there."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    state: str | dict[str, Any]
    context: dict[str, Any] = Field(default_factory=dict)


class StatusMapping(BaseModel):
    """Legacy status -> state and context, for the records of one machine."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    machine: str = Field(min_length=1)
    statuses: dict[str, StatusTarget] = Field(min_length=1)

    def target(self, status: str | None) -> StatusTarget | None:
        return None if status is None else self.statuses.get(status)


@dataclass(frozen=True)
class BackfillFailure:
    record_id: str
    status: str | None
    reason: str


@dataclass(frozen=True)
class BackfillReport:
    """What a backfill did: records adopted (per legacy status), skipped, and failed with reasons."""

    adopted: dict[str, int]
    skipped: int
    failures: tuple[BackfillFailure, ...]
    dry_run: bool

    @property
    def adopted_total(self) -> int:
        return sum(self.adopted.values())

    @property
    def failed(self) -> int:
        return len(self.failures)


class LegacyRecords(Protocol):
    """What a driver tells the backfill loop about one model's rows (SQLAlchemy's below, Django's
    in ``orderflow.django.backfill``): the only part of a backfill that reads the database."""

    #: how messages name the records (the table, or the Django record type)
    table: str
    #: what an adoption may raise for one record and the loop reports (a unique link, say)
    errors: tuple[type[Exception], ...]

    def pending_keys(self) -> list[Any]:
        """The keys of the records that have no workflow state yet, in key order."""
        ...

    def read(self, key: Any) -> tuple[str | None, dict[str, Any]] | None:
        """The record's legacy status and its columns by attribute name; None when it is gone."""
        ...


class _SqlRecords:
    """:class:`LegacyRecords` of a SQLAlchemy model, read through the service's sessions."""

    errors: tuple[type[Exception], ...] = (IntegrityError,)

    def __init__(self, service: WorkflowService, model: type[Any]) -> None:
        self.service, self.model, self.table = service, model, model.__tablename__

    def pending_keys(self) -> list[Any]:
        return pending_records(self.service, self.model)

    def read(self, key: Any) -> tuple[str | None, dict[str, Any]] | None:
        with self.service.session_factory() as session:
            record = session.get(self.model, key)
            if record is None:
                return None
            mapper = inspect(self.model)
            return record.status, {c.key: getattr(record, c.key) for c in mapper.column_attrs}


def pending_records(service: WorkflowService, model: type[Any]) -> list[Any]:
    """The keys of ``model``'s records that have no workflow state yet, in key order."""
    (key,) = inspect(model).primary_key
    with service.session_factory() as session:
        return list(
            session.scalars(select(key).where(model.workflow_state.is_(None)).order_by(key))
        )


def backfill(
    service: WorkflowService,
    model: type[Any],
    mapping: StatusMapping,
    *,
    dry_run: bool = False,
    actor: Principal = BACKFILL_ACTOR,
    note: str = "backfill from the legacy status",
    progress: Callable[[int, int], None] | None = None,
) -> BackfillReport:
    """Adopt every record of ``model`` without a workflow state (see the module doc).

    ``progress(done, total)`` is called after each record.  A dry run
    validates every adoption and writes nothing.
    """
    return adopt_all(
        service, model, mapping, _SqlRecords(service, model),
        dry_run=dry_run, actor=actor, note=note, progress=progress,
    )  # fmt: skip


def adopt_all(
    service: Any,
    model: type[Any],
    mapping: StatusMapping,
    records: LegacyRecords,
    *,
    dry_run: bool = False,
    actor: Principal = BACKFILL_ACTOR,
    note: str = "backfill from the legacy status",
    progress: Callable[[int, int], None] | None = None,
) -> BackfillReport:
    """The backfill loop of every driver: ``service.adopt`` each pending record of ``records``."""
    _check(service, model, mapping)
    keys = records.pending_keys()
    adopted: dict[str, int] = {}
    skipped = 0
    failures: list[BackfillFailure] = []
    for done, key in enumerate(keys, start=1):
        status, result = _adopt_one(service, model, mapping, records, key,
                                    dry_run=dry_run, actor=actor, note=note)  # fmt: skip
        if isinstance(result, str):
            failures.append(BackfillFailure(str(key), status, result))
        elif result.success:
            adopted[str(status)] = adopted.get(str(status), 0) + 1
        elif result.refusal is not None and result.refusal.kind == ALREADY_STARTED:
            skipped += 1  # started since we listed it (another backfill, a start())
        else:  # refused: the workflow is disabled, say
            failures.append(BackfillFailure(str(key), status, result.reason or "refused"))
        if progress is not None:
            progress(done, len(keys))
    return BackfillReport(adopted, skipped, tuple(failures), dry_run)


def _check(service: Any, model: type[Any], mapping: StatusMapping) -> None:
    """Refuse up front what no record could get through: no legacy status, an unknown machine."""
    if not has_legacy_status(model):
        raise ConfigurationError(
            f"{getattr(model, '__tablename__', model.__name__)} has no legacy status column, and "
            "a backfill adopts records by their legacy status: start its records with "
            "service.start, or adopt each with service.adopt(record, state, context)",
            setting="model",
        )
    if mapping.machine not in service.machines:
        raise OrderflowError(
            f"the mapping is for machine '{mapping.machine}', which this service does not have "
            f"(it has {sorted(service.machines)})"
        )


def _adopt_one(
    service: Any,
    model: type[Any],
    mapping: StatusMapping,
    records: LegacyRecords,
    key: Any,
    **options: Any,
) -> tuple[str | None, TransitionResult | str]:
    """One record's legacy status and its adoption's result, or why it could not be adopted."""
    read = records.read(key)
    if read is None:
        return None, f"{records.table} {key!r} is gone"
    status, columns = read
    target = mapping.target(status)
    if target is None:
        known = sorted(mapping.statuses)
        return status, f"no mapping for legacy status {status!r} (the mapping knows {known})"
    reported: tuple[type[Exception], ...] = (OrderflowError, *records.errors)
    try:
        context = resolve_columns(target.context, columns)
        return status, service.adopt(
            (model, key), target.state, context, machine=mapping.machine,
            legacy_status=status, **options,
        )  # fmt: skip
    except reported as exc:
        return status, str(exc)


def resolve_columns(value: Any, columns: Mapping[str, Any]) -> Any:
    """``"$column"`` -> that column's value (as JSON); ``"$$x"`` -> ``"$x"``; containers walked."""
    if isinstance(value, str) and value.startswith("$"):
        if value.startswith("$$"):
            return value[1:]
        name = value[1:]
        if name not in columns:
            raise OrderflowError(
                f"the mapping reads column '{name}', which the record does not have "
                f"(it has {sorted(columns)})"
            )
        return _json(columns[name])
    if isinstance(value, dict):
        return {key: resolve_columns(item, columns) for key, item in value.items()}
    if isinstance(value, list):
        return [resolve_columns(item, columns) for item in value]
    return value


def _json(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value
