"""How a call gets its session: the sync driver's and the async driver's, over the same stages.

The stages (:mod:`orderflow.service.pipeline`) run on a SQLAlchemy sync
``Session``.  The **sync driver** opens one from the service's factory (or a
SAVEPOINT session on a caller's connection, :meth:`WorkflowService.joined`).
The **async driver** opens an ``AsyncSession`` and runs the very same
stages inside ``AsyncSession.run_sync``: SQLAlchemy runs that sync code in
a greenlet whose every database call is awaited on the event loop (psycopg
3 async on PostgreSQL, aiosqlite on SQLite).  User code the stages call
(effect handlers, finish hooks) may then be ``async def``: the
:class:`Bridge` awaits it from inside the greenlet (``await_only``), and
hands it the ``AsyncSession`` rather than the sync one.

A third driver (Django's ORM, say) would implement the same two things: a
session the journal and the row reader can write through, and a way to call
user code; nothing else in the stages knows which driver runs them.
"""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session
from sqlalchemy.util import await_only

from orderflow.errors import WrongDriverError

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from orderflow.service.async_workflow import AsyncWorkflowService

#: a source of sessions for one call: a context manager that opens (or lends) one and closes it
SessionSource = Callable[[], contextlib.AbstractContextManager[Session]]


def own_sessions(factory: Callable[[], Session]) -> SessionSource:
    """A new session per call from ``factory``, closed after it."""
    if _is_async(factory):
        raise WrongDriverError("WorkflowService", factory, "AsyncWorkflowService")

    @contextlib.contextmanager
    def open_own() -> Iterator[Session]:
        session = factory()
        if _is_async(session):
            raise WrongDriverError("WorkflowService", session, "AsyncWorkflowService")
        session.expire_on_commit = False
        try:
            yield session
        finally:
            session.close()

    return open_own


def savepoint_sessions(session: Session) -> SessionSource:
    """Per call, a session in a SAVEPOINT of ``session``'s transaction (its commit releases it)."""
    if _is_async(session):
        raise WrongDriverError("WorkflowService.joined", session, "AsyncWorkflowService.joined")
    connection = session.connection()

    @contextlib.contextmanager
    def open_joined() -> Iterator[Session]:
        joined = Session(
            bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
        )
        try:
            yield joined
        finally:
            joined.close()

    return open_joined


def lent_session(session: Session) -> SessionSource:
    """The one session the async driver lends to a call (inside its ``run_sync``); it closes it."""

    @contextlib.contextmanager
    def lend() -> Iterator[Session]:
        yield session

    return lend


@dataclass(frozen=True)
class Bridge:
    """The async driver's side of a call running in ``run_sync``: its session and its service."""

    async_session: AsyncSession
    service: AsyncWorkflowService

    def call(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Call ``fn``; if it answers with an awaitable, await it on the event loop."""
        result = fn(*args)
        return await_only(result) if inspect.isawaitable(result) else result

    def wants_async(self, fn: Callable[..., Any]) -> bool:
        """Is ``fn`` an ``async def`` (to be handed the ``AsyncSession`` and the async service)?"""
        return inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(
            getattr(fn, "__call__", None)  # noqa: B004 - an instance with an async __call__
        )

    def session_for(self, fn: Callable[..., Any], session: Session) -> Any:
        """The session an effect handler gets: the ``AsyncSession`` for an ``async def`` one."""
        return self.async_session if self.wants_async(fn) else session

    def joined(self) -> AsyncWorkflowService:
        return self.service.joined(self.async_session)

    @staticmethod
    def refuse_async(fn: Callable[..., Any], result: Any) -> Any:
        """The sync driver's answer to user code that returned an awaitable: a clear error."""
        if inspect.isawaitable(result):
            if inspect.iscoroutine(result):
                result.close()  # never awaited, on purpose: no "never awaited" warning
            error = WrongDriverError("WorkflowService", result, "AsyncWorkflowService")
            error.add_note(
                f"{getattr(fn, '__qualname__', fn)!s} is async: run it with AsyncWorkflowService"
            )
            raise error
        return result


def _is_async(value: Any) -> bool:
    """An ``AsyncSession`` or an ``async_sessionmaker`` (without importing the asyncio extension)."""
    kind = type(value)
    return any(c.__name__ in ("AsyncSession", "async_sessionmaker") for c in kind.__mro__)
