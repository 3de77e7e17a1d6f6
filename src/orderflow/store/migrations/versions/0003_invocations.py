"""Durable invocations, and timers of child machines.

``workflow_invocations``: the function actors a record's machine started, for
a worker to run.  One row per ``start_actor`` record, written in the
transaction of the step that started it; ``state`` goes pending -> running ->
done or failed, or to cancelled in the transaction of the step that stopped it.

``workflow_scheduled_events.actor_path``: the child machine a timer is for
(child ids from the record's machine; "" for that machine, as every earlier row).

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

JSON = sa.JSON(none_as_null=True).with_variant(postgresql.JSONB(none_as_null=True), "postgresql")
BIG_KEY = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "workflow_invocations",
        sa.Column("id", BIG_KEY, primary_key=True, autoincrement=True),
        sa.Column("record_type", sa.String(100), nullable=False),
        sa.Column("record_id", sa.String(64), nullable=False),
        sa.Column("machine", sa.String(100), nullable=False),
        sa.Column("actor_path", sa.String(300), nullable=False),
        sa.Column("actor_id", sa.String(200), nullable=False),
        sa.Column("src", sa.String(200), nullable=False),
        sa.Column("input", JSON, nullable=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("due_at", TIME, nullable=False),
        sa.Column("lease_until", TIME, nullable=True),
        sa.Column("lease_token", sa.String(36), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("result", JSON, nullable=True),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("settled_at", TIME, nullable=True),
    )
    op.create_index("ix_workflow_invocations_due", "workflow_invocations", ["state", "due_at"])
    op.create_index(
        "ix_workflow_invocations_record",
        "workflow_invocations",
        ["record_type", "record_id", "actor_path", "actor_id"],
    )
    with op.batch_alter_table("workflow_scheduled_events") as batch:
        batch.add_column(sa.Column("actor_path", sa.String(300), nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("workflow_scheduled_events") as batch:
        batch.drop_column("actor_path")
    op.drop_table("workflow_invocations")
