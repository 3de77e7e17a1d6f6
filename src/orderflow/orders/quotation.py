"""The quotation machine's context, events, guards, actions and effects (``machines/quotation.json``).

A quotation is drafted line by line, totals recomputed on every change;
submitting it sends it to the customer, or first to a sales approver when
the discount or the total is above the policy's thresholds.  A rejection or
a revision returns it to ``draft`` as the next revision.  The sent
quotation stays open for its validity period (``validity_ms`` or the
policy's default), then expires.
"""

from __future__ import annotations

from decimal import Decimal
from functools import partial
from typing import Any, Literal

from pydantic import Field

from orderflow.chart import Setup, TypedEvent, assign, emit, setup
from orderflow.orders.authority import GuardResult, actor_has_role
from orderflow.orders.policies import Policies
from orderflow.orders.ports import Ports
from orderflow.orders.values import (
    ActingUser,
    Amount,
    Currency,
    Line,
    Percent,
    Sku,
    Value,
    discounted,
    money,
)

ReasonKind = Literal["rejected", "revised", "declined", "cancelled"]


class Reason(Value):
    """Why a quotation went back or ended: who said what, on which revision."""

    kind: ReasonKind
    text: str = ""
    by: str | None = None
    revision: int


class QuotationContext(Value):
    quotation_id: str | None = None
    customer_id: str = Field(min_length=1)
    currency: Currency
    lines: tuple[Line, ...] = ()
    subtotal: Amount = Decimal("0.00")
    discount_percent: Percent = Decimal(0)
    discount: Amount = Decimal("0.00")
    total: Amount = Decimal("0.00")
    #: how long the quotation stays open once sent; ``None`` takes the policy's default
    validity_ms: int | None = Field(default=None, ge=0)
    revision: int = Field(default=1, ge=1)
    approver: str | None = None
    reasons: tuple[Reason, ...] = ()


# -- events ------------------------------------------------------------------------------------


class AddLine(Value):
    sku: Sku
    quantity: int = Field(gt=0)
    unit_price: Decimal = Field(ge=0, decimal_places=4)


class RemoveLine(Value):
    sku: Sku


class SetDiscount(Value):
    percent: Percent


class Decision(Value):
    """APPROVE and REJECT: a sales approver's decision."""

    actor: ActingUser | None = None
    reason: str = ""


class CustomerAnswer(Value):
    """DECLINE, REVISE and CANCEL: optionally who and why."""

    actor: ActingUser | None = None
    reason: str = ""


EVENTS: dict[str, type[Value]] = {
    "ADD_LINE": AddLine,
    "REMOVE_LINE": RemoveLine,
    "SET_DISCOUNT": SetDiscount,
    "APPROVE": Decision,
    "REJECT": Decision,
    "DECLINE": CustomerAnswer,
    "REVISE": CustomerAnswer,
    "CANCEL": CustomerAnswer,
}


# -- guards ------------------------------------------------------------------------------------


def has_lines(context: QuotationContext, event: Any, params: Any) -> GuardResult:
    return (True, None) if context.lines else (False, "a quotation needs at least one line")


def sku_is_new(context: QuotationContext, event: TypedEvent[AddLine], params: Any) -> GuardResult:
    if any(line.sku == event.sku for line in context.lines):
        return False, f"'{event.sku}' is already on the quotation; remove it first to change it"
    return True, None


def line_exists(
    context: QuotationContext, event: TypedEvent[RemoveLine], params: Any
) -> GuardResult:
    if any(line.sku == event.sku for line in context.lines):
        return True, None
    return False, f"'{event.sku}' is not on the quotation"


def needs_approval(
    policies: Policies, context: QuotationContext, event: Any, params: Any
) -> GuardResult:
    """Policy: a discount or a total above the thresholds needs a sales approver."""
    if context.discount_percent > policies.approval_discount_percent:
        return True, None
    if context.total > policies.approval_total:
        return True, None
    return False, "discount and total are within what sales may send without approval"


# -- assignments -------------------------------------------------------------------------------


def totals(lines: tuple[Line, ...], percent: Decimal) -> dict[str, Any]:
    """Subtotal, discount and total of ``lines`` with ``percent`` off, in cents."""
    subtotal = money(sum((line.amount for line in lines), Decimal(0)))
    total = discounted(subtotal, percent)
    return {
        "lines": lines,
        "discount_percent": percent,
        "subtotal": subtotal,
        "discount": subtotal - total,
        "total": total,
    }


