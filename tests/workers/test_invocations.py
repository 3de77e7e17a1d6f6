"""Durable invocations: a function actor a record starts is a row, run by a worker, delivered once.

Each guarantee is checked against what would break without it: the row is
written in the step's transaction (so a crash before any worker loses
nothing), a claim's lease lets a dead worker's invocation be run again and
delivered once, the idempotency key keeps a delivery committed apart from its
row's mark from being repeated, and the row cancelled by the step that left
the state keeps a late result from reaching the invocation that replaced it.
"""

from __future__ import annotations

import asyncio
import threading
import time
from datetime import datetime, timedelta
from typing import Any

import pytest
from invoking import (
    DONE_EVENT,
    MODELS,
    Booking,
    Charges,
    booking_machine,
    booking_service,
    create_tables,
    deliveries,
    invocation_states,
    invocations,
)
from sqlalchemy import select

import orderflow
from orderflow.errors import ConfigurationError, EffectError
from orderflow.service import WorkflowService, queries
from orderflow.store import TransitionLog
from orderflow.store.base import utcnow
from orderflow.workers import (
    InvocationOptions,
    InvocationPolicy,
    InvocationWorker,
    invocation_idempotency_key,
    run_due_invocations,
)
from orderflow.workers.invocations import (
    claim_invocations,
    deliver_answers,
    run_claim,
    run_claim_async,
)
from workflow_db import Database

OPTIONS = InvocationOptions(models=MODELS)
LEASE = OPTIONS.policy.timeout + OPTIONS.policy.lease_margin


@pytest.fixture
def db(database: Database) -> Database:
    create_tables(database)
    return database


def _snapshot(service: WorkflowService, booking_id: int) -> Any:
    return service.snapshot((Booking, booking_id))


def _log_events(database: Database, booking_id: int) -> list[str]:
    with database.Session() as session:
        return list(
            session.scalars(
                select(TransitionLog.event)
                .where(TransitionLog.record_id == str(booking_id))
                .order_by(TransitionLog.id)
            )
        )


def test_a_started_invocation_is_a_row_written_with_the_step(db: Database) -> None:
    service = booking_service(db.Session)
    assert service.start(Booking(id=1)).success

    (row,) = invocations(db, 1)
    assert (row.state, row.machine, row.actor_path, row.actor_id, row.src, row.input) == (
        "pending", "booking", "", "charge", "charge", {"amount": 25},
    )  # fmt: skip
    with db.Session() as session:
        (pending,) = queries.pending_invocations(session, "invocation_bookings", "1")
    assert (pending.src, pending.state, pending.attempts) == ("charge", "pending", 0)

    assert service.start(Booking(id=2), dry_run=True).success
    assert invocations(db, 2) == []  # a dry run writes nothing


def test_a_step_that_rolls_back_leaves_no_invocation(db: Database) -> None:
    def refuse(session: Any, record: Any, action: Any) -> None:
        raise RuntimeError("no")

    machine = orderflow.setup(
        actors={"charge": Charges()}, actions={"audit": lambda *_: None}
    ).create_machine(
        {
            "id": "booking",
            "initial": "idle",
            "states": {
                "idle": {"on": {"GO": {"target": "charging", "actions": ["audit"]}}},
                "charging": {"invoke": {"id": "charge", "src": "charge"}},
            },
        }
    )
    service = WorkflowService(db.Session, {"booking": machine}, effects={"audit": refuse})
    assert service.start(Booking(id=1)).success
    with pytest.raises(EffectError):
        service.send((Booking, 1), "GO")
    assert invocations(db, 1) == []


def test_a_worker_runs_the_function_and_delivers_its_result_once(db: Database) -> None:
    charges = Charges()
    service = booking_service(db.Session, charges)
    service.start(Booking(id=1))

    runs = run_due_invocations(service, db.Session, options=OPTIONS)

    assert [(r.outcome, r.actor_id) for r in runs] == [("delivered", "charge")]
    snapshot = _snapshot(service, 1)
    assert snapshot.value == "charged"
    assert snapshot.context["receipts"] == [{"receipt": 1, "amount": 25}]
    (row,) = invocations(db, 1)
    assert (row.state, row.attempts, row.result) == ("done", 1, {"receipt": 1, "amount": 25})
    assert charges.calls == [{"amount": 25}]
    with db.Session() as session:
        key = session.scalar(
            select(TransitionLog.idempotency_key).where(TransitionLog.event == DONE_EVENT)
        )
        assert queries.pending_invocations(session, "invocation_bookings", "1") == []
    assert key == invocation_idempotency_key(row.id)
    assert run_due_invocations(service, db.Session, options=OPTIONS) == []
    assert deliveries(db) == {"1": 1}


