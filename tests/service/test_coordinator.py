"""The PhaseCoordinator: hand-offs in the transaction that finished the machine, exactly once."""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import traceback
from collections.abc import Sequence
from typing import Any

import pytest
from order_flow import (
    CLERK,
    add_stock,
    flow_service,
    fulfilments,
    handoff_rows,
    history,
    sales,
    sent_quotation,
)
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from orderflow.service import FinishedRecord, PhaseCoordinator, WorkflowService, order_service
from orderflow.service.ports import NOTIFICATIONS
from orderflow.store import Fulfillment, OutboxEvent, Quotation, SaleOrder, TransitionLog
from orderflow.store.workflow_tables import PENDING
from workflow_db import Database, Ticket, make_engine

fork = multiprocessing.get_context("fork")


def test_an_approved_quotation_has_its_sale_order_in_the_same_transaction(
    database: Database,
) -> None:
    service = flow_service(database.Session)
    quotation = sent_quotation(service)

    result = service.send(quotation, "ACCEPT", actor=CLERK)

    assert result.success and result.to_state == "approved"
    (sale,) = sales(database.Session)
    assert (sale.reference, sale.quotation_id, sale.customer_id) == ("SO-Q-1", quotation.id, "C-1")
    snapshot = service.snapshot(sale)
    assert snapshot.matches("processing.awaiting_payment_method")
    assert (snapshot.context.sale_id, snapshot.context.quotation_id) == ("SO-Q-1", "Q-1")
    assert str(snapshot.context.total) == "240.00"
    assert history(database.Session, "quotations", quotation.id)[-2:] == [
        "ACCEPT -> approved",
        "orderflow.handoff -> approved",
    ]
    assert history(database.Session, "sale_orders", sale.id) == [
        "xstate.init -> processing.awaiting_payment_method",
        "orderflow.handoff -> processing.awaiting_payment_method",
    ]
    on_quotation, on_sale = handoff_rows(database.Session)
    assert on_quotation.details["handoff"] == {
        "name": "on_quotation_approved",
        "from_machine": "quotation",
        "to_machine": "sale",
        "from_record": {"type": "quotations", "id": str(quotation.id)},
        "to_records": [{"type": "sale_orders", "id": str(sale.id)}],
        "finishing_log_id": result.log_ids[-1],
    }
    assert on_sale.details["handoff"]["from_record"] == {
        "type": "quotations",
        "id": str(quotation.id),
    }
    assert (on_quotation.actor_user, on_sale.actor_user) == (CLERK.id, CLERK.id)


def test_a_hand_off_that_fails_takes_the_approval_with_it(database: Database) -> None:
    coordinator = PhaseCoordinator.for_orders()

    def refuse(finished: FinishedRecord) -> Sequence[Any]:
        raise RuntimeError("the ERP is down")

    coordinator.register("quotation", ["approved"], "tell_the_erp", refuse, to_machine="erp")
    service = flow_service(database.Session, coordinator=coordinator)
    quotation = sent_quotation(service)

    with pytest.raises(RuntimeError, match="ERP is down"):
        service.send(quotation, "ACCEPT", actor=CLERK)

    assert service.snapshot(quotation).value == "sent"
    assert sales(database.Session) == [] and handoff_rows(database.Session) == []


def test_running_the_hand_offs_again_is_a_no_op(database: Database) -> None:
    service = flow_service(database.Session)
    quotation = sent_quotation(service)
    service.send(quotation, "ACCEPT", actor=CLERK)

    service.rerun_finish_hooks(quotation)
    service.rerun_finish_hooks(quotation)

    assert len(sales(database.Session)) == 1
    assert len(handoff_rows(database.Session)) == 2  # one on the quotation, one on the sale


