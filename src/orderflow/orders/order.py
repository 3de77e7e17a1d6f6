"""The simple order machine (``machines/order.json``): guards, effects and the context they share.

Every event a person sends carries ``actor``; ``role_allowed`` checks the
permissions the definition asks for (``order.change`` unless its params say
otherwise).  ``payment_authorized`` checks that the reported payment covers
the order, ``capture_payment`` captures it, ``reserve_inventory`` answers
``INVENTORY_RESERVED`` or ``INVENTORY_UNAVAILABLE``, and ``inventory_available``
lets the order ship only once it did (``commit_inventory`` then takes the stock).
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial
from typing import Any

from pydantic import Field

from orderflow.chart import Setup, TypedEvent, assign, setup
from orderflow.orders.authority import GuardResult, role_allowed
from orderflow.orders.policies import Policies
from orderflow.orders.ports import Ports, StockReservation, StockShortage
from orderflow.orders.values import ActingUser, Amount, Currency, ReportedAmount, StockLine, Value


class OrderContext(Value):
    order_id: str = Field(min_length=1)
    customer_email: str = Field(min_length=3)
    currency: Currency
    total: Amount
    lines: tuple[StockLine, ...] = ()
    payment_reference: str | None = None
    reservations: tuple[StockReservation, ...] = ()
    inventory_reserved: bool = False
    shortages: tuple[StockShortage, ...] = ()
    tracking_number: str | None = None
    cancel_reason: str | None = None


class ActorOnly(Value):
    """FULFILL, REFUND, RETURN and RETRY_RESERVATION: who asks."""

    actor: ActingUser | None = None
    reason: str = ""


class MarkPaid(Value):
    payment_reference: str = Field(min_length=1)
    amount: ReportedAmount
    actor: ActingUser | None = None


class Ship(Value):
    tracking_number: str = ""
    actor: ActingUser | None = None


class InventoryReserved(Value):
    reservations: tuple[StockReservation, ...] = ()


class InventoryUnavailable(Value):
    shortages: tuple[StockShortage, ...]


EVENTS: dict[str, type[Value]] = {
    "MARK_PAID": MarkPaid,
    "SHIP": Ship,
    "CANCEL": ActorOnly,
    "FULFILL": ActorOnly,
    "REFUND": ActorOnly,
    "RETURN": ActorOnly,
    "RETRY_RESERVATION": ActorOnly,
    "INVENTORY_RESERVED": InventoryReserved,
    "INVENTORY_UNAVAILABLE": InventoryUnavailable,
}


def payment_authorized(
    policies: Policies, context: OrderContext, event: TypedEvent[MarkPaid], params: Any
) -> GuardResult:
    """The reported payment covers the order total (within the capture tolerance)."""
    if abs(event.amount - context.total) > policies.capture_tolerance:
        return False, f"the payment of {event.amount} does not match the total {context.total}"
    return True, None


def inventory_available(context: OrderContext, event: Any, params: Any) -> GuardResult:
    if context.inventory_reserved:
        return True, None
    return False, "the order's stock is not reserved"


def record_payment(
    context: OrderContext, event: TypedEvent[MarkPaid], params: Any
) -> dict[str, Any]:
    return {"payment_reference": event.payment_reference}


def record_reservation(
    context: OrderContext, event: TypedEvent[InventoryReserved], params: Any
) -> dict[str, Any]:
    return {"reservations": event.reservations, "inventory_reserved": True, "shortages": ()}


def record_shortage(
    context: OrderContext, event: TypedEvent[InventoryUnavailable], params: Any
) -> dict[str, Any]:
    return {"shortages": event.shortages}


def record_shipment(context: OrderContext, event: TypedEvent[Ship], params: Any) -> dict[str, Any]:
    return {"tracking_number": event.tracking_number or None}


def record_cancellation(
    context: OrderContext, event: TypedEvent[ActorOnly], params: Any
) -> dict[str, Any]:
    return {"cancel_reason": event.reason}


def _summary(context: OrderContext) -> dict[str, Any]:
    return {
        "order_id": context.order_id,
        "total": str(context.total),
        "currency": context.currency,
        "tracking_number": context.tracking_number,
    }


def implementations(ports: Ports, policies: Policies) -> Setup:
    """Everything ``machines/order.json`` names, bound to ``ports`` and ``policies``."""

    def capture_payment(context: OrderContext, event: TypedEvent[Any], params: Any) -> None:
        assert context.payment_reference is not None
        ports.payments.capture(context.payment_reference, context.total, context.currency)

    def refund_payment(context: OrderContext, event: TypedEvent[Any], params: Any) -> None:
        assert context.payment_reference is not None
        ports.payments.refund(context.payment_reference, context.total, context.currency)

    def reserve_inventory(
        context: OrderContext, event: TypedEvent[Any], params: Any
    ) -> dict[str, Any]:
        result = ports.inventory.reserve(
            context.order_id, context.lines, policies.default_warehouse
        )
        if result.shortages:
            return {
                "type": "INVENTORY_UNAVAILABLE",
                "shortages": [s.model_dump(mode="json") for s in result.shortages],
            }
        return {
            "type": "INVENTORY_RESERVED",
            "reservations": [r.model_dump(mode="json") for r in result.reservations],
        }

    def commit_inventory(context: OrderContext, event: TypedEvent[Any], params: Any) -> None:
        if context.reservations:
            ports.inventory.commit([r.reservation_id for r in context.reservations])

    def release_inventory(context: OrderContext, event: TypedEvent[Any], params: Any) -> None:
        if context.reservations:
            ports.inventory.release([r.reservation_id for r in context.reservations])

    def send_email(
        context: OrderContext, event: TypedEvent[Any], params: Mapping[str, Any]
    ) -> None:
        ports.notifications.notify(context.customer_email, params["template"], _summary(context))

    def emit_webhook(
        context: OrderContext, event: TypedEvent[Any], params: Mapping[str, Any]
    ) -> None:
        ports.notifications.publish_webhook(
            params["topic"], {**_summary(context), "event": event.type}
        )

    return setup(
        context=OrderContext,
        events=EVENTS,
        guards={
            "role_allowed": partial(role_allowed, policies),
            "payment_authorized": partial(payment_authorized, policies),
            "inventory_available": inventory_available,
        },
        actions={
            "record_payment": assign(record_payment),
            "record_reservation": assign(record_reservation),
            "record_shortage": assign(record_shortage),
            "record_shipment": assign(record_shipment),
            "record_cancellation": assign(record_cancellation),
            "capture_payment": capture_payment,
            "refund_payment": refund_payment,
            "reserve_inventory": reserve_inventory,
            "commit_inventory": commit_inventory,
            "release_inventory": release_inventory,
            "send_email": send_email,
            "emit_webhook": emit_webhook,
        },
        delays={"return_window": policies.return_window_ms},
    )
