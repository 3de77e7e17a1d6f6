"""Durable invocations and child timers through the Django driver: on SQLite always, on PostgreSQL
when given.

A function actor a record's machine starts is a ``workflow_invocations`` row written in the
step's transaction; the Django worker runs it outside any step and delivers its result once
(the key ``invocation:<row id>``), or drops it when the state that started it was left.  The
machines are the contract app's own (``booking``, on the ``Booking`` model with its own column
for the state), one defined here with a child machine, and the shipped sale machine.
"""

from __future__ import annotations

import io
import threading
from collections import Counter
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from contract_app.models import Booking
from contract_app.workflow import booking_machine, make_service
from django.conf import settings
from django.core.management import call_command
from django.db import connections, transaction

import orderflow
from orderflow.django.models import Invocation, ScheduledEvent, TransitionLog
from orderflow.django.service import DjangoWorkflowService
from orderflow.django.workers import (
    claim_invocations,
    deliver_answers,
    fire_due_timers,
    run_due_invocations,
    workflow_models,
)
from orderflow.errors import EffectError
from orderflow.orders import in_memory_ports, load_machine
from orderflow.orders.sale import CREDIT_CHECKED
from orderflow.service import Principal
from orderflow.store.base import utcnow
from orderflow.workers.invocation_rules import (
    InvocationOptions,
    InvocationPolicy,
    invocation_idempotency_key,
    run_claim,
    settle,
)

DONE_EVENT = "xstate.done.actor.charge"
OPTIONS = InvocationOptions().resolved(workflow_models)
LEASE = OPTIONS.policy.timeout + OPTIONS.policy.lease_margin
pytestmark = pytest.mark.django_db(databases="__all__")
needs_postgres = pytest.mark.skipif(
    "postgres" not in settings.DATABASES,
    reason="ORDERFLOW_TEST_POSTGRES_URL is not set; SKIP LOCKED needs PostgreSQL",
)


@pytest.fixture(params=["default", "postgres"], ids=["sqlite", "postgres"])
def using(request: pytest.FixtureRequest) -> str:
    if request.param not in settings.DATABASES:
        pytest.skip("ORDERFLOW_TEST_POSTGRES_URL is not set; the PostgreSQL run needs a server")
    return str(request.param)


class Charges:
    """A charge function that counts its runs and answers with a numbered receipt."""

    def __init__(self) -> None:
        self.calls: list[Any] = []
        self._lock = threading.Lock()

    def __call__(self, value: Any) -> dict[str, Any]:
        with self._lock:
            self.calls.append(value)
            return {"receipt": len(self.calls), "amount": value["amount"]}


def booking_service(using: str, charge: Any = None) -> DjangoWorkflowService:
    return DjangoWorkflowService({"booking": booking_machine(charge or Charges())}, using=using)


def new_booking(service: DjangoWorkflowService, rounds: int = 1) -> Booking:
    booking = Booking(workflow_machine="booking")
    assert service.start(booking, input={"rounds": rounds}).success
    return booking


def invocations(using: str, booking: Booking) -> list[Invocation]:
    rows = Invocation.objects.using(using).filter(record_id=str(booking.pk))
    return list(rows.order_by("id"))


def states(using: str, booking: Booking) -> list[str]:
    return [row.state for row in invocations(using, booking)]


def logged(using: str, event: str, booking: Booking | None = None) -> int:
    rows = TransitionLog.objects.using(using).filter(event=event)
    return int(rows.filter(record_id=str(booking.pk)).count() if booking else rows.count())


def outcomes(runs: list[Any]) -> list[str]:
    return [run.outcome for run in runs]


# -- the row, in the step's transaction ---------------------------------------------------------


