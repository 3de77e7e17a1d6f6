"""Backfill for Django models: records with only a legacy ``status`` put into their workflow.

The same :class:`~orderflow.service.backfill.StatusMapping` (JSON) as
``orderflow backfill`` reads, the same report, one ``adopt`` per record
under its row lock (so running it twice, or twice at once, adopts each
record once); only the reads are Django's.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db import IntegrityError

from orderflow.django.rows import checked_model, record_type
from orderflow.errors import OrderflowError
from orderflow.service.backfill import (
    BACKFILL_ACTOR,
    BackfillFailure,
    BackfillReport,
    StatusMapping,
    resolve_columns,
)
from orderflow.service.results import ALREADY_STARTED, Principal


def pending_keys(service: Any, model: type[Any]) -> list[Any]:
    """The keys of ``model``'s records that have no workflow state yet, in key order."""
    rows = checked_model(model)._base_manager.using(service.using)
    return list(
        rows.filter(workflow_state__isnull=True).order_by("pk").values_list("pk", flat=True)
    )


def backfill(
    service: Any,
    model: type[Any],
    mapping: StatusMapping,
    *,
    dry_run: bool = False,
    actor: Principal = BACKFILL_ACTOR,
    note: str = "backfill from the legacy status",
    progress: Callable[[int, int], None] | None = None,
) -> BackfillReport:
    """Adopt every record of ``model`` without a workflow state; ``progress(done, total)`` after each."""
    if mapping.machine not in service.machines:
        raise OrderflowError(
            f"the mapping is for machine '{mapping.machine}', which this service does not have "
            f"(it has {sorted(service.machines)})"
        )
    keys = pending_keys(service, model)
    adopted: dict[str, int] = {}
    skipped = 0
    failures: list[BackfillFailure] = []
    for done, key in enumerate(keys, start=1):
        record = model._base_manager.using(service.using).filter(pk=key).first()
        status = None if record is None else getattr(record, "status", None)
        reason = None
        if record is None:
            reason = f"{record_type(model)} {key!r} is gone"
        elif (target := mapping.target(status)) is None:
            reason = f"no mapping for legacy status {status!r} (the mapping knows {sorted(mapping.statuses)})"
        else:
            try:
                context = resolve_columns(target.context, _columns(record))
                result = service.adopt(
                    (model, key), target.state, context, machine=mapping.machine,
                    legacy_status=status, actor=actor, note=note, dry_run=dry_run,
                )  # fmt: skip
            except (OrderflowError, IntegrityError) as exc:
                reason = str(exc)
            else:
                if result.success:
                    adopted[str(status)] = adopted.get(str(status), 0) + 1
                elif result.refusal is not None and result.refusal.kind == ALREADY_STARTED:
                    skipped += 1
                else:
                    reason = result.reason or "refused"
        if reason is not None:
            failures.append(BackfillFailure(str(key), status, reason))
        if progress is not None:
            progress(done, len(keys))
    return BackfillReport(adopted, skipped, tuple(failures), dry_run)


def _columns(record: Any) -> dict[str, Any]:
    return {field.name: getattr(record, field.attname) for field in record._meta.concrete_fields}
