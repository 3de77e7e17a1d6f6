"""The declarative base of orderflow's own tables, and the column types they share.

orderflow's tables (transition log, outbox, scheduled events, overrides and
the example domain records) live in one ``MetaData`` with a naming
convention, so the Alembic migrations shipped in ``migrations/`` can name
every constraint the same way on SQLite and PostgreSQL.  Your own models
use your own base; they only need :class:`~orderflow.store.WorkflowRecord`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, DateTime, Integer, MetaData
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.types import TypeDecorator, TypeEngine

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

#: JSON on SQLite, JSONB on PostgreSQL.
JSONDocument: TypeEngine[Any] = JSON().with_variant(JSONB(), "postgresql")
#: The same, but Python ``None`` is stored as SQL NULL, never as the JSON value ``null``: for a
#: record's workflow columns, where "no workflow state yet" must be one thing however it was
#: written (left out, or set to ``None``).
NullableJSONDocument: TypeEngine[Any] = JSON(none_as_null=True).with_variant(
    JSONB(none_as_null=True), "postgresql"
)

#: A 64-bit key on PostgreSQL; SQLite only auto-increments a plain INTEGER primary key.
BigKey: TypeEngine[int] = BigInteger().with_variant(Integer(), "sqlite")


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on both engines (SQLite stores it naive; we put the zone back)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("orderflow stores timezone-aware datetimes only")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    """The base of orderflow's own tables."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
