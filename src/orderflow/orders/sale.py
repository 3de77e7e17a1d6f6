"""The sale machine's context, events, guards, actions and effects (``machines/sale.json``).

A sale is cleared for fulfilment in one of four ways, and ``clearance``
records which and by whom: captured in full (card, bank transfer), on
account within the customer's credit limit, by an approved credit override,
or by an approved admin override.  Captures accumulate and never exceed the
total; each capture is booked through the payments port under its
reference (``book_capture``), so cancelling refunds captures the payment
ledger has seen.  On account, ``processing.credit_check`` invokes the function
actor ``check_credit`` (the credit port's snapshot of the customer's credit):
the runtime calls it at once, the service makes it a durable invocation that
the invocation worker runs, and either way its answer comes back as
``xstate.done.actor.credit_check`` (or ``xstate.error.actor.credit_check``).
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from functools import partial
from typing import Any, Literal

from pydantic import Field

from orderflow.chart import Setup, TypedEvent, assign, emit, setup
from orderflow.orders.authority import GuardResult, actor_has_role
from orderflow.orders.policies import Policies
from orderflow.orders.ports import CreditSnapshot, Ports
from orderflow.orders.values import (
    ActingUser,
    Amount,
    Capture,
    Currency,
    Line,
    Percent,
    ReportedAmount,
    Value,
)

PaymentMethod = Literal["card", "bank_transfer", "on_account"]
OverrideKind = Literal["credit", "admin"]
OverrideStatus = Literal["open", "approved", "rejected", "withdrawn"]
ClearanceBasis = Literal["full_payment", "credit_limit", "credit_override", "admin_override"]


class OverrideRequest(Value):
    kind: OverrideKind
    id: str
    status: OverrideStatus = "open"
    reason: str
    requested_by: str | None = None
    decided_by: str | None = None
    note: str = ""


class Clearance(Value):
    """Why the sale may be fulfilled, and who decided (``None`` when a payment or the limit did)."""

    basis: ClearanceBasis
    by: str | None = None
    override_id: str | None = None


class SaleContext(Value):
    sale_id: str | None = None
    quotation_id: str | None = None
    customer_id: str = Field(min_length=1)
    currency: Currency
    lines: tuple[Line, ...] = ()
    discount_percent: Percent = Decimal(0)
    total: Amount
    captured_total: Amount = Decimal("0.00")
    captures: tuple[Capture, ...] = ()
    payment_method: PaymentMethod | None = None
    credit: CreditSnapshot | None = None
    #: why the last credit check gave no snapshot (the sale is then on credit hold)
    credit_check_error: str | None = None
    overrides: tuple[OverrideRequest, ...] = ()
    clearance: Clearance | None = None
    cancel_reason: str | None = None

    @property
    def outstanding(self) -> Decimal:
        return self.total - self.captured_total

    def open_override(self, kind: str) -> OverrideRequest | None:
        return next(
            (o for o in reversed(self.overrides) if o.kind == kind and o.status == "open"), None
        )


# -- events ------------------------------------------------------------------------------------


class SelectPaymentMethod(Value):
    method: PaymentMethod


class CaptureReported(Value):
    """CAPTURE: the payment provider captured ``amount`` (guards refuse what does not fit)."""

    amount: ReportedAmount
    reference: str = Field(min_length=1)


class CreditCheckRequest(Value):
    """The input of the ``check_credit`` actor: whose credit, in which currency."""

    customer_id: str = Field(min_length=1)
    currency: Currency


class CreditChecked(Value):
    """``xstate.done.actor.credit_check``: the snapshot the ``check_credit`` actor took."""

    output: CreditSnapshot


class ActorFailure(Value):
    """What a function actor's error event carries: the exception's class name and message."""

    type: str
    message: str


class CreditCheckFailed(Value):
    """``xstate.error.actor.credit_check``: the ``check_credit`` actor failed (every attempt)."""

    error: ActorFailure


class OverrideRequested(Value):
    reason: str = Field(min_length=1)
    actor: ActingUser | None = None


class OverrideDecided(Value):
    request_id: str
    actor: ActingUser | None = None
    note: str = ""


class Cancel(Value):
    reason: str = ""
    actor: ActingUser | None = None


#: the invocation of ``check_credit`` in ``processing.credit_check``, and the events its answer comes as
CREDIT_CHECK = "credit_check"
CREDIT_CHECKED = f"xstate.done.actor.{CREDIT_CHECK}"
CREDIT_CHECK_FAILED = f"xstate.error.actor.{CREDIT_CHECK}"

EVENTS: dict[str, type[Value]] = {
    "SELECT_PAYMENT_METHOD": SelectPaymentMethod,
    "CAPTURE": CaptureReported,
    CREDIT_CHECKED: CreditChecked,
    CREDIT_CHECK_FAILED: CreditCheckFailed,
    "REQUEST_CREDIT_OVERRIDE": OverrideRequested,
    "REQUEST_ADMIN_OVERRIDE": OverrideRequested,
    "CREDIT_OVERRIDE_APPROVED": OverrideDecided,
    "CREDIT_OVERRIDE_REJECTED": OverrideDecided,
    "ADMIN_OVERRIDE_APPROVED": OverrideDecided,
    "ADMIN_OVERRIDE_REJECTED": OverrideDecided,
    "CANCEL": Cancel,
}


# -- guards ------------------------------------------------------------------------------------


def payment_method_is(
    context: SaleContext, event: TypedEvent[SelectPaymentMethod], params: Mapping[str, Any]
) -> GuardResult:
    if event.method == params["method"]:
        return True, None
    return False, f"the method is {event.method}, not {params['method']}"


def capture_is_acceptable(
    context: SaleContext, event: TypedEvent[CaptureReported], params: Any
) -> GuardResult:
    """A capture must be positive, new, and fit in what is still to be captured."""
    if event.amount <= 0:
        return False, f"a capture must be positive, not {event.amount}"
    if any(c.reference == event.reference for c in context.captures):
        return False, f"capture '{event.reference}' is already recorded"
    if event.amount > context.outstanding:
        return False, (
            f"a capture of {event.amount} would exceed the total: {context.captured_total} of "
            f"{context.total} {context.currency} is captured, {context.outstanding} is outstanding"
        )
    return True, None


def fully_captured(
    policies: Policies, context: SaleContext, event: Any, params: Any
) -> GuardResult:
    if context.outstanding <= policies.capture_tolerance:
        return True, None
    return False, f"{context.outstanding} {context.currency} is still to be captured"


def within_credit_limit(
    policies: Policies, context: SaleContext, event: TypedEvent[CreditChecked], params: Any
) -> GuardResult:
    credit = event.output
    if policies.credit_hold_when_overdue and credit.overdue > 0:
        return False, f"the customer has {credit.overdue} {context.currency} overdue"
    if context.total > credit.available + policies.credit_tolerance:
        return False, (
            f"the total {context.total} is above the available credit {credit.available} "
            f"{context.currency}"
        )
    return True, None


def override_request_matches(
    context: SaleContext, event: TypedEvent[OverrideDecided], params: Mapping[str, Any]
) -> GuardResult:
    """The decision is about the open override request of ``params.kind``."""
    request = context.open_override(params["kind"])
    if request is None:
        return False, f"there is no open {params['kind']} override request"
    if request.id != event.request_id:
        return (
            False,
            f"the open {params['kind']} override request is {request.id}, not {event.request_id}",
        )
    return True, None


# -- assignments ----------------------------------------------------------------------------------


def record_payment_method(
    context: SaleContext, event: TypedEvent[SelectPaymentMethod], params: Any
) -> dict[str, Any]:
    return {"payment_method": event.method}


def record_capture(
    context: SaleContext, event: TypedEvent[CaptureReported], params: Any
) -> dict[str, Any]:
    capture = Capture(amount=event.amount, reference=event.reference)
    return {
        "captures": (*context.captures, capture),
        "captured_total": context.captured_total + event.amount,
    }


def record_credit_snapshot(
    context: SaleContext, event: TypedEvent[CreditChecked], params: Any
) -> dict[str, Any]:
    return {"credit": event.output, "credit_check_error": None}


def record_credit_check_failure(
    context: SaleContext, event: TypedEvent[CreditCheckFailed], params: Any
) -> dict[str, Any]:
    return {"credit": None, "credit_check_error": f"{event.error.type}: {event.error.message}"}


def credit_check_input(context: SaleContext, event: Any) -> dict[str, Any]:
    """What ``check_credit`` is asked (JSON: a durable invocation stores it in its row)."""
    request = CreditCheckRequest(customer_id=context.customer_id, currency=context.currency)
    return request.model_dump(mode="json")


def open_override(
    context: SaleContext, event: TypedEvent[OverrideRequested], params: Mapping[str, Any]
) -> dict[str, Any]:
    """A new override request of ``params.kind``, with an id that only depends on the sale's history."""
    kind = params["kind"]
    request = OverrideRequest(
        kind=kind,
        id=f"{kind}-{len(context.overrides) + 1}",
        reason=event.reason,
        requested_by=event.actor.id if event.actor is not None else None,
    )
    return {"overrides": (*context.overrides, request)}


