"""Durable invocations: run each function actor a record started, deliver its result exactly once.

    runs = run_due_invocations(service, Session)               # one batch, now
    InvocationWorker(service, Session).run(stop)               # until ``stop`` is set

A step whose machine starts a function actor (``invoke`` or ``spawnChild``
with a ``src`` that ``setup(actors=...)`` maps to a Python function, sync or
``async def``) gets an :class:`~orderflow.store.Invocation` row in its own
transaction; a step that leaves the invoking state marks it ``cancelled`` in
its transaction.  One batch here has three phases:

1. **claim** (one short transaction): up to ``batch`` rows that are pending
   and due, or running under a lease that expired (their worker died), with
   ``SELECT ... FOR UPDATE SKIP LOCKED`` on PostgreSQL so workers in many
   processes take disjoint rows.  Each is marked ``running`` under a fresh
   ``lease_token`` until ``lease_until`` (the policy's timeout plus a margin)
   and its attempt counted.  Only rows this worker can deliver are claimed:
   those of its service's machines, on the record types it has models for.
2. **run** (no step's transaction open): call each function on its input, with
   the policy's timeout (an ``async def`` is awaited, a plain function runs on a
   thread, with the service's database-backed ports bound to a session of its
   own; :class:`AsyncInvocationWorker` awaits them all at once).
3. **deliver** (one transaction): per answer, in record order, lock the
   record's row, then the invocation's; an invocation that is no longer
   ``running`` under this claim's token (cancelled because its state was
   left, or claimed again after this lease expired) is **not delivered**.
   Otherwise a failure with attempts left goes back to ``pending`` with
   exponential backoff; a result (or the last failure) is delivered through
   the service's internal path as ``xstate.done.actor.<id>`` (``output``) or
   ``xstate.error.actor.<id>`` (``error``), to the machine that started it
   (``to=`` its actor path), under the idempotency key
   ``invocation:<row id>``; and the row is marked ``done`` or ``failed``,
   all in that same transaction.  An error event that no transition takes
   (no ``onError``) puts the record in ``error``, as XState fails the parent
   of a promise that rejects unhandled: that delivery is committed like any
   other (the row ``failed``, its note saying so), and the record takes no
   more events.

So a crash between the step's commit and a claim loses nothing (the row is
there); a crash after running but before delivering leaves the row running
until its lease expires, and the next claim runs the function again and
delivers once; the delivery and the row's mark commit together, and even a
delivery committed apart from its mark (another driver's) is not repeated:
the idempotency key answers with the first delivery, and a claim finds it in
the log and marks the row done without running the function again.  The
function itself runs at least once: give it an idempotency key of its own
(the row id is in :class:`Claim`) when it moves money.

The policy, the run and what an answer comes to are
:mod:`orderflow.workers.invocation_rules`, shared with the Django worker; this module
finds, locks and writes the rows through SQLAlchemy.
"""

from __future__ import annotations

import inspect
import threading
from collections.abc import Callable, Iterable
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy import inspect as inspect_model
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session

from orderflow.chart.implementations import call_function_actor
from orderflow.errors import InvalidRecordKeyError
from orderflow.service import WorkflowService
from orderflow.store import Invocation, TransitionLog, primary_key_value
from orderflow.store.workflow_tables import PENDING, RUNNING
from orderflow.workers.invocation_rules import (
    INVOCATION_ACTOR,
    OUTCOMES,
    Answer,
    Claim,
    InvocationOptions,
    InvocationPolicy,
    InvocationRun,
    answered,
    claim_row,
    failed,
    function_for,
    invocation_idempotency_key,
    logger,
    mark_delivered_earlier,
    new_claim,
    run_claim,
    run_claim_async,
    settle,
)

__all__ = [
    "INVOCATION_ACTOR",
    "OUTCOMES",
    "Answer",
    "Claim",
    "InvocationOptions",
    "InvocationPolicy",
    "InvocationRun",
    "InvocationWorker",
    "answered",
    "claim_invocations",
    "deliver_answers",
    "failed",
    "invocation_idempotency_key",
    "run_claim",
    "run_claim_async",
    "run_due_invocations",
    "with_ports_session",
]


def run_due_invocations(
    service: WorkflowService,
    session_factory: Callable[[], Session],
    *,
    now: datetime | None = None,
    options: InvocationOptions | None = None,
) -> list[InvocationRun]:
    """Claim, run and deliver one batch of due invocations (see the module doc)."""
    now = service.clock() if now is None else now
    options = (options or InvocationOptions()).resolved()
    claims = claim_invocations(service, session_factory, now, options)
    if not claims:
        return []
    answers = [run_claim(with_ports_session(service, session_factory, claim)) for claim in claims]
    return deliver_answers(service, session_factory, answers, now, options)


def with_ports_session(
    service: WorkflowService, session_factory: Callable[[], Session], claim: Claim
) -> Claim:
    """The claim, its plain function run with the service's database-backed ports bound to a
    session of its own (committed when the function returns, rolled back when it raises).

    A function actor runs outside any step's transaction, so ports that read the
    service's :class:`~orderflow.service.TransactionScope` (the shipped machines' credit
    check) would find none; this gives them one per run.  Without a scope, or for an
    ``async def``, the claim is returned as it is.
    """
    function, scope = claim.function, service.scope
    if scope is None or function is None or inspect.iscoroutinefunction(function):
        return claim

    def run(value: Any, signal: threading.Event) -> Any:
        session = session_factory()
        try:
            with scope.bind(session):
                output = call_function_actor(function, value, signal)
            session.commit()
            return output
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    return replace(claim, function=run)


