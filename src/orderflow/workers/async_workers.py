"""The timer worker, the invocation worker and the outbox relay for ``asyncio`` services.

    worker = AsyncTimerWorker(service)                 # an AsyncWorkflowService
    invocations = AsyncInvocationWorker(service)
    relay = AsyncOutboxRelay(Session, publisher)       # an async_sessionmaker
    await asyncio.gather(worker.run(stop), invocations.run(stop), relay.run(stop))

One batch is the sync worker's own batch (:func:`~orderflow.workers.fire_due_timers`,
:func:`~orderflow.workers.relay_outbox`), run by the async driver inside
``AsyncSession.run_sync``: the same claims, locks and settling, each database
call awaited on the event loop.  A publisher's ``publish`` may be
``async def``; it is awaited the same way.  The invocation worker claims and
delivers with the sync worker's own phases
(:mod:`~orderflow.workers.invocations`), and awaits the claimed functions in
between, all at once, with no transaction open.  As the sync worker does, it
binds the service's database-backed ports (its ``TransactionScope``) to a
session of the function's own, here an ``AsyncSession``: see
:func:`with_async_ports_session`.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import threading
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session
from sqlalchemy.util import await_only

from orderflow.chart.implementations import call_function_actor
from orderflow.service import AsyncWorkflowService
from orderflow.store.base import utcnow
from orderflow.workers.invocations import (
    Claim,
    InvocationOptions,
    InvocationRun,
    claim_invocations,
    deliver_answers,
    run_claim_async,
)
from orderflow.workers.relay import OutboxMessage, Publisher, RelayReport, relay_outbox
from orderflow.workers.timers import TimerFiring, fire_due_timers, workflow_models

logger = logging.getLogger("orderflow.workers")


async def fire_due_timers_async(service: AsyncWorkflowService, **options: Any) -> list[TimerFiring]:
    """One batch of due timers through ``service`` (``options`` as :func:`fire_due_timers`)."""
    return await service.drive(lambda sync: fire_due_timers(sync, sync.session_factory, **options))


async def run_due_invocations_async(
    service: AsyncWorkflowService,
    *,
    now: datetime | None = None,
    options: InvocationOptions | None = None,
) -> list[InvocationRun]:
    """One batch of due invocations through ``service``: claimed, awaited together, delivered."""
    moment = service.clock() if now is None else now
    settings = (options or InvocationOptions()).resolved()
    claims = await service.drive(
        lambda sync: claim_invocations(sync, sync.session_factory, moment, settings)
    )
    if not claims:
        return []
    answers = await asyncio.gather(
        *(run_claim_async(with_async_ports_session(service, claim)) for claim in claims)
    )
    return await service.drive(
        lambda sync: deliver_answers(sync, sync.session_factory, answers, moment, settings)
    )


def with_async_ports_session(service: AsyncWorkflowService, claim: Claim) -> Claim:
    """The claim, its plain function run with the service's database-backed ports bound to an
    ``AsyncSession`` of its own (committed when the function returns, rolled back when it raises).

    :func:`~orderflow.workers.invocations.with_ports_session` on the async driver.  The
    ports are sync code on a sync ``Session``, which an ``AsyncSession`` lends only inside
    ``run_sync``: so the function runs there, on the event loop (in SQLAlchemy's greenlet),
    each of its database calls awaited, rather than on a thread.  While it holds the loop
    the loop cannot time it out, so a timer of its own sets the function's ``signal`` at
    the policy's timeout: a function that polls it stops, and its run is a timeout (rolled
    back) whatever it returned; one that blocks on something else holds the loop until it
    returns, so write that one as an ``async def``.  Without a scope, or for an
    ``async def``, the claim is returned as it is (as the sync worker does).
    """
    function, scope = claim.function, service.sync.scope
    if scope is None or function is None or inspect.iscoroutinefunction(function):
        return claim
    sessions = service.session_factory
    timeout = claim.policy.timeout.total_seconds()

    def bound(session: Session, value: Any, signal: threading.Event) -> Any:
        with scope.bind(session):
            return call_function_actor(function, value, signal)

    async def run(value: Any, signal: threading.Event) -> Any:
        expiry = threading.Timer(timeout, signal.set)
        expiry.daemon = True
        async with sessions() as session:
            expiry.start()
            try:
                output = await session.run_sync(bound, value, signal)
                if signal.is_set():  # it ran past its timeout (and saw the signal)
                    raise TimeoutError
                await session.commit()
            except BaseException:
                await session.rollback()
                raise
            finally:
                expiry.cancel()
        return output

    return replace(claim, function=run)


async def relay_outbox_async(
    session_factory: async_sessionmaker[AsyncSession] | Callable[[], AsyncSession],
    publisher: Any,
    **options: Any,
) -> RelayReport:
    """One batch of ready outbox events (``options`` as :func:`relay_outbox`); ``publish`` may be async."""
    async with session_factory() as session:
        bridged = _AwaitedPublisher(publisher)
        return await session.run_sync(lambda sync: relay_outbox(lambda: sync, bridged, **options))


class _AwaitedPublisher:
    """A publisher whose ``publish`` may answer with an awaitable, awaited from inside ``run_sync``."""

    def __init__(self, publisher: Any) -> None:
        self.publisher = publisher

    def publish(self, message: OutboxMessage) -> None:
        answer = self.publisher.publish(message)
        if inspect.isawaitable(answer):
            await_only(answer)


async def _loop(
    batch: Callable[[], Awaitable[bool]],
    stop: asyncio.Event | None,
    poll_interval: float,
    max_batches: int | None,
    what: str,
) -> None:
    """Run ``batch`` (True when it did something) until ``stop``, resting when there was nothing."""
    stop = stop or asyncio.Event()
    done = 0
    while not stop.is_set() and (max_batches is None or done < max_batches):
        try:
            progressed = await batch()
        except OperationalError as exc:  # the database went away: wait, then try again
            logger.warning("%s batch failed, retrying: %s", what, exc)
            progressed = False
        done += 1
        if not progressed:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), poll_interval)


class AsyncTimerWorker:
    """Fire due timers of an :class:`~orderflow.service.AsyncWorkflowService` until stopped."""

    def __init__(
        self,
        service: AsyncWorkflowService,
        *,
        batch: int = 50,
        poll_interval: float = 1.0,
        models: Mapping[str, type[Any]] | None = None,
        clock: Callable[[], datetime] | None = None,
        **options: Any,
    ) -> None:
        self.service = service
        self.batch = batch
        self.poll_interval = poll_interval
        self.models = dict(models) if models is not None else workflow_models()
        self.clock = clock or service.clock
        self.options = options
        self.fired = 0

    async def run_once(self) -> list[TimerFiring]:
        firings = await fire_due_timers_async(
            self.service, now=self.clock(), batch=self.batch, models=self.models, **self.options
        )
        self.fired += sum(1 for f in firings if f.outcome == "fired")
        return firings

    async def run(
        self, stop: asyncio.Event | None = None, *, max_batches: int | None = None
    ) -> None:
        async def batch() -> bool:
            return any(f.outcome != "retry" for f in await self.run_once())

        await _loop(batch, stop, self.poll_interval, max_batches, "timer")


class AsyncInvocationWorker:
    """Run due invocations of an :class:`~orderflow.service.AsyncWorkflowService` until stopped."""

    def __init__(
        self,
        service: AsyncWorkflowService,
        *,
        poll_interval: float = 1.0,
        clock: Callable[[], datetime] | None = None,
        options: InvocationOptions | None = None,
    ) -> None:
        self.service = service
        self.poll_interval = poll_interval
        self.clock = clock or service.clock
        self.options = (options or InvocationOptions()).resolved()
        self.delivered = 0

    async def run_once(self) -> list[InvocationRun]:
        runs = await run_due_invocations_async(self.service, now=self.clock(), options=self.options)
        self.delivered += sum(1 for r in runs if r.outcome == "delivered")
        return runs

    async def run(
        self, stop: asyncio.Event | None = None, *, max_batches: int | None = None
    ) -> None:
        async def batch() -> bool:
            return bool(await self.run_once())

        await _loop(batch, stop, self.poll_interval, max_batches, "invocation")


class AsyncOutboxRelay:
    """Publish outbox events through an ``async_sessionmaker`` until stopped.

    ``batch_options`` are :func:`~orderflow.workers.relay_outbox`'s (``batch``, ``retry``).
    """

    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession] | Callable[[], AsyncSession],
        publisher: Publisher | Any,
        *,
        poll_interval: float = 0.5,
        clock: Callable[[], datetime] = utcnow,
        **batch_options: Any,
    ) -> None:
        self.session_factory = session_factory
        self.publisher = publisher
        self.poll_interval = poll_interval
        self.clock = clock
        self.batch_options = batch_options
        self.published = 0

    async def run_once(self) -> RelayReport:
        report = await relay_outbox_async(
            self.session_factory, self.publisher, now=self.clock(), **self.batch_options
        )
        self.published += len(report.published)
        return report

    async def run(
        self, stop: asyncio.Event | None = None, *, max_batches: int | None = None
    ) -> None:
        async def batch() -> bool:
            return bool((await self.run_once()).published)

        await _loop(batch, stop, self.poll_interval, max_batches, "relay")