def decide_override(
    context: SaleContext, event: TypedEvent[OverrideDecided], params: Mapping[str, Any]
) -> dict[str, Any]:
    """Record the decision on the request; an approval withdraws every other open request."""
    decision = params["decision"]
    decided_by = event.actor.id if event.actor is not None else None
    overrides = []
    for request in context.overrides:
        if request.id == event.request_id:
            request = request.model_copy(
                update={"status": decision, "decided_by": decided_by, "note": event.note}
            )
        elif decision == "approved" and request.status == "open":
            request = request.model_copy(update={"status": "withdrawn"})
        overrides.append(request)
    return {"overrides": tuple(overrides)}


def clear(context: SaleContext, event: Any, params: Mapping[str, Any]) -> dict[str, Any]:
    basis = params["basis"]
    if basis in ("credit_override", "admin_override"):
        by = event.actor.id if event.actor is not None else None
        return {"clearance": Clearance(basis=basis, by=by, override_id=event.request_id)}
    return {"clearance": Clearance(basis=basis)}


def record_cancellation(
    context: SaleContext, event: TypedEvent[Cancel], params: Any
) -> dict[str, Any]:
    overrides = tuple(
        o.model_copy(update={"status": "withdrawn"}) if o.status == "open" else o
        for o in context.overrides
    )
    return {"cancel_reason": event.reason, "overrides": overrides}


