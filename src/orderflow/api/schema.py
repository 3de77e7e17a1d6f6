"""The GraphQL schema (strawberry): records' workflows, override requests, credit, and the mutations.

    schema = create_schema()
    result = schema.execute_sync(query, context_value=ApiContext(service, actor=admin))

Resolvers are plain synchronous functions over the service, so the schema
runs under ``execute_sync`` (tests, sync frameworks) as it is.
:class:`WorkflowSchema` runs ``execute`` — what async servers call — in a
worker thread, so a database wait never stalls the event loop.

Every field needs an authenticated actor (``ApiContext.actor``); reading is
not anonymous, since contexts carry customers' data.  Errors come back as
GraphQL errors with ``extensions.code`` (:mod:`orderflow.api.errors`); any
other exception is a bug, masked as "Unexpected error." and logged.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from decimal import Decimal
from enum import Enum
from typing import Any

import strawberry
from strawberry.extensions import MaskErrors
from strawberry.scalars import JSON
from strawberry.types import ExecutionContext, ExecutionResult, Info

from orderflow.api import mutations, queries
from orderflow.api.context import ApiContext, context_from
from orderflow.api.errors import ApiError, api_error
from orderflow.api.limits import ApiLimits
from orderflow.api.records import RecordSummary
from orderflow.errors import OrderflowError
from orderflow.service import Principal, TransitionResult
from orderflow.service.queries import LogEntry, PendingTimer, RequestedOverride

logger = logging.getLogger("orderflow.api")


@contextmanager
def _answering() -> Iterator[None]:
    """The service's errors as API errors, with their messages."""
    try:
        yield
    except OrderflowError as exc:
        raise api_error(exc) from exc


def _context(info: Info[Any, Any]) -> ApiContext:
    return context_from(info.context)


# -- types ------------------------------------------------------------------------------------


@strawberry.type(name="Principal", description="Who is acting: id, label and permissions.")
class ActorType:
    id: str
    label: str | None
    permissions: list[str]

    @classmethod
    def of(cls, actor: Principal) -> ActorType:
        return cls(id=actor.id, label=actor.label, permissions=sorted(actor.permissions))


@strawberry.type(name="RecordSummary", description="A record and where its workflow is.")
class RecordSummaryType:
    record_type: str
    record_id: strawberry.ID
    reference: str | None
    machine: str
    value: JSON
    states: list[str] = strawberry.field(description="Active leaf states as dotted paths.")
    status: str
    version: int

    @classmethod
    def of(cls, summary: RecordSummary) -> RecordSummaryType:
        return cls(
            record_type=summary.record_type, record_id=strawberry.ID(summary.record_id),
            reference=summary.reference, machine=summary.machine, value=summary.value,
            states=list(summary.states), status=summary.status, version=summary.version,
        )  # fmt: skip


@strawberry.type(
    name="EventOption",
    description="An event the active states listen to: the machine's verdict and the actor's.",
)
class EventOptionType:
    event: str
    allowed: bool = strawberry.field(
        description="The state and guards take it now (payload aside)."
    )
    reason: str | None = strawberry.field(description="Why not, or what payload it needs.")
    targets: list[str]
    needs_payload: bool
    permitted: bool | None = strawberry.field(
        description="Sending it now as you would move the record; null: it needs a payload."
    )
    refusal: str | None = strawberry.field(description="Why you may not send it now.")
    payload: JSON = strawberry.field(description="The payload the API fills in (an open request).")

    @classmethod
    def of(cls, option: queries.ActorEventOption) -> EventOptionType:
        return cls(
            event=option.event, allowed=option.allowed, reason=option.reason,
            targets=list(option.targets), needs_payload=option.needs_payload,
            permitted=option.permitted, refusal=option.refusal, payload=JSON(option.payload),
        )  # fmt: skip


