"""The journal over Django's ORM: the same rules as :mod:`orderflow.service.journal`, its writes.

The version bump is ``UPDATE ... WHERE <key> AND workflow_version = <read>``
(:class:`~orderflow.errors.StaleRecordError` when another writer won) and a
log row one ``INSERT ... RETURNING``, both built once per model and database
(:mod:`orderflow.django.statements`); outbox, timer and invocation rows are
written through the models of :mod:`orderflow.django.models`.  What a row
says (:meth:`Journal.entry`, :meth:`Journal.timer_row`,
:meth:`Journal.invocation_row`, what settling or cancelling writes) is the
SQLAlchemy journal's, unchanged: only the writing is Django's.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from django.db import connections
from django.db.models import Max

from orderflow.chart import Action, Timer
from orderflow.django.rows import DjangoRow, DjangoRowReader, key_value, record_type
from orderflow.django.statements import LogInsert
from orderflow.errors import StaleRecordError
from orderflow.service.journal import WANTED, Journal
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
        model, key = self._identity(row)
        values = {**columns, "workflow_version": read + steps}
        if self.rows.statements(model, session.using).update(key, values, read) != 1:
            raise self._stale_error(model, key, read, session.using)
        self._written(row, values)
        return read + steps

    @staticmethod
    def _identity(row: Any) -> tuple[type[Any], Any]:
        if isinstance(row, DjangoRow):
            return row.model, row.key
        return type(row), key_value(type(row), row.pk)

    @staticmethod
    def _stale_error(model: type[Any], key: Any, read: int, using: str) -> StaleRecordError:
        rows = model._base_manager.using(using).filter(pk=key)
        now = rows.values_list("workflow_version", flat=True).first()
        return StaleRecordError(record_type(model), str(key), read, now)

    @staticmethod
    def _written(row: Any, values: dict[str, Any]) -> None:
        if isinstance(row, DjangoRow):
            row.written(values)
        else:
            for name, value in values.items():
                setattr(row, name, value)

    def _log_insert(self, using: str) -> LogInsert:
        insert = self._log_inserts.get(using)
        if insert is None:
            insert = self._log_inserts[using] = LogInsert(using)
        return insert

    def move(
        self, session: Any, row: Any, columns: Mapping[str, Any], read: int,
        entries: Sequence[Mapping[str, Any]],
    ) -> list[int]:  # fmt: skip
        """:meth:`advance` by one version per entry, then :meth:`log` the ``entries``; their ids.

        On PostgreSQL one log row goes in the same statement as the versioned update
        (:meth:`RecordStatements.move`): one round trip less, no log row when stale.
        """
        if len(entries) != 1 or connections[session.using].vendor != "postgresql":
            self.advance(session, row, columns, read, len(entries))
            return self.log(session, entries)
        from orderflow.django.models import as_fields

        model, key = self._identity(row)
        values = {**columns, "workflow_version": read + 1}
        found = self.rows.statements(model, session.using).move(
            key, values, read, self._log_insert(session.using), as_fields(entries[0])
        )
        if found is None:
            raise self._stale_error(model, key, read, session.using)
        self._written(row, values)
        return [found]

    def log(
        self, session: Any, entries: Sequence[Mapping[str, Any]], connection: Any = None
    ) -> list[int]:
        """Append ``entries`` (from :meth:`entry`); their ids, in order."""
        from orderflow.django.models import as_fields

        insert = self._log_insert(session.using)
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
        return [
            rows.create(**row) for row in self.outbox_rows(record_type, record_id, last, pending)
        ]

    def arm(
        self,
        session: Any,
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
        from orderflow.django.models import ScheduledEvent

        self.settle(session, record_type, record_id, [timer.id], CANCELLED, actor_path)
        row = self.timer_row(record_type, record_id, machine, timer, now, actor_path)
        ScheduledEvent._base_manager.using(session.using).create(**row, created_at=self.clock())

    def settle(
        self,
        session: Any,
        record_type: str,
        record_id: str,
        ids: Sequence[str],
        status: str,
        actor_path: str = "",
    ) -> None:
        """Mark the pending rows of timers ``ids`` (of the machine at ``actor_path``) as ``status``."""
        from orderflow.django.models import ScheduledEvent

        if not ids:
            return
        ScheduledEvent._base_manager.using(session.using).filter(
            record_type=record_type, record_id=record_id, actor_path=actor_path,
            timer_id__in=list(ids), status=PENDING,
        ).update(**self.timers_settled(status))  # fmt: skip

    def invoke(
        self,
        session: Any,
        record_type: str,
        record_id: str,
        machine: str,
        start: Action,
        now: datetime,
    ) -> None:
        """A pending invocation row for a ``start_actor`` record, due now (its input as JSON)."""
        from orderflow.django.models import Invocation

        row = self.invocation_row(record_type, record_id, machine, start, now)
        Invocation._base_manager.using(session.using).create(**row)

    def cancel_invocations(
        self, session: Any, record_type: str, record_id: str, actor_path: str, actor_id: str
    ) -> None:
        """Mark the wanted (pending or running) invocations of one child ``cancelled``."""
        from orderflow.django.models import Invocation

        Invocation._base_manager.using(session.using).filter(
            record_type=record_type, record_id=record_id, actor_path=actor_path,
            actor_id=actor_id, state__in=WANTED,
        ).update(**self.invocations_cancelled())  # fmt: skip