def test_a_started_function_actor_is_a_pending_row_written_with_the_step(using: str) -> None:
    service = booking_service(using)
    booking = new_booking(service)

    (row,) = invocations(using, booking)
    assert (row.state, row.machine, row.actor_path, row.actor_id, row.src, row.input) == (
        "pending", "booking", "", "charge", "charge", {"amount": 25},
    )  # fmt: skip
    assert (row.record_type, row.attempts, row.lease_token) == ("contract_app_booking", 0, None)

    assert service.start(Booking(workflow_machine="booking"), dry_run=True).success
    assert Invocation.objects.using(using).count() == 1  # a dry run writes none


def test_a_step_that_rolls_back_takes_its_invocation_row_with_it(using: str) -> None:
    def refuse(call: Any, record: Any, action: Any) -> None:
        raise RuntimeError("no")

    machine = orderflow.setup(
        actors={"charge": Charges()}, actions={"audit": lambda *_: None}
    ).create_machine({
        "id": "booking", "initial": "idle",
        "states": {
            "idle": {"on": {"GO": {"target": "charging", "actions": ["audit"]}}},
            "charging": {"invoke": {"id": "charge", "src": "charge"}},
        },
    })  # fmt: skip
    service = DjangoWorkflowService({"booking": machine}, using=using, effects={"audit": refuse})
    booking = Booking(workflow_machine="booking")
    assert service.start(booking).success
    with pytest.raises(EffectError):
        service.send(booking, "GO")
    assert invocations(using, booking) == []

    with pytest.raises(RuntimeError), transaction.atomic(using=using):  # the caller's own
        new_booking(booking_service(using))
        raise RuntimeError("the caller's step failed")
    assert Invocation.objects.using(using).count() == 0


# -- run and delivered once ---------------------------------------------------------------------


def test_the_worker_runs_the_function_and_delivers_its_result_once(using: str) -> None:
    charges = Charges()
    service = booking_service(using, charges)
    booking = new_booking(service)

    runs = run_due_invocations(service)

    assert [(r.outcome, r.actor_id, r.record_id) for r in runs] == [
        ("delivered", "charge", str(booking.pk))
    ]
    snapshot = service.snapshot(booking)
    assert snapshot.value == "charged"
    assert snapshot.context["receipts"] == [{"receipt": 1, "amount": 25}]
    (row,) = invocations(using, booking)
    assert (row.state, row.attempts, row.result) == ("done", 1, {"receipt": 1, "amount": 25})
    (key,) = (
        TransitionLog.objects.using(using)
        .filter(event=DONE_EVENT)
        .values_list("idempotency_key", flat=True)
    )
    assert key == invocation_idempotency_key(row.pk)
    assert run_due_invocations(service) == []
    assert charges.calls == [{"amount": 25}]
    assert logged(using, DONE_EVENT) == 1


def test_a_failing_function_is_retried_with_backoff_then_its_error_is_delivered_once(
    using: str,
) -> None:
    calls: list[Any] = []

    def charge(value: Any) -> None:
        calls.append(value)
        raise ValueError("card declined")

    policy = InvocationPolicy(max_attempts=3, retry_delay=timedelta(seconds=10))
    options = InvocationOptions(policies={"charge": policy})
    service = booking_service(using, charge)
    booking = new_booking(service)
    now = utcnow()

    def batch(at: timedelta) -> list[str]:
        return outcomes(run_due_invocations(service, now=now + at, options=options))

    assert batch(timedelta(0)) == ["retry"]
    (row,) = invocations(using, booking)
    assert (row.state, row.attempts, row.last_error) == ("pending", 1, "ValueError: card declined")
    assert batch(timedelta(seconds=9)) == []  # backing off: 10 s after the first attempt
    assert batch(timedelta(seconds=10)) == ["retry"]
    assert batch(timedelta(seconds=29)) == []  # then 20 s
    assert batch(timedelta(seconds=30)) == ["failed"]
    assert batch(timedelta(hours=2)) == []

    assert len(calls) == 3
    snapshot = service.snapshot(booking)
    assert snapshot.value == "declined"
    assert snapshot.context["error"] == {"type": "ValueError", "message": "card declined"}
    assert [(r.state, r.attempts) for r in invocations(using, booking)] == [("failed", 3)]
    assert logged(using, "xstate.error.actor.charge") == 1