# -- 1. claim -------------------------------------------------------------------------------------


def claim_invocations(
    service: WorkflowService,
    session_factory: Callable[[], Session],
    now: datetime,
    options: InvocationOptions,
) -> list[Claim]:
    """Claim up to ``options.batch`` due invocations in one committed transaction."""
    models = options.models or {}
    session = session_factory()
    try:
        rows = session.scalars(
            select(Invocation)
            .where(
                Invocation.machine.in_(tuple(service.machines)),
                Invocation.record_type.in_(tuple(models)),
                or_(
                    and_(Invocation.state == PENDING, Invocation.due_at <= now),
                    and_(Invocation.state == RUNNING, Invocation.lease_until <= now),
                ),
            )
            .order_by(Invocation.due_at, Invocation.id)
            .limit(options.batch)
            .with_for_update(skip_locked=True)
        ).all()
        claims = [
            _claim(service, session, row, now, options)
            for row in rows
            if not _delivered_already(session, row, now)
        ]
        session.commit()
        return claims
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def _delivered_already(session: Session, row: Invocation, now: datetime) -> bool:
    """A row claimed before whose delivery is in the log (committed apart from its mark): done."""
    if row.state != RUNNING:
        return False
    logged = session.scalar(
        select(TransitionLog.id).where(
            TransitionLog.record_type == row.record_type,
            TransitionLog.record_id == row.record_id,
            TransitionLog.idempotency_key == invocation_idempotency_key(row.id),
        )
    )
    if logged is None:
        return False
    mark_delivered_earlier(row, now)
    return True


def _claim(
    service: WorkflowService,
    session: Session,
    row: Invocation,
    now: datetime,
    options: InvocationOptions,
) -> Claim:
    policy = options.policy_for(row.src)
    problem = claim_row(row, policy, now)
    model = (options.models or {}).get(row.record_type)

    def record_state() -> Any:
        if model is None:
            return None
        (column,) = inspect_model(model).primary_key
        try:
            key = primary_key_value(model, row.record_id)
        except InvalidRecordKeyError:
            return None
        return session.scalar(select(model.workflow_state).where(column == key))

    return new_claim(row, policy, problem, function_for(service, row, record_state))


# -- 3. deliver -----------------------------------------------------------------------------------


def deliver_answers(
    service: WorkflowService,
    session_factory: Callable[[], Session],
    answers: Iterable[Answer],
    now: datetime,
    options: InvocationOptions,
) -> list[InvocationRun]:
    """Settle each answer (see the module doc) in one transaction, records locked in key order."""
    session = session_factory()
    try:
        joined = service.joined(session)
        ordered = sorted(answers, key=lambda a: (a.claim.record_type, a.claim.record_id))
        runs = [_settle(joined, session, answer, now, options) for answer in ordered]
        session.commit()
        return runs
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def _settle(
    service: WorkflowService,
    session: Session,
    answer: Answer,
    now: datetime,
    options: InvocationOptions,
) -> InvocationRun:
    claim = answer.claim
    model = (options.models or {})[claim.record_type]
    gone = not _lock_record(session, model, claim.record_id)
    row = session.scalars(
        select(Invocation)
        .where(Invocation.id == claim.invocation_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()
    return settle(service, row, model, answer, now, options.actor, gone=gone, contended=_contended)


def _contended(exc: Exception) -> str | None:
    """A database error out of a delivery: a conflict leaves the row running (its lease
    expires, the next claim delivers once); a lost connection ends the batch."""
    if not isinstance(exc, OperationalError | DBAPIError):
        return None
    if exc.connection_invalidated:
        raise exc
    return str(exc.orig)


def _lock_record(session: Session, model: type[Any], record_id: str) -> bool:
    """Lock the record's row (waiting for it: the service locks it before invocation rows);
    False when it is gone."""
    (column,) = inspect_model(model).primary_key
    try:
        key = primary_key_value(model, record_id)
    except InvalidRecordKeyError:
        return False
    return (
        session.execute(select(column).where(column == key).with_for_update()).first() is not None
    )


class InvocationWorker:
    """Run due invocations in a loop until stopped: a batch, then a short sleep when idle.

    Safe to run in many processes on PostgreSQL (see the module doc); on
    SQLite the write lock makes them take turns.
    """

    def __init__(
        self,
        service: WorkflowService,
        session_factory: Callable[[], Session],
        *,
        poll_interval: float = 1.0,
        clock: Callable[[], datetime] | None = None,
        options: InvocationOptions | None = None,
    ) -> None:
        self.service = service
        self.session_factory = session_factory
        self.poll_interval = poll_interval
        self.clock = clock or service.clock
        self.options = (options or InvocationOptions()).resolved()
        self.delivered = 0

    def run_once(self) -> list[InvocationRun]:
        runs = run_due_invocations(
            self.service, self.session_factory, now=self.clock(), options=self.options
        )
        self.delivered += sum(1 for r in runs if r.outcome == "delivered")
        return runs

    def run(self, stop: threading.Event | None = None, *, max_batches: int | None = None) -> None:
        stop = stop or threading.Event()
        batches = 0
        while not stop.is_set() and (max_batches is None or batches < max_batches):
            try:
                runs = self.run_once()
            except OperationalError as exc:  # the database went away: wait, then try again
                logger.warning("invocation batch failed, retrying: %s", exc)
                runs = []
            batches += 1
            if not runs:
                stop.wait(self.poll_interval)