def test_an_async_function_is_awaited(db: Database) -> None:
    async def charge(value: Any) -> dict[str, Any]:
        await asyncio.sleep(0)
        return {"receipt": "async", "amount": value["amount"]}

    service = booking_service(db.Session, charge)
    service.start(Booking(id=1))
    assert [r.outcome for r in run_due_invocations(service, db.Session, options=OPTIONS)] == [
        "delivered"
    ]
    assert _snapshot(service, 1).context["receipts"] == [{"receipt": "async", "amount": 25}]


def test_a_failing_function_is_retried_with_backoff_then_its_error_is_delivered(
    db: Database,
) -> None:
    calls: list[datetime] = []

    def charge(value: Any) -> None:
        calls.append(utcnow())
        raise ValueError("card declined")

    policy = InvocationPolicy(max_attempts=3, retry_delay=timedelta(seconds=10))
    options = InvocationOptions(models=MODELS, policies={"charge": policy})
    service = booking_service(db.Session, charge)
    service.start(Booking(id=1))
    now = utcnow()

    def batch(at: timedelta) -> list[str]:
        return [
            r.outcome
            for r in run_due_invocations(service, db.Session, now=now + at, options=options)
        ]

    assert batch(timedelta(0)) == ["retry"]
    (row,) = invocations(db, 1)
    assert (row.state, row.attempts, row.last_error) == ("pending", 1, "ValueError: card declined")
    assert batch(timedelta(seconds=9)) == []  # backing off: 10 s after the first attempt
    assert batch(timedelta(seconds=10)) == ["retry"]
    assert batch(timedelta(seconds=29)) == []  # then 20 s
    assert batch(timedelta(seconds=30)) == ["failed"]

    assert len(calls) == 3
    snapshot = _snapshot(service, 1)
    assert snapshot.value == "declined"
    assert snapshot.context["error"] == {"type": "ValueError", "message": "card declined"}
    (row,) = invocations(db, 1)
    assert (row.state, row.attempts) == ("failed", 3)
    assert _log_events(db, 1).count("xstate.error.actor.charge") == 1


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_a_function_that_outlives_its_timeout_is_a_failed_attempt(db: Database, kind: str) -> None:
    def slow(value: Any) -> str:
        time.sleep(1.0)
        return "late"

    async def slow_async(value: Any) -> str:
        await asyncio.sleep(1.0)
        return "late"

    policy = InvocationPolicy(max_attempts=2, timeout=timedelta(seconds=0.1))
    service = booking_service(db.Session, slow if kind == "sync" else slow_async)
    service.start(Booking(id=1))

    started = time.monotonic()
    runs = run_due_invocations(
        service, db.Session, options=InvocationOptions(models=MODELS, policy=policy)
    )
    assert time.monotonic() - started < 0.9
    assert [r.outcome for r in runs] == ["retry"]
    assert "TimeoutError" in str(runs[0].detail) and "0.1s" in str(runs[0].detail)
    assert _snapshot(service, 1).value == "charging"


def test_leaving_the_state_cancels_the_invocation_in_that_transaction(db: Database) -> None:
    charges = Charges()
    service = booking_service(db.Session, charges)
    service.start(Booking(id=1))
    assert service.send((Booking, 1), "CANCEL").success

    assert [row.state for row in invocations(db, 1)] == ["cancelled"]
    assert run_due_invocations(service, db.Session, options=OPTIONS) == []
    assert charges.calls == []


def test_a_result_for_an_invocation_whose_state_was_left_is_never_delivered(db: Database) -> None:
    """RESTART leaves ``charging`` and enters it again: a new ``charge`` child, same id.

    The core would take the first invocation's late result as the new child's
    answer; the row the leaving step cancelled is what keeps it out.
    """
    charges = Charges()
    service = booking_service(db.Session, charges)
    service.start(Booking(id=1))
    now = utcnow()
    claims = claim_invocations(service, db.Session, now, OPTIONS)
    answers = [run_claim(claim) for claim in claims]  # the first run answers ...

    assert service.send((Booking, 1), "RESTART").success  # ... while the state is left
    assert [row.state for row in invocations(db, 1)] == ["cancelled", "pending"]

    runs = deliver_answers(service, db.Session, answers, now, OPTIONS)
    assert [r.outcome for r in runs] == ["cancelled"]
    assert _snapshot(service, 1).value == "charging"
    assert deliveries(db) == {}

    assert [r.outcome for r in run_due_invocations(service, db.Session, options=OPTIONS)] == [
        "delivered"
    ]
    snapshot = _snapshot(service, 1)
    assert snapshot.value == "charged" and snapshot.context["receipts"] == [
        {"receipt": 2, "amount": 25}
    ]
    assert deliveries(db) == {"1": 1}


