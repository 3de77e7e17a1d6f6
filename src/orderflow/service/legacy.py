"""The emergency path: with ``workflow_enabled=False``, a move to a state is a plain status update.

For a rollback to the status column the application had before its
workflow: ``transition(record, to_state)`` sets the legacy ``status`` the
state maps to, bumps ``workflow_version`` and logs that it did (event
``orderflow.legacy_status``); the workflow columns are left alone.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from orderflow.service.results import TransitionResult
from orderflow.store import status_for_state

if TYPE_CHECKING:
    from orderflow.service.pipeline import Work

LEGACY_EVENT = "orderflow.legacy_status"


def legacy_update(work: Work) -> TransitionResult:
    """Set the legacy status for ``work.command.legacy_to`` (nothing written in a dry run)."""
    row, command, read = work.row, work.command, work.read_version
    assert command.legacy_to is not None
    assert row is not None
    old, new = row.status, status_for_state(row.model, command.legacy_to)
    result = TransitionResult(
        True, work.record_type, work.record_id, LEGACY_EVENT, {"status": old}, {"status": new},
        dry_run=command.dry_run, version=read + (0 if command.dry_run else 1), status=new,
        steps=1, reason="workflow disabled: direct legacy status update",
    )  # fmt: skip
    if command.dry_run:
        return result
    journal = work.service.journal
    journal.advance(work.connection, row, {"status": new}, read)
    details = {
        "workflow_enabled": False, "fallback": "direct legacy status update",
        "to_state": command.legacy_to, "result": result.to_json(),
        **({} if work.digest is None else {"request": work.digest}),
    }  # fmt: skip
    entry = journal.entry(
        work.record_type, work.record_id, machine=row.workflow_machine or "", machine_version=None,
        event=LEGACY_EVENT, from_state={"status": old}, to_state={"status": new},
        record_version=read + 1, principal=work.principal, note=command.note, details=details,
        idempotency_key=command.idempotency_key,
    )  # fmt: skip
    (log_id,) = journal.log(work.connection, [entry])
    return dataclasses.replace(result, log_ids=(log_id,))
