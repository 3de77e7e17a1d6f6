"""Walks through the shipped order machines: where each starts, which events to try, typical paths.

For every machine: ``START`` (the input of a typical record), ``events(snapshot)``
(the events worth sending from a snapshot, legal ones and ones a guard must
refuse, with payloads that fit its context) and ``key(snapshot)`` (the
abstraction that keeps ``explore`` finite: the state value plus the few
context facts that change what can happen next); :data:`PATHS` are the paths a
record typically takes, event by event, with the state each ends in.  The
order tests (coverage plan, reachability, hypothesis properties) and the
benchmark ``bench/order_machines.py`` share them, so a change to a machine is
made to its walks once.  The events are what the service would pass to the
core: the acting user is in the event, and a function actor's answer is the
``xstate.done.actor.<id>`` event the runtime or the invocation worker delivers.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from orderflow.chart import Machine, Snapshot
from orderflow.orders.fulfilment import FulfilmentContext
from orderflow.orders.order import OrderContext
from orderflow.orders.quotation import QuotationContext
from orderflow.orders.sale import CREDIT_CHECK_FAILED, CREDIT_CHECKED, SaleContext

Event = dict[str, Any]

SALES_APPROVER = {"id": "ann", "roles": ["sales-approver"]}
CREDIT_APPROVER = {"id": "carl", "roles": ["credit-approver"]}
ADMIN = {"id": "ada", "roles": ["admin"]}
CLERK = {"id": "cleo", "roles": ["sales"], "permissions": ["order.change"]}
NOBODY = {"id": "nick", "roles": ["warehouse"]}

LINES = [
    {"sku": "CHAIR", "quantity": 4, "unit_price": "120.00"},
    {"sku": "DESK", "quantity": 1, "unit_price": "480.00"},
]


def timer_events(snapshot: Snapshot) -> list[Event]:
    """The pending timers' events: sending one is what the clock would do."""
    return [dict(timer.event) for timer in snapshot.timers]


def _value(snapshot: Snapshot) -> str:
    return json.dumps(snapshot.value, sort_keys=True)


def _timers(snapshot: Snapshot) -> tuple[str, ...]:
    return tuple(sorted(t.id for t in snapshot.timers))


# -- quotation ------------------------------------------------------------------------------------

QUOTATION_START = {"quotation_id": "Q-1", "customer_id": "C-1", "currency": "EUR"}


def quotation_events(snapshot: Snapshot) -> list[Event]:
    return [
        {"type": "ADD_LINE", "sku": "CHAIR", "quantity": 4, "unit_price": "120.00"},
        {"type": "ADD_LINE", "sku": "TABLE", "quantity": 10, "unit_price": "1500.00"},
        {"type": "REMOVE_LINE", "sku": "CHAIR"},
        {"type": "REMOVE_LINE", "sku": "TABLE"},
        {"type": "SET_DISCOUNT", "percent": "5"},
        {"type": "SET_DISCOUNT", "percent": "25"},
        {"type": "SUBMIT"},
        {"type": "APPROVE", "actor": SALES_APPROVER},
        {"type": "APPROVE", "actor": NOBODY},
        {"type": "REJECT", "actor": SALES_APPROVER, "reason": "margin too thin"},
        {"type": "REJECT", "actor": NOBODY, "reason": "no"},
        {"type": "ACCEPT"},
        {"type": "DECLINE", "reason": "too expensive"},
        {"type": "REVISE", "reason": "fewer chairs"},
        {"type": "CANCEL", "reason": "customer gone"},
        *timer_events(snapshot),
    ]


def quotation_key(snapshot: Snapshot) -> Hashable:
    context: QuotationContext = snapshot.context
    return (
        _value(snapshot),
        snapshot.status,
        tuple(line.sku for line in context.lines),
        context.discount_percent,
        _timers(snapshot),
    )


# -- sale ------------------------------------------------------------------------------------------

SALE_START = {
    "sale_id": "S-1",
    "quotation_id": "Q-1",
    "customer_id": "C-1",
    "currency": "EUR",
    "lines": LINES,
    "total": "960.00",
}