@strawberry.type(name="LogEntry", description="One row of the transition log.")
class LogEntryType:
    id: int
    machine: str
    machine_version: str | None
    event: str
    from_state: JSON | None
    to_state: JSON | None
    record_version: int
    actor_user: str | None
    actor_label: str | None
    note: str
    details: JSON
    idempotency_key: str | None
    created_at: datetime

    @classmethod
    def of(cls, row: LogEntry) -> LogEntryType:
        return cls(
            id=row.id, machine=row.machine, machine_version=row.machine_version, event=row.event,
            from_state=row.from_state, to_state=row.to_state, record_version=row.record_version,
            actor_user=row.actor_user, actor_label=row.actor_label, note=row.note,
            details=JSON(row.details), idempotency_key=row.idempotency_key, created_at=row.created_at,
        )  # fmt: skip


@strawberry.type(name="Timer", description="A durable `after` timer that has not fired yet.")
class TimerType:
    timer_id: str
    event: JSON
    due_at: datetime
    attempts: int

    @classmethod
    def of(cls, row: PendingTimer) -> TimerType:
        return cls(
            timer_id=row.timer_id, event=JSON(row.event), due_at=row.due_at, attempts=row.attempts
        )


@strawberry.type(
    name="ChildActor",
    description="A child actor of the workflow: a machine (with its own children) or a function.",
)
class ChildActorType:
    id: str
    path: str = strawberry.field(description="Child ids from the record down, joined by '/'.")
    src: str = strawberry.field(description="The actor's name in setup(actors=...).")
    machine: str | None = strawberry.field(description="The child machine's id; null: a function.")
    value: JSON | None = strawberry.field(description="The child machine's state value.")
    states: list[str] = strawberry.field(description="Its active leaf states as dotted paths.")
    status: str = strawberry.field(description="active, done or error.")
    system_id: str | None
    input: JSON | None = strawberry.field(description="A function actor's input.")
    children: list[ChildActorType]
    output: JSON | None = strawberry.field(
        description="What a settled actor answered: a function's output (status done); null while it runs."
    )
    error: JSON | None = strawberry.field(
        description="Why a failed actor failed (status error): a function's error; null otherwise."
    )

    @classmethod
    def of(cls, child: queries.ChildActor) -> ChildActorType:
        return cls(
            id=child.id, path=child.path, src=child.src, machine=child.machine,
            value=None if child.machine is None else JSON(child.value), states=list(child.states),
            status=child.status, system_id=child.system_id,
            input=None if child.machine is not None else JSON(child.input),
            children=[cls.of(grandchild) for grandchild in child.children],
            output=None if child.output is None else JSON(child.output),
            error=None if child.error is None else JSON(child.error),
        )  # fmt: skip


@strawberry.type(name="OverrideRequest", description="A request to override a blocked step.")
class OverrideRequestType:
    record_type: str
    record_id: strawberry.ID
    request_id: str | None = strawberry.field(description="Its id in the record's context.")
    kind: str
    reason: str
    requested_by: str
    status: str
    decided_by: str | None
    decided_at: datetime | None
    note: str
    created_at: datetime

    @classmethod
    def of(cls, row: RequestedOverride) -> OverrideRequestType:
        return cls(
            record_type=row.record_type, record_id=strawberry.ID(row.record_id),
            request_id=row.request_key, kind=row.kind, reason=row.reason,
            requested_by=row.requested_by, status=row.status, decided_by=row.decided_by,
            decided_at=row.decided_at, note=row.note, created_at=row.created_at,
        )  # fmt: skip


@strawberry.type(
    name="CreditSnapshot", description="A customer's credit as the credit check sees it."
)
class CreditSnapshotType:
    customer_id: str
    currency: str
    limit: Decimal
    open_balance: Decimal
    overdue: Decimal
    available: Decimal
    taken_at: datetime


@strawberry.enum(name="DiagramFormat")
class DiagramFormat(Enum):
    SVG = "svg"
    MERMAID = "mermaid"
    DOT = "dot"


@strawberry.type(
    name="Diagram", description="The machine drawn with the record's active states highlighted."
)
class DiagramType:
    format: DiagramFormat
    source: str


