"""Backfill for Django models: records with only a legacy ``status`` put into their workflow.

The same :class:`~orderflow.service.backfill.StatusMapping` (JSON) as
``orderflow backfill`` reads, the same report, one ``adopt`` per record
under its row lock (so running it twice, or twice at once, adopts each
record once): the loop is the service's (``adopt_all``); only the reads
are Django's.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db import IntegrityError

from orderflow.django.rows import checked_model, record_type
from orderflow.service.backfill import BACKFILL_ACTOR, BackfillReport, StatusMapping, adopt_all
from orderflow.service.results import Principal


def pending_keys(service: Any, model: type[Any]) -> list[Any]:
    """The keys of ``model``'s records that have no workflow state yet, in key order."""
    rows = checked_model(model)._base_manager.using(service.using)
    return list(
        rows.filter(workflow_state__isnull=True).order_by("pk").values_list("pk", flat=True)
    )


class _DjangoRecords:
    """:class:`~orderflow.service.backfill.LegacyRecords` of a Django model."""

    errors: tuple[type[Exception], ...] = (IntegrityError,)

    def __init__(self, service: Any, model: type[Any]) -> None:
        self.service, self.model, self.table = service, model, record_type(model)

    def pending_keys(self) -> list[Any]:
        return pending_keys(self.service, self.model)

    def read(self, key: Any) -> tuple[str | None, dict[str, Any]] | None:
        record = self.model._base_manager.using(self.service.using).filter(pk=key).first()
        if record is None:
            return None
        fields = record._meta.concrete_fields
        return getattr(record, "status", None), {f.name: getattr(record, f.attname) for f in fields}


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
    """Adopt every record of ``model`` without a workflow state; ``progress(done, total)`` after each.

    A model without a legacy status is refused before anything is read
    (:class:`~orderflow.errors.ConfigurationError`).
    """
    return adopt_all(
        service, model, mapping, _DjangoRecords(service, model),
        dry_run=dry_run, actor=actor, note=note, progress=progress,
    )  # fmt: skip
