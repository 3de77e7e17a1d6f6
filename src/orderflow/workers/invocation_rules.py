"""What a durable invocation is claimed, run and settled by, whatever database driver holds its row.

The SQLAlchemy worker (:mod:`orderflow.workers.invocations`) and the Django
one (:mod:`orderflow.django.workers`) differ only in how they find, lock and
save rows.  Everything else lives here, once:

- the policy (:class:`InvocationPolicy`: attempts, timeout, backoff, lease);
- a claim of a row (:func:`claim_row`: an attempt counted, ``running`` under a
  fresh lease token) and the function it runs (:func:`function_for`);
- the run itself (:func:`run_claim`, :func:`run_claim_async`: the timeout, the
  cooperative signal, an output that must be JSON);
- what an answer comes to (:func:`settle`): not delivered when the row is no
  longer running under the claim's token; back to ``pending`` with backoff while
  attempts are left; else delivered through the service's internal path as
  ``xstate.done.actor.<id>`` or ``xstate.error.actor.<id>`` to the machine that
  started it, under the key ``invocation:<row id>``, and the row marked.

A row here is any object with the invocation table's columns as attributes
(a SQLAlchemy ``Invocation`` or a Django one): these functions set them, and
the driver writes them in its transaction.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from pydantic import TypeAdapter

from orderflow.chart.definition import DONE_ACTOR_PREFIX, ERROR_ACTOR_PREFIX
from orderflow.chart.implementations import call_function_actor
from orderflow.errors import IdempotencyKeyReusedError, RecordNotFoundError
from orderflow.service import Principal, WorkflowService
from orderflow.store.workflow_tables import CANCELLED, DONE, FAILED, PENDING, RUNNING

logger = logging.getLogger("orderflow.workers.invocations")

_JSON: TypeAdapter[Any] = TypeAdapter(Any)
INVOCATION_ACTOR = Principal("orderflow.invocation-worker", "invocation worker")
#: what one claimed invocation came to: its result delivered (taken, or dropped by the machine
#: as no longer wanted), tried again later, given up (its error delivered), not delivered
#: because its state was left, or not delivered because another claim holds it now
OUTCOMES = ("delivered", "dropped", "retry", "failed", "cancelled", "stale")
#: the note on a row whose delivery an earlier claim committed without marking it
DELIVERED_EARLIER = "delivered by an earlier claim, marked done by a later one"


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
    workflow model of the driver; ``policies`` override ``policy`` per actor ``src``."""

    batch: int = 20
    models: Mapping[str, type[Any]] | None = None
    policy: InvocationPolicy = InvocationPolicy()
    policies: Mapping[str, InvocationPolicy] = field(default_factory=dict)
    actor: Principal = INVOCATION_ACTOR

    def policy_for(self, src: str) -> InvocationPolicy:
        return self.policies.get(src, self.policy)

    def resolved(
        self, found: Callable[[], Mapping[str, type[Any]]] | None = None
    ) -> InvocationOptions:
        """These options with ``models`` filled in: ``found()``, by default every mapped
        SQLAlchemy ``WorkflowRecord`` (the Django worker passes its own finder)."""
        if self.models is not None:
            return self
        if found is None:
            from orderflow.workers.timers import workflow_models

            found = workflow_models
        return replace(self, models=found())


def invocation_idempotency_key(invocation_id: int) -> str:
    """The idempotency key the delivery of invocation ``invocation_id`` uses, on any claim."""
    return f"invocation:{invocation_id}"


# -- claiming a row -------------------------------------------------------------------------------


def claim_row(row: Any, policy: InvocationPolicy, now: datetime) -> str | None:
    """Take ``row`` for this worker: ``running`` under a fresh lease, one more attempt counted.

    Returns why there is nothing to run when its attempts are used up already (every worker
    that ran it died or timed out): the claim then delivers that as its error.
    """
    problem = None
    if row.attempts >= policy.max_attempts:
        problem = f"no answer after {row.attempts} attempts (the worker stopped each time)"
    else:
        row.attempts += 1
    row.state, row.lease_token = RUNNING, str(uuid.uuid4())
    row.lease_until = now + policy.timeout + policy.lease_margin
    return problem


def mark_delivered_earlier(row: Any, now: datetime) -> None:
    """A running row whose delivery is in the log already (committed apart from its mark): done."""
    mark(row, DONE, now, DELIVERED_EARLIER)