GOOD_CREDIT = {
    "limit": "5000.00",
    "open_balance": "1000.00",
    "overdue": "0.00",
    "available": "4000.00",
    "taken_at": "2024-05-01T12:00:00Z",
}
POOR_CREDIT = {**GOOD_CREDIT, "open_balance": "4500.00", "available": "500.00"}
#: the answers of the ``check_credit`` actor ``processing.credit_check`` invokes
CREDIT_OK: Event = {"type": CREDIT_CHECKED, "output": GOOD_CREDIT}
CREDIT_LOW: Event = {"type": CREDIT_CHECKED, "output": POOR_CREDIT}
CREDIT_DOWN: Event = {
    "type": CREDIT_CHECK_FAILED,
    "error": {"type": "TimeoutError", "message": "'check_credit' gave no answer within 30s"},
}


def sale_events(snapshot: Snapshot) -> list[Event]:
    context: SaleContext = snapshot.context
    outstanding = context.outstanding
    reference = f"PSP-{len(context.captures) + 1}"
    credit = context.open_override("credit")
    admin = context.open_override("admin")
    credit_id = credit.id if credit else "credit-0"
    admin_id = admin.id if admin else "admin-0"
    events: list[Event] = [
        {"type": "SELECT_PAYMENT_METHOD", "method": "card"},
        {"type": "SELECT_PAYMENT_METHOD", "method": "on_account"},
        {"type": "CAPTURE", "amount": str(outstanding), "reference": reference},
        {"type": "CAPTURE", "amount": str(outstanding + 1), "reference": reference},
        {"type": "CAPTURE", "amount": "0.00", "reference": reference},
        CREDIT_OK,
        CREDIT_LOW,
        CREDIT_DOWN,
        {"type": "REQUEST_CREDIT_OVERRIDE", "reason": "long-standing customer", "actor": CLERK},
        {"type": "REQUEST_ADMIN_OVERRIDE", "reason": "CEO says yes", "actor": CLERK},
        {"type": "CREDIT_OVERRIDE_APPROVED", "request_id": credit_id, "actor": CREDIT_APPROVER},
        {"type": "CREDIT_OVERRIDE_APPROVED", "request_id": credit_id, "actor": ADMIN},
        {"type": "CREDIT_OVERRIDE_REJECTED", "request_id": credit_id, "actor": CREDIT_APPROVER},
        {"type": "ADMIN_OVERRIDE_APPROVED", "request_id": admin_id, "actor": ADMIN},
        {"type": "ADMIN_OVERRIDE_APPROVED", "request_id": admin_id, "actor": CREDIT_APPROVER},
        {"type": "ADMIN_OVERRIDE_REJECTED", "request_id": admin_id, "actor": ADMIN},
        {"type": "ADMIN_OVERRIDE_REJECTED", "request_id": "admin-99", "actor": ADMIN},
        {"type": "CANCEL", "reason": "changed their mind"},
    ]
    if outstanding >= Decimal("0.02"):
        half = (outstanding / 2).quantize(Decimal("0.01"))
        events.insert(2, {"type": "CAPTURE", "amount": str(half), "reference": reference})
    return events


def sale_key(snapshot: Snapshot) -> Hashable:
    context: SaleContext = snapshot.context
    return (
        _value(snapshot),
        snapshot.status,
        context.captured_total > 0,
        tuple(sorted(o.kind for o in context.overrides if o.status == "open")),
        tuple(sorted((k, tuple(v)) for k, v in snapshot.history.items())),
    )


# -- fulfilment ----------------------------------------------------------------------------------

FULFILMENT_START = {"sale_id": "S-1", "currency": "EUR", "lines": LINES, "discount_percent": "5"}


