"""Records written by an older definition are migrated on load, or refused; never reinterpreted."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from sqlalchemy import select

from orderflow.errors import InvalidSnapshotError, UnknownMachineError
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


def renamed(old: str, new: str) -> Any:
    def step(data: dict[str, Any]) -> dict[str, Any]:
        return {**data, "value": new if data["value"] == old else data["value"], "timers": []}

    return step


def held_ticket(database: Database) -> Ticket:
    old = WorkflowService(
        database.Session, {"ticket": ticket_machine()}, effects={"capture": capture}
    )
    ticket = Ticket(workflow_machine="ticket")
    old.start(ticket)
    old.send(ticket, "HOLD")
    return ticket


def test_a_registered_migration_upgrades_an_old_snapshot_on_load(database: Database) -> None:
    ticket = held_ticket(database)
    new = WorkflowService(database.Session, {"ticket": ticket_machine(version_two())})
    with pytest.raises(InvalidSnapshotError, match=r"written by version '1'.*no migration"):
        new.send(ticket, "RELEASE")

    new.register_migration("ticket", "1", "2", renamed("held", "paused"))
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


def version_three() -> dict[str, Any]:
    """Version 3 renames 'paused' (version 2's 'held') to 'waiting'."""
    config = version_two()
    config["version"] = "3"
    config["states"]["waiting"] = config["states"].pop("paused")
    config["states"]["open"]["on"]["HOLD"] = "waiting"
    return config


def test_migrations_chain_one_version_step_at_a_time(database: Database) -> None:
    ticket = held_ticket(database)
    new = WorkflowService(database.Session, {"ticket": ticket_machine(version_three())})
    new.register_migration("ticket", "2", "3", renamed("paused", "waiting"))
    with pytest.raises(InvalidSnapshotError, match="no migration from version '1'"):
        new.snapshot(ticket)
    new.register_migration("ticket", "1", "2", renamed("held", "paused"))
    assert new.snapshot(ticket).value == "waiting"
    result = new.send(ticket, "RELEASE")
    assert result.success and result.from_state == "waiting"
    assert ticket.workflow_state is not None and ticket.workflow_state["version"] == "3"


@pytest.mark.parametrize(
    ("migration", "message"),
    [
        (lambda data: 1 / 0, r"migration of machine 'ticket' from version '1' to '2' failed"),
        (lambda data: ["not", "a", "snapshot"], "must return the snapshot as a JSON object"),
        (lambda data: {**data, "value": "held"}, "no child state 'held'"),
    ],
)
def test_a_migration_that_fails_or_returns_nonsense_is_refused_and_writes_nothing(
    database: Database, migration: Any, message: str
) -> None:
    ticket = held_ticket(database)
    new = WorkflowService(database.Session, {"ticket": ticket_machine(version_two())})
    new.register_migration("ticket", "1", "2", migration)
    with pytest.raises(InvalidSnapshotError, match=message):
        new.send(ticket, "RELEASE")
    with database.Session() as session:
        stored = session.get(Ticket, ticket.id)
        assert stored is not None and stored.workflow_state is not None
        assert (stored.workflow_state["version"], stored.workflow_version) == ("1", 2)


def test_a_migration_for_a_machine_the_service_lacks_is_refused() -> None:
    service = WorkflowService(lambda: None, {"ticket": ticket_machine()})  # type: ignore[arg-type,return-value]
    with pytest.raises(UnknownMachineError, match="no machine named 'tikcet'"):
        service.register_migration("tikcet", 1, 2, dict)