def new_claim(
    row: Any,
    policy: InvocationPolicy,
    problem: str | None,
    found: tuple[Callable[..., Any] | None, str | None],
) -> Claim:
    """The :class:`Claim` of a row :func:`claim_row` took, with its function (or why none)."""
    function, missing = found
    return Claim(
        row.id, row.lease_token, row.record_type, row.record_id, row.actor_path, row.actor_id,
        row.src, row.input, row.attempts, policy, function, problem or missing,
    )  # fmt: skip


def function_for(
    service: WorkflowService, row: Any, record_state: Callable[[], Mapping[str, Any] | None]
) -> tuple[Callable[..., Any] | None, str | None]:
    """The function ``row.src`` names on the machine that started it, or why there is none.

    A child machine's invocation (``row.actor_path``) is looked up on that child's machine,
    found by the ``src`` of each child along the path in the record's persisted state
    (``record_state()``, read only then).
    """
    machine: Any = service.machines[row.machine]
    if row.actor_path:
        state = record_state() or {}
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


# -- running a claim ------------------------------------------------------------------------------


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


# -- settling an answer ---------------------------------------------------------------------------


def settle(
    service: WorkflowService,
    row: Any,
    model: type[Any],
    answer: Answer,
    now: datetime,
    actor: Principal,
    *,
    gone: bool,
    contended: Callable[[Exception], str | None],
) -> InvocationRun:
    """What ``answer`` comes to, ``row`` being its invocation locked (after its record) in the
    delivery's transaction, and ``gone`` whether the record's row was missing.

    ``contended(exc)`` is the driver's word on a database error out of the delivery: the
    detail of a conflict to leave the row running for (its lease expires and it is claimed
    again), None for any other error (the delivery failed); it raises what must not be kept.
    """
    claim = answer.claim

    def run(outcome: str, detail: str | None = None) -> InvocationRun:
        return InvocationRun(claim.invocation_id, claim.actor_id, claim.record_type,
                             claim.record_id, outcome, detail)  # fmt: skip

    if row.state != RUNNING or row.lease_token != claim.token:
        return run("cancelled" if row.state == CANCELLED else "stale", f"the row is {row.state}")
    if gone:
        mark(row, CANCELLED, now, "the record is gone")
        return run("cancelled", "the record is gone")
    error = answer.error
    if error is not None and claim.problem is None and row.attempts < claim.policy.max_attempts:
        row.state, row.lease_token, row.lease_until = PENDING, None, None
        row.due_at = now + claim.policy.backoff(row.attempts)
        row.last_error = f"{error['type']}: {error['message']}"
        logger.warning("invocation %s (%s) failed, attempt %d, retried at %s: %s",
                       row.id, row.src, row.attempts, row.due_at, row.last_error)  # fmt: skip
        return run("retry", row.last_error)
    return _deliver(service, row, model, answer, now, actor, contended, run)


def _deliver(
    service: WorkflowService,
    row: Any,
    model: type[Any],
    answer: Answer,
    now: datetime,
    actor: Principal,
    contended: Callable[[Exception], str | None],
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
        mark(row, final, now, "delivered by an earlier claim")
        return run("delivered", "delivered by an earlier claim")
    except RecordNotFoundError as exc:
        mark(row, CANCELLED, now, str(exc))
        return run("cancelled", str(exc))
    except Exception as exc:
        conflict = contended(exc)
        if conflict is not None:
            # left running: when its lease expires it is claimed again, and delivered once then
            return run("retry", conflict)
        mark(row, FAILED, now, f"the delivery failed: {type(exc).__name__}: {exc}")
        row.result = answer.output
        return run("failed", row.last_error)
    row.result = answer.output
    note = None if error is None else f"{error['type']}: {error['message']}"
    if not result.success:
        note = f"delivered, not taken: {result.reason}"
    elif result.error is not None:  # no onError took it: the record fails with it (XState)
        note = f"{note}; delivered, no transition takes it: the record is in error"
    mark(row, final, now, note)
    if error is not None:
        return run("failed", note)
    return run("delivered" if result.success else "dropped", note)


def mark(row: Any, state: str, now: datetime, note: str | None) -> None:
    """Settle ``row`` as ``state`` (its lease let go), with ``note`` as its last word."""
    row.state, row.settled_at, row.lease_token = state, now, None
    if note is not None:
        row.last_error = note
