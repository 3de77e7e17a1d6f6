"""How a call gets its transaction: the sync driver's and the async driver's, over the same stages.

The stages (:mod:`orderflow.service.pipeline`) run in a :class:`Unit`: the
transaction's connection, which the journal and the row reader write
through with Core, and an ORM ``Session`` made only when user code (an
effect handler, a finish hook, a database port) or an ORM row the service
adds asks for one.  The **sync driver** opens a :class:`ConnectionUnit` on
a connection of the factory's engine (the session, when made, is the
factory's own, in control of that transaction); a factory it cannot see
through, and :meth:`WorkflowService.joined` (a SAVEPOINT of the caller's
transaction), give a :class:`SessionUnit` instead.  The **async driver**
runs the very same stages inside ``run_sync`` of an ``AsyncConnection`` (or
of an ``AsyncSession`` when joined): SQLAlchemy runs that sync code in a
greenlet whose every database call is awaited on the event loop (psycopg 3
async on PostgreSQL, aiosqlite on SQLite).  User code the stages call may
then be ``async def``: the :class:`Bridge` awaits it from inside the
greenlet (``await_only``), and hands it the ``AsyncSession`` rather than
the sync one.

A third driver (Django's ORM, say) would implement the same two things: a
unit the journal and the row reader can write through, and a way to call
user code; nothing else in the stages knows which driver runs them.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import Connection, Engine
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.util import await_only

from orderflow.errors import WrongDriverError
from orderflow.service.direct import go_direct

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

    from orderflow.service.async_workflow import AsyncWorkflowService


class Unit:
    """One call's transaction, as the stages reach it: its connection, and a session on demand.

    The journal and the row reader write Core statements on :attr:`connection`;
    only user code (effect handlers, finish hooks, database ports) and the
    ORM rows the service adds for it need :attr:`session`.
    """

    @property
    def connection(self) -> Connection:
        raise NotImplementedError

    @property
    def session(self) -> Session:
        raise NotImplementedError

    @property
    def has_session(self) -> bool:
        """Has anything asked for the ORM session yet (is there anything of its to flush)?"""
        raise NotImplementedError

    def begin(self) -> None:
        """Begin the transaction (again, after a rollback)."""
        raise NotImplementedError

    def flush(self) -> None:
        if self.has_session:
            self.session.flush()

    def commit(self) -> None:
        raise NotImplementedError

    def rollback(self) -> None:
        raise NotImplementedError


class SessionUnit(Unit):
    """A call's transaction in a session it was handed (a savepoint, the async driver's, ...)."""

    def __init__(self, session: Session) -> None:
        self._session = session

    @property
    def connection(self) -> Connection:
        return self._session.connection()

    @property
    def session(self) -> Session:
        return self._session

    @property
    def has_session(self) -> bool:
        return True

    def begin(self) -> None:
        self._session.connection()  # autobegins

    def commit(self) -> None:
        self._session.commit()

    def rollback(self) -> None:
        self._session.rollback()


class ConnectionUnit(Unit):
    """A call's own transaction on a connection of the engine; an ORM session only if one is asked for.

    Most sends need no ORM session at all (the row is read and written with
    Core); building one, beginning through it and committing through it is
    a good part of a send's cost.  When something does ask, the session is
    made by the service's own factory (its class, options and events) on
    this connection, in control of the transaction, and the call commits
    through it, so its flush and its commit events happen as they would.
    """

    def __init__(
        self,
        connect: Callable[[], Connection],
        make_session: Callable[[Connection], Session],
        *,
        owned: bool = True,
        on_connect: Callable[[Connection], None] | None = None,
    ) -> None:
        self._connect = connect
        self._make_session = make_session
        self._owned = owned  # close the connection after the call (else its lender does)
        self._on_connect = on_connect  # what the driver sets up on a connection it got
        self._connection: Connection | None = None
        self._session: Session | None = None

    @property
    def connection(self) -> Connection:
        connection = self._connection
        if connection is None or not connection.in_transaction():
            self.begin()
            connection = self._connection
            assert connection is not None
        return connection

    @property
    def session(self) -> Session:
        if self._session is None:
            self._session = self._make_session(self.connection)
        return self._session

    @property
    def has_session(self) -> bool:
        return self._session is not None

    def begin(self) -> None:
        if self._connection is None:
            self._connection = self._connect()
            if self._on_connect is not None:
                self._on_connect(self._connection)
        if not self._connection.in_transaction():
            self._connection.begin()

    def commit(self) -> None:
        if self._session is not None:
            self._session.commit()  # flushes, and commits the transaction if it joined it
        if self._connection is not None and self._connection.in_transaction():
            self._connection.commit()  # no session, or one that was made but never used

    def rollback(self) -> None:
        if self._session is not None:
            self._session.rollback()
        if self._connection is not None and self._connection.in_transaction():
            self._connection.rollback()

    def close(self) -> None:
        try:
            if self._session is not None:
                self._session.close()  # rolls back what it did not commit
                self._session = None
        finally:
            if self._connection is not None:
                if self._owned:
                    self._connection.close()  # and so does this
                elif self._connection.in_transaction():
                    self._connection.rollback()
                self._connection = None


def session_on(factory: Callable[..., Any], connection: Any) -> Any:
    """A session of ``factory`` (its class, options, events) in control of ``connection``'s transaction."""
    session = factory(bind=connection, join_transaction_mode="control_fully")
    sync = getattr(session, "sync_session", session)  # an AsyncSession's sync half
    sync.expire_on_commit = False
    return session