@strawberry.type(name="TransitionResult", description="What a send did, or why it did nothing.")
class TransitionResultType:
    success: bool
    record_type: str
    record_id: strawberry.ID
    event: str | None
    from_state: JSON | None
    to_state: JSON | None
    reason: str | None
    idempotent: bool
    dry_run: bool
    version: int | None
    status: str | None
    steps: int
    effects: list[str]
    emitted: list[JSON]
    scheduled: list[str]
    cancelled: list[str]
    log_ids: list[int]

    @classmethod
    def of(cls, result: TransitionResult) -> TransitionResultType:
        return cls(
            success=result.success, record_type=result.record_type,
            record_id=strawberry.ID(result.record_id), event=result.event,
            from_state=result.from_state, to_state=result.to_state, reason=result.reason,
            idempotent=result.idempotent, dry_run=result.dry_run, version=result.version,
            status=result.status, steps=result.steps, effects=list(result.effects),
            emitted=[JSON(dict(e)) for e in result.emitted], scheduled=list(result.scheduled),
            cancelled=list(result.cancelled), log_ids=list(result.log_ids),
        )  # fmt: skip


# -- resolvers ----------------------------------------------------------------------------------
# Module functions given to strawberry.field(resolver=...): typed, unlike decorated methods.


def _allowed_events(root: WorkflowType, info: Info[Any, Any]) -> list[EventOptionType]:
    context = _context(info)
    with _answering():
        options = queries.event_options(context.service, root.flow, context.actor)
    return [EventOptionType.of(option) for option in options]


def _log(root: WorkflowType, info: Info[Any, Any], limit: int = 50) -> list[LogEntryType]:
    rows = queries.transition_log(_context(info).service, root.flow, _bounded(limit))
    return [LogEntryType.of(row) for row in rows]


def _timers(root: WorkflowType, info: Info[Any, Any]) -> list[TimerType]:
    return [TimerType.of(row) for row in queries.pending_timers(_context(info).service, root.flow)]


def _record_override_requests(
    root: WorkflowType, info: Info[Any, Any]
) -> list[OverrideRequestType]:
    rows = queries.override_requests(
        _context(info).service, record_type=root.flow.record_type, record_id=root.flow.record_id
    )
    return [OverrideRequestType.of(row) for row in rows]


def _children(root: WorkflowType) -> list[ChildActorType]:
    return [ChildActorType.of(child) for child in queries.child_actors(root.flow)]


def _diagram(root: WorkflowType, format: DiagramFormat | None = None) -> DiagramType:
    with _answering():
        chosen, source = queries.diagram(root.flow, None if format is None else format.value)
    return DiagramType(format=DiagramFormat(chosen), source=source)


def _me(info: Info[Any, Any]) -> ActorType | None:
    context = _context(info)
    if context.actor is None and context.authentication_error is None:
        return None
    return ActorType.of(context.require_actor())


def _records(
    info: Info[Any, Any], machine: str | None = None, state: str | None = None, limit: int = 100
) -> list[RecordSummaryType]:
    context = _context(info)
    context.require_actor()
    summaries = context.records.summaries(
        context.service.session_factory, machine=machine, state=state, limit=_bounded(limit)
    )
    return [RecordSummaryType.of(summary) for summary in summaries]


def _workflow(info: Info[Any, Any], record_type: str, record_id: strawberry.ID) -> WorkflowType:
    context = _context(info)
    context.require_actor()
    ref = context.records.ref(record_type, str(record_id))
    with _answering():
        return WorkflowType.of(queries.workflow(context.service, record_type, ref))


def _override_requests(
    info: Info[Any, Any],
    status: str | None = None,
    kind: str | None = None,
    record_type: str | None = None,
    record_id: strawberry.ID | None = None,
    limit: int = 100,
) -> list[OverrideRequestType]:
    context = _context(info)
    context.require_actor()
    rows = queries.override_requests(
        context.service, status=status, kind=kind, record_type=record_type,
        record_id=None if record_id is None else str(record_id), limit=_bounded(limit),
    )  # fmt: skip
    return [OverrideRequestType.of(row) for row in rows]


def _credit_snapshot(
    info: Info[Any, Any], customer_id: str, currency: str = "EUR"
) -> CreditSnapshotType:
    context = _context(info)
    context.require_actor()
    credit = queries.credit_snapshot(context.service, customer_id, currency)
    return CreditSnapshotType(
        customer_id=customer_id, currency=currency, limit=credit.limit,
        open_balance=credit.open_balance, overdue=credit.overdue, available=credit.available,
        taken_at=credit.taken_at,
    )  # fmt: skip


