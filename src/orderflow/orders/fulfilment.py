"""The fulfilment machine's context, events, guards, actions and effects (``machines/fulfilment.json``).

Stock is reserved all or nothing through the inventory port (the
``reserve_stock`` effect answers ``STOCK_RESERVED`` or ``STOCK_SHORT``),
committed when the parcel ships and released when the fulfilment is
cancelled.  The return window opens at delivery as a delayed
``RETURN_WINDOW_CLOSED`` event, so a pending return request does not stop
or restart it; a request decided after it closed ends in ``completed``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any, Literal

from pydantic import Field, model_validator

from orderflow.chart import Setup, TypedEvent, assign, emit, setup
from orderflow.orders.authority import GuardResult
from orderflow.orders.policies import Policies
from orderflow.orders.ports import PaymentError, Ports, StockReservation, StockShortage
from orderflow.orders.values import (
    ActingUser,
    Amount,
    Capture,
    Currency,
    Line,
    Percent,
    StockLine,
    Value,
    discounted,
)

Effect = Callable[["FulfilmentContext", TypedEvent[Any], Any], None]
ReturnStatus = Literal[
    "requested", "approved", "rejected", "abandoned", "received", "accepted", "items_rejected"
]


class ReturnRequest(Value):
    reason: str
    lines: tuple[StockLine, ...]
    status: ReturnStatus = "requested"


class FulfilmentContext(Value):
    sale_id: str = Field(min_length=1)
    currency: Currency
    lines: tuple[Line, ...] = Field(min_length=1)
    discount_percent: Percent = Decimal(0)
    #: the sale's captures, newest last: refunds are drawn from them (none: paid on account)
    captures: tuple[Capture, ...] = ()
    warehouse: str = "main"
    reservations: tuple[StockReservation, ...] = ()
    reservations_committed: bool = False
    shortages: tuple[StockShortage, ...] = ()
    backorder_overdue: bool = False
    carrier: str | None = None
    tracking_number: str | None = None
    return_request: ReturnRequest | None = None
    return_window_closed: bool = False
    refund_amount: Amount = Decimal("0.00")
    cancel_reason: str | None = None

    @model_validator(mode="after")
    def _one_line_per_sku(self) -> FulfilmentContext:
        repeated = [sku for sku, n in Counter(line.sku for line in self.lines).items() if n > 1]
        if repeated:
            raise ValueError(f"each sku may appear on one line only: {repeated}")
        return self

    def stock_lines(self) -> list[StockLine]:
        return [StockLine(sku=line.sku, quantity=line.quantity) for line in self.lines]


# -- events ------------------------------------------------------------------------------------


class StockReserved(Value):
    reservations: tuple[StockReservation, ...]


class StockShort(Value):
    shortages: tuple[StockShortage, ...]


class Ship(Value):
    carrier: str = Field(min_length=1)
    tracking: str = Field(min_length=1)


class RequestReturn(Value):
    reason: str = Field(min_length=1)
    lines: tuple[StockLine, ...] = Field(min_length=1)


class Cancel(Value):
    reason: str = ""
    actor: ActingUser | None = None


EVENTS: dict[str, type[Value]] = {
    "STOCK_RESERVED": StockReserved,
    "STOCK_SHORT": StockShort,
    "SHIP": Ship,
    "REQUEST_RETURN": RequestReturn,
    "CANCEL": Cancel,
}


# -- guards ------------------------------------------------------------------------------------


def _quantities(lines: Any) -> Counter[str]:
    counts: Counter[str] = Counter()
    for line in lines:
        counts[line.sku] += line.quantity
    return counts


def reservations_cover_lines(
    context: FulfilmentContext, event: TypedEvent[StockReserved], params: Any
) -> GuardResult:
    """Exactly one reservation per line, for its quantity, and nothing reserved before."""
    if context.reservations:
        return False, "stock is already reserved for this fulfilment"
    skus = [r.sku for r in event.reservations]
    if len(skus) != len(set(skus)):
        return False, "a line cannot be reserved twice"
    wanted = {line.sku: line.quantity for line in context.lines}
    got = {r.sku: r.quantity for r in event.reservations}
    if got != wanted:
        return False, f"the reservations {got} do not match the lines {wanted}"
    return True, None


def stock_is_reserved(context: FulfilmentContext, event: Any, params: Any) -> GuardResult:
    if context.reservations_committed:
        return False, "the reservations are already committed"
    if {r.sku: r.quantity for r in context.reservations} != {
        line.sku: line.quantity for line in context.lines
    }:
        return False, "not every line is reserved"
    return True, None


def return_window_closed(context: FulfilmentContext, event: Any, params: Any) -> GuardResult:
    return (True, None) if context.return_window_closed else (False, "the return window is open")


def return_lines_were_delivered(
    context: FulfilmentContext, event: TypedEvent[RequestReturn], params: Any
) -> GuardResult:
    """Each returned sku once, and no more of it than was delivered."""
    skus = [line.sku for line in event.lines]
    if len(skus) != len(set(skus)):
        return False, "list each sku once in a return"
    delivered = {line.sku: line.quantity for line in context.lines}
    for line in event.lines:
        if line.quantity > delivered.get(line.sku, 0):
            return False, (
                f"{line.quantity} of '{line.sku}' cannot be returned: "
                f"{delivered.get(line.sku, 0)} were delivered"
            )
    return True, None


# -- assignments -------------------------------------------------------------------------------


def record_reservations(
    context: FulfilmentContext, event: TypedEvent[StockReserved], params: Any
) -> dict[str, Any]:
    return {"reservations": event.reservations, "shortages": ()}


def record_shortage(
    context: FulfilmentContext, event: TypedEvent[StockShort], params: Any
) -> dict[str, Any]:
    return {"shortages": event.shortages, "backorder_overdue": False}


def mark_backorder_overdue(context: FulfilmentContext, event: Any, params: Any) -> dict[str, Any]:
    return {"backorder_overdue": True}


def record_shipment(
    context: FulfilmentContext, event: TypedEvent[Ship], params: Any
) -> dict[str, Any]:
    return {
        "carrier": event.carrier,
        "tracking_number": event.tracking,
        "reservations_committed": True,
    }


def record_return_request(
    context: FulfilmentContext, event: TypedEvent[RequestReturn], params: Any
) -> dict[str, Any]:
    return {"return_request": ReturnRequest(reason=event.reason, lines=event.lines)}


def set_return_status(
    context: FulfilmentContext, event: Any, params: Mapping[str, Any]
) -> dict[str, Any]:
    assert context.return_request is not None
    return {
        "return_request": context.return_request.model_copy(update={"status": params["status"]})
    }


def accept_return(context: FulfilmentContext, event: Any, params: Any) -> dict[str, Any]:
    """The returned items are accepted: refund them at their price after the sale's discount."""
    assert context.return_request is not None
    prices = {line.sku: line.unit_price for line in context.lines}
    gross = sum(
        (line.quantity * prices[line.sku] for line in context.return_request.lines), Decimal(0)
    )
    return {
        "return_request": context.return_request.model_copy(update={"status": "accepted"}),
        "refund_amount": discounted(gross, context.discount_percent),
    }