def test_a_quotation_approved_before_the_coordinator_gets_its_sale_when_hooks_rerun(
    database: Database,
) -> None:
    without = order_service(database.Session)
    quotation = sent_quotation(without)
    without.send(quotation, "ACCEPT", actor=CLERK)
    assert sales(database.Session) == []

    flow_service(database.Session).rerun_finish_hooks(quotation, actor=CLERK)

    assert [s.quotation_id for s in sales(database.Session)] == [quotation.id]


def test_rerunning_hooks_for_an_unfinished_record_says_so(database: Database) -> None:
    service = flow_service(database.Session)
    quotation = sent_quotation(service)
    with pytest.raises(ValueError, match="has not finished: its machine 'quotation' is active"):
        service.rerun_finish_hooks(quotation)


def cancelled_after_payment(database: Database) -> tuple[Quotation, SaleOrder, Fulfillment]:
    """The whole flow: a quotation accepted, its sale paid by card, the fulfilment cancelled."""
    add_stock(database.Session, "CHAIR", 10)
    service = flow_service(database.Session)
    quotation = sent_quotation(service)
    service.send(quotation, "ACCEPT", actor=CLERK)
    (sale,) = sales(database.Session)
    service.send(sale, {"type": "SELECT_PAYMENT_METHOD", "method": "card"}, actor=CLERK)
    service.send(sale, {"type": "CAPTURE", "amount": "240.00", "reference": "PSP-1"})
    (fulfilment,) = fulfilments(database.Session)
    service.send(fulfilment, {"type": "CANCEL", "reason": "customer called"}, actor=CLERK)
    return quotation, sale, fulfilment


def test_a_cleared_sale_gets_its_fulfilment_and_the_fulfilment_outcome_reaches_the_sale(
    database: Database,
) -> None:
    add_stock(database.Session, "CHAIR", 10)
    service = flow_service(database.Session)
    quotation = sent_quotation(service)
    service.send(quotation, "ACCEPT", actor=CLERK)
    (sale,) = sales(database.Session)
    service.send(sale, {"type": "SELECT_PAYMENT_METHOD", "method": "card"}, actor=CLERK)
    assert service.send(sale, {"type": "CAPTURE", "amount": "240.00", "reference": "PSP-1"})

    (fulfilment,) = fulfilments(database.Session)
    assert (fulfilment.reference, fulfilment.sale_order_id) == ("SO-Q-1-F1", sale.id)
    assert service.snapshot(fulfilment).value == "picking"  # reserve_stock ran in the hand-off
    service.send(fulfilment, {"type": "CANCEL", "reason": "customer called"}, actor=CLERK)

    assert history(database.Session, "sale_orders", sale.id)[-2:] == [
        "orderflow.handoff -> cleared",  # on_sale_cleared
        "orderflow.handoff -> cleared",  # on_fulfilment_done
    ]
    with database.Session() as session:
        events = session.scalars(
            select(OutboxEvent.event_type)
            .where(OutboxEvent.record_type == "sale_orders")
            .order_by(OutboxEvent.sequence)
        ).all()
    assert events == ["sale.payment_captured", "sale.cleared", "sale.fulfilment_cancelled"]


def test_every_outbox_row_of_the_flow_holds_the_log_row_that_wrote_it(database: Database) -> None:
    cancelled_after_payment(database)
    with database.Session() as session:
        rows = session.execute(
            select(OutboxEvent, TransitionLog)
            .join(TransitionLog, OutboxEvent.transition_id == TransitionLog.id, isouter=True)
            .order_by(OutboxEvent.id)
        ).all()
    assert rows and all(log is not None for _, log in rows), [o.event_type for o, _ in rows]
    for outbox, log in rows:
        if outbox.record_type == NOTIFICATIONS:  # a message an effect wrote, its own record
            assert log.details["effects"], (outbox.event_type, log.event)
        else:
            assert (log.record_type, log.record_id) == (outbox.record_type, outbox.record_id)
    assert {o.event_type for o, _ in rows} >= {"orderflow.notify", "sale.fulfilment_cancelled"}
    handed = [log for outbox, log in rows if outbox.event_type == "sale.fulfilment_cancelled"]
    assert [(log.event, log.details["handoff"]["name"]) for log in handed] == [
        ("orderflow.handoff", "on_fulfilment_done")
    ]


