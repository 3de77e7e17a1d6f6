"""The journal: the only writer of version bumps, log rows, outbox rows and timer rows.

Every write that moves a record goes through one :class:`Journal` (the
pipeline's, the legacy path's and the PhaseCoordinator's hand-offs), so the
rules live once:

- a record's ``workflow_version`` goes up by one per log row written on it,
  with an optimistic ``WHERE workflow_version = <read>``
  (:class:`~orderflow.errors.StaleRecordError` when another writer won);
- a log row names who acted by the principal's id and label;
- outbox rows of one record are numbered in order (``sequence``), after the
  highest number the record has;
- a timer row is armed per schedule, cancelled per cancel, and settled as
  fired when the event it carried was delivered;
- an invocation row is written per ``start_actor`` record (a function actor
  the step started) and cancelled per ``stop_actor`` record, so a worker runs
  exactly the invocations that are still wanted.

It writes with Core statements on the transaction's connection where the
ORM would only add work, and through the session where effects' own ORM
rows must flush first.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from pydantic import TypeAdapter
from sqlalchemy import (
    Connection,
    Table,
    bindparam,
    func,
    insert,
    inspect,
    literal_column,
    select,
    update,
)
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from orderflow.chart import Action, Timer
from orderflow.errors import StaleRecordError
from orderflow.service.results import Principal
from orderflow.service.rows import LoadedRow, current_version, identity, table_name
from orderflow.service.statements import Prepared, PreparedInsert
from orderflow.store import Invocation, OutboxEvent, ScheduledEvent, TransitionLog
from orderflow.store.workflow_tables import CANCELLED, PENDING, RUNNING

_JSON: TypeAdapter[Any] = TypeAdapter(Any)
#: the states of an invocation still wanted: a ``stop_actor`` record cancels the rows in them
WANTED = (PENDING, RUNNING)
#: the log rows of one send, in one statement that answers with their ids in order
_LOG_TABLE: Table = TransitionLog.__table__  # type: ignore[assignment]
_LOG_INSERT = insert(_LOG_TABLE).returning(_LOG_TABLE.c.id, sort_by_parameter_order=True)
#: one log row: its id from the driver (``lastrowid`` on SQLite, ``RETURNING`` where that is how)
_LOG_INSERT_ONE = PreparedInsert(
    insert(_LOG_TABLE).values(
        {column: bindparam(column.key) for column in _LOG_TABLE.c if not column.primary_key}
    ),
    _LOG_TABLE.c.id,
)


def actor_columns(principal: Principal | None) -> dict[str, str | None]:
    """Who acted, as the log keeps it: the principal's id and label (its id when unlabelled)."""
    if principal is None:
        return {"actor_user": None, "actor_label": None}
    return {"actor_user": principal.id, "actor_label": principal.label or principal.id}


