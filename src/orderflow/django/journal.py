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

from django.db import connections
from django.db.models import Max

from orderflow.chart import Timer
from orderflow.django.rows import DjangoRow, DjangoRowReader, key_value, record_type
from orderflow.django.statements import LogInsert
from orderflow.errors import ConfigurationError, StaleRecordError
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
        """A pending timer row for ``timer``, due ``now`` + its delay, replacing one of the same id."""
        from orderflow.django.models import ScheduledEvent

        _own_machine_only(actor_path)
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
        actor_path: str = "",
    ) -> None:
        """Mark the pending rows of timers ``ids`` as ``status`` (fired or cancelled)."""
        from orderflow.django.models import ScheduledEvent

        _own_machine_only(actor_path)
        if not ids:
            return
        ScheduledEvent._base_manager.using(session.using).filter(
            record_type=record_type, record_id=record_id, timer_id__in=list(ids), status=PENDING
        ).update(status=status, settled_at=self.clock())


def _own_machine_only(actor_path: str) -> None:
    """The Django timer table has no child path: a service with child timers is refused when
    it is made (``DjangoWorkflowService.durable_child_timers``), so none reaches here."""
    if actor_path:
        raise ConfigurationError(
            f"the Django journal keeps no timers of child machines (the child at '{actor_path}')",
            setting="machines",
        )
