"""Value objects every order machine shares: who acts, money, priced lines.

Contexts and event payloads are frozen pydantic models with tuples for
collections, so a guard cannot change a snapshot it was only asked about,
and a context dumps to plain JSON (``Decimal`` as a string) for the
``workflow_context`` column.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

CENT = Decimal("0.01")

#: A count of items: at least one.
Quantity = Annotated[int, Field(gt=0)]
#: An amount of money as a payment sees it: at most two decimal places, never negative.
Amount = Annotated[Decimal, Field(ge=0, decimal_places=2, allow_inf_nan=False)]
#: A signed amount as somebody reported it; guards decide whether it makes sense.
ReportedAmount = Annotated[Decimal, Field(decimal_places=2, allow_inf_nan=False)]
#: A unit price: up to four decimal places (B2B price lists), never negative.
UnitPrice = Annotated[Decimal, Field(ge=0, decimal_places=4, allow_inf_nan=False)]
#: A percentage from 0 to 100.
Percent = Annotated[Decimal, Field(ge=0, le=100, decimal_places=2, allow_inf_nan=False)]
#: An ISO 4217 currency code.
Currency = Annotated[str, Field(pattern=r"^[A-Z]{3}$")]
Sku = Annotated[str, Field(min_length=1)]


class Value(BaseModel):
    """Base of every context, event payload and value object here: immutable, extra keys dropped."""

    model_config = ConfigDict(frozen=True)


class ActingUser(Value):
    """Who sends an event, as the service writes it into the event's ``actor`` field.

    The service fills it from the authenticated principal (a payload that
    names an actor is refused), with the roles ``Policies.role_grants`` grants
    for its permissions.  Guards such as ``actor_has_role`` read it from the
    event, so they stay pure.
    """

    id: str = Field(min_length=1)
    label: str | None = None
    roles: tuple[str, ...] = ()
    permissions: tuple[str, ...] = ()


class Line(Value):
    """A priced line: ``quantity`` of ``sku`` at ``unit_price`` each (before any discount)."""

    sku: Sku
    quantity: Quantity
    unit_price: UnitPrice

    @property
    def amount(self) -> Decimal:
        return self.quantity * self.unit_price


class StockLine(Value):
    """A quantity of one sku, without a price: what a warehouse reserves, ships or takes back."""

    sku: Sku
    quantity: Quantity


class Capture(Value):
    """A payment captured by the provider under ``reference``: what refunds are drawn from."""

    amount: Amount
    reference: str = Field(min_length=1)


def money(value: Decimal) -> Decimal:
    """``value`` rounded half up to cents, the precision every total here is kept at."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def discounted(amount: Decimal, percent: Decimal) -> Decimal:
    """``amount`` less ``percent`` per cent, in cents."""
    return money(amount - amount * percent / 100)
