"""Records written by an older definition are migrated on load, or refused; never reinterpreted."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from sqlalchemy import select

from orderflow.errors import InvalidSnapshotError
from orderflow.service import WorkflowService
from orderflow.store import TransitionLog
from workflow_db import TICKET, Database, Ticket, capture, ticket_machine


def version_two() -> dict[str, Any]:
    """Version 2 renames 'held' to 'paused'."""
    config = copy.deepcopy(TICKET)
    config["version"] = "2"
    config["states"]["paused"] = config["states"].pop("held")
    config["states"]["open"]["on"]["HOLD"] = "paused"
    return config


def test_a_registered_migration_upgrades_an_old_snapshot_on_load(database: Database) -> None:
    old = WorkflowService(
        database.Session, {"ticket": ticket_machine()}, effects={"capture": capture}
    )
    ticket = Ticket(workflow_machine="ticket")
    old.start(ticket)
    old.send(ticket, "HOLD")

    new = WorkflowService(database.Session, {"ticket": ticket_machine(version_two())})
    with pytest.raises(InvalidSnapshotError, match=r"written by version '1'.*no migration"):
        new.send(ticket, "RELEASE")

    def rename(data: dict[str, Any]) -> dict[str, Any]:
        return {
            **data,
            "value": "paused" if data["value"] == "held" else data["value"],
            "timers": [],
        }

    new.register_migration("ticket", "1", "2", rename)
    assert new.snapshot(ticket).value == "paused"
    result = new.send(ticket, "RELEASE")
    assert result.success and (result.from_state, result.to_state) == ("paused", "open")
    assert ticket.workflow_state is not None and ticket.workflow_state["version"] == "2"
    with database.Session() as session:
        log = session.scalars(select(TransitionLog).order_by(TransitionLog.id.desc())).first()
        assert log is not None and log.details["migrated_from"] == "1"


def test_a_migration_is_registered_once() -> None:
    service = WorkflowService(lambda: None, {"ticket": ticket_machine()})  # type: ignore[arg-type,return-value]
    service.register_migration("ticket", 1, 2, dict)
    with pytest.raises(ValueError, match="already registered"):
        service.register_migration("ticket", "1", "3", dict)
