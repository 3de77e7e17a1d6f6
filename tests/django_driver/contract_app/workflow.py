"""The contract app's service (``ORDERFLOW["APP"]``): the ticket machine over the ``Ticket`` model,
and the booking machine (a function actor, so a durable invocation) over ``Booking``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, Field

import orderflow
from orderflow.chart import Action, Machine, assign
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


def booking_machine(charge: Callable[..., Any]) -> Machine:
    """``booking`` invokes the function actor ``charge`` while ``charging``; each result is kept
    in ``receipts`` and, while fewer than ``rounds`` are kept, ``charging`` is entered again (a
    new ``charge`` under the same child id).  ``CANCEL`` leaves it, ``RESTART`` re-enters it, and
    an error the worker gives up on takes ``onError`` to ``declined``."""

    def wants_more(context: Any, event: Any, params: Any) -> bool:
        return len(context["receipts"]) + 1 < context["rounds"]

    return orderflow.setup(
        actors={"charge": charge},
        guards={"wants_more": wants_more},
        actions={
            "keep_receipt": assign(
                lambda context, event, params: {"receipts": [*context["receipts"], event.output]}
            ),
            "keep_error": assign(lambda context, event, params: {"error": event.error}),
        },
    ).create_machine(
        {
            "id": "booking",
            "context": {"receipts": [], "rounds": 1, "error": None},
            "initial": "charging",
            "states": {
                "charging": {
                    "invoke": {
                        "id": "charge", "src": "charge", "input": {"amount": 25},
                        "onDone": [
                            {"guard": "wants_more", "target": "charging", "reenter": True,
                             "actions": ["keep_receipt"]},
                            {"target": "charged", "actions": ["keep_receipt"]},
                        ],
                        "onError": {"target": "declined", "actions": ["keep_error"]},
                    },
                    "on": {"CANCEL": "cancelled", "RESTART": {"target": "charging", "reenter": True}},
                },
                "charged": {"type": "final"},
                "declined": {"type": "final"},
                "cancelled": {"type": "final"},
            },
        }
    )  # fmt: skip


def charge_card(value: Any) -> dict[str, Any]:
    """The contract app's own charge: a receipt for the amount."""
    return {"receipt": f"R-{value['amount']}", "amount": value["amount"]}


def note(call: Any, record: Any, action: Action) -> None:
    """The in-transaction effect: a row written through Django's ORM on the call's database."""
    from contract_app.models import Note

    Note.objects.using(call.using).create(ticket=record, text=f"paid {action.event.amount}")


def make_service(using: str = "default") -> DjangoWorkflowService:
    return DjangoWorkflowService(
        {"ticket": ticket_machine(), "booking": booking_machine(charge_card)}, using=using,
        effects={"note": note},
        roles={"closer": ["contract_app.close_ticket"]},
    )  # fmt: skip


service = make_service()