def test_a_function_that_outlives_its_timeout_is_a_failed_attempt(using: str) -> None:
    stopped = threading.Event()

    def slow(value: Any, signal: threading.Event) -> str:
        signal.wait(10)  # returns as soon as the worker gives up on it
        stopped.set()
        return "late"

    policy = InvocationPolicy(max_attempts=2, timeout=timedelta(seconds=0.05))
    service = booking_service(using, slow)
    booking = new_booking(service)

    runs = run_due_invocations(service, options=InvocationOptions(policy=policy))

    assert outcomes(runs) == ["retry"]
    assert "TimeoutError" in str(runs[0].detail) and "0.05s" in str(runs[0].detail)
    assert service.snapshot(booking).value == "charging"
    assert [(r.state, r.attempts) for r in invocations(using, booking)] == [("pending", 1)]
    assert stopped.wait(10)  # signalled: the function's thread ended


# -- leaving the state ---------------------------------------------------------------------------


def test_leaving_the_state_cancels_the_row_in_that_step_and_nothing_runs(using: str) -> None:
    charges = Charges()
    service = booking_service(using, charges)
    booking = new_booking(service)
    assert service.send(booking, "CANCEL").success

    assert states(using, booking) == ["cancelled"]
    assert run_due_invocations(service) == []
    assert charges.calls == []


def test_an_answer_for_a_state_that_was_left_is_never_delivered(using: str) -> None:
    """RESTART re-enters ``charging``: a new ``charge`` child under the same id, which the
    first run's late answer would reach if the leaving step had not cancelled its row."""
    service = booking_service(using)
    booking = new_booking(service)
    now = utcnow()
    answers = [run_claim(claim) for claim in claim_invocations(service, now, OPTIONS)]

    assert service.send(booking, "RESTART").success  # ... while the state is left
    assert states(using, booking) == ["cancelled", "pending"]

    assert outcomes(deliver_answers(service, answers, now, OPTIONS)) == ["cancelled"]
    assert service.snapshot(booking).value == "charging"
    assert logged(using, DONE_EVENT) == 0

    assert outcomes(run_due_invocations(service)) == ["delivered"]
    snapshot = service.snapshot(booking)
    assert snapshot.value == "charged"
    assert snapshot.context["receipts"] == [{"receipt": 2, "amount": 25}]


# -- crashes -------------------------------------------------------------------------------------


def test_a_worker_that_dies_after_running_leaves_it_to_the_next_claim_delivered_once(
    using: str,
) -> None:
    charges = Charges()
    service = booking_service(using, charges)
    booking = new_booking(service)
    now = utcnow()
    (claim,) = claim_invocations(service, now, OPTIONS)
    run_claim(claim)  # ... and the worker dies before delivering

    assert run_due_invocations(service, now=now + LEASE / 2) == []  # its lease holds
    assert outcomes(run_due_invocations(service, now=now + LEASE)) == ["delivered"]

    assert len(charges.calls) == 2  # run again: at least once
    assert logged(using, DONE_EVENT) == 1  # delivered once
    assert [(r.state, r.attempts) for r in invocations(using, booking)] == [("done", 2)]


def test_a_delivery_committed_apart_from_its_mark_is_not_made_again(using: str) -> None:
    """The Django worker commits a delivery and its row's mark together; were the mark lost
    (another driver, a hand-run delivery), the key ``invocation:<id>`` in the log says the
    answer is in.  With ``rounds=2`` the first result re-enters ``charging`` and starts a second
    ``charge``, so the first result delivered again would be taken, by the second invocation."""
    charges = Charges()
    service = booking_service(using, charges)
    booking = new_booking(service, rounds=2)
    now = utcnow()
    (claim,) = claim_invocations(service, now, OPTIONS)
    answer = run_claim(claim)
    row = Invocation.objects.using(using).get(pk=claim.invocation_id)
    delivered = settle(service, row, Booking, answer, now, OPTIONS.actor, gone=False,
                       contended=lambda exc: None)  # fmt: skip
    assert delivered.outcome == "delivered"  # committed, and the worker dies before its mark
    assert states(using, booking) == ["running", "pending"]

    assert outcomes(run_due_invocations(service, now=now + LEASE)) == ["delivered"]  # the 2nd

    assert states(using, booking) == ["done", "done"]
    assert len(charges.calls) == 2  # the first was not run again
    snapshot = service.snapshot(booking)
    assert snapshot.value == "charged"
    assert [r["receipt"] for r in snapshot.context["receipts"]] == [1, 2]
    assert logged(using, DONE_EVENT) == 2


