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
  fired when the event it carried was delivered.

It writes with Core statements on the transaction's connection where the
ORM would only add work, and through the session where effects' own ORM
rows must flush first.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Table, bindparam, func, insert, inspect, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from orderflow.chart import Timer
from orderflow.errors import StaleRecordError
from orderflow.service.results import Principal
from orderflow.service.rows import LoadedRow, current_version, identity, table_name
from orderflow.store import OutboxEvent, ScheduledEvent, TransitionLog
from orderflow.store.workflow_tables import CANCELLED, PENDING

#: the log rows of one send, in one statement that answers with their ids in order
_LOG_TABLE: Table = TransitionLog.__table__  # type: ignore[assignment]
_LOG_INSERT = insert(_LOG_TABLE).returning(_LOG_TABLE.c.id, sort_by_parameter_order=True)
#: one log row: its id from the driver (``lastrowid`` on SQLite, ``RETURNING`` where that is how)
_LOG_INSERT_ONE = insert(_LOG_TABLE)


def actor_columns(principal: Principal | None) -> dict[str, str | None]:
    """Who acted, as the log keeps it: the principal's id and label (its id when unlabelled)."""
    if principal is None:
        return {"actor_user": None, "actor_label": None}
    return {"actor_user": principal.id, "actor_label": principal.label or principal.id}


class Journal:
    """Writes a record's moves; one per service (it keeps the statements it built)."""

    def __init__(self, clock: Callable[[], datetime]) -> None:
        self.clock = clock
        self._updates: dict[tuple[type[Any], tuple[str, ...]], Any] = {}

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
        new_version = read + steps
        connection = connection_of(where)
        written = connection.execute(
            self._versioned_update(model, tuple(columns)),
            {
                **{f"new_{name}": value for name, value in columns.items()},
                "new_workflow_version": new_version,
                "record_key": key,
                "read_version": read,
            },
        )
        if written.rowcount != 1:
            raise StaleRecordError(
                table_name(model), str(key), read, current_version(connection, model, key)
            )
        values = {**columns, "workflow_version": new_version}
        if isinstance(row, LoadedRow):
            row.written(values)
        else:
            for name, value in values.items():
                set_committed_value(row, name, value)
        return new_version

    def bump(self, where: Session | Connection, row: Any) -> int:
        """Count one more write to ``row`` (a log row on it that moved no state): version-checked."""
        return self.advance(where, row, {}, row.workflow_version or 0)

    def _versioned_update(self, model: type[Any], names: tuple[str, ...]) -> Any:
        key = (model, names)
        statement = self._updates.get(key)
        if statement is None:
            statement = self._updates[key] = versioned_update(model, names)
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
            written = connection.execute(_LOG_INSERT_ONE, dict(entries[0]))
            return [int(written.inserted_primary_key[0])]  # type: ignore[index]
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
    ) -> None:
        """A pending timer row for ``timer``, due ``now`` + its delay, replacing one of the same id."""
        self.settle(session, record_type, record_id, [timer.id], CANCELLED)
        session.add(
            ScheduledEvent(
                record_type=record_type, record_id=record_id, machine=machine,
                timer_id=timer.id, event=dict(timer.event),
                due_at=now + timedelta(milliseconds=timer.delay),
                status=PENDING,
            )
        )  # fmt: skip

    def settle(
        self, session: Session, record_type: str, record_id: str, ids: Sequence[str], status: str
    ) -> None:
        """Mark the pending rows of timers ``ids`` as ``status`` (fired or cancelled)."""
        if not ids:
            return
        session.execute(
            update(ScheduledEvent)
            .where(
                ScheduledEvent.record_type == record_type,
                ScheduledEvent.record_id == record_id,
                ScheduledEvent.timer_id.in_(ids),
                ScheduledEvent.status == PENDING,
            )
            .values(status=status, settled_at=self.clock())
            .execution_options(synchronize_session=False)
        )


def connection_of(where: Session | Connection) -> Connection:
    """The connection of a transaction given as its session or as the connection itself."""
    return where.connection() if isinstance(where, Session) else where


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
