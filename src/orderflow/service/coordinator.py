"""``PhaseCoordinator``: when one phase's machine finishes, hand the record to the next one.

    coordinator = PhaseCoordinator.for_orders()          # quotation -> sale -> fulfilment -> sale
    service = order_service(Session, finish_hooks=[coordinator])

A hand-off is declared, not discovered: ``register(machine, states, name,
handoff)`` says which final states of which machine hand over and what
runs then.  The coordinator is a finish hook of the
:class:`~orderflow.service.WorkflowService`, so a hand-off runs inside the
transaction of the transition that finished the machine: the approved
quotation and its sale order commit together or not at all.

Exactly once, even when two processes race:

- the finishing record's row is locked by the service while its hooks run,
  and each hand-off is logged on it under the idempotency key
  ``handoff:<name>`` (unique per record), so a hand-off that already ran
  for this record is skipped;
- the records a hand-off creates carry a unique link to where they came
  from (``SaleOrder.quotation_id``; a fulfilment's reference derived from
  its sale's), so a repeat finds the existing record instead of creating
  a second; the unique constraint is the last word when two transactions
  insert at once.

Each hand-off appends one log row on the finishing record and one on each
record it reached (event ``orderflow.handoff``, from machine, to machine,
both records' ids), so either record's history explains the other.  Like
every log row, each counts one ``workflow_version`` bump of its record.
An outbox row a hand-off writes (``sale.fulfilment_<outcome>``) holds the
hand-off's log row on that row's record, as every outbox row holds the log
row that wrote it.
A team adds its own hand-offs with :meth:`PhaseCoordinator.register`.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable, Iterable, Iterator, Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy import event, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from orderflow.chart import Snapshot
from orderflow.errors import ConfigurationError, NotAWorkflowRecordError, StaleRecordError
from orderflow.orders.handoff import fulfilment_input_from, sale_input_from
from orderflow.service.workflow import FinishedRecord
from orderflow.store import (
    Fulfillment,
    OutboxEvent,
    Quotation,
    SaleOrder,
    TransitionLog,
    WorkflowRecord,
    record_identity,
)

HANDOFF_EVENT = "orderflow.handoff"

#: handoff(finished) -> the records it reached (created, or found by their unique link)
HandoffFn = Callable[[FinishedRecord], Sequence[Any]]
#: plans(sale snapshot, sale order) -> one fulfilment input per fulfilment to create
FulfilmentPlans = Callable[[Snapshot, SaleOrder], Sequence[dict[str, Any]]]


@dataclasses.dataclass(frozen=True)
class Handoff:
    """What runs when ``machine`` finishes in one of ``states`` (dotted paths, matched as ``snapshot.matches``)."""

    name: str
    machine: str
    states: tuple[str, ...]
    run: HandoffFn
    #: the machine of the records the hand-off reaches, for the log
    to_machine: str

    def applies_to(self, finished: FinishedRecord) -> bool:
        return finished.machine.id == self.machine and any(
            finished.snapshot.matches(state) for state in self.states
        )


def one_fulfilment(sale: Snapshot, order: SaleOrder) -> Sequence[dict[str, Any]]:
    """The default plan: every line in one fulfilment from the default warehouse."""
    return [fulfilment_input_from(sale, sale_id=order.reference)]


def default_sale_reference(quotation: Quotation) -> str:
    """``SO-<quotation reference>``: the sale order's reference, unique as the quotation's is."""
    return f"SO-{quotation.reference}"


class PhaseCoordinator:
    """Hand-offs between machines, run as a finish hook of the service (see the module doc)."""

    def __init__(
        self,
        handoffs: Iterable[Handoff] = (),
        *,
        sale_reference: Callable[[Quotation], str] = default_sale_reference,
        fulfilment_plans: FulfilmentPlans = one_fulfilment,
    ) -> None:
        """``handoffs`` to start with; ``sale_reference`` and ``fulfilment_plans`` shape the order flow's."""
        self.handoffs: list[Handoff] = []
        self.sale_reference = sale_reference
        self.fulfilment_plans = fulfilment_plans
        for handoff in handoffs:
            self.add(handoff)

    @classmethod
    def for_orders(
        cls,
        *,
        sale_reference: Callable[[Quotation], str] = default_sale_reference,
        fulfilment_plans: FulfilmentPlans = one_fulfilment,
    ) -> PhaseCoordinator:
        """The shipped order flow: quotation approved -> sale; sale cleared -> fulfilment(s); done -> sale."""
        coordinator = cls(sale_reference=sale_reference, fulfilment_plans=fulfilment_plans)
        coordinator.register("quotation", ("approved",), "on_quotation_approved",
                             coordinator.on_quotation_approved, to_machine="sale")  # fmt: skip
        coordinator.register("sale", ("cleared",), "on_sale_cleared",
                             coordinator.on_sale_cleared, to_machine="fulfilment")  # fmt: skip
        coordinator.register(
            "fulfilment", ("completed", "returned", "cancelled"), "on_fulfilment_done",
            coordinator.on_fulfilment_done, to_machine="sale",
        )  # fmt: skip
        return coordinator

    def register(
        self, machine: str, states: Sequence[str], name: str, run: HandoffFn, *, to_machine: str
    ) -> Handoff:
        """Run ``run(finished)`` when ``machine`` finishes in one of ``states``; ``name`` must be new."""
        handoff = Handoff(name, machine, tuple(states), run, to_machine)
        self.add(handoff)
        return handoff

    def add(self, handoff: Handoff) -> None:
        if any(h.name == handoff.name for h in self.handoffs):
            raise ConfigurationError(
                f"a hand-off named '{handoff.name}' is already registered", setting="handoffs"
            )
        self.handoffs.append(handoff)

    def __call__(self, finished: FinishedRecord) -> None:
        """The finish hook: run every hand-off that applies, once per record."""
        for handoff in self.handoffs:
            if not handoff.applies_to(finished) or _already(finished, handoff):
                continue
            try:
                with finished.session.begin_nested():
                    with _outbox_added(finished.session) as written:
                        reached = handoff.run(finished)
                    logged = _log_handoff(finished, handoff, reached)
                    _link_outbox(finished, written, logged)
                    finished.session.flush()
            except (IntegrityError, StaleRecordError):
                # a transaction that did not hold the record's lock ran this hand-off first
                # and committed: its unique links, log key or version bump won, so this
                # repeat is a no-op
                if not _already(finished, handoff):
                    raise

    # -- the order flow ------------------------------------------------------------------------

    def on_quotation_approved(self, finished: FinishedRecord) -> Sequence[Any]:
        """Create the sale order from the approved quotation's final snapshot (one per quotation)."""
        quotation: Quotation = finished.record
        existing = _sale_of(finished.session, quotation.id)
        if existing is not None:
            return [existing]
        reference = self.sale_reference(quotation)
        context = finished.snapshot.context
        order = SaleOrder(
            reference=reference, customer_id=context.customer_id, quotation_id=quotation.id,
            currency=context.currency, total=Decimal(context.total), workflow_machine="sale",
        )  # fmt: skip
        data = sale_input_from(finished.snapshot, sale_id=reference)
        if data.get("quotation_id") is None:
            data["quotation_id"] = quotation.reference
        try:
            finished.service.start(order, machine="sale", input=data, actor=finished.actor,
                                   note=f"from quotation {quotation.reference}")  # fmt: skip
        except IntegrityError:  # another transaction created it first: link that one
            existing = _sale_of(finished.session, quotation.id)
            if existing is None:
                raise
            return [existing]
        return [order]

    def on_sale_cleared(self, finished: FinishedRecord) -> Sequence[Any]:
        """Create the sale's fulfilment(s) from its final snapshot (references ``<sale>-F<n>``, unique)."""
        sale: SaleOrder = finished.record
        reached: list[Any] = []
        for number, data in enumerate(self.fulfilment_plans(finished.snapshot, sale), start=1):
            reference = f"{sale.reference}-F{number}"
            existing = _fulfilment(finished.session, reference)
            if existing is None:
                fulfilment = Fulfillment(
                    reference=reference, sale_order_id=sale.id, warehouse=data.get("warehouse"),
                    workflow_machine="fulfilment",
                )  # fmt: skip
                try:
                    finished.service.start(fulfilment, machine="fulfilment", input=data,
                                           actor=finished.actor, note=f"from sale {sale.reference}")  # fmt: skip
                except IntegrityError:
                    existing = _fulfilment(finished.session, reference)
                    if existing is None:
                        raise
                else:
                    existing = fulfilment
            reached.append(existing)
        return reached

    def on_fulfilment_done(self, finished: FinishedRecord) -> Sequence[Any]:
        """Record the fulfilment's outcome on its sale: a log row there and a ``sale.fulfilment_<outcome>`` event."""
        fulfilment: Fulfillment = finished.record
        session = finished.session
        sale = session.execute(
            select(SaleOrder).where(SaleOrder.id == fulfilment.sale_order_id).with_for_update()
        ).scalar_one()
        outcome = str(finished.snapshot.value)
        context = finished.snapshot.context
        payload = {
            "type": f"sale.fulfilment_{outcome}",
            "sale_id": sale.reference,
            "fulfilment": fulfilment.reference,
            "outcome": outcome,
            "refund_amount": str(context.refund_amount),
            "currency": context.currency,
        }
        finished.service.journal.outbox(
            session, SaleOrder.__tablename__, str(sale.id), [(payload, None)]
        )
        return [sale]


