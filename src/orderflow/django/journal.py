"""The journal over Django's ORM: the same rules as :mod:`orderflow.service.journal`, its writes.

The version bump is ``UPDATE ... WHERE <key> AND workflow_version = <read>``
(:class:`~orderflow.errors.StaleRecordError` when another writer won) and a
log row one ``INSERT ... RETURNING``, both built once per model and database
(:mod:`orderflow.django.statements`); outbox and timer rows are written
through the models of :mod:`orderflow.django.models`.  What a log row says
(:meth:`Journal.entry`) is the SQLAlchemy journal's, unchanged.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Max

from orderflow.chart import Timer
from orderflow.django.rows import DjangoRow, DjangoRowReader, key_value, record_type
from orderflow.django.statements import LogInsert
from orderflow.errors import StaleRecordError
from orderflow.service.journal import Journal
from orderflow.store.workflow_tables import CANCELLED, PENDING


class DjangoJournal(Journal):
    """Writes a record's moves through Django's ORM, on the call's database.

    The record's versioned update and the log insert go through the statements
    ``rows`` (the service's row reader) built for the model and database.
    """

    def __init__(self, clock: Callable[[], datetime], rows: DjangoRowReader) -> None:
        super().__init__(clock)
        self.rows = rows
        self._log_inserts: dict[str, LogInsert] = {}

    def advance(
        self,
        session: Any,
        row: Any,
        columns: Mapping[str, Any],
        read: int,
        steps: int = 1,
        connection: Any = None,
    ) -> int:
        """Write ``columns`` and ``workflow_version = read + steps`` if the row is still at ``read``."""
        model = row.model if isinstance(row, DjangoRow) else type(row)
        key = row.key if isinstance(row, DjangoRow) else key_value(model, row.pk)
        new_version = read + steps
        rows = model._base_manager.using(session.using).filter(pk=key)
        written = rows.filter(workflow_version=read).update(**columns, workflow_version=new_version)
        if written != 1:
            now = rows.values_list("workflow_version", flat=True).first()
            raise StaleRecordError(record_type(model), str(key), read, now)
        values = {**columns, "workflow_version": new_version}
        if isinstance(row, DjangoRow):
            row.written(values)
        else:
            for name, value in values.items():
                setattr(row, name, value)
        return new_version

    def move(
        self, session: Any, row: Any, columns: Mapping[str, Any], read: int,
        entries: Sequence[Mapping[str, Any]],
    ) -> list[int]:  # fmt: skip
        """:meth:`advance` by one version per entry, then :meth:`log` the ``entries``; their ids.

        The Django call has no SQLAlchemy dialect, so the service journal's one-statement
        PostgreSQL path does not apply: the update and the log insert stay two statements.
        """
        self.advance(session, row, columns, read, len(entries))
        return self.log(session, entries)

    def log(
        self, session: Any, entries: Sequence[Mapping[str, Any]], connection: Any = None
    ) -> list[int]:
        """Append ``entries`` (from :meth:`entry`); their ids, in order."""
        from orderflow.django.models import as_fields

        insert = self._log_inserts.get(session.using)
        if insert is None:
            insert = self._log_inserts[session.using] = LogInsert(session.using)
        return [insert.insert(as_fields(entry)) for entry in entries]

    def outbox(
        self,
        session: Any,
        record_type: str,
        record_id: str,
        events: Iterable[tuple[Mapping[str, Any], int | None]],
    ) -> list[Any]:
        """Outbox rows for ``events`` (each with the log row that wrote it), numbered in order."""
        from orderflow.django.models import OutboxEvent

        pending = list(events)
        if not pending:
            return []
        rows = OutboxEvent._base_manager.using(session.using)
        last = rows.filter(record_type=record_type, record_id=record_id).aggregate(
            last=Max("sequence")
        )["last"]
        now = self.clock()
        return [
            rows.create(
                record_type=record_type, record_id=record_id, sequence=int(last or 0) + n,
                event_type=str(payload.get("type")), payload=dict(payload), transition_id=log_id,
                status=PENDING, attempts=0, available_at=now, created_at=now,
            )
            for n, (payload, log_id) in enumerate(pending, start=1)
        ]  # fmt: skip

    def arm(
        self,
        session: Any,
        record_type: str,
        record_id: str,
        machine: str,
        timer: Timer,
        now: datetime,
    ) -> None:
        """A pending timer row for ``timer``, due ``now`` + its delay, replacing one of the same id."""
        from orderflow.django.models import ScheduledEvent

        self.settle(session, record_type, record_id, [timer.id], CANCELLED)
        ScheduledEvent._base_manager.using(session.using).create(
            record_type=record_type, record_id=record_id, machine=machine, timer_id=timer.id,
            event=dict(timer.event), due_at=now + timedelta(milliseconds=timer.delay),
            status=PENDING, created_at=self.clock(),
        )  # fmt: skip

    def settle(
        self,
        session: Any,
        record_type: str,
        record_id: str,
        ids: Sequence[str],
        status: str,
    ) -> None:
        """Mark the pending rows of timers ``ids`` as ``status`` (fired or cancelled)."""
        from orderflow.django.models import ScheduledEvent

        if not ids:
            return
        ScheduledEvent._base_manager.using(session.using).filter(
            record_type=record_type, record_id=record_id, timer_id__in=list(ids), status=PENDING
        ).update(status=status, settled_at=self.clock())