def _send_event(
    info: Info[Any, Any],
    record_type: str,
    record_id: strawberry.ID,
    event: str,
    payload: JSON | None = None,
    note: str = "",
    idempotency_key: str | None = None,
    dry_run: bool = False,
    expected_version: int | None = None,
) -> TransitionResultType:
    context = _context(info)
    actor = context.require_actor()
    ref = context.records.ref(record_type, str(record_id))
    with _answering():
        result = mutations.send_event(
            context.service, ref, mutations.event_from(event, payload), actor, note=note,
            idempotency_key=idempotency_key, dry_run=dry_run, expected_version=expected_version,
        )  # fmt: skip
    return TransitionResultType.of(result)


def _request_override(
    info: Info[Any, Any],
    record_type: str,
    record_id: strawberry.ID,
    kind: str,
    reason: str,
    note: str = "",
    idempotency_key: str | None = None,
) -> TransitionResultType:
    context = _context(info)
    actor = context.require_actor()
    ref = context.records.ref(record_type, str(record_id))
    with _answering():
        result = mutations.request_override(
            context.service, ref, kind, reason, actor, note=note, idempotency_key=idempotency_key
        )
    return TransitionResultType.of(result)


def _approve_override(
    info: Info[Any, Any],
    record_type: str,
    record_id: strawberry.ID,
    request_id: str,
    note: str = "",
    idempotency_key: str | None = None,
) -> TransitionResultType:
    return _decide(info, record_type, record_id, request_id, True, note, idempotency_key)


def _reject_override(
    info: Info[Any, Any],
    record_type: str,
    record_id: strawberry.ID,
    request_id: str,
    note: str = "",
    idempotency_key: str | None = None,
) -> TransitionResultType:
    return _decide(info, record_type, record_id, request_id, False, note, idempotency_key)


def _decide(
    info: Info[Any, Any],
    record_type: str,
    record_id: strawberry.ID,
    request_id: str,
    approve: bool,
    note: str,
    idempotency_key: str | None,
) -> TransitionResultType:
    context = _context(info)
    actor = context.require_actor()
    ref = context.records.ref(record_type, str(record_id))
    with _answering():
        result = mutations.decide_override(
            context.service, ref, request_id, actor, approve=approve, note=note,
            idempotency_key=idempotency_key,
        )  # fmt: skip
    return TransitionResultType.of(result)


@strawberry.type(
    name="Workflow", description="One record's workflow: its state and what can happen next."
)
class WorkflowType:
    record_type: str
    record_id: strawberry.ID
    reference: str | None
    machine: str
    machine_version: str | None
    value: JSON = strawberry.field(description="The XState state value.")
    states: list[str] = strawberry.field(description="Active leaf states as dotted paths.")
    active_state_ids: list[str] = strawberry.field(description="Every active state's id.")
    status: str = strawberry.field(description="active, done or error.")
    legacy_status: str | None
    version: int = strawberry.field(description="workflow_version: bumped by every transition.")
    context: JSON
    output: JSON | None
    error: JSON | None = strawberry.field(
        description="Why the workflow is in error (status error), say an actor's error "
        "that no transition took; null otherwise."
    )
    flow: strawberry.Private[queries.Workflow]

    allowed_events: list[EventOptionType] = strawberry.field(
        resolver=_allowed_events,
        description="The events the active states listen to, judged for you.",
    )
    log: list[LogEntryType] = strawberry.field(
        resolver=_log, description="The last `limit` transitions, oldest first."
    )
    timers: list[TimerType] = strawberry.field(
        resolver=_timers, description="Durable timers that have not fired, soonest first."
    )
    override_requests: list[OverrideRequestType] = strawberry.field(
        resolver=_record_override_requests,
        description="This record's override requests, newest first.",
    )
    children: list[ChildActorType] = strawberry.field(
        resolver=_children, description="The child actors, nested as they run."
    )
    diagram: DiagramType = strawberry.field(
        resolver=_diagram,
        description="The machine with the active states highlighted; without a format, "
        "SVG when Graphviz is installed, else Mermaid.",
    )

    @classmethod
    def of(cls, flow: queries.Workflow) -> WorkflowType:
        data = flow.snapshot.to_json()
        version = flow.machine.version
        return cls(
            record_type=flow.record_type, record_id=strawberry.ID(flow.record_id),
            reference=flow.reference, machine=flow.machine.id,
            machine_version=None if version is None else str(version), value=data["value"],
            states=list(flow.states), active_state_ids=flow.active_state_ids,
            status=data["status"], legacy_status=flow.legacy_status, version=flow.version,
            context=data["context"], output=data["output"], error=data["error"], flow=flow,
        )  # fmt: skip