def _sale_of(session: Session, quotation_id: int) -> SaleOrder | None:
    return session.scalars(select(SaleOrder).where(SaleOrder.quotation_id == quotation_id)).first()


def _fulfilment(session: Session, reference: str) -> Fulfillment | None:
    return session.scalars(select(Fulfillment).where(Fulfillment.reference == reference)).first()


def _key(handoff: Handoff) -> str:
    return f"handoff:{handoff.name}"


def _already(finished: FinishedRecord, handoff: Handoff) -> bool:
    found = finished.session.scalar(
        select(TransitionLog.id).where(
            TransitionLog.record_type == finished.record_type,
            TransitionLog.record_id == finished.record_id,
            TransitionLog.idempotency_key == _key(handoff),
        )
    )
    return found is not None


def _log_handoff(
    finished: FinishedRecord, handoff: Handoff, reached: Sequence[Any]
) -> dict[tuple[str, str], int]:
    """One log row on the finished record, one on each record the hand-off reached: their ids by record."""
    journal = finished.service.journal
    session = finished.session
    targets = [_identity(record) for record in reached]
    state = finished.snapshot.to_json()["value"]
    source = {"type": finished.record_type, "id": finished.record_id}
    common = {"event": HANDOFF_EVENT, "principal": finished.actor}
    entries = [
        journal.entry(
            finished.record_type, finished.record_id, machine=finished.machine.id,
            machine_version=finished.machine.version, from_state=state, to_state=state,
            record_version=journal.bump(session, finished.record),
            note=f"{handoff.name}: {finished.machine.id} -> {handoff.to_machine} "
            + ", ".join(f"{t['type']} {t['id']}" for t in targets),
            details={"handoff": {
                "name": handoff.name, "from_machine": finished.machine.id,
                "to_machine": handoff.to_machine, "from_record": source, "to_records": targets,
                "finishing_log_id": finished.log_id,
            }},
            idempotency_key=_key(handoff), **common,
        )
    ]  # fmt: skip
    for record, target in zip(reached, targets, strict=True):
        value = (record.workflow_state or {}).get("value")
        entries.append(
            journal.entry(
                target["type"], target["id"], machine=record.workflow_machine or handoff.to_machine,
                machine_version=(record.workflow_state or {}).get("version"),
                from_state=value, to_state=value, record_version=journal.bump(session, record),
                note=f"{handoff.name}: from {finished.machine.id} {finished.record_type} "
                f"{finished.record_id}",
                details={"handoff": {
                    "name": handoff.name, "from_machine": finished.machine.id,
                    "to_machine": handoff.to_machine, "from_record": source, "to_record": target,
                }},
                idempotency_key=f"{_key(handoff)}:{finished.record_type}:{finished.record_id}"[:200],
                **common,
            )
        )  # fmt: skip
    session.flush()
    ids = journal.log(session, entries)
    return {(e["record_type"], e["record_id"]): i for e, i in zip(entries, ids, strict=True)}