class Journal:
    """Writes a record's moves; one per service (it keeps the statements it built)."""

    def __init__(self, clock: Callable[[], datetime]) -> None:
        self.clock = clock
        self._updates: dict[tuple[type[Any], tuple[str, ...]], Prepared] = {}
        self._moves: dict[tuple[type[Any], tuple[str, ...]], Prepared] = {}

    # -- the record's own row ----------------------------------------------------------------

    def advance(
        self,
        where: Session | Connection,
        row: Any,
        columns: Mapping[str, Any],
        read: int,
        steps: int = 1,
    ) -> int:
        """Write ``columns`` and ``workflow_version = read + steps`` if the row is still at ``read``.

        ``row`` is the call's :class:`~orderflow.service.rows.LoadedRow` or a mapped instance;
        either is given the committed values.  ``where`` is the transaction's session or its
        connection.
        """
        model, key = identity(row)
        connection = connection_of(where)
        written = self._versioned_update(model, tuple(columns)).execute(
            connection, _update_values(columns, key, read, steps)
        )
        if written.rowcount != 1:
            raise self._stale(connection, model, key, read)
        return _written(row, columns, read + steps)

    def move(
        self,
        connection: Connection,
        row: Any,
        columns: Mapping[str, Any],
        read: int,
        entries: Sequence[Mapping[str, Any]],
    ) -> list[int]:
        """:meth:`advance` by one version per entry, then :meth:`log` the ``entries``; their ids.

        On PostgreSQL one log row goes in the same statement as the update (``WITH moved AS
        (UPDATE ... RETURNING) INSERT ... SELECT ... FROM moved``): one round trip less, and
        no log row when the version check fails.
        """
        if len(entries) != 1 or connection.dialect.name != "postgresql":
            self.advance(connection, row, columns, read, len(entries))
            return self.log(connection, entries)
        model, key = identity(row)
        statement = self._moves.get((model, tuple(columns)))
        if statement is None:
            statement = self._moves[model, tuple(columns)] = Prepared(
                moved_and_logged(model, tuple(columns)), (_LOG_TABLE.c.id,)
            )
        found = statement.one_or_none(
            connection, {**_update_values(columns, key, read, 1), **entries[0]}
        )
        if found is None:
            raise self._stale(connection, model, key, read)
        _written(row, columns, read + 1)
        return [int(found[0])]

    @staticmethod
    def _stale(connection: Connection, model: type[Any], key: Any, read: int) -> StaleRecordError:
        return StaleRecordError(
            table_name(model), str(key), read, current_version(connection, model, key)
        )

    def bump(self, where: Session | Connection, row: Any) -> int:
        """Count one more write to ``row`` (a log row on it that moved no state): version-checked."""
        return self.advance(where, row, {}, row.workflow_version or 0)

    def _versioned_update(self, model: type[Any], names: tuple[str, ...]) -> Prepared:
        key = (model, names)
        statement = self._updates.get(key)
        if statement is None:
            statement = self._updates[key] = Prepared(versioned_update(model, names))
        return statement

    # -- the log -----------------------------------------------------------------------------

    def entry(
        self,
        record_type: str,
        record_id: str,
        *,
        machine: str,
        machine_version: Any,
        event: str,
        from_state: Any,
        to_state: Any,
        record_version: int,
        principal: Principal | None,
        note: str,
        details: Mapping[str, Any],
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        """One log row, as :meth:`log` writes it."""
        return {
            "record_type": record_type, "record_id": record_id, "machine": machine,
            "machine_version": machine_version, "event": event, "from_state": from_state,
            "to_state": to_state, "record_version": record_version, "note": note,
            "metadata": dict(details), "idempotency_key": idempotency_key,
            "created_at": self.clock(), **actor_columns(principal),
        }  # fmt: skip

    def log(self, where: Session | Connection, entries: Sequence[Mapping[str, Any]]) -> list[int]:
        """Append ``entries`` (from :meth:`entry`); their ids, in order."""
        connection = connection_of(where)
        if len(entries) == 1:  # the common case: one INSERT, its id from the driver
            return [int(_LOG_INSERT_ONE.inserted_key(connection, entries[0]))]
        return list(connection.execute(_LOG_INSERT, [dict(e) for e in entries]).scalars())

    # -- the outbox --------------------------------------------------------------------------

    def outbox(
        self,
        session: Session,
        record_type: str,
        record_id: str,
        events: Iterable[tuple[Mapping[str, Any], int | None]],
    ) -> list[OutboxEvent]:
        """Outbox rows for ``events`` (each with the log row that wrote it), numbered in order."""
        pending = list(events)
        if not pending:
            return []
        last = session.scalar(
            select(func.max(OutboxEvent.sequence)).where(
                OutboxEvent.record_type == record_type, OutboxEvent.record_id == record_id
            )
        )
        rows = [
            OutboxEvent(**row) for row in self.outbox_rows(record_type, record_id, last, pending)
        ]
        session.add_all(rows)
        return rows

    def outbox_rows(
        self,
        record_type: str,
        record_id: str,
        last: int | None,
        events: Iterable[tuple[Mapping[str, Any], int | None]],
    ) -> list[dict[str, Any]]:
        """The columns of a record's new outbox rows, for every driver: numbered in order after
        ``last``, the highest sequence the record has (None: none yet), pending from now."""
        now = self.clock()
        return [
            dict(
                record_type=record_type, record_id=record_id, sequence=(last or 0) + n,
                event_type=str(payload.get("type")), payload=dict(payload), transition_id=log_id,
                status=PENDING, attempts=0, available_at=now, created_at=now,
            )
            for n, (payload, log_id) in enumerate(events, start=1)
        ]  # fmt: skip

    # -- timers ------------------------------------------------------------------------------

    def arm(
        self,
        session: Session,
        record_type: str,
        record_id: str,
        machine: str,
        timer: Timer,
        now: datetime,
        actor_path: str = "",
    ) -> None:
        """A pending timer row for ``timer``, due ``now`` + its delay, replacing one of the same id.

        ``actor_path`` names the child machine the timer is for ("": the record's machine).
        """
        self.settle(session, record_type, record_id, [timer.id], CANCELLED, actor_path)
        session.add(
            ScheduledEvent(
                **self.timer_row(record_type, record_id, machine, timer, now, actor_path)
            )
        )

    @staticmethod
    def timer_row(
        record_type: str, record_id: str, machine: str, timer: Timer, now: datetime, actor_path: str
    ) -> dict[str, Any]:
        """The columns of a pending timer row, for every driver: due ``now`` + the timer's delay."""
        return dict(
            record_type=record_type, record_id=record_id, machine=machine, actor_path=actor_path,
            timer_id=timer.id, event=dict(timer.event),
            due_at=now + timedelta(milliseconds=timer.delay), status=PENDING,
        )  # fmt: skip

    def settle(
        self,
        session: Session,
        record_type: str,
        record_id: str,
        ids: Sequence[str],
        status: str,
        actor_path: str = "",
    ) -> None:
        """Mark the pending rows of timers ``ids`` (of the machine at ``actor_path``) as ``status``."""
        if not ids:
            return
        session.execute(
            update(ScheduledEvent)
            .where(
                ScheduledEvent.record_type == record_type,
                ScheduledEvent.record_id == record_id,
                ScheduledEvent.actor_path == actor_path,
                ScheduledEvent.timer_id.in_(ids),
                ScheduledEvent.status == PENDING,
            )
            .values(self.timers_settled(status))
            .execution_options(synchronize_session=False)
        )

    def timers_settled(self, status: str) -> dict[str, Any]:
        """What settling pending timer rows as ``status`` (fired or cancelled) writes to them."""
        return {"status": status, "settled_at": self.clock()}

    # -- durable invocations -----------------------------------------------------------------

    def invoke(
        self,
        session: Session,
        record_type: str,
        record_id: str,
        machine: str,
        start: Action,
        now: datetime,
    ) -> None:
        """A pending invocation row for a ``start_actor`` record, due now.

        Its input is stored as the snapshot stores it, as JSON (a ``Decimal`` as text).
        """
        session.add(Invocation(**self.invocation_row(record_type, record_id, machine, start, now)))

    @staticmethod
    def invocation_row(
        record_type: str, record_id: str, machine: str, start: Action, now: datetime
    ) -> dict[str, Any]:
        """The columns of the pending invocation row of a ``start_actor`` record, for every
        driver: the child's path, id and ``src``, its input as JSON, due ``now``."""
        return dict(
            record_type=record_type, record_id=record_id, machine=machine,
            actor_path=start.actor, actor_id=str(start.params["id"]), src=str(start.params["src"]),
            input=_JSON.dump_python(start.params.get("input"), mode="json"), state=PENDING,
            attempts=0, due_at=now, created_at=now,
        )  # fmt: skip

    def cancel_invocations(
        self, session: Session, record_type: str, record_id: str, actor_path: str, actor_id: str
    ) -> None:
        """Mark the wanted (pending or running) invocations of one child ``cancelled``."""
        session.execute(
            update(Invocation)
            .where(
                Invocation.record_type == record_type,
                Invocation.record_id == record_id,
                Invocation.actor_path == actor_path,
                Invocation.actor_id == actor_id,
                Invocation.state.in_(WANTED),
            )
            .values(self.invocations_cancelled())
            .execution_options(synchronize_session=False)
        )

    def invocations_cancelled(self) -> dict[str, Any]:
        """What cancelling a child's wanted invocation rows writes to them (its lease let go)."""
        return {"state": CANCELLED, "settled_at": self.clock(), "lease_token": None}


def connection_of(where: Session | Connection) -> Connection:
    """The connection of a transaction given as its session or as the connection itself."""
    return where.connection() if isinstance(where, Session) else where


def _update_values(columns: Mapping[str, Any], key: Any, read: int, steps: int) -> dict[str, Any]:
    """The bound values of :func:`versioned_update`."""
    values = {"new_" + name: value for name, value in columns.items()}
    values["new_workflow_version"] = read + steps
    values["record_key"] = key
    values["read_version"] = read
    return values


def _written(row: Any, columns: Mapping[str, Any], version: int) -> int:
    """Give ``row`` (a LoadedRow or a mapped instance) the values just committed to it."""
    values = {**columns, "workflow_version": version}
    if isinstance(row, LoadedRow):
        row.written(values)
    else:
        for name, value in values.items():
            set_committed_value(row, name, value)
    return version


def moved_and_logged(model: type[Any], names: tuple[str, ...]) -> Any:
    """:func:`versioned_update` and one log row in one statement (PostgreSQL's DML in ``WITH``).

    The log row is selected from the update's ``RETURNING``, so it is written only if the
    update matched; the statement answers with the log row's id, or with no row.
    """
    moved = versioned_update(model, names).returning(literal_column("1")).cte("moved")
    columns = [column for column in _LOG_TABLE.c if not column.primary_key]
    values = select(*[bindparam(column.key, type_=column.type) for column in columns])
    return (
        insert(_LOG_TABLE)
        .from_select(columns, values.select_from(moved))
        .returning(_LOG_TABLE.c.id)
    )


def versioned_update(model: type[Any], names: tuple[str, ...]) -> Any:
    """``UPDATE <table> SET <names>, workflow_version WHERE <key> AND workflow_version = <read>``.

    ``names`` are attribute names; each is written to the column the mapping gives it,
    whatever that column is called in the database.
    """
    mapper = inspect(model)
    table = mapper.local_table
    (key,) = table.primary_key.columns

    def column(name: str) -> Any:
        return mapper.attrs[name].columns[0]

    return (
        update(table)
        .where(
            key == bindparam("record_key"),
            column("workflow_version") == bindparam("read_version"),
        )
        .values({column(name): bindparam(f"new_{name}") for name in (*names, "workflow_version")})
    )
