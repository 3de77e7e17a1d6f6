"""A table of the user's own: camelCase column names and no legacy status column.

The help desk's ``tickets`` table already exists with its own names
(``workflowState``, ``workflowContext``, ...); the model maps them onto the
``WorkflowRecord`` attributes and drops ``status``.  Both drivers move it on
every database kind, and the timer worker fires its timers.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import String, select, text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

import orderflow
from orderflow.chart import Action
from orderflow.service import Principal, WorkflowService
from orderflow.store import ScheduledEvent, TransitionLog, WorkflowRecord, has_legacy_status
from orderflow.store.base import utcnow
from orderflow.store.record import NullableJSONDocument
from orderflow.workers import fire_due_timers
from workflow_db import Database, awaiting_service

AGENT = Principal("u-3", "Ada Agent")


class HelpdeskBase(DeclarativeBase):
    pass


class HelpTicket(HelpdeskBase, WorkflowRecord):
    """The help desk's own table: its column names, and no legacy status."""

    __tablename__ = "helpdesk_tickets"

    id: Mapped[int] = mapped_column(primary_key=True)
    subject: Mapped[str] = mapped_column(String(80), default="")
    workflow_machine: Mapped[str | None] = mapped_column(
        "workflowMachine", String(40), default=None
    )
    workflow_state: Mapped[dict[str, Any] | None] = mapped_column(
        "workflowState", NullableJSONDocument, default=None
    )
    workflow_context: Mapped[Any] = mapped_column(
        "workflowContext", NullableJSONDocument, default=None, nullable=True
    )
    workflow_version: Mapped[int] = mapped_column("workflowVersion", default=0, nullable=False)
    status = None  # type: ignore[assignment]  # this table has no legacy status


def urgent(context: Any, event: Any, params: Any) -> tuple[bool, str]:
    priority = getattr(event, "priority", 0)
    return priority >= 3, f"priority {priority} is below 3"


notified: list[int] = []


def notify(session: Any, ticket: HelpTicket, action: Action) -> None:
    notified.append(ticket.id)


HELPDESK = orderflow.setup(
    guards={"urgent": urgent},
    actions={
        "notify": lambda *_: None,
        "escalate": orderflow.assign(
            lambda context, event, params: {"level": context["level"] + 1}
        ),
    },
    delays={"patience": lambda context, event, params: 60_000},
).create_machine(
    {
        "id": "helpdesk",
        "initial": "new",
        "context": {"level": 0},
        "states": {
            "new": {
                "on": {"ASSIGN": {"target": "open", "actions": ["notify"]}},
            },
            "open": {
                "after": {"patience": {"target": "open", "actions": ["escalate"], "reenter": True}},
                "on": {
                    "ESCALATE": {"guard": "urgent", "actions": ["escalate"]},
                    "SOLVE": "solved",
                },
            },
            "solved": {"type": "final"},
        },
    }
)


@pytest.fixture(params=["sync", "async"])
def desk(request: pytest.FixtureRequest, database: Database) -> Iterator[Any]:
    HelpdeskBase.metadata.create_all(database.engine)
    machines = {"helpdesk": HELPDESK}
    effects = {"notify": notify}
    if request.param == "sync":
        yield WorkflowService(database.Session, machines, effects=effects)
        return
    if database.kind == "sqlite-memory":
        pytest.skip("the async driver needs a SQLite file (in-memory SQLite is one connection)")
    with awaiting_service(database, machines, effects=effects) as service:
        yield service


def test_the_model_maps_its_own_column_names_and_has_no_status() -> None:
    columns = [c.name for c in HelpTicket.__table__.columns]  # type: ignore[attr-defined]
    assert "workflowState" in columns and "workflow_state" not in columns
    assert "status" not in columns and not has_legacy_status(HelpTicket)


def test_a_ticket_moves_through_its_own_columns(desk: Any, database: Database) -> None:
    ticket = HelpTicket(subject="printer", workflow_machine="helpdesk")
    assert desk.start(ticket, actor=AGENT).success
    assert ticket.workflow_state is not None and ticket.workflow_version == 1
    moved = desk.send(ticket, "ASSIGN", actor=AGENT)
    assert moved.success and moved.to_state == "open" and moved.status is None
    assert notified[-1] == ticket.id
    refused = desk.send(ticket, {"type": "ESCALATE", "priority": 1}, actor=AGENT)
    assert refused.refusal is not None and refused.refusal.kind == "guarded"
    dry = desk.send(ticket, {"type": "ESCALATE", "priority": 5}, actor=AGENT, dry_run=True)
    assert dry.success and dry.version == 2
    first = desk.send(
        ticket, {"type": "ESCALATE", "priority": 5}, actor=AGENT, idempotency_key="e-1"
    )
    again = desk.send(
        ticket, {"type": "ESCALATE", "priority": 5}, actor=AGENT, idempotency_key="e-1"
    )
    assert first.success and again.idempotent and again.version == first.version == 3
    assert desk.snapshot(ticket).context == {"level": 1}
    with database.engine.connect() as connection:
        row = connection.execute(
            text(
                'SELECT "workflowState", "workflowContext", "workflowVersion" FROM helpdesk_tickets'
            )
        ).one()
    state, context = (json.loads(v) if isinstance(v, str) else v for v in row[:2])  # SQLite: text
    assert (state["value"], context, row[2]) == ("open", {"level": 1}, 3)
    with database.Session() as session:
        timers = session.scalars(select(ScheduledEvent.status)).all()
        logged = session.scalars(select(TransitionLog.event).order_by(TransitionLog.id)).all()
    assert timers == ["pending"]
    assert logged == ["xstate.init", "ASSIGN", "ESCALATE"]


def test_without_a_status_column_the_workflow_cannot_fall_back(desk: Any) -> None:
    ticket = HelpTicket(subject="vpn", workflow_machine="helpdesk")
    desk.start(ticket, actor=AGENT)
    desk.workflow_enabled = False
    result = desk.transition(ticket, "open", actor=AGENT)
    assert result.refusal is not None and result.refusal.kind == "disabled"
    assert "no legacy status column" in result.refusal.reason


def test_the_timer_worker_fires_a_timer_of_the_table(database: Database) -> None:
    HelpdeskBase.metadata.create_all(database.engine)
    service = WorkflowService(database.Session, {"helpdesk": HELPDESK}, effects={"notify": notify})
    ticket = HelpTicket(subject="mail", workflow_machine="helpdesk")
    service.start(ticket, actor=AGENT)
    service.send(ticket, "ASSIGN", actor=AGENT)
    firings = fire_due_timers(
        service, database.Session, now=utcnow() + timedelta(minutes=2),
        models={"helpdesk_tickets": HelpTicket},
    )  # fmt: skip
    assert [f.outcome for f in firings] == ["fired"]
    snapshot = service.snapshot(ticket)
    assert snapshot.value == "open" and snapshot.context == {"level": 1}
    assert len(snapshot.timers) == 1  # re-entering "open" armed it again
