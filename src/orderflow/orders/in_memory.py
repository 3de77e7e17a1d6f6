"""In-memory ports: real implementations that keep their state in Python objects.

They behave like the systems they stand for (a capture needs an
authorisation, a reservation needs stock, nothing is reserved twice for one
owner and sku) and record what they were asked, so tests can assert on it.

    ports = in_memory_ports()
    ports.inventory.add_stock("SKU-1", 10)
    machine = load_machine("fulfilment", ports=ports)
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from orderflow.orders.ports import (
    CreditSnapshot,
    InventoryError,
    PaymentError,
    Ports,
    ReservationResult,
    StockReservation,
    StockShortage,
)
from orderflow.orders.values import StockLine, money


@dataclass(frozen=True)
class Refund:
    refund_id: str
    reference: str
    amount: Decimal
    currency: str


class InMemoryPayments:
    """A payment provider and its ledger, in memory.

    Like a provider, it refuses a capture it has no authorisation for
    (``authorize`` first, as a checkout would) unless created with
    ``authorisation_required=False``; like the database ledger, it records a
    capture once per reference and bounds the refunds of each capture.
    """

    def __init__(self, *, authorisation_required: bool = True) -> None:
        self.authorisation_required = authorisation_required
        self.authorized: dict[str, Decimal] = {}
        self.captured: dict[str, Decimal] = {}
        self.currencies: dict[str, str] = {}
        self.refunds: list[Refund] = []
        self._ids = itertools.count(1)

    def authorize(self, reference: str, amount: Decimal) -> None:
        self.authorized[reference] = Decimal(amount)

    def capture(self, reference: str, amount: Decimal, currency: str) -> None:
        if amount <= 0:
            raise PaymentError(f"a capture must be positive, not {amount} {currency}")
        if reference in self.captured:
            recorded = (self.captured[reference], self.currencies[reference])
            if recorded != (money(amount), currency):
                raise PaymentError(
                    f"capture '{reference}' is already recorded as {recorded[0]} {recorded[1]}, "
                    f"not {amount} {currency}"
                )
            return  # the same capture again: a replayed effect
        if self.authorisation_required:
            authorised = self.authorized.get(reference, Decimal(0))
            if amount > authorised:
                raise PaymentError(
                    f"cannot capture {amount} {currency} on '{reference}': {authorised} is authorised"
                )
        self.captured[reference] = money(amount)
        self.currencies[reference] = currency

    def refund(self, reference: str, amount: Decimal, currency: str) -> str:
        if amount <= 0:
            raise PaymentError(f"a refund must be positive, not {amount} {currency}")
        if reference in self.captured and amount > self.refundable(reference):
            raise PaymentError(
                f"cannot refund {amount} {currency} on capture '{reference}': "
                f"{self.refunded(reference)} of {self.captured[reference]} is refunded already"
            )
        refund = Refund(f"RF-{next(self._ids)}", reference, money(amount), currency)
        self.refunds.append(refund)
        return refund.refund_id

    def refunded(self, reference: str) -> Decimal:
        return sum((r.amount for r in self.refunds if r.reference == reference), Decimal("0.00"))

    def refundable(self, reference: str) -> Decimal:
        if reference not in self.captured:
            return Decimal(0)
        return self.captured[reference] - self.refunded(reference)


@dataclass
class _Held:
    owner: str
    sku: str
    quantity: int
    warehouse: str
    status: str = "held"  # held -> committed | released


class InMemoryInventory:
    """A warehouse: stock per (warehouse, sku), reservations all or nothing."""

    def __init__(self, stock: Mapping[str, int] | None = None, warehouse: str = "main") -> None:
        self.on_hand: dict[tuple[str, str], int] = {
            (warehouse, sku): quantity for sku, quantity in (stock or {}).items()
        }
        self.reservations: dict[str, _Held] = {}
        self._ids = itertools.count(1)

    def add_stock(self, sku: str, quantity: int, warehouse: str = "main") -> None:
        self.on_hand[warehouse, sku] = self.on_hand.get((warehouse, sku), 0) + quantity

    def available(self, sku: str, warehouse: str = "main") -> int:
        held = sum(
            r.quantity
            for r in self.reservations.values()
            if r.status == "held" and (r.warehouse, r.sku) == (warehouse, sku)
        )
        return self.on_hand.get((warehouse, sku), 0) - held

    def reserve(self, owner: str, lines: Sequence[StockLine], warehouse: str) -> ReservationResult:
        for line in lines:
            if any(
                r.status != "released" and (r.owner, r.sku) == (owner, line.sku)
                for r in self.reservations.values()
            ):
                raise InventoryError(f"'{owner}' already has stock of '{line.sku}' reserved")
        shortages = tuple(
            StockShortage(
                sku=line.sku,
                requested=line.quantity,
                available=max(0, self.available(line.sku, warehouse)),
            )
            for line in lines
            if self.available(line.sku, warehouse) < line.quantity
        )
        if shortages:
            return ReservationResult(shortages=shortages)
        reserved = []
        for line in lines:
            reservation_id = f"RSV-{next(self._ids)}"
            self.reservations[reservation_id] = _Held(owner, line.sku, line.quantity, warehouse)
            reserved.append(
                StockReservation(
                    reservation_id=reservation_id, sku=line.sku, quantity=line.quantity
                )
            )
        return ReservationResult(reservations=tuple(reserved))

    def commit(self, reservation_ids: Sequence[str]) -> None:
        for held in self._held(reservation_ids):
            held.status = "committed"
            key = (held.warehouse, held.sku)
            self.on_hand[key] = self.on_hand.get(key, 0) - held.quantity

    def release(self, reservation_ids: Sequence[str]) -> None:
        for held in self._held(reservation_ids):
            held.status = "released"

    def restock(self, sku: str, quantity: int, warehouse: str) -> None:
        self.add_stock(sku, quantity, warehouse)

    def _held(self, reservation_ids: Sequence[str]) -> list[_Held]:
        found = []
        for reservation_id in reservation_ids:
            held = self.reservations.get(reservation_id)
            if held is None or held.status != "held":
                raise InventoryError(f"reservation '{reservation_id}' is not held")
            found.append(held)
        return found


@dataclass
class CreditProfile:
    limit: Decimal = Decimal(0)
    overdue: Decimal = Decimal(0)
    open_balance: Decimal = Decimal(0)


class InMemoryCredit:
    """Credit control: a profile per customer (unknown customers have no credit)."""

    def __init__(self, now: Callable[[], datetime] | None = None) -> None:
        self.profiles: dict[str, CreditProfile] = {}
        self._now = now or (lambda: datetime.now(UTC))

    def set_profile(
        self,
        customer_id: str,
        limit: Decimal,
        *,
        overdue: Decimal = Decimal(0),
        open_balance: Decimal = Decimal(0),
    ) -> None:
        self.profiles[customer_id] = CreditProfile(
            Decimal(limit), Decimal(overdue), Decimal(open_balance)
        )

    def credit_snapshot(self, customer_id: str, currency: str) -> CreditSnapshot:
        profile = self.profiles.get(customer_id, CreditProfile())
        return CreditSnapshot(
            limit=money(profile.limit),
            open_balance=money(profile.open_balance),
            overdue=money(profile.overdue),
            available=money(profile.limit - profile.open_balance),
            taken_at=self._now(),
        )


@dataclass(frozen=True)
class Notification:
    recipient: str
    template: str
    data: Mapping[str, Any]


@dataclass
class InMemoryNotifications:
    """Keeps every message and webhook in order."""

    sent: list[Notification] = field(default_factory=list)
    webhooks: list[tuple[str, Mapping[str, Any]]] = field(default_factory=list)

    def notify(self, recipient: str, template: str, data: Mapping[str, Any]) -> None:
        self.sent.append(Notification(recipient, template, dict(data)))

    def publish_webhook(self, topic: str, payload: Mapping[str, Any]) -> None:
        self.webhooks.append((topic, dict(payload)))

    def templates(self) -> list[str]:
        return [n.template for n in self.sent]


@dataclass(frozen=True)
class InMemoryPorts(Ports):
    """:class:`Ports` with the in-memory implementations, typed as such for tests."""

    payments: InMemoryPayments
    inventory: InMemoryInventory
    credit: InMemoryCredit
    notifications: InMemoryNotifications


def in_memory_ports(
    *, stock: Mapping[str, int] | None = None, now: Callable[[], datetime] | None = None
) -> InMemoryPorts:
    """Fresh in-memory ports (``stock`` in the default warehouse ``main``)."""
    return InMemoryPorts(
        payments=InMemoryPayments(),
        inventory=InMemoryInventory(stock),
        credit=InMemoryCredit(now),
        notifications=InMemoryNotifications(),
    )
