"""What the API reads: one record's workflow, its log and timers, override requests, credit.

Plain functions over a :class:`~orderflow.service.WorkflowService`, shared
by the GraphQL schema and the inspector so the two can never disagree.
They read, through the service and its query functions
(:mod:`orderflow.service.queries`), never the store's tables; nothing here
writes (the dry runs behind :func:`event_options` roll back by construction).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from shutil import which
from typing import Any

from orderflow.api.records import leaf_paths
from orderflow.chart import Machine, Snapshot
from orderflow.errors import InvalidEventError, RecordNotFoundError
from orderflow.export import build_diagram, to_dot, to_mermaid, to_svg
from orderflow.export.model import DiagramState
from orderflow.orders.ports import CreditSnapshot
from orderflow.service import DatabaseCredit, Principal, WorkflowService
from orderflow.service import queries as service_queries
from orderflow.service.queries import (
    LogEntry,
    PendingInvocation,
    PendingTimer,
    RequestedOverride,
)

RecordRef = tuple[type[Any], Any]


@dataclass(frozen=True)
class Workflow:
    """One record's workflow as it stands: its snapshot and the row's bookkeeping."""

    record_type: str
    record_id: str
    ref: RecordRef
    reference: str | None
    machine: Machine
    snapshot: Snapshot
    version: int
    legacy_status: str | None

    @property
    def value(self) -> Any:
        return self.snapshot.to_json()["value"]

    @property
    def states(self) -> tuple[str, ...]:
        """The active leaf states as dotted paths."""
        return leaf_paths(self.value)

    @property
    def active_state_ids(self) -> list[str]:
        """Every active state's id (ancestors included), in document order."""
        return [node.id for node in sorted(self.snapshot.configuration, key=lambda n: n.order)]


@dataclass(frozen=True)
class ActorEventOption:
    """An event the record's active states listen to, judged for the machine and for one actor.

    ``allowed`` and ``reason`` are the machine's view for ``actor`` (state
    and guards, with the actor the service would write into the event,
    payload aside: :meth:`WorkflowService.allowed_events`).  ``permitted``
    says whether ``actor`` sending it now would move the record (a dry run
    as that actor, through the service's permission checks); ``None`` when
    that cannot be known without a payload the caller has to supply.
    ``payload`` is what the API fills in itself (the open request of an
    override decision).
    """

    event: str
    allowed: bool
    reason: str | None
    targets: tuple[str, ...]
    needs_payload: bool
    permitted: bool | None
    refusal: str | None
    payload: dict[str, Any]


def workflow(service: WorkflowService, record_type: str, ref: RecordRef) -> Workflow:
    """The record's workflow; :class:`RecordNotFoundError` when there is no such row."""
    snapshot = service.snapshot(ref)
    model, key = ref
    with service.session_factory() as session:
        row = session.get(model, key)
        if row is None:  # deleted between the two reads
            raise RecordNotFoundError(record_type, str(key))
        reference = getattr(row, "reference", None)
        version, legacy = int(row.workflow_version or 0), row.status
    assert snapshot.machine is not None
    return Workflow(
        record_type=record_type,
        record_id=str(key),
        ref=ref,
        reference=None if reference is None else str(reference),
        machine=service.machines[snapshot.machine.id],
        snapshot=snapshot,
        version=version,
        legacy_status=legacy,
    )


def transition_log(service: WorkflowService, flow: Workflow, limit: int = 50) -> list[LogEntry]:
    """The record's last ``limit`` log rows, oldest first."""
    with service.session_factory() as session:
        return service_queries.transition_log(
            session, flow.record_type, flow.record_id, limit=limit
        )


def pending_timers(service: WorkflowService, flow: Workflow) -> list[PendingTimer]:
    """The record's durable timers that have not fired or been cancelled, soonest first."""
    with service.session_factory() as session:
        return service_queries.pending_timers(session, flow.record_type, flow.record_id)


def pending_invocations(service: WorkflowService, flow: Workflow) -> list[PendingInvocation]:
    """The record's durable invocations still waiting for a result (their rows), oldest first."""
    with service.session_factory() as session:
        return service_queries.pending_invocations(session, flow.record_type, flow.record_id)


def override_requests(
    service: WorkflowService,
    *,
    status: str | None = None,
    kind: str | None = None,
    record_type: str | None = None,
    record_id: str | None = None,
    limit: int = 100,
) -> list[RequestedOverride]:
    """Override requests, newest first, filtered by whichever of the arguments are given."""
    with service.session_factory() as session:
        return service_queries.override_requests(
            session,
            status=status,
            kind=kind,
            record_type=record_type,
            record_id=record_id,
            limit=limit,
        )


def credit_snapshot(service: WorkflowService, customer_id: str, currency: str) -> CreditSnapshot:
    """The customer's credit as the sale's credit check would see it now (from the database)."""
    with service.session_factory() as session:
        return DatabaseCredit(lambda: session, clock=service.clock).credit_snapshot(
            customer_id, currency
        )


