"""The contract app's service (``ORDERFLOW["APP"]``): the ticket machine over the ``Ticket`` model."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

import orderflow
from orderflow.chart import Action, Machine
from orderflow.django.service import DjangoWorkflowService


class Pay(BaseModel):
    amount: int = Field(gt=0)


TICKET: dict[str, Any] = {
    "id": "ticket",
    "version": "1",
    "initial": "open",
    "context": {"paid": 0},
    "states": {
        "open": {
            "on": {
                "PAY": {
                    "target": "paid",
                    "guard": "enough",
                    "actions": [
                        {"type": "note"},
                        {"type": "emit", "params": {"event": {"type": "ticket.paid"}}},
                        {"type": "assign", "params": {"paid": 1}},
                    ],
                },
                "HOLD": "held",
                "CANCEL": "cancelled",
                "CLOSE": {"target": "closed", "guard": "closer"},
            }
        },
        "held": {"after": {"60000": "open"}, "on": {"RELEASE": "open", "CANCEL": "cancelled"}},
        "paid": {
            "on": {
                "SHIP": {
                    "target": "shipped",
                    "actions": [{"type": "emit", "params": {"event": {"type": "ticket.shipped"}}}],
                }
            }
        },
        "shipped": {"type": "final"},
        "cancelled": {"type": "final"},
        "closed": {"type": "final"},
    },
}


def enough(context: Any, event: Any, params: Any) -> tuple[bool, str]:
    return event.amount >= 10, f"amount {event.amount} is below the minimum of 10"


def closer(context: Any, event: Any, params: Any) -> tuple[bool, str]:
    roles = (getattr(event, "actor", None) or {}).get("roles") or []
    return "closer" in roles, "only a closer may close a ticket"


def ticket_machine() -> Machine:
    return orderflow.setup(
        guards={"enough": enough, "closer": closer},
        actions={"note": lambda *_: None},
        events={"PAY": Pay},
    ).create_machine(TICKET)


def note(call: Any, record: Any, action: Action) -> None:
    """The in-transaction effect: a row written through Django's ORM on the call's database."""
    from contract_app.models import Note

    Note.objects.using(call.using).create(ticket=record, text=f"paid {action.event.amount}")


def make_service(using: str = "default") -> DjangoWorkflowService:
    return DjangoWorkflowService(
        {"ticket": ticket_machine()}, using=using, effects={"note": note},
        roles={"closer": ["contract_app.close_ticket"]},
    )  # fmt: skip


service = make_service()