# -- domain events for the outbox ----------------------------------------------------------------


def _sale(context: SaleContext) -> dict[str, Any]:
    return {"sale_id": context.sale_id, "quotation_id": context.quotation_id}


def payment_captured(
    context: SaleContext, event: TypedEvent[CaptureReported], params: Any
) -> dict[str, Any]:
    return {
        "type": "sale.payment_captured",
        **_sale(context),
        "amount": str(event.amount),
        "reference": event.reference,
        "captured_total": str(context.captured_total),
        "currency": context.currency,
    }


def override_requested(
    context: SaleContext, event: TypedEvent[OverrideRequested], params: Any
) -> dict[str, Any]:
    request = context.overrides[-1]
    return {
        "type": "sale.override_requested",
        **_sale(context),
        **request.model_dump(mode="json", include={"kind", "id", "reason", "requested_by"}),
    }


def override_decided(
    context: SaleContext, event: TypedEvent[OverrideDecided], params: Any
) -> dict[str, Any]:
    request = next(o for o in context.overrides if o.id == event.request_id)
    return {
        "type": "sale.override_decided",
        **_sale(context),
        **request.model_dump(mode="json", include={"kind", "id", "status", "decided_by", "note"}),
    }


def sale_cleared(context: SaleContext, event: Any, params: Any) -> dict[str, Any]:
    assert context.clearance is not None
    return {
        "type": "sale.cleared",
        **_sale(context),
        "clearance": context.clearance.model_dump(mode="json"),
        "total": str(context.total),
        "captured_total": str(context.captured_total),
        "currency": context.currency,
    }


