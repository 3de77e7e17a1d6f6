"""orderflow's tables: transition log, outbox, scheduled events, overrides, example records.

On PostgreSQL the transition log is made append-only by a trigger that
refuses UPDATE, DELETE and TRUNCATE.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
BIG_KEY = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TIME = sa.DateTime(timezone=True)

APPEND_ONLY = """
CREATE FUNCTION orderflow_refuse_log_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'workflow_transition_log is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;
CREATE TRIGGER workflow_transition_log_append_only
    BEFORE UPDATE OR DELETE ON workflow_transition_log
    FOR EACH ROW EXECUTE FUNCTION orderflow_refuse_log_change();
CREATE TRIGGER workflow_transition_log_no_truncate
    BEFORE TRUNCATE ON workflow_transition_log
    FOR EACH STATEMENT EXECUTE FUNCTION orderflow_refuse_log_change();
"""


def _workflow_columns() -> list[sa.Column[object]]:
    return [
        sa.Column("workflow_machine", sa.String(100), nullable=True),
        sa.Column("workflow_state", JSON, nullable=True),
        sa.Column("workflow_context", JSON, nullable=True),
        sa.Column("workflow_version", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(64), nullable=True),
    ]


def _record_columns() -> list[sa.Column[object]]:
    return [
        sa.Column("id", BIG_KEY, primary_key=True, autoincrement=True),
        sa.Column("record_type", sa.String(100), nullable=False),
        sa.Column("record_id", sa.String(64), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "workflow_transition_log",
        *_record_columns(),
        sa.Column("machine", sa.String(100), nullable=False),
        sa.Column("machine_version", sa.String(64), nullable=True),
        sa.Column("event", sa.String(200), nullable=False),
        sa.Column("from_state", JSON, nullable=False),
        sa.Column("to_state", JSON, nullable=False),
        sa.Column("record_version", sa.Integer(), nullable=False),
        sa.Column("actor_user", sa.String(200), nullable=True),
        sa.Column("actor_label", sa.String(200), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("metadata", JSON, nullable=False),
        sa.Column("idempotency_key", sa.String(200), nullable=True),
        sa.Column("created_at", TIME, nullable=False),
        sa.UniqueConstraint(
            "record_type",
            "record_id",
            "idempotency_key",
            name="uq_workflow_transition_log_key",
        ),
    )
    op.create_index(
        "ix_workflow_transition_log_record",
        "workflow_transition_log",
        ["record_type", "record_id", "id"],
    )
    op.create_index(
        "ix_workflow_transition_log_created_at", "workflow_transition_log", ["created_at"]
    )

    op.create_table(
        "workflow_outbox",
        sa.Column("id", BIG_KEY, primary_key=True, autoincrement=True),
        sa.Column("event_id", sa.String(36), nullable=False, unique=True),
        sa.Column("record_type", sa.String(100), nullable=False),
        sa.Column("record_id", sa.String(64), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("event_type", sa.String(200), nullable=False),
        sa.Column("payload", JSON, nullable=False),
        sa.Column(
            "transition_id", BIG_KEY, sa.ForeignKey("workflow_transition_log.id"), nullable=True
        ),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("available_at", TIME, nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("published_at", TIME, nullable=True),
        sa.UniqueConstraint(
            "record_type",
            "record_id",
            "sequence",
            name="uq_workflow_outbox_sequence",
        ),
    )
    op.create_index("ix_workflow_outbox_pending", "workflow_outbox", ["status", "available_at"])

    op.create_table(
        "workflow_scheduled_events",
        *_record_columns(),
        sa.Column("machine", sa.String(100), nullable=False),
        sa.Column("timer_id", sa.String(300), nullable=False),
        sa.Column("event", JSON, nullable=False),
        sa.Column("due_at", TIME, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("settled_at", TIME, nullable=True),
    )
    op.create_index(
        "ix_workflow_scheduled_events_due", "workflow_scheduled_events", ["status", "due_at"]
    )
    op.create_index(
        "ix_workflow_scheduled_events_record",
        "workflow_scheduled_events",
        ["record_type", "record_id", "timer_id"],
    )

    op.create_table(
        "workflow_override_requests",
        *_record_columns(),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("requested_by", sa.String(200), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("decided_by", sa.String(200), nullable=True),
        sa.Column("decided_at", TIME, nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("created_at", TIME, nullable=False),
    )
    op.create_index(
        "ix_workflow_override_requests_record",
        "workflow_override_requests",
        ["record_type", "record_id"],
    )

    op.create_table(
        "quotations",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("reference", sa.String(64), nullable=False, unique=True),
        sa.Column("customer_id", sa.String(64), nullable=False, index=True),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("total", sa.Numeric(14, 2), nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        *_workflow_columns(),
    )
    op.create_index("ix_quotations_status", "quotations", ["status"])

    op.create_table(
        "sale_orders",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("reference", sa.String(64), nullable=False, unique=True),
        sa.Column("customer_id", sa.String(64), nullable=False, index=True),
        sa.Column(
            "quotation_id", sa.Integer(), sa.ForeignKey("quotations.id"), nullable=True, unique=True
        ),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("total", sa.Numeric(14, 2), nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        *_workflow_columns(),
    )
    op.create_index("ix_sale_orders_status", "sale_orders", ["status"])

    op.create_table(
        "fulfillments",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("reference", sa.String(64), nullable=False, unique=True),
        sa.Column(
            "sale_order_id",
            sa.Integer(),
            sa.ForeignKey("sale_orders.id"),
            nullable=False,
            index=True,
        ),
        sa.Column("warehouse", sa.String(64), nullable=True),
        sa.Column("created_at", TIME, nullable=False),
        *_workflow_columns(),
    )
    op.create_index("ix_fulfillments_status", "fulfillments", ["status"])

    if op.get_bind().dialect.name == "postgresql":
        op.execute(APPEND_ONLY)


def downgrade() -> None:
    for table in (
        "fulfillments",
        "sale_orders",
        "quotations",
        "workflow_override_requests",
        "workflow_scheduled_events",
        "workflow_outbox",
        "workflow_transition_log",
    ):
        op.drop_table(table)
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION orderflow_refuse_log_change()")