def test_a_team_hand_off_that_flushes_its_outbox_rows_still_gives_them_its_log_row(
    database: Database,
) -> None:
    def announce(finished: FinishedRecord) -> Sequence[Any]:
        now = finished.service.clock()
        for record_type, record_id in (("quotations", finished.record_id), ("erp_orders", "E-1")):
            finished.session.add(OutboxEvent(
                record_type=record_type, record_id=record_id, sequence=1000,
                event_type="quotation.announced", payload={"type": "quotation.announced"},
                status=PENDING, attempts=0, available_at=now, created_at=now,
            ))  # fmt: skip
        finished.session.flush()  # a hand-off may flush, to learn an id or check a constraint
        return []

    coordinator = PhaseCoordinator.for_orders()
    coordinator.register("quotation", ["approved"], "announce", announce, to_machine="erp")
    service = flow_service(database.Session, coordinator=coordinator)
    quotation = sent_quotation(service)
    service.send(quotation, "ACCEPT", actor=CLERK)

    with database.Session() as session:
        (handed_off,) = session.scalars(
            select(TransitionLog.id).where(TransitionLog.idempotency_key == "handoff:announce")
        ).all()
        announced = session.scalars(
            select(OutboxEvent.transition_id).where(OutboxEvent.event_type == "quotation.announced")
        ).all()
    # the row on the quotation and the one on a record the hand-off did not log on (the ERP's)
    # both hold the hand-off's log row on the quotation, the step that wrote them
    assert announced == [handed_off, handed_off]


def test_every_log_row_of_a_handed_off_record_counts_one_version_bump(database: Database) -> None:
    quotation, sale, fulfilment = cancelled_after_payment(database)

    with database.Session() as session:
        for model, record_id in ((Quotation, quotation.id), (SaleOrder, sale.id),
                                 (Fulfillment, fulfilment.id)):  # fmt: skip
            versions = session.scalars(
                select(TransitionLog.record_version)
                .where(
                    TransitionLog.record_type == model.__tablename__,
                    TransitionLog.record_id == str(record_id),
                )
                .order_by(TransitionLog.id)
            ).all()
            current = session.get_one(model, record_id).workflow_version
            assert versions == list(range(1, current + 1)), model.__tablename__


def test_a_team_registers_its_own_hand_off(database: Database) -> None:
    from workflow_db import capture, ticket_machine

    def follow_up(finished: FinishedRecord) -> Sequence[Any]:
        ticket = Ticket(title=f"follow-up of {finished.record_id}", workflow_machine="ticket")
        finished.service.start(ticket)
        return [ticket]

    coordinator = PhaseCoordinator()
    coordinator.register("ticket", ["shipped"], "follow_up", follow_up, to_machine="ticket")
    with pytest.raises(ValueError, match="already registered"):
        coordinator.register("ticket", ["cancelled"], "follow_up", follow_up, to_machine="ticket")
    service = WorkflowService(
        database.Session,
        {"ticket": ticket_machine()},
        effects={"capture": capture},
        finish_hooks=[coordinator],
    )
    ticket = Ticket(title="first")
    service.start(ticket, machine="ticket")
    service.send(ticket, {"type": "PAY", "amount": 10})
    service.send(ticket, "SHIP")
    service.send((Ticket, 2), "CANCEL")  # the follow-up ends in 'cancelled': no hand-off there

    with database.Session() as session:
        titles = session.scalars(select(Ticket.title).order_by(Ticket.id)).all()
    assert titles == ["first", "follow-up of 1"]
    assert [
        (r.record_id, r.details["handoff"]["name"]) for r in handoff_rows(database.Session)
    ] == [
        ("1", "follow_up"),
        ("2", "follow_up"),
    ]


