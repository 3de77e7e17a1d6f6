"""``DjangoWorkflowService``: the ``WorkflowService`` API, each call run by the Django driver.

    service = DjangoWorkflowService({"order": order_machine}, effects={"charge": charge})
    result = service.send(order, {"type": "PAY"}, actor=principal_for(request.user))

Every method of :class:`~orderflow.service.WorkflowService` works the same
(start, adopt, send, deliver, transition, bulk_send, can, allowed_events,
...): the same stages, refusals, idempotency keys, dry runs, version checks,
outbox, timers (child machines' too) and durable invocations.  Records are
Django model instances (or ``(Model, pk)`` pairs) of subclasses of
:class:`~orderflow.django.models.WorkflowModel`.
An effect handler is ``handler(call, record, action)``: ``call.using`` is
the database, ``record`` the locked model instance; what it writes through
the ORM commits or rolls back with the transition.

``workflow_enabled`` left as ``None`` follows ``settings.ORDERFLOW["WORKFLOW_ENABLED"]``
(read at each call, so switching it off in the settings falls back to
direct legacy status updates without a new service).
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from django.db import transaction

from orderflow.chart import Machine, Snapshot
from orderflow.django import conf, driver
from orderflow.django.journal import DjangoJournal
from orderflow.django.rows import DjangoRowReader, identity, record_type
from orderflow.errors import ConfigurationError
from orderflow.service.commands import Command
from orderflow.service.overrides import OverrideRules
from orderflow.service.results import Principal, TransitionResult
from orderflow.service.workflow import EffectHandler, FinishHook, RolesLike, WorkflowService
from orderflow.store.base import utcnow


class DjangoWorkflowService(WorkflowService):
    """Persisted transitions for Django models, on the database alias ``using``."""

    #: its journal writes invocation rows (run by :func:`orderflow.django.workers.run_due_invocations`)
    #: and child machines' timer rows, as the SQLAlchemy journal does
    durable_invocations = True
    durable_child_timers = True

    def __init__(
        self,
        machines: Mapping[str, Machine],
        *,
        using: str = "default",
        effects: Mapping[str, EffectHandler] | None = None,
        workflow_enabled: bool | None = None,
        clock: Any = utcnow,
        max_follow_ups: int = 100,
        overrides: Iterable[OverrideRules] = (),
        finish_hooks: Iterable[FinishHook] = (),
        roles: RolesLike = None,
    ) -> None:
        super().__init__(
            _no_sqlalchemy_sessions, machines, effects=effects, clock=clock,
            max_follow_ups=max_follow_ups, overrides=overrides, finish_hooks=finish_hooks,
            roles=roles,
        )  # fmt: skip
        self.using = using
        self._enabled = workflow_enabled
        self.rows = DjangoRowReader()  # type: ignore[assignment]
        self.journal = DjangoJournal(clock, self.rows)  # type: ignore[arg-type]
        self._units = self._reading  # type: ignore[assignment]

    @property
    def workflow_enabled(self) -> bool:
        if self._enabled is not None:
            return self._enabled
        return bool(conf.setting("WORKFLOW_ENABLED"))

    @workflow_enabled.setter
    def workflow_enabled(self, value: bool | None) -> None:
        self._enabled = value

    @contextlib.contextmanager
    def _reading(self) -> Iterator[driver.DjangoCall]:
        """The reads (snapshot, can, allowed_events) run on ``using``, in Django's autocommit."""
        yield driver.DjangoCall(self.using)

    def run(self, command: Command) -> TransitionResult:
        """Run ``command`` through the stages in one ``transaction.atomic`` on ``using``."""
        return driver.run(self, command)

    def joined(self, session: Any) -> DjangoWorkflowService:
        """This service: a call inside a transaction of the caller's is a savepoint of it anyway."""
        return self

    def record_label(self, record: Any) -> str:
        """The record id a bulk failure reports, even for a reference whose key is unusable."""
        if isinstance(record, tuple):
            return str(record[-1]) if record else "?"
        key = getattr(record, "pk", None)
        return "?" if key is None else str(key)

    def on(self, using: str) -> DjangoWorkflowService:
        """This service on another database alias."""
        other = copy.copy(self)
        other.using = using
        return other

    def rerun_finish_hooks(self, record: Any, *, actor: Principal | str | None = None) -> Snapshot:
        from orderflow.service import pipeline

        principal = Principal(actor) if isinstance(actor, str) else actor
        with transaction.atomic(using=self.using):
            command = Command(record, principal=principal)
            work = driver.new_work(self, driver.DjangoCall(self.using), command)
            snapshot = pipeline.not_finished_snapshot(work)
            pipeline.run_finish_hooks(work, snapshot, None)
        return snapshot

    def override_requests(self, record: Any) -> list[Any]:
        """The record's override requests (Django model instances), oldest first."""
        from orderflow.django.models import OverrideRequest

        model, key = identity(record)
        return list(
            OverrideRequest._base_manager.using(self.using)
            .filter(record_type=record_type(model), record_id=str(key))
            .order_by("id")
        )


def _no_sqlalchemy_sessions() -> Any:
    raise ConfigurationError("the Django driver opens no SQLAlchemy session", setting="session")
