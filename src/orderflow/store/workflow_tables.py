"""The tables the service writes beside a record, in the same transaction as its transition.

- :class:`TransitionLog`: append-only audit, one row per transition (on
  PostgreSQL a trigger installed by the migration refuses UPDATE, DELETE and
  TRUNCATE).  Its idempotency key is unique per record, which is what makes
  a replayed request safe.
- :class:`OutboxEvent`: the domain events a transition emitted, for a relay
  to publish at least once under a stable ``event_id``; ``sequence`` orders
  them per record.
- :class:`ScheduledEvent`: durable ``after`` timers with their due time, for
  a worker to deliver through the service.
- :class:`OverrideRequest`: a request to override a blocked step, and who decided it.
- :class:`Invocation`: a function actor a record's machine started (a durable
  invocation), for a worker to run and deliver its result through the service.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from orderflow.store.base import (
    Base,
    BigKey,
    JSONDocument,
    NullableJSONDocument,
    UTCDateTime,
    utcnow,
)

PENDING, PUBLISHED, DEAD = "pending", "published", "dead"
FIRED, CANCELLED = "fired", "cancelled"
#: an invocation's states: waiting for a worker, claimed by one, answered, given up, or stopped
RUNNING, DONE, FAILED = "running", "done", "failed"
INVOCATION_STATES = (PENDING, RUNNING, DONE, FAILED, CANCELLED)


def new_event_id() -> str:
    return str(uuid.uuid4())


class TransitionLog(Base):
    """One transition of one record: who, what, from where to where, and what it did."""

    __tablename__ = "workflow_transition_log"
    __table_args__ = (
        UniqueConstraint(
            "record_type", "record_id", "idempotency_key", name="uq_workflow_transition_log_key"
        ),
        Index("ix_workflow_transition_log_record", "record_type", "record_id", "id"),
        Index("ix_workflow_transition_log_created_at", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigKey, primary_key=True, autoincrement=True)
    record_type: Mapped[str] = mapped_column(String(100))
    record_id: Mapped[str] = mapped_column(String(64))
    machine: Mapped[str] = mapped_column(String(100))
    machine_version: Mapped[str | None] = mapped_column(String(64))
    event: Mapped[str] = mapped_column(String(200))
    from_state: Mapped[Any] = mapped_column(JSONDocument)
    to_state: Mapped[Any] = mapped_column(JSONDocument)
    #: the record's workflow_version after this transition
    record_version: Mapped[int] = mapped_column(Integer)
    actor_user: Mapped[str | None] = mapped_column(String(200))
    actor_label: Mapped[str | None] = mapped_column(String(200))
    note: Mapped[str] = mapped_column(Text, default="")
    #: the event, the transition (from, to, status) and the effects run, emitted and scheduled
    details: Mapped[dict[str, Any]] = mapped_column("metadata", JSONDocument, default=dict)
    idempotency_key: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class OutboxEvent(Base):
    """A domain event a transition emitted, waiting for the relay to publish it."""

    __tablename__ = "workflow_outbox"
    __table_args__ = (
        UniqueConstraint(
            "record_type", "record_id", "sequence", name="uq_workflow_outbox_sequence"
        ),
        Index("ix_workflow_outbox_pending", "status", "available_at"),
    )

    id: Mapped[int] = mapped_column(BigKey, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(String(36), unique=True, default=new_event_id)
    record_type: Mapped[str] = mapped_column(String(100))
    record_id: Mapped[str] = mapped_column(String(64))
    sequence: Mapped[int] = mapped_column(Integer)
    event_type: Mapped[str] = mapped_column(String(200))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONDocument)
    transition_id: Mapped[int | None] = mapped_column(
        BigKey, ForeignKey("workflow_transition_log.id")
    )
    status: Mapped[str] = mapped_column(String(16), default=PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    available_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ScheduledEvent(Base):
    """A pending ``after`` timer (or delayed raise) of one record, due at ``due_at``."""

    __tablename__ = "workflow_scheduled_events"
    __table_args__ = (
        Index("ix_workflow_scheduled_events_due", "status", "due_at"),
        Index("ix_workflow_scheduled_events_record", "record_type", "record_id", "timer_id"),
    )

    id: Mapped[int] = mapped_column(BigKey, primary_key=True, autoincrement=True)
    record_type: Mapped[str] = mapped_column(String(100))
    record_id: Mapped[str] = mapped_column(String(64))
    machine: Mapped[str] = mapped_column(String(100))
    #: the child machine the timer is for, as child ids from the record's machine ("": that machine)
    actor_path: Mapped[str] = mapped_column(String(300), default="", server_default="")
    timer_id: Mapped[str] = mapped_column(String(300))
    event: Mapped[dict[str, Any]] = mapped_column(JSONDocument)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(16), default=PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    settled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class OverrideRequest(Base):
    """A request to override a blocked step (kind ``admin`` or ``credit``), and its decision."""

    __tablename__ = "workflow_override_requests"
    __table_args__ = (
        Index("ix_workflow_override_requests_record", "record_type", "record_id"),
        UniqueConstraint(
            "record_type", "record_id", "request_key", name="uq_workflow_override_requests_key"
        ),
    )

    id: Mapped[int] = mapped_column(BigKey, primary_key=True, autoincrement=True)
    record_type: Mapped[str] = mapped_column(String(100))
    record_id: Mapped[str] = mapped_column(String(64))
    #: the request's id in the record's context (``credit-1``), unique per record
    request_key: Mapped[str | None] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text)
    requested_by: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16), default=PENDING)
    decided_by: Mapped[str | None] = mapped_column(String(200))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Invocation(Base):
    """A function actor one record's machine started: a durable invocation.

    Written (``pending``) in the transaction of the step whose ``start_actor``
    record asked for it, and ``cancelled`` in the transaction of the step
    whose ``stop_actor`` record stopped it.  A worker claims it (``running``,
    under ``lease_token`` until ``lease_until``), runs the function and
    delivers its result to the actor at ``actor_path`` (``""``: the record's
    machine; else child ids joined by ``/``), then marks it ``done``, or
    ``failed`` after its last attempt.
    """

    __tablename__ = "workflow_invocations"
    __table_args__ = (
        Index("ix_workflow_invocations_due", "state", "due_at"),
        Index(
            "ix_workflow_invocations_record", "record_type", "record_id", "actor_path", "actor_id"
        ),
    )

    id: Mapped[int] = mapped_column(BigKey, primary_key=True, autoincrement=True)
    record_type: Mapped[str] = mapped_column(String(100))
    record_id: Mapped[str] = mapped_column(String(64))
    machine: Mapped[str] = mapped_column(String(100))
    #: the machine that started it, as child ids from the record's machine ("" for that machine)
    actor_path: Mapped[str] = mapped_column(String(300), default="")
    #: the child id its result comes back under (``xstate.done.actor.<actor_id>``)
    actor_id: Mapped[str] = mapped_column(String(200))
    src: Mapped[str] = mapped_column(String(200))
    input: Mapped[Any] = mapped_column(NullableJSONDocument, nullable=True)
    state: Mapped[str] = mapped_column(String(16), default=PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    lease_token: Mapped[str | None] = mapped_column(String(36))
    last_error: Mapped[str | None] = mapped_column(Text)
    result: Mapped[Any] = mapped_column(NullableJSONDocument, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    settled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