# -- racing processes ---------------------------------------------------------------------------


def _child_sessions(database: Database) -> sessionmaker[Session]:
    return sessionmaker(make_engine(database.engine_url(), database.schema), expire_on_commit=False)


def _approve_or_rerun(database: Database, quotation_id: int, barrier: Any, index: int) -> None:
    """Half the racers accept the quotation, half rerun the hand-offs; each its own coordinator."""
    code = 1
    try:
        Session = _child_sessions(database)
        service = flow_service(Session)
        barrier.wait(timeout=30)
        if index % 2 == 0:
            service.send((Quotation, quotation_id), "ACCEPT", actor=CLERK)
        else:
            with contextlib.suppress(ValueError):  # not accepted yet: nothing to hand over
                service.rerun_finish_hooks((Quotation, quotation_id))
        code = 0
    finally:
        os._exit(code)


def _hand_off_without_the_lock(database: Database, quotation_id: int, barrier: Any) -> None:
    """Run the hand-off as a coordinator that missed the record lock would: the unique link decides."""
    code = 1
    try:
        Session = _child_sessions(database)
        service = flow_service(Session)
        (coordinator,) = service.finish_hooks
        snapshot = service.snapshot((Quotation, quotation_id))
        # a SQLite transaction holds the database's write lock from BEGIN: writers there take
        # turns whatever the coordinator does, so only PostgreSQL lets both read before either writes
        if database.kind != "postgresql":
            barrier.wait(timeout=30)
        with Session() as session:
            row = session.get(Quotation, quotation_id)
            finished = FinishedRecord(
                session, service.joined(session), row, "quotations", str(quotation_id),
                service.machines["quotation"], snapshot, None, None,
            )  # fmt: skip
            if database.kind == "postgresql":
                barrier.wait(timeout=30)
            coordinator(finished)
            session.commit()
        code = 0
    except BaseException:
        traceback.print_exc()
    finally:
        os._exit(code)


def _race(target: Any, args: Any, racers: int) -> list[int | None]:
    barrier = fork.Barrier(racers)
    processes = [fork.Process(target=target, args=(*args(i), barrier)) for i in range(racers)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=120)
    return [process.exitcode for process in processes]


RACERS = 6


def test_racing_coordinators_create_exactly_one_sale_order(shared_database: Database) -> None:
    service = flow_service(shared_database.Session)
    quotation = sent_quotation(service)

    barrier = fork.Barrier(RACERS)
    processes = [
        fork.Process(target=_approve_or_rerun, args=(shared_database, quotation.id, barrier, i))
        for i in range(RACERS)
    ]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=120)

    assert [p.exitcode for p in processes] == [0] * RACERS
    (sale,) = sales(shared_database.Session)
    assert sale.quotation_id == quotation.id
    rows = handoff_rows(shared_database.Session)
    assert [(r.record_type, r.record_id) for r in rows] == [
        ("quotations", str(quotation.id)),
        ("sale_orders", str(sale.id)),
    ]
    assert (
        history(shared_database.Session, "quotations", quotation.id).count("ACCEPT -> approved")
        == 1
    )


def test_coordinators_that_miss_the_record_lock_still_create_one_sale_order(
    shared_database: Database,
) -> None:
    without = order_service(shared_database.Session)
    quotation = sent_quotation(without)
    without.send(quotation, "ACCEPT", actor=CLERK)

    exits = _race(_hand_off_without_the_lock, lambda i: (shared_database, quotation.id), 2)

    assert exits == [0, 0]
    assert [s.quotation_id for s in sales(shared_database.Session)] == [quotation.id]
    assert len(handoff_rows(shared_database.Session)) == 2
    with shared_database.Session() as session:
        assert session.scalar(select(SaleOrder.reference)) == "SO-Q-1"
