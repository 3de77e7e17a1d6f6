"""The tables behind the database-backed ports; override requests keyed by their id in the context.

Credit profiles and sales aggregates (what the credit check snapshots),
stock levels and reservations, and the payment ledger of captures and
refunds (a capture reference is recorded once).  ``workflow_override_requests``
gains ``request_key``, the request's id in the record's context, unique per
record, so the service finds the row a decision is about.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

BIG_KEY = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TIME = sa.DateTime(timezone=True)
MONEY = sa.Numeric(14, 2)


def upgrade() -> None:
    op.create_table(
        "customer_credit_profiles",
        sa.Column("customer_id", sa.String(64), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("credit_limit", MONEY, nullable=False),
        sa.Column("updated_at", TIME, nullable=False),
        sa.PrimaryKeyConstraint("customer_id", "currency", name="pk_customer_credit_profiles"),
    )
    op.create_table(
        "customer_sales_agg",
        sa.Column("customer_id", sa.String(64), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("open_balance", MONEY, nullable=False),
        sa.Column("overdue", MONEY, nullable=False),
        sa.Column("open_sales", sa.Integer(), nullable=False),
        sa.Column("updated_at", TIME, nullable=False),
        sa.PrimaryKeyConstraint("customer_id", "currency", name="pk_customer_sales_agg"),
    )
    op.create_table(
        "stock_levels",
        sa.Column("warehouse", sa.String(64), nullable=False),
        sa.Column("sku", sa.String(64), nullable=False),
        sa.Column("on_hand", sa.Integer(), nullable=False),
        sa.Column("reserved", sa.Integer(), nullable=False),
        sa.Column("updated_at", TIME, nullable=False),
        sa.PrimaryKeyConstraint("warehouse", "sku", name="pk_stock_levels"),
        sa.CheckConstraint(
            "reserved >= 0 AND reserved <= on_hand",
            name="ck_stock_levels_reserved_within_on_hand",
        ),
    )
    op.create_table(
        "stock_reservations",
        sa.Column("id", BIG_KEY, primary_key=True, autoincrement=True),
        sa.Column("reservation_id", sa.String(64), nullable=False),
        sa.Column("owner", sa.String(100), nullable=False),
        sa.Column("warehouse", sa.String(64), nullable=False),
        sa.Column("sku", sa.String(64), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("settled_at", TIME, nullable=True),
        sa.UniqueConstraint("reservation_id", name="uq_stock_reservations_reservation_id"),
        sa.CheckConstraint("quantity > 0", name="ck_stock_reservations_positive_quantity"),
    )
    op.create_index("ix_stock_reservations_owner", "stock_reservations", ["owner", "sku", "status"])
    op.create_table(
        "payment_ledger",
        sa.Column("id", BIG_KEY, primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("entry_id", sa.String(100), nullable=False),
        sa.Column("reference", sa.String(100), nullable=False),
        sa.Column("amount", MONEY, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.UniqueConstraint("kind", "entry_id", name="uq_payment_ledger_entry"),
        sa.CheckConstraint("amount > 0", name="ck_payment_ledger_positive_amount"),
    )
    op.create_index("ix_payment_ledger_reference", "payment_ledger", ["reference"])

    with op.batch_alter_table("workflow_override_requests") as batch:
        batch.add_column(sa.Column("request_key", sa.String(64), nullable=True))
        batch.create_unique_constraint(
            "uq_workflow_override_requests_key", ["record_type", "record_id", "request_key"]
        )


def downgrade() -> None:
    with op.batch_alter_table("workflow_override_requests") as batch:
        batch.drop_constraint("uq_workflow_override_requests_key", type_="unique")
        batch.drop_column("request_key")
    for table in (
        "payment_ledger",
        "stock_reservations",
        "stock_levels",
        "customer_sales_agg",
        "customer_credit_profiles",
    ):
        op.drop_table(table)
