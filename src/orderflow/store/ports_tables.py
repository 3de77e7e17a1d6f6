"""The tables behind the database-backed ports: credit, stock and the payment ledger.

The order machines reach the world through ports (``orderflow.orders.ports``);
the database-backed implementations (``orderflow.service.ports``) keep their
state here, so an effect writes in the same transaction as the transition
that ran it and rolls back with it.

- :class:`CustomerCreditProfile` and :class:`CustomerSalesAgg`: what the
  sale's credit check snapshots, per customer and currency — the limit
  credit control granted, and the open and overdue balance of the
  customer's sales.
- :class:`StockLevel` and :class:`StockReservation`: stock on hand per
  warehouse and sku, and what is held for an owner (``held`` until it is
  ``committed`` when it ships or ``released``).  ``reserved`` on the level
  is the sum of the held reservations, kept in step by the port, so the
  available stock is one row read.
- :class:`PaymentLedgerEntry`: every capture and refund.  A capture's entry
  id is its reference, unique per kind, so a capture reported twice is
  recorded once.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import CheckConstraint, Index, Integer, Numeric, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from orderflow.store.base import Base, BigKey, UTCDateTime, utcnow

HELD, COMMITTED, RELEASED = "held", "committed", "released"
CAPTURE, REFUND = "capture", "refund"

MONEY = Numeric(14, 2)


class CustomerCreditProfile(Base):
    """The credit line credit control granted a customer in one currency."""

    __tablename__ = "customer_credit_profiles"

    customer_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    currency: Mapped[str] = mapped_column(String(3), primary_key=True)
    credit_limit: Mapped[Decimal] = mapped_column(MONEY, default=Decimal("0"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CustomerSalesAgg(Base):
    """A customer's open sales in one currency: what is invoiced and unpaid, and how much is overdue."""

    __tablename__ = "customer_sales_agg"

    customer_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    currency: Mapped[str] = mapped_column(String(3), primary_key=True)
    open_balance: Mapped[Decimal] = mapped_column(MONEY, default=Decimal("0"))
    overdue: Mapped[Decimal] = mapped_column(MONEY, default=Decimal("0"))
    open_sales: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class StockLevel(Base):
    """Stock of one sku in one warehouse: on hand, and how much of it reservations hold."""

    __tablename__ = "stock_levels"
    __table_args__ = (
        CheckConstraint("reserved >= 0 AND reserved <= on_hand", name="reserved_within_on_hand"),
    )

    warehouse: Mapped[str] = mapped_column(String(64), primary_key=True)
    sku: Mapped[str] = mapped_column(String(64), primary_key=True)
    on_hand: Mapped[int] = mapped_column(Integer, default=0)
    reserved: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class StockReservation(Base):
    """Stock held for one line of one owner (a fulfilment or an order)."""

    __tablename__ = "stock_reservations"
    __table_args__ = (
        Index("ix_stock_reservations_owner", "owner", "sku", "status"),
        CheckConstraint("quantity > 0", name="positive_quantity"),
    )

    id: Mapped[int] = mapped_column(BigKey, primary_key=True, autoincrement=True)
    reservation_id: Mapped[str] = mapped_column(String(64), unique=True)
    owner: Mapped[str] = mapped_column(String(100))
    warehouse: Mapped[str] = mapped_column(String(64))
    sku: Mapped[str] = mapped_column(String(64))
    quantity: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), default=HELD)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    settled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class PaymentLedgerEntry(Base):
    """One capture or refund; ``entry_id`` is the capture reference or the refund id."""

    __tablename__ = "payment_ledger"
    __table_args__ = (
        UniqueConstraint("kind", "entry_id", name="uq_payment_ledger_entry"),
        Index("ix_payment_ledger_reference", "reference"),
        CheckConstraint("amount > 0", name="positive_amount"),
    )

    id: Mapped[int] = mapped_column(BigKey, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(16))
    entry_id: Mapped[str] = mapped_column(String(100))
    #: what the entry is against: the capture's own reference, or for a refund a capture or a sale
    reference: Mapped[str] = mapped_column(String(100))
    amount: Mapped[Decimal] = mapped_column(MONEY)
    currency: Mapped[str] = mapped_column(String(3))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