# -- operations -------------------------------------------------------------------------------


@strawberry.type
class Query:
    me: ActorType | None = strawberry.field(
        resolver=_me, description="The actor the request authenticated as (null: no credentials)."
    )
    records: list[RecordSummaryType] = strawberry.field(
        resolver=_records,
        description="Records, newest first, by machine and state (at most `limit` per record type).",
    )
    workflow: WorkflowType = strawberry.field(
        resolver=_workflow, description="One record's workflow."
    )
    override_requests: list[OverrideRequestType] = strawberry.field(
        resolver=_override_requests,
        description="Override requests, newest first, filtered by status, kind and record.",
    )
    credit_snapshot: CreditSnapshotType = strawberry.field(
        resolver=_credit_snapshot, description="A customer's credit snapshot, from the database."
    )


@strawberry.type
class Mutation:
    send_event: TransitionResultType = strawberry.mutation(
        resolver=_send_event, description="Send an event to a record, as you."
    )
    request_override: TransitionResultType = strawberry.mutation(
        resolver=_request_override,
        description="Ask for an override of `kind` (credit, admin), as you.",
    )
    approve_override: TransitionResultType = strawberry.mutation(
        resolver=_approve_override,
        description="Approve an open override request, as you (needs its permission).",
    )
    reject_override: TransitionResultType = strawberry.mutation(
        resolver=_reject_override,
        description="Reject an open override request, as you (needs its permission).",
    )


#: the most rows one list field returns, whatever ``limit`` asks
MAX_LIMIT = 1000


def _bounded(limit: int) -> int:
    return max(0, min(limit, MAX_LIMIT))


# -- the schema -------------------------------------------------------------------------------


def _is_unexpected(error: Any) -> bool:
    """An exception raised inside a resolver that is not one of the API's answers: a bug."""
    original = getattr(error, "original_error", None)
    return original is not None and not isinstance(original, ApiError) and not _is_graphql(original)


def _is_graphql(error: BaseException) -> bool:
    # graphql-core's own errors (a bad variable, a value out of range) speak to the caller
    return type(error).__module__.split(".")[0] == "graphql"


class WorkflowSchema(strawberry.Schema):
    """The strawberry schema, with ``execute`` in a worker thread and only bugs logged as errors."""

    async def execute(self, *args: Any, **kwargs: Any) -> ExecutionResult:
        return await asyncio.to_thread(self.execute_sync, *args, **kwargs)

    def process_errors(
        self, errors: list[Any], execution_context: ExecutionContext | None = None
    ) -> None:
        for error in errors:
            if _is_unexpected(error):
                logger.error(
                    "unexpected error in a GraphQL resolver", exc_info=error.original_error
                )
            else:
                logger.debug("GraphQL request refused: %s", error.message)


def create_schema(*, mask_errors: bool = True, limits: ApiLimits | None = None) -> WorkflowSchema:
    """The GraphQL schema; give it an :class:`ApiContext` per request as ``context_value``.

    With ``mask_errors`` an unexpected exception's message is replaced by
    "Unexpected error." (it is still logged); the API's own errors keep theirs.
    ``limits`` bound a document's tokens, depth and aliases and who may
    introspect (default :class:`ApiLimits`).
    """
    extensions: list[Any] = (limits or ApiLimits()).schema_extensions()
    if mask_errors:
        extensions.append(lambda: MaskErrors(should_mask_error=_is_unexpected))
    return WorkflowSchema(query=Query, mutation=Mutation, extensions=extensions)