def test_a_second_delivery_under_the_invocations_key_answers_with_the_first(using: str) -> None:
    service = booking_service(using)
    booking = new_booking(service, rounds=2)
    (row,) = invocations(using, booking)
    key = invocation_idempotency_key(row.pk)
    event = {"type": DONE_EVENT, "output": {"receipt": 1}}
    first = service.deliver(booking, event, idempotency_key=key)
    again = service.deliver(booking, event, idempotency_key=key)
    assert first.success and again.idempotent and again.version == first.version
    assert logged(using, DONE_EVENT) == 1


def test_a_late_answer_of_a_claim_whose_lease_was_taken_over_is_not_delivered(using: str) -> None:
    service = booking_service(using)
    new_booking(service)
    now = utcnow()
    late = [run_claim(claim) for claim in claim_invocations(service, now, OPTIONS)]
    taken_over = claim_invocations(service, now + LEASE, OPTIONS)  # its lease ran out meanwhile
    assert [claim.attempts for claim in taken_over] == [2]

    assert outcomes(deliver_answers(service, late, now + LEASE, OPTIONS)) == ["stale"]
    assert logged(using, DONE_EVENT) == 0
    answers = [run_claim(claim) for claim in taken_over]
    assert outcomes(deliver_answers(service, answers, now + LEASE, OPTIONS)) == ["delivered"]
    assert outcomes(deliver_answers(service, late, now + LEASE, OPTIONS)) == ["stale"]
    assert logged(using, DONE_EVENT) == 1


# -- two workers on PostgreSQL -------------------------------------------------------------------


def in_thread(work: Any) -> Any:
    """``work()`` on a thread of its own (its own database connection); its answer or exception."""
    answer: list[Any] = []

    def one() -> None:
        try:
            answer.append(work())
        except Exception as exc:  # the test asserts on it
            answer.append(exc)
        finally:
            connections.close_all()

    thread = threading.Thread(target=one)
    thread.start()
    thread.join()
    return answer[0]


@needs_postgres
@pytest.mark.django_db(transaction=True, databases=["postgres"])
def test_a_claim_skips_the_rows_another_worker_holds_instead_of_waiting() -> None:
    service = booking_service("postgres")
    held, free = new_booking(service), new_booking(service)
    (held_row,) = invocations("postgres", held)

    def other_worker() -> list[str]:
        with connections["postgres"].cursor() as cursor:  # waiting would fail, not hang
            cursor.execute("SET lock_timeout = '2s'")
        return [claim.record_id for claim in claim_invocations(service, utcnow(), OPTIONS)]

    with transaction.atomic(using="postgres"):  # a worker in the middle of claiming it
        Invocation.objects.using("postgres").select_for_update().get(pk=held_row.pk)
        claimed = in_thread(other_worker)

    assert claimed == [str(free.pk)]
    assert states("postgres", held) == ["pending"]


