"""Ports: how the order machines' effects reach the world, as protocols.

An effect names what happens (``reserve_stock``, ``refund_captures``); it
does it through one of four ports.  Each port has an in-memory
implementation here (``in_memory.py``, for the runtime, the demo and the
tests); the store layer adds database-backed ones.  What a port answers
with is a value object below, so an effect can turn it into an event the
machine processes next.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol

from pydantic import Field

from orderflow.errors import InventoryError as InventoryError
from orderflow.errors import PaymentError as PaymentError
from orderflow.orders.values import Amount, Quantity, Sku, StockLine, Value


class StockReservation(Value):
    """Stock held for one line of one owner (a fulfilment or an order)."""

    reservation_id: str = Field(min_length=1)
    sku: Sku
    quantity: Quantity


class StockShortage(Value):
    """A line the warehouse cannot cover: ``available`` of the ``requested`` quantity."""

    sku: Sku
    requested: Quantity
    available: int = Field(ge=0)


class ReservationResult(Value):
    """All or nothing: either every line is reserved, or nothing is and the shortages say why."""

    reservations: tuple[StockReservation, ...] = ()
    shortages: tuple[StockShortage, ...] = ()


class CreditSnapshot(Value):
    """A customer's credit profile and open sales aggregate at one moment."""

    limit: Amount
    open_balance: Amount
    overdue: Amount
    available: Decimal
    taken_at: datetime


class PaymentPort(Protocol):
    """A payment service provider, and the ledger of what it captured and refunded.

    The contract every implementation keeps (``tests/service/test_ports.py``
    runs it against the in-memory and the database-backed one):

    - a capture is recorded once per reference; capturing the same reference
      again with the same amount and currency is a no-op (a replayed effect),
      with anything else it is refused;
    - refunds against a capture never exceed what it captured;
    - a refund against a reference that is no capture (a sale paid on
      account: the refund is a credit note on the sale) has no such bound.
    """

    def capture(self, reference: str, amount: Decimal, currency: str) -> None:
        """Capture ``amount`` under ``reference``; :class:`PaymentError` if refused."""
        ...

    def refund(self, reference: str, amount: Decimal, currency: str) -> str:
        """Refund ``amount`` against ``reference`` (a capture, or a sale id); return the refund id."""
        ...

    def refundable(self, reference: str) -> Decimal:
        """What is left to refund on the capture ``reference`` (0 when it is no capture)."""
        ...


class InventoryPort(Protocol):
    """A warehouse management system."""

    def reserve(
        self, owner: str, lines: Sequence[StockLine], warehouse: str
    ) -> ReservationResult: ...

    def commit(self, reservation_ids: Sequence[str]) -> None:
        """The reserved stock left the warehouse."""
        ...

    def release(self, reservation_ids: Sequence[str]) -> None:
        """The reserved stock is available again."""
        ...

    def restock(self, sku: str, quantity: int, warehouse: str) -> None:
        """Returned or delivered stock is on the shelf."""
        ...


class CreditPort(Protocol):
    """Credit control: a customer's limit, overdue amount and open balance."""

    def credit_snapshot(self, customer_id: str, currency: str) -> CreditSnapshot: ...


class NotificationPort(Protocol):
    """Messages to people and webhooks to other systems."""

    def notify(self, recipient: str, template: str, data: Mapping[str, Any]) -> None: ...

    def publish_webhook(self, topic: str, payload: Mapping[str, Any]) -> None: ...


@dataclass(frozen=True)
class Ports:
    """The four ports one set of machines uses."""

    payments: PaymentPort
    inventory: InventoryPort
    credit: CreditPort
    notifications: NotificationPort