def add_line(context: QuotationContext, event: TypedEvent[AddLine], params: Any) -> dict[str, Any]:
    line = Line(sku=event.sku, quantity=event.quantity, unit_price=event.unit_price)
    return totals((*context.lines, line), context.discount_percent)


def remove_line(
    context: QuotationContext, event: TypedEvent[RemoveLine], params: Any
) -> dict[str, Any]:
    lines = tuple(line for line in context.lines if line.sku != event.sku)
    return totals(lines, context.discount_percent)


def set_discount(
    context: QuotationContext, event: TypedEvent[SetDiscount], params: Any
) -> dict[str, Any]:
    return totals(context.lines, event.percent)


def record_approval(
    context: QuotationContext, event: TypedEvent[Decision], params: Any
) -> dict[str, Any]:
    assert event.actor is not None  # the guard saw to it
    return {"approver": event.actor.id}


def _next_revision(
    context: QuotationContext, kind: ReasonKind, event: Decision | CustomerAnswer
) -> dict[str, Any]:
    reason = _reason(context, kind, event)
    return {"revision": context.revision + 1, "approver": None, "reasons": reason}


def _reason(
    context: QuotationContext, kind: ReasonKind, event: Decision | CustomerAnswer
) -> tuple[Reason, ...]:
    by = event.actor.id if event.actor is not None else None
    reason = Reason(kind=kind, text=event.reason, by=by, revision=context.revision)
    return (*context.reasons, reason)


def record_rejection(
    context: QuotationContext, event: TypedEvent[Decision], params: Any
) -> dict[str, Any]:
    return _next_revision(context, "rejected", event.payload)


def start_revision(
    context: QuotationContext, event: TypedEvent[CustomerAnswer], params: Any
) -> dict[str, Any]:
    return _next_revision(context, "revised", event.payload)


def record_decline(
    context: QuotationContext, event: TypedEvent[CustomerAnswer], params: Any
) -> dict[str, Any]:
    return {"reasons": _reason(context, "declined", event.payload)}


def record_cancellation(
    context: QuotationContext, event: TypedEvent[CustomerAnswer], params: Any
) -> dict[str, Any]:
    return {"reasons": _reason(context, "cancelled", event.payload)}


def quotation_event(context: QuotationContext, event: Any, params: Any) -> dict[str, Any]:
    """The domain event ``params.event`` for the outbox, with what a subscriber needs."""
    return {
        "type": params["event"],
        "quotation_id": context.quotation_id,
        "customer_id": context.customer_id,
        "revision": context.revision,
        "currency": context.currency,
        "total": str(context.total),
    }


def validity(policies: Policies, context: QuotationContext, event: Any, params: Any) -> int:
    """The named delay ``validity``: the quotation's own period, else the policy's."""
    return (
        context.validity_ms if context.validity_ms is not None else policies.quotation_validity_ms
    )


# -- effects -------------------------------------------------------------------------------------


def _summary(context: QuotationContext) -> dict[str, Any]:
    return {
        "quotation_id": context.quotation_id,
        "revision": context.revision,
        "total": str(context.total),
        "currency": context.currency,
    }


def implementations(ports: Ports, policies: Policies) -> Setup:
    """Everything ``machines/quotation.json`` names, bound to ``ports`` and ``policies``."""

    def notify_approvers(context: QuotationContext, event: TypedEvent[Any], params: Any) -> None:
        ports.notifications.notify(
            f"role:{policies.sales_approver_role}",
            "quotation.approval_requested",
            _summary(context),
        )

    def send_to_customer(context: QuotationContext, event: TypedEvent[Any], params: Any) -> None:
        ports.notifications.notify(
            f"customer:{context.customer_id}",
            "quotation.sent",
            {
                **_summary(context),
                "lines": [line.model_dump(mode="json") for line in context.lines],
            },
        )

    return setup(
        context=QuotationContext,
        events=EVENTS,
        guards={
            "has_lines": has_lines,
            "sku_is_new": sku_is_new,
            "line_exists": line_exists,
            "needs_approval": partial(needs_approval, policies),
            "actor_has_role": partial(actor_has_role, policies),
        },
        actions={
            "add_line": assign(add_line),
            "remove_line": assign(remove_line),
            "set_discount": assign(set_discount),
            "record_approval": assign(record_approval),
            "record_rejection": assign(record_rejection),
            "start_revision": assign(start_revision),
            "record_decline": assign(record_decline),
            "record_cancellation": assign(record_cancellation),
            "emit_quotation_event": emit(quotation_event),
            "notify_approvers": notify_approvers,
            "send_to_customer": send_to_customer,
        },
        delays={"validity": partial(validity, policies)},
    )
