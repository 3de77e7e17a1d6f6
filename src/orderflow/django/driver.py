"""The Django driver: a call's unit of work as ``transaction.atomic``, around the unchanged stages.

    with transaction.atomic(using=alias):        # a savepoint when the caller holds a transaction
        work = DjangoWork(...)                   # the stages' Work, with Django's transaction calls
        result = pipeline.stages(work)           # lock ... persist, finish_hooks, commit

What :mod:`orderflow.service.drivers` does for SQLAlchemy, this does for
Django: the stages write through the service's
:class:`~orderflow.django.journal.DjangoJournal` and read through its
:class:`~orderflow.django.rows.DjangoRowReader`, both on the call's
database alias.  A refusal, a dry run or a replay marks the atomic block for
rollback (``transaction.set_rollback``); an exception leaves it and Django
rolls it back.  Called inside the caller's own ``transaction.atomic``, a call
is a savepoint of it, as :meth:`WorkflowService.joined` is for SQLAlchemy:
nothing is durable until the caller commits, and a call that fails undoes
itself only.  The :data:`~orderflow.django.signals.transition_committed`
signal is sent from ``transaction.on_commit``: after the outermost commit,
never for a call that rolled back.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import TYPE_CHECKING, Any

from django.db import IntegrityError, transaction

from orderflow.service import pipeline
from orderflow.service.commands import Command
from orderflow.service.idempotency import answer_kept
from orderflow.service.pipeline import Work
from orderflow.service.results import TransitionResult
from orderflow.service.rows import STATE_ATTRIBUTES
from orderflow.store import has_legacy_status

if TYPE_CHECKING:
    from orderflow.django.service import DjangoWorkflowService


@dataclasses.dataclass(frozen=True)
class DjangoCall:
    """The "session" of a Django call: the database alias its statements go to.

    Effect handlers get it as their ``session`` argument (``session.using``
    names the database); Django's own connection handling does the rest.
    """

    using: str

    # the driver-neutral names the stages reach the transaction by: for Django, the call itself

    @property
    def connection(self) -> DjangoCall:
        return self

    @property
    def session(self) -> DjangoCall:
        return self

    has_session = True


class DjangoWork(Work):
    """The stages' unit of work, its transaction calls made on Django's ``transaction``."""

    @property
    def using(self) -> str:
        call: Any = self.unit  # the driver's DjangoCall, in the place of SQLAlchemy's Unit
        return str(call.using)

    def open(self) -> None:
        """The driver opened the atomic block already; the journal writes on its alias."""

    def flush(self) -> None:
        """Django writes as it goes: nothing waits for a flush."""

    def rollback(self) -> None:
        transaction.set_rollback(True, using=self.using)

    def commit(self) -> None:
        """Leaving the atomic block commits (or releases the caller's savepoint)."""

    def outbox_written(self) -> list[Any]:
        return []  # the database-backed ports are SQLAlchemy's; Django effects write their own rows

    def earlier_answer(self, key: str) -> TransitionResult | None:
        from orderflow.django.models import TransitionLog

        log = (
            TransitionLog._base_manager.using(self.using)
            .filter(record_type=self.record_type, record_id=self.record_id, idempotency_key=key)
            .first()
        )
        if log is None:
            return None
        return answer_kept(
            self.record_type, self.record_id, key, self.digest, log.id, log.event, log.details
        )

    def write_overrides(self, rules: Any, before: Any, after: Any) -> None:
        from orderflow.django.overrides import write_override_rows

        write_override_rows(self, rules, before, after)

    def hand_back(self, record: Any) -> None:
        row = self.row
        for name in STATE_ATTRIBUTES:
            if name != "status" or has_legacy_status(row.model):
                setattr(record, name, getattr(row, name))


def new_work(service: DjangoWorkflowService, call: DjangoCall, command: Command) -> DjangoWork:
    from orderflow.django.rows import model_of, record_type

    principal = command.principal
    return DjangoWork(
        service, call, command, principal, service.acting(principal), service.clock(),  # type: ignore[arg-type]
        record_type(model_of(command.record)),
    )  # fmt: skip


def run(service: DjangoWorkflowService, command: Command) -> TransitionResult:
    """Run ``command`` through the stages in one atomic block on the service's database."""
    using = service.using
    for attempt in (1, 2):
        call = DjangoCall(using)
        work: DjangoWork | None = None
        try:
            with transaction.atomic(using=using):
                work = new_work(service, call, command)
                result = pipeline.stages(work)
                if result.success and not result.dry_run and not result.idempotent:
                    announce(work, result)
            return result
        except IntegrityError:
            if work is None or work.command.idempotency_key is None:
                if command.starting is None or attempt == 2:
                    raise
                continue
            # a concurrent call used the same key first: its answer is this call's
            with transaction.atomic(using=using):
                earlier = pipeline.replay_after_race(work)
            if earlier is not None:
                return earlier
            if command.starting is None or attempt == 2:
                raise
    raise AssertionError("unreachable")  # pragma: no cover


def announce(work: DjangoWork, result: TransitionResult) -> None:
    """Send :data:`transition_committed` once the transaction holding ``result`` commits."""
    from orderflow.django.signals import transition_committed

    send = functools.partial(
        transition_committed.send, sender=work.row.model, result=result,
        record_type=work.record_type, record_id=work.record_id, using=work.using,
    )  # fmt: skip
    transaction.on_commit(send, using=work.using)