#: a source of units for one call: a context manager that opens (or lends) one and closes it
UnitSource = Callable[[], contextlib.AbstractContextManager[Unit]]


def own_units(factory: Callable[[], Session]) -> UnitSource:
    """A new transaction per call: on a connection of the factory's engine when it has one
    plain engine, else in a new session from ``factory``; closed after the call."""
    if _is_async(factory):
        raise WrongDriverError("WorkflowService", factory, "AsyncWorkflowService")
    engine = _single_engine(factory)
    if engine is not None:
        maker = cast("Callable[..., Session]", factory)

        @contextlib.contextmanager
        def open_connection() -> Iterator[Unit]:
            unit = ConnectionUnit(
                engine.connect, functools.partial(session_on, maker), on_connect=go_direct
            )
            try:
                yield unit
            finally:
                unit.close()

        return open_connection

    @contextlib.contextmanager
    def open_own() -> Iterator[Unit]:
        session = factory()
        if _is_async(session):
            raise WrongDriverError("WorkflowService", session, "AsyncWorkflowService")
        session.expire_on_commit = False
        try:
            yield SessionUnit(session)
        finally:
            session.close()

    return open_own


def _single_engine(factory: Any) -> Engine | None:
    """The one sync engine a plain ``sessionmaker`` binds everything to, or None."""
    if not isinstance(factory, sessionmaker):
        return None
    bind = factory.kw.get("bind")
    if factory.kw.get("binds") or not isinstance(bind, Engine):
        return None
    return bind


def single_async_engine(factory: Any) -> AsyncEngine | None:
    """The one engine a plain ``async_sessionmaker`` binds everything to, or None."""
    from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

    if not isinstance(factory, async_sessionmaker):
        return None
    bind = factory.kw.get("bind")
    if factory.kw.get("binds") or not isinstance(bind, AsyncEngine):
        return None
    return bind


def savepoint_units(session: Session) -> UnitSource:
    """Per call, a session in a SAVEPOINT of ``session``'s transaction (its commit releases it)."""
    if _is_async(session):
        raise WrongDriverError("WorkflowService.joined", session, "AsyncWorkflowService.joined")
    connection = session.connection()

    @contextlib.contextmanager
    def open_joined() -> Iterator[Unit]:
        joined = Session(
            bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
        )
        try:
            yield SessionUnit(joined)
        finally:
            joined.close()

    return open_joined


def lent_unit(unit: Unit) -> UnitSource:
    """The one transaction the async driver lends to a call (inside its ``run_sync``); it closes it."""

    @contextlib.contextmanager
    def lend() -> Iterator[Unit]:
        yield unit

    return lend


@dataclass(frozen=True)
class Bridge:
    """The async driver's side of a call running in ``run_sync``: its session and its service."""

    #: the call's ``AsyncSession``, made the first time user code or a port asks for it
    async_sessions: Callable[[], AsyncSession]
    service: AsyncWorkflowService

    @property
    def async_session(self) -> AsyncSession:
        return self.async_sessions()

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
