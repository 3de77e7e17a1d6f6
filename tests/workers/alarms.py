"""The alarm machine and its service, for the timer worker tests and the benchmark."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

import orderflow
from orderflow.chart import Action, Machine
from orderflow.service import WorkflowService
from orderflow.store import ScheduledEvent, TransitionLog
from workflow_db import Capture, Database, Ticket

RING = "xstate.after.60000.alarm.armed"

ALARM: dict[str, Any] = {
    "id": "alarm",
    "version": "1",
    "initial": "armed",
    "context": {"muted": False},
    "states": {
        "armed": {
            "after": {
                "60000": {
                    "target": "rung",
                    "guard": "not_muted",
                    "actions": [
                        {"type": "ring"},
                        {"type": "emit", "params": {"event": {"type": "alarm.rung"}}},
                    ],
                }
            },
            "on": {"DISARM": "disarmed"},
        },
        "rung": {"on": {"REARM": "armed"}},
        "disarmed": {"type": "final"},
    },
}


def alarm_machine() -> Machine:
    def not_muted(context: Any, event: Any, params: Any) -> tuple[bool, str]:
        return not context["muted"], "the alarm is muted"

    return orderflow.setup(
        guards={"not_muted": not_muted}, actions={"ring": lambda *_: None}
    ).create_machine(ALARM)


def ring(session: Session, record: Any, action: Action) -> None:
    """The ring effect: one Capture row per firing, written in the firing's transaction."""
    session.add(Capture(ticket_id=record.id, amount=1))


def alarm_service(
    Session: Callable[[], Session], ring_effect: Callable[[Session, Any, Action], Any] = ring
) -> WorkflowService:
    return WorkflowService(Session, {"alarm": alarm_machine()}, effects={"ring": ring_effect})


def arm(
    service: WorkflowService, count: int, *, first_id: int = 1, muted: bool = False
) -> list[int]:
    """Start ``count`` alarms (tickets moved by the alarm machine); each schedules one timer."""
    ids = list(range(first_id, first_id + count))
    for ticket_id in ids:
        record = Ticket(id=ticket_id, title=f"alarm {ticket_id}")
        result = service.start(record, machine="alarm")
        assert result.success, result.reason
        if muted:
            with service.session_factory() as session:
                row = session.get(Ticket, ticket_id)
                assert row is not None
                row.workflow_context = {"muted": True}
                session.commit()
    return ids


def rings_by_alarm(database: Database) -> dict[int, int]:
    with database.Session() as session:
        rows = session.execute(
            select(Capture.ticket_id, func.count()).group_by(Capture.ticket_id)
        ).all()
    return {int(ticket_id): int(count) for ticket_id, count in rows}


def timer_statuses(database: Database) -> dict[str, int]:
    with database.Session() as session:
        rows = session.execute(
            select(ScheduledEvent.status, func.count()).group_by(ScheduledEvent.status)
        ).all()
    return {str(status): int(count) for status, count in rows}


def ring_log_rows(database: Database) -> dict[str, int]:
    with database.Session() as session:
        rows = session.execute(
            select(TransitionLog.record_id, func.count())
            .where(TransitionLog.event == RING)
            .group_by(TransitionLog.record_id)
        ).all()
    return {str(record_id): int(count) for record_id, count in rows}


def later(minutes: float = 2) -> datetime:
    """A moment after every alarm armed now is due."""
    from orderflow.store.base import utcnow

    return utcnow() + timedelta(minutes=minutes)
