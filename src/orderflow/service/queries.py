"""What readers of a service's database see: the log, timers, invocations, override requests, records.

The API and the inspector read through these functions instead of the
store's tables, so a change to a table meets one module, here, and every
reader gets plain frozen values that outlive the session they were read in.
Each function takes the caller's :class:`~sqlalchemy.orm.Session` and only
reads; the caller decides how long the session lives (one per request, or
one for several reads that must agree).

A record is named as the log names it: its *record type* (the model's table
name, ``sale_orders``) and its primary key as text.

The store names a reader needs besides (the :class:`WorkflowRecord` mixin
to check a model, :func:`primary_key_value` to turn a caller's text into a
key, the shipped order models) are re-exported here, so the API imports
nothing from ``orderflow.store``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any, ClassVar, Protocol, TypeVar

from sqlalchemy import inspect, select
from sqlalchemy.orm import Session

from orderflow.store import (
    Fulfillment,
    Invocation,
    OverrideRequest,
    Quotation,
    SaleOrder,
    ScheduledEvent,
    TransitionLog,
    WorkflowRecord,
    primary_key_value,
)
from orderflow.store.workflow_tables import PENDING, RUNNING

__all__ = [
    "Fulfillment",
    "LogEntry",
    "PendingInvocation",
    "PendingTimer",
    "Quotation",
    "RequestedOverride",
    "SaleOrder",
    "WorkflowRecord",
    "override_requests",
    "pending_invocations",
    "pending_timers",
    "primary_key_value",
    "started_records",
    "transition_log",
]


@dataclass(frozen=True, slots=True)
class LogEntry:
    """One row of the transition log: who moved the record, with which event, from where to where."""

    id: int
    record_type: str
    record_id: str
    machine: str
    machine_version: str | None
    event: str
    from_state: Any
    to_state: Any
    #: the record's ``workflow_version`` after this transition
    record_version: int
    actor_user: str | None
    actor_label: str | None
    note: str
    #: the event, the transition (from, to, status) and the effects run, emitted and scheduled
    details: dict[str, Any]
    idempotency_key: str | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class PendingTimer:
    """A durable ``after`` timer of one record that has neither fired nor been cancelled."""

    id: int
    record_type: str
    record_id: str
    machine: str
    timer_id: str
    #: the event the timer delivers when it is due
    event: dict[str, Any]
    due_at: datetime
    attempts: int


@dataclass(frozen=True, slots=True)
class PendingInvocation:
    """A function actor one record started whose result is not delivered yet (a durable invocation)."""

    id: int
    record_type: str
    record_id: str
    machine: str
    #: the machine that started it: child ids from the record's machine ("" for that machine)
    actor_path: str
    actor_id: str
    src: str
    input: Any
    #: ``pending`` (waiting for a worker, maybe to be retried) or ``running`` (claimed by one)
    state: str
    attempts: int
    due_at: datetime
    lease_until: datetime | None
    last_error: str | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class RequestedOverride:
    """A request to override a blocked step, and its decision once there is one."""

    id: int
    record_type: str
    record_id: str
    #: the request's id in the record's context (``credit-1``)
    request_key: str | None
    kind: str
    reason: str
    requested_by: str
    status: str
    decided_by: str | None
    decided_at: datetime | None
    note: str
    created_at: datetime


def transition_log(
    session: Session, record_type: str, record_id: str, *, limit: int = 50
) -> list[LogEntry]:
    """The record's last ``limit`` transitions, oldest first (the order they happened in)."""
    rows = session.scalars(
        select(TransitionLog)
        .where(TransitionLog.record_type == record_type, TransitionLog.record_id == record_id)
        .order_by(TransitionLog.id.desc())
        .limit(max(limit, 0))
    ).all()
    return [_copy(LogEntry, row) for row in reversed(rows)]


def pending_timers(session: Session, record_type: str, record_id: str) -> list[PendingTimer]:
    """The record's timers still waiting to fire, soonest first."""
    rows = session.scalars(
        select(ScheduledEvent)
        .where(
            ScheduledEvent.record_type == record_type,
            ScheduledEvent.record_id == record_id,
            ScheduledEvent.status == PENDING,
        )
        .order_by(ScheduledEvent.due_at, ScheduledEvent.id)
    )
    return [_copy(PendingTimer, row) for row in rows]


def pending_invocations(
    session: Session, record_type: str, record_id: str
) -> list[PendingInvocation]:
    """The record's invocations still waiting for a result (pending or running), oldest first.

    Cancelled, done and failed ones are history: the log keeps what they delivered.
    """
    rows = session.scalars(
        select(Invocation)
        .where(
            Invocation.record_type == record_type,
            Invocation.record_id == record_id,
            Invocation.state.in_((PENDING, RUNNING)),
        )
        .order_by(Invocation.id)
    )
    return [_copy(PendingInvocation, row) for row in rows]


def override_requests(
    session: Session,
    *,
    status: str | None = None,
    kind: str | None = None,
    record_type: str | None = None,
    record_id: str | None = None,
    limit: int | None = 100,
) -> list[RequestedOverride]:
    """Override requests, newest first, filtered by whichever of the arguments are given.

    ``limit=None`` reads them all.
    """
    query = select(OverrideRequest)
    for column, wanted in (
        (OverrideRequest.status, status),
        (OverrideRequest.kind, kind),
        (OverrideRequest.record_type, record_type),
        (OverrideRequest.record_id, record_id),
    ):
        if wanted is not None:
            query = query.where(column == wanted)
    query = query.order_by(OverrideRequest.id.desc())
    rows = session.scalars(query if limit is None else query.limit(max(limit, 0)))
    return [_copy(RequestedOverride, row) for row in rows]


def started_records(
    session: Session, model: type[Any], *, machine: str | None = None
) -> Iterator[Any]:
    """The rows of ``model`` that have a workflow, newest key first, read in batches.

    ``machine`` keeps only the records that machine moves.  The rows are
    ``model`` instances of ``session``: iterate before the session closes,
    and stop early to read no further.
    """
    (key,) = inspect(model).primary_key
    query = select(model).where(
        model.workflow_machine.is_not(None), model.workflow_state.is_not(None)
    )
    if machine is not None:
        query = query.where(model.workflow_machine == machine)
    yield from session.scalars(query.order_by(key.desc()).execution_options(yield_per=200))


class _Dataclass(Protocol):
    __dataclass_fields__: ClassVar[dict[str, Any]]


_Value = TypeVar("_Value", bound=_Dataclass)


def _copy(kind: type[_Value], row: object) -> _Value:
    """``kind`` filled from the row's attributes of the same names (the row stays in its session)."""
    return kind(**{field.name: getattr(row, field.name) for field in fields(kind)})
