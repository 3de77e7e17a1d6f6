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
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import threading
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from pydantic import TypeAdapter
from sqlalchemy import and_, or_, select
from sqlalchemy import inspect as inspect_model
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session

from orderflow.chart.definition import DONE_ACTOR_PREFIX, ERROR_ACTOR_PREFIX
from orderflow.chart.implementations import call_function_actor
from orderflow.errors import IdempotencyKeyReusedError, InvalidRecordKeyError, RecordNotFoundError
from orderflow.service import Principal, WorkflowService
from orderflow.store import Invocation, TransitionLog, primary_key_value
from orderflow.store.workflow_tables import CANCELLED, DONE, FAILED, PENDING, RUNNING
from orderflow.workers.timers import workflow_models

logger = logging.getLogger("orderflow.workers.invocations")

_JSON: TypeAdapter[Any] = TypeAdapter(Any)
INVOCATION_ACTOR = Principal("orderflow.invocation-worker", "invocation worker")
#: what one claimed invocation came to: its result delivered (taken, or dropped by the machine
#: as no longer wanted), tried again later, given up (its error delivered), not delivered
#: because its state was left, or not delivered because another claim holds it now
OUTCOMES = ("delivered", "dropped", "retry", "failed", "cancelled", "stale")


@dataclass(frozen=True)
class InvocationPolicy:
    """How often and how long a function actor is tried: ``max_attempts`` runs of at most
    ``timeout`` each, ``retry_delay`` doubling between them up to ``max_retry_delay``;
    a claim's lease lasts ``timeout`` + ``lease_margin``."""

    max_attempts: int = 5
    timeout: timedelta = timedelta(seconds=30)
    retry_delay: timedelta = timedelta(seconds=10)
    max_retry_delay: timedelta = timedelta(hours=1)
    lease_margin: timedelta = timedelta(seconds=60)

    def backoff(self, attempts: int) -> timedelta:
        delay: timedelta = self.retry_delay * 2 ** max(attempts - 1, 0)
        return min(delay, self.max_retry_delay)


@dataclass(frozen=True)
class Claim:
    """One invocation this worker holds: what to run, and the token its delivery must show."""

    invocation_id: int
    token: str
    record_type: str
    record_id: str
    actor_path: str
    actor_id: str
    src: str
    input: Any
    attempts: int
    policy: InvocationPolicy
    function: Callable[..., Any] | None = None
    #: why there is nothing to run (no such actor, attempts used up by workers that died)
    problem: str | None = None


@dataclass(frozen=True)
class Answer:
    """What running a claim gave: its output, or the error (``{"type", "message"}``)."""

    claim: Claim
    output: Any = None
    error: dict[str, str] | None = None


@dataclass(frozen=True)
class InvocationRun:
    """What one claimed invocation came to in a batch (``outcome`` is one of :data:`OUTCOMES`)."""

    invocation_id: int
    actor_id: str
    record_type: str
    record_id: str
    outcome: str
    detail: str | None = None


@dataclass(frozen=True)
class InvocationOptions:
    """A batch's settings: ``models`` maps record types (table names) to models, by default every
    mapped ``WorkflowRecord``; ``policies`` override ``policy`` per actor ``src``."""

    batch: int = 20
    models: Mapping[str, type[Any]] | None = None
    policy: InvocationPolicy = InvocationPolicy()
    policies: Mapping[str, InvocationPolicy] = field(default_factory=dict)
    actor: Principal = INVOCATION_ACTOR

    def policy_for(self, src: str) -> InvocationPolicy:
        return self.policies.get(src, self.policy)

    def resolved(self) -> InvocationOptions:
        return self if self.models is not None else replace(self, models=workflow_models())


def invocation_idempotency_key(invocation_id: int) -> str:
    """The idempotency key the delivery of invocation ``invocation_id`` uses, on any claim."""
    return f"invocation:{invocation_id}"


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
    row.state, row.settled_at, row.lease_token = DONE, now, None
    row.last_error = "delivered by an earlier claim, marked done by a later one"
    return True