def event_options(
    service: WorkflowService, flow: Workflow, actor: Principal | None
) -> list[ActorEventOption]:
    """The events of :meth:`WorkflowService.allowed_events`, each also judged for ``actor``."""
    rules = service.overrides.get(flow.machine.id)
    open_requests = {
        request.kind: request.request_key
        for request in service.override_requests(flow.ref)
        if request.status == "open" and request.request_key
    }
    options = []
    for option in service.allowed_events(flow.ref, actor=actor):
        event: dict[str, Any] = {"type": option.event}
        deciding = rules.deciding(option.event) if rules is not None else None
        if deciding is not None and deciding.kind in open_requests:
            event["request_id"] = open_requests[deciding.kind]
        permitted, refusal = _judge(service, flow, option.allowed, option.reason, event, actor)
        if permitted is None and (not option.needs_payload or "request_id" in event):
            permitted, refusal = _dry_run(service, flow, event, actor)
        options.append(
            ActorEventOption(
                event=option.event,
                allowed=option.allowed,
                reason=option.reason,
                targets=option.targets,
                needs_payload=option.needs_payload,
                permitted=permitted,
                refusal=refusal,
                payload={k: v for k, v in event.items() if k != "type"},
            )
        )
    return options


def diagram(flow: Workflow, format: str | None = None) -> tuple[str, str]:
    """``(format, source)`` of the machine with the record's active states highlighted.

    Without a ``format``: SVG when Graphviz's ``dot`` is installed, else Mermaid.
    Asking for ``svg`` without ``dot`` raises :class:`~orderflow.errors.RendererNotFoundError`.
    """
    if format is None:
        format = "svg" if which("dot") else "mermaid"
    writers = {"svg": to_svg, "mermaid": to_mermaid, "dot": to_dot}
    if format not in writers:
        raise ValueError(f"unknown diagram format '{format}'; choose one of {', '.join(writers)}")
    return format, writers[format](flow.machine, highlight=flow.snapshot)


def state_tree(flow: Workflow) -> DiagramState:
    """The machine's states as a tree, the record's active ones marked (the diagram without Graphviz)."""
    return build_diagram(flow.machine, flow.snapshot).root


@dataclass(frozen=True)
class ChildActor:
    """A child actor of a record's workflow (``snapshot.children``), as the API shows it."""

    id: str
    #: the child ids from the record down, joined by ``/`` (``transition(..., to=path)``)
    path: str
    src: str
    #: the child machine's id; ``None`` for a function actor (a promise actor)
    machine: str | None
    #: the child machine's state value (JSON); ``None`` for a function actor
    value: Any
    #: active, done, error (a machine's status, or a function actor's)
    status: str
    system_id: str | None
    #: a function actor's input (JSON); ``None`` for a machine
    input: Any
    children: tuple[ChildActor, ...]
    #: what a settled actor answered (JSON): a function's output (status ``done``) or a
    #: machine's; ``None`` while it runs
    output: Any = None
    #: why a failed actor failed (JSON, status ``error``): a function's error or a machine's
    error: Any = None

    @property
    def states(self) -> tuple[str, ...]:
        """The child machine's active leaf states as dotted paths (``()`` for a function)."""
        return leaf_paths(self.value) if self.machine is not None else ()

    def walk(self) -> Iterator[ChildActor]:
        """This child and its descendants, depth first."""
        yield self
        for child in self.children:
            yield from child.walk()


def child_actors(flow: Workflow) -> list[ChildActor]:
    """The record's child actors, nested as they run: machines with their own children."""
    return _children_of(flow.snapshot, "")


def awaited_invocations(children: Iterable[ChildActor]) -> list[ChildActor]:
    """The function actors still running below the record, whose results it waits for.

    What the snapshot knows of them (id, src, input).  Durable invocations, run by a
    worker, have a row of their own with attempts and due times: that row is read by
    the service's query functions, not from here.
    """
    return [
        actor
        for child in children
        for actor in child.walk()
        if actor.machine is None and actor.status == "active"
    ]


def _children_of(snapshot: Snapshot, prefix: str) -> list[ChildActor]:
    found = []
    for ident, child in snapshot.children.items():
        path = f"{prefix}/{ident}" if prefix else ident
        inner = child.snapshot
        found.append(
            ChildActor(
                id=ident,
                path=path,
                src=child.src,
                machine=inner.machine.id if inner is not None and inner.machine else None,
                value=inner.to_json()["value"] if inner is not None else None,
                status=child.current_status,
                system_id=child.system_id,
                input=child.input if inner is None else None,
                children=tuple(_children_of(inner, path)) if inner is not None else (),
                output=child.output if inner is None else inner.output,
                error=child.error if inner is None else inner.error,
            )
        )
    return found


def _judge(
    service: WorkflowService,
    flow: Workflow,
    allowed: bool,
    reason: str | None,
    event: dict[str, Any],
    actor: Principal | None,
) -> tuple[bool | None, str | None]:
    """The verdict that needs no dry run: refused by the machine, no actor, or no permission."""
    if not allowed:
        return False, reason
    if actor is None:
        return False, "sign in to send events"
    refusal = service.permission_refusal(flow.machine.id, str(event.get("type")), actor)
    if refusal is not None:
        return False, refusal
    return None, None


def _dry_run(
    service: WorkflowService, flow: Workflow, event: dict[str, Any], actor: Principal | None
) -> tuple[bool | None, str | None]:
    try:
        result = service.send(flow.ref, event, actor=actor, dry_run=True)
    except InvalidEventError:
        return None, None  # the event needs more payload than the API can fill in
    return result.success, result.reason
