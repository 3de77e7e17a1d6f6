"""Example domain records moved by the order machines: a quotation, its sale, the sale's fulfilments.

They carry only what links them and what a list screen shows; everything
the machines reason about lives in ``workflow_context``.  Which machine
moves a record is its ``workflow_machine`` column, so the order machines
(``orderflow.orders``) plug in without changing these models.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import ClassVar

from sqlalchemy import ForeignKey, Numeric, String
from sqlalchemy.orm import Mapped, mapped_column

from orderflow.store.base import Base, UTCDateTime, utcnow
from orderflow.store.record import WorkflowRecord


class Quotation(Base, WorkflowRecord):
    __tablename__ = "quotations"
    __workflow_status__: ClassVar[dict[str, str]] = {}

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    reference: Mapped[str] = mapped_column(String(64), unique=True)
    customer_id: Mapped[str] = mapped_column(String(64), index=True)
    currency: Mapped[str] = mapped_column(String(3), default="EUR")
    total: Mapped[Decimal] = mapped_column(Numeric(14, 2), default=Decimal("0"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SaleOrder(Base, WorkflowRecord):
    __tablename__ = "sale_orders"
    __workflow_status__: ClassVar[dict[str, str]] = {}

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    reference: Mapped[str] = mapped_column(String(64), unique=True)
    customer_id: Mapped[str] = mapped_column(String(64), index=True)
    quotation_id: Mapped[int | None] = mapped_column(ForeignKey("quotations.id"), unique=True)
    currency: Mapped[str] = mapped_column(String(3), default="EUR")
    total: Mapped[Decimal] = mapped_column(Numeric(14, 2), default=Decimal("0"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Fulfillment(Base, WorkflowRecord):
    __tablename__ = "fulfillments"
    __workflow_status__: ClassVar[dict[str, str]] = {}

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    reference: Mapped[str] = mapped_column(String(64), unique=True)
    sale_order_id: Mapped[int] = mapped_column(ForeignKey("sale_orders.id"), index=True)
    warehouse: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