def _claim(
    service: WorkflowService,
    session: Session,
    row: Invocation,
    now: datetime,
    options: InvocationOptions,
) -> Claim:
    policy = options.policy_for(row.src)
    problem = None
    if row.attempts >= policy.max_attempts:  # every worker that ran it died, or timed out
        problem = f"no answer after {row.attempts} attempts (the worker stopped each time)"
    else:
        row.attempts += 1
    row.state, row.lease_token = RUNNING, str(uuid.uuid4())
    row.lease_until = now + policy.timeout + policy.lease_margin
    function, missing = _function(service, session, options.models or {}, row)
    return Claim(
        row.id, row.lease_token, row.record_type, row.record_id, row.actor_path, row.actor_id,
        row.src, row.input, row.attempts, policy, function, problem or missing,
    )  # fmt: skip


def _function(
    service: WorkflowService, session: Session, models: Mapping[str, type[Any]], row: Invocation
) -> tuple[Callable[..., Any] | None, str | None]:
    """The function ``row.src`` names on the machine that started it, or why there is none."""
    machine: Any = service.machines[row.machine]
    if row.actor_path:  # a child machine started it: find that child's machine by its srcs
        model = models[row.record_type]
        (column,) = inspect_model(model).primary_key
        try:
            key = primary_key_value(model, row.record_id)
        except InvalidRecordKeyError:
            key = None
        state = session.scalar(select(model.workflow_state).where(column == key)) or {}
        for ident in row.actor_path.split("/"):
            child = (state.get("children") or {}).get(ident) or {}
            machine = machine.actor_logic(str(child.get("src")))
            state = child.get("snapshot") or {}
            if machine is None or not hasattr(machine, "actor_logic"):
                return None, f"the child machine '{row.actor_path}' that started it is gone"
    function = machine.actor_logic(row.src)
    if function is None or not callable(function) or hasattr(function, "initial_transition"):
        return None, f"machine '{machine.id}' has no function actor '{row.src}'"
    return function, None


# -- 2. run ---------------------------------------------------------------------------------------


def run_claim(claim: Claim) -> Answer:
    """Run one claim's function on its input (an ``async def`` in its own event loop)."""
    if claim.problem is not None or claim.function is None:
        return Answer(claim, error={"type": "InvocationError", "message": str(claim.problem)})
    timeout = claim.policy.timeout.total_seconds()
    signal = threading.Event()
    try:
        if inspect.iscoroutinefunction(claim.function):
            pending = call_function_actor(claim.function, claim.input, signal)
            output = asyncio.run(asyncio.wait_for(pending, timeout))  # cancelled on timeout
        else:
            output = _on_thread(claim.function, claim.input, timeout, signal)
    except Exception as exc:
        signal.set()
        return failed(claim, exc)
    return answered(claim, output)


async def run_claim_async(claim: Claim) -> Answer:
    """Run one claim's function on the running event loop (a plain function on a thread)."""
    if claim.problem is not None or claim.function is None:
        return Answer(claim, error={"type": "InvocationError", "message": str(claim.problem)})
    timeout = claim.policy.timeout.total_seconds()
    signal = threading.Event()
    call = (claim.function, claim.input, signal)
    try:
        if inspect.iscoroutinefunction(claim.function):
            output = await asyncio.wait_for(call_function_actor(*call), timeout)
        else:
            output = await asyncio.wait_for(asyncio.to_thread(call_function_actor, *call), timeout)
    except Exception as exc:
        signal.set()  # a timed-out plain function that polls its signal stops
        return failed(claim, exc)
    return answered(claim, output)


def answered(claim: Claim, output: Any) -> Answer:
    """A function's output as the JSON its done event carries (or the error that it is not JSON)."""
    try:
        return Answer(claim, output=_JSON.dump_python(output, mode="json"))
    except Exception as exc:
        return failed(claim, TypeError(f"the output of '{claim.src}' is not JSON: {exc}"))


def failed(claim: Claim, exc: BaseException) -> Answer:
    if isinstance(exc, TimeoutError):
        message = f"'{claim.src}' gave no answer within {claim.policy.timeout.total_seconds():g}s"
        return Answer(claim, error={"type": "TimeoutError", "message": message})
    return Answer(claim, error={"type": type(exc).__name__, "message": str(exc)})


