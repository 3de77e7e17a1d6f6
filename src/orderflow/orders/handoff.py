"""What one phase hands to the next: the input of the sale from an approved quotation, and so on.

A JSON definition's final ``output`` is static (it names the next phase),
while what the next machine needs is in the finished snapshot's context.
These functions read it, check the snapshot really finished where it
should, and return the plain JSON ``input`` for the next machine's
``initial_transition(input=...)`` (or ``create_actor(..., input=...)``).
The PhaseCoordinator calls them; so can anyone driving the machines by hand.
"""

from __future__ import annotations

from typing import Any

from orderflow.chart import Snapshot
from orderflow.errors import HandoffError as HandoffError
from orderflow.orders.fulfilment import FulfilmentContext
from orderflow.orders.quotation import QuotationContext
from orderflow.orders.sale import SaleContext


def _finished(snapshot: Snapshot, state: str, context_model: type[Any], phase: str) -> Any:
    if snapshot.status != "done" or not snapshot.matches(state):
        raise HandoffError(
            f"only a {phase} that finished in '{state}' hands over; this one is "
            f"{snapshot.status} in {snapshot.value!r}"
        )
    if not isinstance(snapshot.context, context_model):
        raise HandoffError(
            f"this is not a {phase} snapshot: its context is {type(snapshot.context).__name__}"
        )
    return snapshot.context


def sale_input_from(quotation: Snapshot, *, sale_id: str | None = None) -> dict[str, Any]:
    """The sale's input from an approved quotation: who buys what, at which price and total."""
    context: QuotationContext = _finished(quotation, "approved", QuotationContext, "quotation")
    sale = SaleContext(
        sale_id=sale_id,
        quotation_id=context.quotation_id,
        customer_id=context.customer_id,
        currency=context.currency,
        lines=context.lines,
        discount_percent=context.discount_percent,
        total=context.total,
    )
    return sale.model_dump(mode="json", include=_INPUT_FIELDS["sale"])


def fulfilment_input_from(
    sale: Snapshot, *, sale_id: str | None = None, warehouse: str | None = None
) -> dict[str, Any]:
    """The fulfilment's input from a cleared sale: the lines to ship, their prices for refunds."""
    context: SaleContext = _finished(sale, "cleared", SaleContext, "sale")
    identifier = sale_id or context.sale_id
    if not identifier:
        raise HandoffError("the sale has no sale_id; pass sale_id= to name the fulfilment's sale")
    fulfilment = FulfilmentContext(
        sale_id=identifier,
        currency=context.currency,
        lines=context.lines,
        discount_percent=context.discount_percent,
        captures=context.captures,
        **({"warehouse": warehouse} if warehouse else {}),
    )
    return fulfilment.model_dump(mode="json", include=_INPUT_FIELDS["fulfilment"])


_INPUT_FIELDS = {
    "sale": {
        "sale_id", "quotation_id", "customer_id", "currency", "lines", "discount_percent", "total",
    },
    "fulfilment": {"sale_id", "currency", "lines", "discount_percent", "captures", "warehouse"},
}  # fmt: skip
