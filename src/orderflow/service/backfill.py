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
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

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
    if not has_legacy_status(model):
        raise ConfigurationError(
            f"{model.__tablename__} has no legacy status column, and a backfill adopts records "
            "by their legacy status: start its records with service.start, or adopt each with "
            "service.adopt(record, state, context)",
            setting="model",
        )
    if mapping.machine not in service.machines:
        raise OrderflowError(
            f"the mapping is for machine '{mapping.machine}', which this service does not have "
            f"(it has {sorted(service.machines)})"
        )
    keys = pending_records(service, model)
    adopted: dict[str, int] = {}
    skipped = 0
    failures: list[BackfillFailure] = []
    for done, (key, status, result) in enumerate(
        _adopt_each(service, model, mapping, keys, dry_run, actor, note), start=1
    ):
        if isinstance(result, TransitionResult) and result.success:
            adopted[str(status)] = adopted.get(str(status), 0) + 1
        elif (
            isinstance(result, TransitionResult)
            and result.refusal is not None
            and result.refusal.kind == ALREADY_STARTED
        ):
            skipped += 1  # started since we listed it (another backfill, a start())
        elif isinstance(result, TransitionResult):  # refused: the workflow is disabled, say
            failures.append(BackfillFailure(str(key), status, result.reason or "refused"))
        else:
            failures.append(BackfillFailure(str(key), status, result))
        if progress is not None:
            progress(done, len(keys))
    return BackfillReport(adopted, skipped, tuple(failures), dry_run)


def _adopt_each(
    service: WorkflowService,
    model: type[Any],
    mapping: StatusMapping,
    keys: list[Any],
    dry_run: bool,
    actor: Principal,
    note: str,
) -> Iterator[tuple[Any, str | None, TransitionResult | str]]:
    for key in keys:
        with service.session_factory() as session:
            record = session.get(model, key)
            status = None if record is None else record.status
            columns = None if record is None else _columns(record)
        if record is None or columns is None:
            yield key, None, f"{model.__tablename__} {key!r} is gone"
            continue
        target = mapping.target(status)
        if target is None:
            yield (
                key,
                status,
                (
                    f"no mapping for legacy status {status!r} "
                    f"(the mapping knows {sorted(mapping.statuses)})"
                ),
            )
            continue
        try:
            context = resolve_columns(target.context, columns)
            result = service.adopt(
                (model, key), target.state, context, machine=mapping.machine,
                legacy_status=status, actor=actor, note=note, dry_run=dry_run,
            )  # fmt: skip
        except (OrderflowError, IntegrityError) as exc:
            yield key, status, str(exc)
            continue
        yield key, status, result


def _columns(record: Any) -> dict[str, Any]:
    mapper = inspect(type(record))
    return {column.key: getattr(record, column.key) for column in mapper.column_attrs}


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