def _on_thread(
    function: Callable[..., Any], value: Any, timeout: float, signal: threading.Event
) -> Any:
    """``function(value)`` on a daemon thread, waited for at most ``timeout`` seconds; then
    ``signal`` is set (a thread cannot be killed: a function that takes a signal stops)."""
    outcome: list[Any] = []

    def call() -> None:
        try:
            outcome.append((True, call_function_actor(function, value, signal)))
        except BaseException as exc:
            outcome.append((False, exc))

    thread = threading.Thread(target=call, name="orderflow-invocation", daemon=True)
    thread.start()
    thread.join(timeout)
    if not outcome:
        raise TimeoutError
    ok, value = outcome[0]
    if not ok:
        raise value
    return value


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

    def run(outcome: str, detail: str | None = None) -> InvocationRun:
        return InvocationRun(claim.invocation_id, claim.actor_id, claim.record_type,
                             claim.record_id, outcome, detail)  # fmt: skip

    model = (options.models or {})[claim.record_type]
    gone = not _lock_record(session, model, claim.record_id)
    row = session.scalars(
        select(Invocation)
        .where(Invocation.id == claim.invocation_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()
    if row.state != RUNNING or row.lease_token != claim.token:
        return run("cancelled" if row.state == CANCELLED else "stale", f"the row is {row.state}")
    if gone:
        _mark(row, CANCELLED, now, "the record is gone")
        return run("cancelled", "the record is gone")
    error = answer.error
    if error is not None and claim.problem is None and row.attempts < claim.policy.max_attempts:
        row.state, row.lease_token, row.lease_until = PENDING, None, None
        row.due_at = now + claim.policy.backoff(row.attempts)
        row.last_error = f"{error['type']}: {error['message']}"
        logger.warning("invocation %s (%s) failed, attempt %d, retried at %s: %s",
                       row.id, row.src, row.attempts, row.due_at, row.last_error)  # fmt: skip
        return run("retry", row.last_error)
    return _deliver(service, row, model, answer, now, options.actor, run)


def _deliver(
    service: WorkflowService,
    row: Invocation,
    model: type[Any],
    answer: Answer,
    now: datetime,
    actor: Principal,
    run: Callable[[str, str | None], InvocationRun],
) -> InvocationRun:
    """Deliver the answer as the done or error event, and mark the row, in this transaction."""
    error = answer.error
    event: dict[str, Any] = (
        {"type": DONE_ACTOR_PREFIX + row.actor_id, "output": answer.output}
        if error is None
        else {"type": ERROR_ACTOR_PREFIX + row.actor_id, "error": error}
    )
    final = DONE if error is None else FAILED
    try:
        result = service.deliver(
            (model, row.record_id), event, to=row.actor_path or None, actor=actor,
            idempotency_key=invocation_idempotency_key(row.id),
            note=f"invocation {row.id} of '{row.src}' ({row.attempts} attempt(s))",
        )  # fmt: skip
    except IdempotencyKeyReusedError:  # delivered before, with another answer: that one stands
        _mark(row, final, now, "delivered by an earlier claim")
        return run("delivered", "delivered by an earlier claim")
    except RecordNotFoundError as exc:
        _mark(row, CANCELLED, now, str(exc))
        return run("cancelled", str(exc))
    except (OperationalError, DBAPIError) as exc:
        if exc.connection_invalidated:
            raise
        # left running: when its lease expires it is claimed again, and delivered once then
        return run("retry", str(exc.orig))
    except Exception as exc:
        _mark(row, FAILED, now, f"the delivery failed: {type(exc).__name__}: {exc}")
        row.result = answer.output
        return run("failed", row.last_error)
    row.result = answer.output
    note = None if error is None else f"{error['type']}: {error['message']}"
    if not result.success:
        note = f"delivered, not taken: {result.reason}"
    elif result.error is not None:  # no onError took it: the record fails with it (XState)
        note = f"{note}; delivered, no transition takes it: the record is in error"
    _mark(row, final, now, note)
    if error is not None:
        return run("failed", note)
    return run("delivered" if result.success else "dropped", note)


def _mark(row: Invocation, state: str, now: datetime, note: str | None) -> None:
    row.state, row.settled_at, row.lease_token = state, now, None
    if note is not None:
        row.last_error = note


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
