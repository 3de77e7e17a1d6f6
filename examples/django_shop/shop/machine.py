"""The order machine: data, with its guard and effect implemented here.

draft --PLACE--> placed --PAY (the full total)--> paid --SHIP (a shipper)--> shipped
draft, placed --CANCEL--> cancelled;   placed --after 2 days--> expired
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from pydantic import BaseModel

import orderflow
from orderflow.chart import Machine

ORDER: dict[str, Any] = {
    "id": "order",
    "version": "1",
    "initial": "draft",
    "context": {"total": "0", "paid": "0"},
    "states": {
        "draft": {"on": {"PLACE": "placed", "CANCEL": "cancelled"}},
        "placed": {
            "after": {"172800000": "expired"},
            "on": {
                "PAY": {
                    "target": "paid",
                    "guard": "pays_in_full",
                    "actions": [
                        {"type": "assign_payment"},
                        {"type": "mark_paid"},
                        {"type": "emit", "params": {"event": {"type": "order.paid"}}},
                    ],
                },
                "CANCEL": "cancelled",
            },
        },
        "paid": {"on": {"SHIP": {"target": "shipped", "guard": "shipper"}}},
        "shipped": {"type": "final"},
        "cancelled": {"type": "final"},
        "expired": {"type": "final"},
    },
}


class Pay(BaseModel):
    amount: Decimal


def pays_in_full(context: Any, event: Any, params: Any) -> tuple[bool, str | None]:
    total = Decimal(context["total"])
    if event.amount != total:
        return False, f"the payment {event.amount} is not the order's total {total}"
    return True, None


def shipper(context: Any, event: Any, params: Any) -> tuple[bool, str | None]:
    roles = (getattr(event, "actor", None) or {}).get("roles") or []
    return ("shipper" in roles), "only a shipper may ship an order"


def assign_payment(context: Any, event: Any, params: Any) -> dict[str, Any]:
    return {"paid": str(event.amount)}


def order_machine() -> Machine:
    return orderflow.setup(
        guards={"pays_in_full": pays_in_full, "shipper": shipper},
        actions={"assign_payment": orderflow.assign(assign_payment), "mark_paid": lambda *_: None},
        events={"PAY": Pay},
    ).create_machine(ORDER)