@contextlib.contextmanager
def _outbox_added(session: Session) -> Iterator[list[OutboxEvent]]:
    """The outbox rows added to ``session`` inside the block, flushed or not.

    Rows a hand-off flushed are no longer in ``session.new``, and the
    identity map lets go of those nobody references: the session tells.
    """
    added: list[OutboxEvent] = []

    def on_add(_: Session, instance: object) -> None:
        if isinstance(instance, OutboxEvent):
            added.append(instance)

    event.listen(session, "transient_to_pending", on_add)
    try:
        yield added
    finally:
        event.remove(session, "transient_to_pending", on_add)


def _link_outbox(
    finished: FinishedRecord,
    written: Iterable[OutboxEvent],
    logged: dict[tuple[str, str], int],
) -> None:
    """Give each outbox row a hand-off wrote the log row that wrote it.

    That is the hand-off's log row on the row's record (the sale's, for a
    ``sale.fulfilment_*`` event), or else its row on the finishing record:
    the hand-off is one step, logged there.  A row that already names a log
    row (an effect's, through the service) keeps it.
    """
    own = logged[(finished.record_type, finished.record_id)]
    for outbox in written:
        if outbox.transition_id is None:
            outbox.transition_id = logged.get((outbox.record_type, outbox.record_id), own)


def _identity(record: Any) -> dict[str, str]:
    if not isinstance(record, WorkflowRecord):
        raise NotAWorkflowRecordError(type(record), where="a hand-off's answer")
    model, key = record_identity(record)
    return {"type": str(getattr(model, "__tablename__", model.__name__)), "id": str(key)}