def sale_cancelled(context: SaleContext, event: Any, params: Any) -> dict[str, Any]:
    return {
        "type": "sale.cancelled",
        **_sale(context),
        "reason": context.cancel_reason,
        "refund": str(context.captured_total),
        "currency": context.currency,
    }


# -- effects -------------------------------------------------------------------------------------


def implementations(ports: Ports, policies: Policies) -> Setup:
    """Everything ``machines/sale.json`` names, bound to ``ports`` and ``policies``."""

    def check_credit(input: Mapping[str, Any]) -> CreditSnapshot:
        """The function actor ``processing.credit_check`` invokes: the customer's credit now.

        The machine decides on its output (``xstate.done.actor.credit_check``).  In the
        service it is a durable invocation, run by the invocation worker outside the step
        that entered the state; it only reads, so running it again is harmless.
        """
        request = CreditCheckRequest.model_validate(input)
        return ports.credit.credit_snapshot(request.customer_id, request.currency)

    def book_capture(context: SaleContext, event: TypedEvent[Any], params: Any) -> None:
        """Book the capture the CAPTURE event reported in the payments port, once per reference.

        The guard refuses a reference the sale already holds, so the machine
        books each reference once; the database-backed ledger keeps a
        reference once as well (a replayed effect is a no-op there).
        """
        capture = context.captures[-1]  # record_capture ran first
        ports.payments.capture(capture.reference, capture.amount, context.currency)

    def refund_captures(context: SaleContext, event: TypedEvent[Any], params: Any) -> None:
        for capture in context.captures:
            ports.payments.refund(capture.reference, capture.amount, context.currency)

    def notify_override_approvers(
        context: SaleContext, event: TypedEvent[Any], params: Any
    ) -> None:
        request = context.overrides[-1]
        role = policies.admin_role if request.kind == "admin" else policies.credit_approver_role
        ports.notifications.notify(
            f"role:{role}",
            f"sale.{request.kind}_override_requested",
            {**_sale(context), "request_id": request.id, "reason": request.reason},
        )

    return setup(
        context=SaleContext,
        events=EVENTS,
        guards={
            "payment_method_is": payment_method_is,
            "capture_is_acceptable": capture_is_acceptable,
            "fully_captured": partial(fully_captured, policies),
            "within_credit_limit": partial(within_credit_limit, policies),
            "override_request_matches": override_request_matches,
            "actor_has_role": partial(actor_has_role, policies),
        },
        actions={
            "record_payment_method": assign(record_payment_method),
            "record_capture": assign(record_capture),
            "record_credit_snapshot": assign(record_credit_snapshot),
            "record_credit_check_failure": assign(record_credit_check_failure),
            "open_override": assign(open_override),
            "decide_override": assign(decide_override),
            "clear": assign(clear),
            "record_cancellation": assign(record_cancellation),
            "emit_payment_captured": emit(payment_captured),
            "emit_override_requested": emit(override_requested),
            "emit_override_decided": emit(override_decided),
            "emit_cleared": emit(sale_cleared),
            "emit_cancelled": emit(sale_cancelled),
            "book_capture": book_capture,
            "refund_captures": refund_captures,
            "notify_override_approvers": notify_override_approvers,
        },
        actors={"check_credit": check_credit},
        inputs={"credit_check_input": credit_check_input},
    )