def test_a_worker_that_dies_after_running_leaves_it_to_the_next_claim_once_the_lease_ends(
    db: Database,
) -> None:
    charges = Charges()
    service = booking_service(db.Session, charges)
    service.start(Booking(id=1))
    now = utcnow()
    claims = claim_invocations(service, db.Session, now, OPTIONS)
    run_claim(claims[0])  # ... and the worker dies before delivering

    assert run_due_invocations(service, db.Session, now=now + LEASE / 2, options=OPTIONS) == []
    runs = run_due_invocations(service, db.Session, now=now + LEASE, options=OPTIONS)

    assert [r.outcome for r in runs] == ["delivered"]
    assert len(charges.calls) == 2  # run again: at least once
    assert deliveries(db) == {"1": 1}  # delivered once
    (row,) = invocations(db, 1)
    assert (row.state, row.attempts) == ("done", 2)


def test_a_late_answer_of_a_claim_whose_lease_was_taken_over_is_not_delivered(db: Database) -> None:
    service = booking_service(db.Session)
    service.start(Booking(id=1))
    now = utcnow()
    slow = claim_invocations(service, db.Session, now, OPTIONS)
    late = [run_claim(claim) for claim in slow]
    assert [
        r.outcome
        for r in run_due_invocations(service, db.Session, now=now + LEASE, options=OPTIONS)
    ] == ["delivered"]

    runs = deliver_answers(service, db.Session, late, now + LEASE, OPTIONS)
    assert [r.outcome for r in runs] == ["stale"]
    assert deliveries(db) == {"1": 1}


def test_a_delivery_committed_apart_from_its_mark_is_not_made_again(db: Database) -> None:
    """Another driver delivered (committed) and died before marking the row: the key holds.

    With ``rounds=2`` the first result re-enters ``charging`` and invokes
    ``charge`` again under the same id, so a second delivery of the first
    result would be taken, by the second invocation.
    """
    charges = Charges()
    service = booking_service(db.Session, charges)
    service.start(Booking(id=1), input={"rounds": 2})
    now = utcnow()
    (claim,) = claim_invocations(service, db.Session, now, OPTIONS)
    answer = run_claim(claim)
    delivered = service.deliver(
        (Booking, 1), {"type": DONE_EVENT, "output": answer.output},
        idempotency_key=invocation_idempotency_key(claim.invocation_id),
    )  # fmt: skip
    assert delivered.success  # committed; the first row is still "running"
    assert [row.state for row in invocations(db, 1)] == ["running", "pending"]

    runs = run_due_invocations(service, db.Session, now=now + LEASE, options=OPTIONS)

    assert sorted(r.outcome for r in runs) == ["delivered"]  # the second; the first is marked
    assert [row.state for row in invocations(db, 1)] == ["done", "done"]
    assert len(charges.calls) == 2  # the first was not run again either
    snapshot = _snapshot(service, 1)
    assert snapshot.value == "charged"
    assert [r["receipt"] for r in snapshot.context["receipts"]] == [1, 2]
    assert deliveries(db) == {"1": 2}


def test_a_second_delivery_under_the_key_answers_with_the_first(db: Database) -> None:
    service = booking_service(db.Session)
    service.start(Booking(id=1), input={"rounds": 2})
    (row,) = invocations(db, 1)
    key = invocation_idempotency_key(row.id)
    event = {"type": DONE_EVENT, "output": {"receipt": 1}}
    first = service.deliver((Booking, 1), event, idempotency_key=key)
    again = service.deliver((Booking, 1), event, idempotency_key=key)
    assert first.success and again.idempotent and again.version == first.version
    assert deliveries(db) == {"1": 1}


def test_a_worker_claims_only_rows_of_its_own_machines_and_record_types(db: Database) -> None:
    booking_service(db.Session).start(Booking(id=1))
    other = WorkflowService(db.Session, {"other": booking_machine(Charges(), machine_id="other")})
    assert run_due_invocations(other, db.Session, options=OPTIONS) == []
    no_models = InvocationOptions(models={"tickets": Booking})
    assert run_due_invocations(booking_service(db.Session), db.Session, options=no_models) == []
    assert [row.attempts for row in invocations(db, 1)] == [0]  # untouched


