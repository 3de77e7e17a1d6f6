"""Any interleaving of steps and worker phases delivers each live invocation once, and no other.

Hypothesis draws a run over a few bookings: starts, ``CANCEL`` and
``RESTART`` sends (each stops the running ``charge`` invocation; a restart
starts another under the same child id), worker claims, runs and
deliveries taken apart and interleaved, leases running out, and functions
that fail now and then.  After each operation at most one invocation of a
booking is wanted; at the end, with every worker drained, each invocation
row is done (its result delivered exactly once, under its key), failed (its
error delivered exactly once) or cancelled (nothing delivered), and each
booking is in the final state its deliveries say.
"""

from __future__ import annotations

import itertools
from collections import Counter
from datetime import timedelta
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from invoking import MODELS, Booking, booking_machine, create_tables
from sqlalchemy import func, select

from orderflow.service import WorkflowService
from orderflow.store import Invocation, TransitionLog
from orderflow.store.base import utcnow
from orderflow.workers import (
    InvocationOptions,
    InvocationPolicy,
    invocation_idempotency_key,
    run_due_invocations,
)
from orderflow.workers.invocations import (
    Answer,
    Claim,
    claim_invocations,
    deliver_answers,
    run_claim,
)
from workflow_db import Database

POLICY = InvocationPolicy(max_attempts=2, retry_delay=timedelta(seconds=1))
OPTIONS = InvocationOptions(models=MODELS, batch=3, policy=POLICY)
LEASE = POLICY.timeout + POLICY.lease_margin
BOOKINGS = 2
_ids = itertools.count(1)

#: an operation and the booking, claim or answer (by index, modulo what there is) it is about
operation = st.tuples(
    st.sampled_from(["start", "claim", "run", "deliver", "CANCEL", "RESTART", "expire"]),
    st.integers(0, 5),
)


class Flaky:
    """A charge that fails when the drawn plan says so (cycling through it)."""

    def __init__(self, plan: list[bool]) -> None:
        self.plan = itertools.cycle(plan or [False])

    def __call__(self, value: Any) -> dict[str, Any]:
        if next(self.plan):
            raise RuntimeError("flaky")
        return {"amount": value["amount"]}


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    ops=st.lists(operation, min_size=12, max_size=30), failures=st.lists(st.booleans(), max_size=4)
)
@example(ops=[("start", 0), ("claim", 0), ("run", 0), ("CANCEL", 0), ("deliver", 0)], failures=[])
@example(ops=[("start", 0), ("claim", 0), ("run", 0), ("RESTART", 0), ("deliver", 0)], failures=[])
def test_any_interleaving_delivers_each_live_invocation_once(
    database: Database, ops: list[tuple[str, int]], failures: list[bool]
) -> None:
    create_tables(database)
    now = utcnow()
    service = WorkflowService(
        database.Session, {"booking": booking_machine(Flaky(failures))}, clock=lambda: now
    )  # rows are due at the service's clock: the worker's ``now`` is the same moment
    ids = [next(_ids) for _ in range(BOOKINGS)]  # fresh records for every example
    claims: list[Claim] = []
    answers: list[Answer] = []
    for name, n in ops:
        if name == "start":
            service.start(Booking(id=ids[n % BOOKINGS]))
        elif name in ("CANCEL", "RESTART"):
            _send(service, ids[n % BOOKINGS], name)
        elif name == "claim":
            claims += claim_invocations(service, database.Session, now, OPTIONS)
        elif name == "run" and claims:
            answers.append(run_claim(claims.pop(n % len(claims))))
        elif name == "deliver" and answers:
            deliver_answers(
                service, database.Session, [answers.pop(n % len(answers))], now, OPTIONS
            )
        elif name == "expire":
            now += LEASE
        _assert_at_most_one_wanted_per_booking(database, ids)

    for _ in range(20):  # drain: leases and backoffs run out, every worker finishes
        now += LEASE
        run_due_invocations(service, database.Session, now=now, options=OPTIONS)
    _assert_each_delivered_once_or_never(database, service, ids)


def _send(service: WorkflowService, booking_id: int, event: str) -> None:
    try:
        service.send((Booking, booking_id), event)
    except Exception as exc:  # not started yet: nothing to send to
        assert type(exc).__name__ == "RecordNotFoundError"


def _rows(database: Database, ids: list[int]) -> list[Invocation]:
    with database.Session() as session:
        return list(
            session.scalars(
                select(Invocation).where(Invocation.record_id.in_([str(i) for i in ids]))
            )
        )


def _assert_at_most_one_wanted_per_booking(database: Database, ids: list[int]) -> None:
    wanted = Counter(r.record_id for r in _rows(database, ids) if r.state in ("pending", "running"))
    assert all(count == 1 for count in wanted.values()), wanted


def _assert_each_delivered_once_or_never(
    database: Database, service: WorkflowService, ids: list[int]
) -> None:
    rows = _rows(database, ids)
    with database.Session() as session:
        keyed = Counter(
            dict(
                session.execute(
                    select(TransitionLog.idempotency_key, func.count())
                    .where(TransitionLog.record_id.in_([str(i) for i in ids]))
                    .group_by(TransitionLog.idempotency_key)
                ).all()
            )
        )
    for row in rows:
        expected = 0 if row.state == "cancelled" else 1
        assert row.state in ("done", "failed", "cancelled"), row.state
        assert keyed[invocation_idempotency_key(row.id)] == expected, (row.state, row.last_error)
    for booking_id in ids:
        mine = [r for r in rows if r.record_id == str(booking_id)]
        if not mine:
            continue
        value = service.snapshot((Booking, booking_id)).value
        settled = {r.state for r in mine} - {"cancelled"}
        expected_value = {"done": "charged", "failed": "declined"}.get(
            next(iter(settled), ""), "cancelled"
        )
        assert len(settled) <= 1 and value == expected_value, (value, [r.state for r in mine])