def close_return_window(context: FulfilmentContext, event: Any, params: Any) -> dict[str, Any]:
    return {"return_window_closed": True}


def record_cancellation(
    context: FulfilmentContext, event: TypedEvent[Cancel], params: Any
) -> dict[str, Any]:
    return {"cancel_reason": event.reason}


def fulfilment_event(context: FulfilmentContext, event: Any, params: Any) -> dict[str, Any]:
    """The domain event ``params.event`` for the outbox."""
    data: dict[str, Any] = {
        "type": params["event"],
        "sale_id": context.sale_id,
        "warehouse": context.warehouse,
    }
    name = params["event"]
    if name in ("fulfilment.backordered", "fulfilment.backorder_overdue"):
        data["shortages"] = [s.model_dump(mode="json") for s in context.shortages]
    elif name in ("fulfilment.shipped", "fulfilment.delivered"):
        data["carrier"], data["tracking_number"] = context.carrier, context.tracking_number
    elif name == "fulfilment.returned":
        data["refund_amount"], data["currency"] = str(context.refund_amount), context.currency
    elif name == "fulfilment.cancelled":
        data["reason"] = context.cancel_reason
    return data


# -- effects -------------------------------------------------------------------------------------


def implementations(ports: Ports, policies: Policies) -> Setup:
    """Everything ``machines/fulfilment.json`` names, bound to ``ports`` and ``policies``."""

    def reserve_stock(
        context: FulfilmentContext, event: TypedEvent[Any], params: Any
    ) -> dict[str, Any]:
        """Reserve every line or none; answer STOCK_RESERVED or STOCK_SHORT."""
        result = ports.inventory.reserve(context.sale_id, context.stock_lines(), context.warehouse)
        if result.shortages:
            return {
                "type": "STOCK_SHORT",
                "shortages": [s.model_dump(mode="json") for s in result.shortages],
            }
        return {
            "type": "STOCK_RESERVED",
            "reservations": [r.model_dump(mode="json") for r in result.reservations],
        }

    def commit_reservations(
        context: FulfilmentContext, event: TypedEvent[Any], params: Any
    ) -> None:
        ports.inventory.commit([r.reservation_id for r in context.reservations])

    def release_reservations(
        context: FulfilmentContext, event: TypedEvent[Any], params: Any
    ) -> None:
        if context.reservations:
            ports.inventory.release([r.reservation_id for r in context.reservations])

    def restock_returned_items(
        context: FulfilmentContext, event: TypedEvent[Any], params: Any
    ) -> None:
        assert context.return_request is not None
        for line in context.return_request.lines:
            ports.inventory.restock(line.sku, line.quantity, context.warehouse)

    def refund_return(context: FulfilmentContext, event: TypedEvent[Any], params: Any) -> None:
        """Refund the accepted return from the sale's captures, newest first.

        A sale paid on account has no captures: the refund is a credit note
        on the sale.  A sale whose captures cannot cover the refund (other
        returns took it) is refused with :class:`PaymentError`: nothing is
        refunded twice.
        """
        if context.refund_amount <= 0:
            return
        if not context.captures:
            ports.payments.refund(context.sale_id, context.refund_amount, context.currency)
            return
        plan: list[tuple[str, Decimal]] = []
        remaining = context.refund_amount
        for capture in reversed(context.captures):
            share = min(remaining, ports.payments.refundable(capture.reference))
            if share > 0:
                plan.append((capture.reference, share))
                remaining -= share
            if remaining == 0:
                break
        if remaining > 0:
            raise PaymentError(
                f"cannot refund {context.refund_amount} {context.currency} for sale "
                f"'{context.sale_id}': its captures have only {context.refund_amount - remaining} "
                "left to refund"
            )
        for reference, share in plan:
            ports.payments.refund(reference, share, context.currency)

    def notifier(template: str) -> Effect:
        """An effect telling the sale's parties about this fulfilment with ``template``."""

        def notify(context: FulfilmentContext, event: TypedEvent[Any], params: Any) -> None:
            ports.notifications.notify(
                f"sale:{context.sale_id}",
                template,
                {
                    "sale_id": context.sale_id,
                    "carrier": context.carrier,
                    "tracking_number": context.tracking_number,
                    "shortages": [s.model_dump(mode="json") for s in context.shortages],
                },
            )

        notify.__name__ = template.replace(".", "_")
        return notify

    return setup(
        context=FulfilmentContext,
        events=EVENTS,
        guards={
            "reservations_cover_lines": reservations_cover_lines,
            "stock_is_reserved": stock_is_reserved,
            "return_window_closed": return_window_closed,
            "return_lines_were_delivered": return_lines_were_delivered,
        },
        actions={
            "record_reservations": assign(record_reservations),
            "record_shortage": assign(record_shortage),
            "mark_backorder_overdue": assign(mark_backorder_overdue),
            "record_shipment": assign(record_shipment),
            "record_return_request": assign(record_return_request),
            "set_return_status": assign(set_return_status),
            "accept_return": assign(accept_return),
            "close_return_window": assign(close_return_window),
            "record_cancellation": assign(record_cancellation),
            "emit_fulfilment_event": emit(fulfilment_event),
            "reserve_stock": reserve_stock,
            "commit_reservations": commit_reservations,
            "release_reservations": release_reservations,
            "restock_returned_items": restock_returned_items,
            "refund_return": refund_return,
            "notify_shipped": notifier("fulfilment.shipped"),
            "notify_backorder_overdue": notifier("fulfilment.backorder_overdue"),
            "notify_return_approved": notifier("fulfilment.return_approved"),
            "notify_return_items_rejected": notifier("fulfilment.return_items_rejected"),
        },
        delays={
            "backorder_wait": policies.backorder_wait_ms,
            "return_window": policies.return_window_ms,
            "return_shipping_wait": policies.return_shipping_wait_ms,
        },
    )