def test_a_function_actor_of_a_child_machine_answers_that_child(db: Database) -> None:
    charges = Charges()
    child = orderflow.setup(actors={"charge": charges}).create_machine(
        {
            "id": "payment",
            "initial": "paying",
            "states": {
                "paying": {
                    "invoke": {
                        "id": "charge",
                        "src": "charge",
                        "input": {"amount": 5},
                        "onDone": "paid",
                    }
                },
                "paid": {"type": "final"},
            },
        }
    )
    parent = orderflow.setup(actors={"payment": child}).create_machine(
        {
            "id": "booking",
            "initial": "paying",
            "states": {
                "paying": {"invoke": {"id": "pay", "src": "payment", "onDone": "booked"}},
                "booked": {"type": "final"},
            },
        }
    )
    service = WorkflowService(db.Session, {"booking": parent})
    service.start(Booking(id=1))
    (row,) = invocations(db, 1)
    assert (row.actor_path, row.actor_id) == ("pay", "charge")

    assert [r.outcome for r in run_due_invocations(service, db.Session, options=OPTIONS)] == [
        "delivered"
    ]
    assert _snapshot(service, 1).value == "booked"
    assert len(charges.calls) == 1


def test_the_worker_loop_runs_until_nothing_is_due(db: Database) -> None:
    service = booking_service(db.Session)
    for booking_id in (1, 2, 3):
        service.start(Booking(id=booking_id))
    worker = InvocationWorker(service, db.Session, poll_interval=0, options=OPTIONS)
    worker.run(max_batches=2)
    assert worker.delivered == 3
    assert invocation_states(db) == {"done": 3}


def test_a_function_actor_is_taken_by_the_service_but_refused_where_no_journal_writes_it() -> None:
    machine = booking_machine(Charges())
    WorkflowService(lambda: None, {"booking": machine})  # type: ignore[arg-type, return-value]

    class NoInvocations(WorkflowService):
        durable_invocations = False

    with pytest.raises(ConfigurationError, match=r"function actor 'charge'.*durable invocations"):
        NoInvocations(lambda: None, {"booking": machine})  # type: ignore[arg-type, return-value]


def test_an_invocation_whose_workers_all_died_is_given_up_with_its_error_delivered(
    db: Database,
) -> None:
    charges = Charges()
    policy = InvocationPolicy(max_attempts=2)
    options = InvocationOptions(models=MODELS, policy=policy)
    lease = policy.timeout + policy.lease_margin
    service = booking_service(db.Session, charges)
    service.start(Booking(id=1))
    now = utcnow()
    for attempt in range(2):  # each worker claims and runs it, then dies before delivering
        (claim,) = claim_invocations(service, db.Session, now + lease * attempt, options)
        run_claim(claim)

    runs = run_due_invocations(service, db.Session, now=now + lease * 2, options=options)

    assert [r.outcome for r in runs] == ["failed"]
    assert len(charges.calls) == 2  # not run a third time
    snapshot = _snapshot(service, 1)
    assert snapshot.value == "declined"
    assert "no answer after 2 attempts" in snapshot.context["error"]["message"]
    assert [(row.state, row.attempts) for row in invocations(db, 1)] == [("failed", 2)]


def test_a_result_no_transition_takes_still_settles_the_child_in_the_row(db: Database) -> None:
    # XState 5: a promise actor that resolves where no onDone listens stays in
    # snapshot.children with status "done"; the row must say so too, not "active"
    machine = orderflow.setup(actors={"charge": Charges()}).create_machine({
        "id": "booking", "initial": "charging",
        "states": {"charging": {"invoke": {"id": "charge", "src": "charge", "input": {"amount": 3}}}},
    })  # fmt: skip
    service = WorkflowService(db.Session, {"booking": machine})
    service.start(Booking(id=1))
    assert _snapshot(service, 1).children["charge"].status == "active"

    runs = run_due_invocations(service, db.Session, options=OPTIONS)

    assert [r.outcome for r in runs] == ["delivered"]
    snapshot = _snapshot(service, 1)
    assert snapshot.value == "charging" and snapshot.children["charge"].status == "done"
    (row,) = invocations(db, 1)
    assert row.state == "done"
    assert run_due_invocations(service, db.Session, options=OPTIONS) == []


@pytest.mark.parametrize("runner", ["sync", "async"])
def test_a_plain_function_that_times_out_is_signalled_and_stops(db: Database, runner: str) -> None:
    stopped = threading.Event()

    def polls(value: Any, signal: threading.Event) -> str:
        while not signal.wait(0.01):
            pass
        stopped.set()
        return "stopped"

    policy = InvocationPolicy(max_attempts=2, timeout=timedelta(seconds=0.1))
    service = booking_service(db.Session, polls)
    service.start(Booking(id=1))
    options = InvocationOptions(models=MODELS, policy=policy)
    (claim,) = claim_invocations(service, db.Session, utcnow(), options)

    answer = run_claim(claim) if runner == "sync" else asyncio.run(run_claim_async(claim))

    assert answer.error is not None and answer.error["type"] == "TimeoutError"
    assert stopped.wait(5)  # the thread ended: it saw its signal