@needs_postgres
@pytest.mark.django_db(transaction=True, databases=["postgres"])
def test_two_workers_at_once_run_each_invocation_once() -> None:
    charges = Charges()
    service = booking_service("postgres", charges)
    bookings = [new_booking(service) for _ in range(6)]
    barrier = threading.Barrier(2)
    answers: list[Any] = [None, None]

    def worker(n: int) -> None:
        try:
            barrier.wait()
            answers[n] = run_due_invocations(service, options=InvocationOptions(batch=4))
        except Exception as exc:  # the test asserts on it
            answers[n] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not [a for a in answers if isinstance(a, Exception)], answers
    leftover = run_due_invocations(service)  # what neither batch of four reached

    delivered = Counter(r.record_id for runs in (*answers, leftover) for r in runs)
    assert delivered == Counter({str(b.pk): 1 for b in bookings})
    assert len(charges.calls) == 6
    assert logged("postgres", DONE_EVENT) == 6
    rows = Invocation.objects.using("postgres").values_list("state", "attempts")
    assert Counter(rows) == {("done", 1): 6}


# -- child machines ------------------------------------------------------------------------------


def _parent_of(child: orderflow.Machine) -> orderflow.Machine:
    return orderflow.setup(actors={"child": child}).create_machine({
        "id": "booking", "initial": "open",
        "states": {
            "open": {"invoke": {"id": "kid", "src": "child", "onDone": "closed"},
                     "on": {"CLOSE": "closed"}},
            "closed": {"type": "final"},
        },
    })  # fmt: skip


def test_a_child_machines_timer_is_a_row_with_its_path_and_fires_to_that_child(
    using: str,
) -> None:
    reminder = orderflow.create_machine({
        "id": "reminder", "initial": "waiting",
        "states": {"waiting": {"after": {"60000": "due"}}, "due": {"type": "final"}},
    })  # fmt: skip
    service = DjangoWorkflowService({"booking": _parent_of(reminder)}, using=using)
    booking = Booking(workflow_machine="booking")
    assert service.start(booking).success
    (timer,) = ScheduledEvent.objects.using(using).filter(record_id=str(booking.pk))
    assert (timer.actor_path, timer.status) == ("kid", "pending")

    assert len(fire_due_timers(service)) == 0  # not due yet
    report = fire_due_timers(service, now=utcnow() + timedelta(minutes=2))

    assert report.fired == [timer.pk]
    assert service.snapshot(booking).value == "closed"  # the child finished: the parent moved
    timer.refresh_from_db(using=using)
    assert timer.status == "fired"


def test_a_child_machines_timer_is_cancelled_when_the_parent_stops_the_child(using: str) -> None:
    reminder = orderflow.create_machine({
        "id": "reminder", "initial": "waiting",
        "states": {"waiting": {"after": {"60000": "due"}}, "due": {"type": "final"}},
    })  # fmt: skip
    service = DjangoWorkflowService({"booking": _parent_of(reminder)}, using=using)
    booking = Booking(workflow_machine="booking")
    assert service.start(booking).success
    assert service.send(booking, "CLOSE").success

    (timer,) = ScheduledEvent.objects.using(using).filter(record_id=str(booking.pk))
    assert (timer.actor_path, timer.status) == ("kid", "cancelled")
    assert len(fire_due_timers(service, now=utcnow() + timedelta(minutes=2))) == 0


def test_a_child_machines_function_actor_answers_that_child(using: str) -> None:
    charges = Charges()
    payment = orderflow.setup(actors={"charge": charges}).create_machine({
        "id": "payment", "initial": "paying",
        "states": {
            "paying": {"invoke": {"id": "charge", "src": "charge", "input": {"amount": 5},
                                  "onDone": "paid"}},
            "paid": {"type": "final"},
        },
    })  # fmt: skip
    service = DjangoWorkflowService({"booking": _parent_of(payment)}, using=using)
    booking = Booking(workflow_machine="booking")
    assert service.start(booking).success
    (row,) = invocations(using, booking)
    assert (row.actor_path, row.actor_id) == ("kid", "charge")

    assert outcomes(run_due_invocations(service)) == ["delivered"]
    assert service.snapshot(booking).value == "closed"
    assert charges.calls == [{"amount": 5}]


# -- read by the SQLAlchemy side ------------------------------------------------------------------


