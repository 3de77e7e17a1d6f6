"""Alembic environment for orderflow's tables; run through ``orderflow.store.upgrade``."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Engine

from orderflow.store.base import Base
from orderflow.store.engine import create_engine

config = context.config
engine = config.attributes.get("engine")
if not isinstance(engine, Engine):
    engine = create_engine(config.get_main_option("sqlalchemy.url") or "sqlite://")

with engine.begin() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        version_table="orderflow_alembic_version",
    )
    context.run_migrations()
