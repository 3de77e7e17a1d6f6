"""Override-request rows through Django's ORM, kept in step with the context as the SQLAlchemy driver keeps them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from orderflow.service.overrides import OverrideRules, override_changes

if TYPE_CHECKING:
    from orderflow.django.driver import DjangoWork


def write_override_rows(work: DjangoWork, rules: OverrideRules, before: Any, after: Any) -> None:
    """Insert the requests the move opened; update the ones it settled."""
    from orderflow.django.models import OverrideRequest

    rows = OverrideRequest._base_manager.using(work.using)
    opened, settled = override_changes(rules, before, after, work.principal, work.service.clock())
    for fields in opened:
        rows.create(record_type=work.record_type, record_id=work.record_id, **fields)
    for request_key, fields in settled:
        rows.filter(
            record_type=work.record_type, record_id=work.record_id, request_key=request_key
        ).update(**fields)