def sqlalchemy_url(using: str) -> str:
    """The URL of the test database Django's connection ``using`` is on, for SQLAlchemy."""
    found = connections[using].settings_dict
    if connections[using].vendor == "sqlite":
        return f"sqlite:///{found['NAME']}"
    return (
        f"postgresql+psycopg://{found['USER']}:{found['PASSWORD']}@{found['HOST']}:{found['PORT']}"
        f"/{found['NAME']}"
    )


@pytest.mark.django_db(transaction=True, databases="__all__")
def test_a_sqlalchemy_reader_sees_the_invocations_and_child_timers_django_wrote(
    using: str,
) -> None:
    from sqlalchemy import create_engine, select
    from sqlalchemy.orm import Session

    from orderflow.service import queries
    from orderflow.store import ScheduledEvent as StoredTimer

    reminder = orderflow.create_machine({
        "id": "reminder", "initial": "waiting",
        "states": {"waiting": {"after": {"60000": "due"}}, "due": {"type": "final"}},
    })  # fmt: skip
    machine = orderflow.setup(
        actors={"child": reminder, "charge": Charges()}
    ).create_machine({
        "id": "booking", "initial": "open",
        "states": {"open": {"invoke": [
            {"id": "kid", "src": "child"},
            {"id": "charge", "src": "charge", "input": {"amount": "12.50"}},
        ]}},
    })  # fmt: skip
    service = DjangoWorkflowService({"booking": machine}, using=using)
    booking = Booking(workflow_machine="booking")
    assert service.start(booking).success

    engine = create_engine(sqlalchemy_url(using))
    try:
        with Session(engine) as session:
            key = str(booking.pk)
            (invocation,) = queries.pending_invocations(session, "contract_app_booking", key)
            timers = session.execute(
                select(StoredTimer.actor_path, StoredTimer.status).where(
                    StoredTimer.record_id == key
                )
            ).all()
    finally:
        engine.dispose()
    assert (invocation.src, invocation.actor_path, invocation.state, invocation.input) == (
        "charge", "", "pending", {"amount": "12.50"},
    )  # fmt: skip
    assert [tuple(row) for row in timers] == [("kid", "pending")]


# -- the shipped sale machine, the contract app's machine and the worker command -----------------


def test_the_shipped_sale_machine_runs_its_credit_check_as_a_durable_invocation(
    using: str,
) -> None:
    ports = in_memory_ports()
    ports.credit.set_profile("C-1", Decimal("1000"))
    service = DjangoWorkflowService({"sale": load_machine("sale", ports=ports)}, using=using)
    clerk = Principal("u-clerk", "Clara Clerk", frozenset({"sale.create"}))
    sale = Booking(workflow_machine="sale")
    started = service.start(
        sale, input={"customer_id": "C-1", "currency": "EUR", "total": "500.00"}, actor=clerk
    )
    assert started.success, started.reason
    on_account = {"type": "SELECT_PAYMENT_METHOD", "method": "on_account"}
    moved = service.send(sale, on_account, actor=clerk)
    assert moved.to_state == {"processing": "credit_check"}
    assert [(r.src, r.state) for r in invocations(using, sale)] == [("check_credit", "pending")]

    runs = run_due_invocations(service)

    assert [(r.actor_id, r.outcome) for r in runs] == [("credit_check", "delivered")]
    snapshot = service.snapshot(sale)
    assert snapshot.value == "cleared" and snapshot.context.clearance.basis == "credit_limit"
    assert logged(using, CREDIT_CHECKED, sale) == 1


def test_the_worker_command_runs_the_contract_apps_invocations() -> None:
    """``ORDERFLOW["APP"]`` is the contract app's service, on the default database."""
    using = "default"
    booking = Booking(workflow_machine="booking")
    assert make_service().start(booking).success

    out = io.StringIO()
    call_command("orderflow_worker", "--once", stdout=out, stderr=io.StringIO())

    assert "invocations: 1 delivered" in out.getvalue()

    snapshot = make_service().snapshot(booking)
    assert snapshot.value == "charged"
    assert snapshot.context["receipts"] == [{"receipt": "R-25", "amount": 25}]
    assert states(using, booking) == ["done"]
