"""``AsyncWorkflowService``: everything ``WorkflowService`` does, over SQLAlchemy's ``AsyncSession``.

    Session = async_sessionmaker(create_async_engine("postgresql+psycopg://..."))
    service = AsyncWorkflowService(Session, {"ticket": machine}, effects={"notify": notify})
    result = await service.send(ticket, {"type": "CLOSE"}, actor=principal)

Each method is the sync service's own, driven by the async driver
(:mod:`orderflow.service.drivers`): it opens an ``AsyncSession`` and runs the
one pipeline inside ``run_sync``, so every database call is awaited on the
event loop and nothing about a send is written twice.  Effect handlers and
finish hooks may be ``async def``: they get the ``AsyncSession`` (and, in
:class:`~orderflow.service.workflow.FinishedRecord`, this service joined to
the transaction); plain ones get the sync session of the same transaction.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import functools
from collections.abc import AsyncIterator, Callable, Coroutine, Mapping
from datetime import datetime
from typing import Any, Concatenate, ParamSpec, TypeVar, Unpack

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session
from sqlalchemy.util import greenlet_spawn

from orderflow.chart import Machine
from orderflow.errors import WrongDriverError
from orderflow.service.direct import go_direct
from orderflow.service.drivers import (
    Bridge,
    ConnectionUnit,
    SessionUnit,
    session_on,
    single_async_engine,
)
from orderflow.service.overrides import OverrideRules
from orderflow.service.workflow import ServiceOptions, WorkflowService

P = ParamSpec("P")
R = TypeVar("R")


def _driven(
    method: Callable[Concatenate[WorkflowService, P], R],
) -> Callable[Concatenate[AsyncWorkflowService, P], Coroutine[Any, Any, R]]:
    """``method`` of the sync service, run by the async driver (same arguments, awaited)."""

    async def driven(self: AsyncWorkflowService, /, *args: P.args, **kwargs: P.kwargs) -> R:
        return await self.drive(lambda service: method(service, *args, **kwargs))

    return functools.wraps(method)(driven)


class AsyncWorkflowService:
    """:class:`~orderflow.service.WorkflowService` for ``asyncio``: the same calls, awaited.

    ``session_factory`` is an ``async_sessionmaker`` (a sync one raises
    :class:`~orderflow.errors.WrongDriverError`); every other argument is the
    sync service's.  ``service.sync`` is the configuration both share (its
    machines, effects, hooks, journal); change settings such as
    ``workflow_enabled`` on either.
    """

    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession] | Callable[[], AsyncSession],
        machines: Mapping[str, Machine],
        **options: Unpack[ServiceOptions],
    ) -> None:
        if isinstance(session_factory, Session) or _is_sync_factory(session_factory):
            raise WrongDriverError("AsyncWorkflowService", session_factory, "WorkflowService")
        self.session_factory = session_factory
        self.sync = WorkflowService(_no_sync_session, machines, **options)
        self._joined_to: AsyncSession | None = None

    # -- configuration, shared with the sync service --------------------------------------------

    @property
    def machines(self) -> dict[str, Machine]:
        return self.sync.machines

    @property
    def overrides(self) -> dict[str, OverrideRules]:
        return self.sync.overrides

    @property
    def workflow_enabled(self) -> bool:
        return self.sync.workflow_enabled

    @workflow_enabled.setter
    def workflow_enabled(self, value: bool) -> None:
        self.sync.workflow_enabled = value

    @property
    def clock(self) -> Callable[[], datetime]:
        return self.sync.clock

    def register_migration(self, *args: Any, **kwargs: Any) -> None:
        """See :meth:`WorkflowService.register_migration`."""
        self.sync.register_migration(*args, **kwargs)

    def permission_refusal(self, machine: str, event_type: str, actor: Any) -> str | None:
        """See :meth:`WorkflowService.permission_refusal` (no database: not awaited)."""
        return self.sync.permission_refusal(machine, event_type, actor)

    def transitions_for_state(self, state: str, machine: str | None = None) -> Any:
        """See :meth:`WorkflowService.transitions_for_state` (no database: not awaited)."""
        return self.sync.transitions_for_state(state, machine)

    # -- the async driver --------------------------------------------------------------------

    def joined(self, session: AsyncSession) -> AsyncWorkflowService:
        """This service with every call run in a SAVEPOINT of ``session``'s transaction."""
        if isinstance(session, Session):
            raise WrongDriverError("AsyncWorkflowService.joined", session, "WorkflowService.joined")
        joined = copy.copy(self)
        joined._joined_to = session
        return joined

    async def drive(self, call: Callable[[WorkflowService], R]) -> R:
        """Run ``call(service)`` on the sync stages in one transaction, in one greenlet.

        With a plain ``async_sessionmaker`` on one engine the whole call (checking a
        connection out, the stages, the commit, giving it back) runs in one greenlet
        whose every database call is awaited on the event loop; it makes its
        ``AsyncSession`` only if something asks for one (as the sync driver does),
        and on psycopg and asyncpg the send's own statements go straight to the driver
        (:mod:`orderflow.service.direct`).  Joined, or with a factory it cannot see
        through, the call runs in an ``AsyncSession`` of its own (``run_sync``).

        A call, once begun, runs to its end in a task of its own: cancelling the
        caller (a client gone, a timeout) is raised to it when the call has committed
        or rolled back and given its connection back, never halfway through a
        statement, which would leave the connection (and on SQLite the database file)
        locked until it is collected.
        """
        engine = None if self._joined_to is not None else single_async_engine(self.session_factory)
        if engine is None:
            return await _to_completion(self._in_own_session(call))
        return await _to_completion(greenlet_spawn(self._on_own_connection, engine, call))

    async def _in_own_session(self, call: Callable[[WorkflowService], R]) -> R:
        async with self._open() as session:
            bridge = Bridge(lambda: session, self)
            return await session.run_sync(
                lambda sync: call(self.sync.lent(SessionUnit(sync), bridge))
            )

    def _on_own_connection(self, engine: AsyncEngine, call: Callable[[WorkflowService], R]) -> R:
        """``call`` on a connection of ``engine``, inside the greenlet :meth:`drive` spawned."""
        made: list[AsyncSession] = []

        def async_session() -> AsyncSession:
            if not made:
                made.append(
                    session_on(self.session_factory, AsyncConnection(engine, unit.connection))
                )
            return made[0]

        unit = ConnectionUnit(
            engine.sync_engine.connect,
            lambda _: async_session().sync_session,
            on_connect=go_direct,
        )
        try:
            return call(self.sync.lent(unit, Bridge(async_session, self)))
        finally:
            unit.close()

    @contextlib.asynccontextmanager
    async def _open(self) -> AsyncIterator[AsyncSession]:
        if self._joined_to is None:
            session = self.session_factory()
        else:
            connection = await self._joined_to.connection()
            session = AsyncSession(bind=connection, join_transaction_mode="create_savepoint")
        session.sync_session.expire_on_commit = False  # nothing may lazy-load after a commit
        try:
            yield session
        finally:
            await session.close()

    # -- the calls: the sync service's, awaited ------------------------------------------------

    snapshot = _driven(WorkflowService.snapshot)
    can = _driven(WorkflowService.can)
    allowed_events = _driven(WorkflowService.allowed_events)
    allowed_transitions = _driven(WorkflowService.allowed_transitions)
    can_transition = _driven(WorkflowService.can_transition)
    override_requests = _driven(WorkflowService.override_requests)
    start = _driven(WorkflowService.start)
    adopt = _driven(WorkflowService.adopt)
    send = _driven(WorkflowService.send)
    deliver = _driven(WorkflowService.deliver)
    transition = _driven(WorkflowService.transition)
    request_override = _driven(WorkflowService.request_override)
    decide_override = _driven(WorkflowService.decide_override)
    bulk_send = _driven(WorkflowService.bulk_send)
    rerun_finish_hooks = _driven(WorkflowService.rerun_finish_hooks)


async def _to_completion(work: Coroutine[Any, Any, R]) -> R:
    """Await ``work`` to its end in a task of its own, shielded from the caller's
    cancellation, which is raised again once ``work`` is done (as SQLAlchemy's own
    ``async with`` blocks give their connections back)."""
    task = asyncio.ensure_future(work)
    cancelled: asyncio.CancelledError | None = None
    while True:
        try:
            result = await asyncio.shield(task)
        except asyncio.CancelledError as error:
            if task.done():
                raise  # the work itself ended so
            cancelled = error
        else:
            break
    if cancelled is not None:
        raise cancelled
    return result


def _no_sync_session() -> Session:
    raise AssertionError("the async service lends its sessions; it never opens a sync one")


def _is_sync_factory(factory: Any) -> bool:
    from sqlalchemy.orm import sessionmaker

    return isinstance(factory, sessionmaker)