def fulfilment_events(snapshot: Snapshot) -> list[Event]:
    context: FulfilmentContext = snapshot.context
    reservations = [
        {"reservation_id": f"RSV-{line.sku}", "sku": line.sku, "quantity": line.quantity}
        for line in context.lines
    ]
    return [
        {"type": "STOCK_RESERVED", "reservations": reservations},
        {"type": "STOCK_RESERVED", "reservations": reservations[:1]},
        {"type": "STOCK_SHORT", "shortages": [{"sku": "CHAIR", "requested": 4, "available": 1}]},
        {"type": "RESTOCKED"},
        {"type": "PICKED"},
        {"type": "PACKED"},
        {"type": "SHIP", "carrier": "DHL", "tracking": "JD0001"},
        {"type": "DELIVER"},
        {"type": "REQUEST_RETURN", "reason": "wobbly", "lines": [{"sku": "CHAIR", "quantity": 1}]},
        {"type": "REQUEST_RETURN", "reason": "greedy", "lines": [{"sku": "CHAIR", "quantity": 9}]},
        {"type": "APPROVE_RETURN"},
        {"type": "REJECT_RETURN"},
        {"type": "RETURN_RECEIVED"},
        {"type": "ACCEPT_RETURN"},
        {"type": "REJECT_RETURN_ITEMS"},
        {"type": "CANCEL", "reason": "sale voided"},
        *timer_events(snapshot),
    ]


def fulfilment_key(snapshot: Snapshot) -> Hashable:
    context: FulfilmentContext = snapshot.context
    return (
        _value(snapshot),
        snapshot.status,
        _timers(snapshot),
        bool(context.reservations),
        context.reservations_committed,
        context.backorder_overdue,
        context.return_window_closed,
        context.return_request.status if context.return_request else None,
    )


# -- order ---------------------------------------------------------------------------------------

ORDER_START = {
    "order_id": "O-1",
    "customer_email": "buyer@example.com",
    "currency": "EUR",
    "total": "99.90",
    "lines": [{"sku": "LAMP", "quantity": 2}],
}


def order_events(snapshot: Snapshot) -> list[Event]:
    context: OrderContext = snapshot.context
    return [
        {"type": "MARK_PAID", "payment_reference": "PAY-1", "amount": str(context.total), "actor": CLERK},
        {"type": "MARK_PAID", "payment_reference": "PAY-1", "amount": "1.00", "actor": CLERK},
        {"type": "MARK_PAID", "payment_reference": "PAY-1", "amount": str(context.total), "actor": NOBODY},
        {"type": "INVENTORY_RESERVED", "reservations": [{"reservation_id": "RSV-1", "sku": "LAMP", "quantity": 2}]},
        {"type": "INVENTORY_UNAVAILABLE", "shortages": [{"sku": "LAMP", "requested": 2, "available": 0}]},
        {"type": "RETRY_RESERVATION", "actor": CLERK},
        {"type": "SHIP", "tracking_number": "JD0002", "actor": CLERK},
        {"type": "FULFILL", "actor": CLERK},
        {"type": "REFUND", "actor": CLERK},
        {"type": "REFUND", "actor": ADMIN},
        {"type": "RETURN", "actor": CLERK},
        {"type": "CANCEL", "reason": "duplicate", "actor": CLERK},
        *timer_events(snapshot),
    ]  # fmt: skip


def order_key(snapshot: Snapshot) -> Hashable:
    context: OrderContext = snapshot.context
    return (
        _value(snapshot),
        snapshot.status,
        _timers(snapshot),
        context.inventory_reserved,
        bool(context.shortages),
    )


# -- all of them ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Walk:
    name: str
    start_input: Mapping[str, Any]
    events: Callable[[Snapshot], list[Event]]
    key: Callable[[Snapshot], Hashable]

    def start(self, machine: Machine) -> Snapshot:
        snapshot, _ = machine.initial_transition(input=dict(self.start_input))
        return snapshot


WALKS = {
    "quotation": Walk("quotation", QUOTATION_START, quotation_events, quotation_key),
    "sale": Walk("sale", SALE_START, sale_events, sale_key),
    "fulfilment": Walk("fulfilment", FULFILMENT_START, fulfilment_events, fulfilment_key),
    "order": Walk("order", ORDER_START, order_events, order_key),
}


# -- typical paths ---------------------------------------------------------------------------------

RESERVATIONS = [
    {"reservation_id": "RSV-CHAIR", "sku": "CHAIR", "quantity": 4},
    {"reservation_id": "RSV-DESK", "sku": "DESK", "quantity": 1},
]
PICK_PACK_SHIP: list[Event] = [
    {"type": "STOCK_RESERVED", "reservations": RESERVATIONS},
    {"type": "PICKED"},
    {"type": "PACKED"},
    {"type": "SHIP", "carrier": "DHL", "tracking": "JD0001"},
    {"type": "DELIVER"},
]


@dataclass(frozen=True)
class Path:
    """A path a record takes: its machine's start, the events in order, the state it ends in."""

    start_input: Mapping[str, Any]
    events: list[Event]
    ends_in: str


#: (machine, path) -> the path: the happy one, and the override, backorder and return ones
PATHS: dict[tuple[str, str], Path] = {
    ("quotation", "happy"): Path(QUOTATION_START, [
        {"type": "ADD_LINE", "sku": "CHAIR", "quantity": 4, "unit_price": "120.00"},
        {"type": "ADD_LINE", "sku": "DESK", "quantity": 1, "unit_price": "480.00"},
        {"type": "SUBMIT"},
        {"type": "ACCEPT"},
    ], "approved"),
    ("quotation", "override (discount approval)"): Path(QUOTATION_START, [
        {"type": "ADD_LINE", "sku": "TABLE", "quantity": 10, "unit_price": "1500.00"},
        {"type": "SET_DISCOUNT", "percent": "25"},
        {"type": "SUBMIT"},
        {"type": "APPROVE", "actor": SALES_APPROVER},
        {"type": "ACCEPT"},
    ], "approved"),
    ("sale", "happy"): Path(SALE_START, [
        {"type": "SELECT_PAYMENT_METHOD", "method": "card"},
        {"type": "CAPTURE", "amount": "480.00", "reference": "PSP-1"},
        {"type": "CAPTURE", "amount": "480.00", "reference": "PSP-2"},
    ], "cleared"),
    ("sale", "override (credit)"): Path(SALE_START, [
        {"type": "SELECT_PAYMENT_METHOD", "method": "on_account"},
        CREDIT_LOW,
        {"type": "REQUEST_CREDIT_OVERRIDE", "reason": "long-standing customer", "actor": CLERK},
        {"type": "CREDIT_OVERRIDE_APPROVED", "request_id": "credit-1", "actor": CREDIT_APPROVER},
    ], "cleared"),
    ("fulfilment", "happy"): Path(FULFILMENT_START, PICK_PACK_SHIP, "delivered"),
    ("fulfilment", "backorder"): Path(FULFILMENT_START, [
        {"type": "STOCK_SHORT", "shortages": [{"sku": "DESK", "requested": 1, "available": 0}]},
        {"type": "RESTOCKED"},
        *PICK_PACK_SHIP,
    ], "delivered"),
    ("fulfilment", "return"): Path(FULFILMENT_START, [
        *PICK_PACK_SHIP,
        {"type": "REQUEST_RETURN", "reason": "wobbly", "lines": [{"sku": "CHAIR", "quantity": 1}]},
        {"type": "APPROVE_RETURN"},
        {"type": "RETURN_RECEIVED"},
        {"type": "ACCEPT_RETURN"},
    ], "returned"),
    ("order", "happy"): Path(ORDER_START, [
        {"type": "MARK_PAID", "payment_reference": "PAY-1", "amount": "99.90", "actor": CLERK},
        {"type": "INVENTORY_RESERVED", "reservations": [{"reservation_id": "RSV-1", "sku": "LAMP", "quantity": 2}]},
        {"type": "SHIP", "tracking_number": "JD0002", "actor": CLERK},
        {"type": "FULFILL", "actor": CLERK},
    ], "fulfilled"),
    ("order", "backorder and return"): Path(ORDER_START, [
        {"type": "MARK_PAID", "payment_reference": "PAY-1", "amount": "99.90", "actor": CLERK},
        {"type": "INVENTORY_UNAVAILABLE", "shortages": [{"sku": "LAMP", "requested": 2, "available": 0}]},
        {"type": "RETRY_RESERVATION", "actor": CLERK},
        {"type": "INVENTORY_RESERVED", "reservations": [{"reservation_id": "RSV-1", "sku": "LAMP", "quantity": 2}]},
        {"type": "SHIP", "tracking_number": "JD0002", "actor": CLERK},
        {"type": "FULFILL", "actor": CLERK},
        {"type": "RETURN", "actor": CLERK},
    ], "returned"),
}  # fmt: skip
