"""Django models: the workflow record's fields, and the tables the service writes beside a record.

:class:`WorkflowModel` is the abstract model a record subclasses (Django's
counterpart of :class:`orderflow.store.WorkflowRecord`): its fields have
the same names, and any column names (redeclare a field with its own
``db_column``).  A model without a legacy status sets ``status = None``.

The other five are the tables of :mod:`orderflow.store.workflow_tables`,
with the same table and column names, so a SQLAlchemy reader (the GraphQL
API, a report) can read what the Django driver wrote.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any, ClassVar

from django.db import models

from orderflow.store.base import utcnow
from orderflow.store.workflow_tables import PENDING


def _new_event_id() -> str:
    return str(uuid.uuid4())


class WorkflowModel(models.Model):  # type: ignore[misc]
    """Subclass for any Django model whose rows a machine moves.

        class Invoice(WorkflowModel):
            __workflow_status__ = {"draft": "draft", "sent": "open", "paid": "closed"}
            workflow_state = models.JSONField(null=True, blank=True, db_column="st")

    ``__workflow_status__`` maps a state path to the legacy ``status`` value,
    as on the SQLAlchemy mixin.
    """

    __workflow_status__: ClassVar[Mapping[str, str]] = {}

    workflow_machine = models.CharField(max_length=100, null=True, blank=True, default=None)
    workflow_state = models.JSONField(null=True, blank=True, default=None)
    workflow_context = models.JSONField(null=True, blank=True, default=None)
    workflow_version = models.IntegerField(default=0)
    status = models.CharField(max_length=64, null=True, blank=True, default=None, db_index=True)

    class Meta:
        abstract = True


class TransitionLog(models.Model):  # type: ignore[misc]
    """One transition of one record: who, what, from where to where, and what it did."""

    id = models.BigAutoField(primary_key=True)
    record_type = models.CharField(max_length=100)
    record_id = models.CharField(max_length=64)
    machine = models.CharField(max_length=100)
    machine_version = models.CharField(max_length=64, null=True)
    event = models.CharField(max_length=200)
    from_state = models.JSONField(null=True)
    to_state = models.JSONField(null=True)
    record_version = models.IntegerField()
    actor_user = models.CharField(max_length=200, null=True)
    actor_label = models.CharField(max_length=200, null=True)
    note = models.TextField(default="", blank=True)
    details = models.JSONField(default=dict, db_column="metadata")
    idempotency_key = models.CharField(max_length=200, null=True)
    created_at = models.DateTimeField(default=utcnow)

    class Meta:
        db_table = "workflow_transition_log"
        ordering = ("id",)
        verbose_name = "transition"
        constraints = [
            models.UniqueConstraint(
                fields=("record_type", "record_id", "idempotency_key"),
                name="uq_workflow_transition_log_key",
            )
        ]
        indexes = [
            models.Index(
                fields=("record_type", "record_id", "id"), name="ix_wf_transition_log_record"
            ),
            models.Index(fields=("created_at",), name="ix_wf_transition_log_created"),
        ]

    def __str__(self) -> str:
        return f"{self.record_type} {self.record_id}: {self.event}"


class OutboxEvent(models.Model):  # type: ignore[misc]
    """A domain event a transition emitted, waiting for the relay to publish it."""

    id = models.BigAutoField(primary_key=True)
    event_id = models.CharField(max_length=36, unique=True, default=_new_event_id)
    record_type = models.CharField(max_length=100)
    record_id = models.CharField(max_length=64)
    sequence = models.IntegerField()
    event_type = models.CharField(max_length=200)
    payload = models.JSONField()
    transition = models.ForeignKey(
        TransitionLog, null=True, on_delete=models.PROTECT, db_column="transition_id",
        related_name="outbox_events", db_constraint=True,
    )  # fmt: skip
    status = models.CharField(max_length=16, default=PENDING)
    attempts = models.IntegerField(default=0)
    last_error = models.TextField(null=True)
    available_at = models.DateTimeField(default=utcnow)
    created_at = models.DateTimeField(default=utcnow)
    published_at = models.DateTimeField(null=True)

    class Meta:
        db_table = "workflow_outbox"
        ordering = ("id",)
        verbose_name = "outbox event"
        constraints = [
            models.UniqueConstraint(
                fields=("record_type", "record_id", "sequence"), name="uq_workflow_outbox_sequence"
            )
        ]
        indexes = [
            models.Index(fields=("status", "available_at"), name="ix_workflow_outbox_pending")
        ]

    def __str__(self) -> str:
        return f"{self.event_type} of {self.record_type} {self.record_id} #{self.sequence}"


class ScheduledEvent(models.Model):  # type: ignore[misc]
    """A pending ``after`` timer of one record, due at ``due_at``."""

    id = models.BigAutoField(primary_key=True)
    record_type = models.CharField(max_length=100)
    record_id = models.CharField(max_length=64)
    machine = models.CharField(max_length=100)
    #: the child machine the timer is for, as child ids from the record's machine ("": that machine)
    actor_path = models.CharField(max_length=300, default="", db_default="", blank=True)
    timer_id = models.CharField(max_length=300)
    event = models.JSONField()
    due_at = models.DateTimeField()
    status = models.CharField(max_length=16, default=PENDING)
    attempts = models.IntegerField(default=0)
    last_error = models.TextField(null=True)
    created_at = models.DateTimeField(default=utcnow)
    settled_at = models.DateTimeField(null=True)

    class Meta:
        db_table = "workflow_scheduled_events"
        ordering = ("due_at", "id")
        verbose_name = "scheduled event"
        indexes = [
            models.Index(fields=("status", "due_at"), name="ix_wf_scheduled_events_due"),
            models.Index(
                fields=("record_type", "record_id", "timer_id"),
                name="ix_wf_scheduled_events_record",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.timer_id} of {self.record_type} {self.record_id} ({self.status})"


class Invocation(models.Model):  # type: ignore[misc]
    """A function actor one record's machine started: a durable invocation.

    Written ``pending`` in the transaction of the step that started it and
    ``cancelled`` in the one that stopped it; the worker claims it
    (``running`` under ``lease_token`` until ``lease_until``), runs it and
    delivers its result to the actor at ``actor_path``, then marks it
    ``done``, or ``failed`` after its last attempt (the store's
    :class:`~orderflow.store.Invocation`, the same table).
    """

    id = models.BigAutoField(primary_key=True)
    record_type = models.CharField(max_length=100)
    record_id = models.CharField(max_length=64)
    machine = models.CharField(max_length=100)
    #: the machine that started it, as child ids from the record's machine ("" for that machine)
    actor_path = models.CharField(max_length=300, default="", blank=True)
    #: the child id its result comes back under (``xstate.done.actor.<actor_id>``)
    actor_id = models.CharField(max_length=200)
    src = models.CharField(max_length=200)
    input = models.JSONField(null=True)
    #: one of :data:`~orderflow.store.workflow_tables.INVOCATION_STATES`
    state = models.CharField(max_length=16, default=PENDING)
    attempts = models.IntegerField(default=0)
    due_at = models.DateTimeField()
    lease_until = models.DateTimeField(null=True)
    lease_token = models.CharField(max_length=36, null=True)
    last_error = models.TextField(null=True)
    result = models.JSONField(null=True)
    created_at = models.DateTimeField(default=utcnow)
    settled_at = models.DateTimeField(null=True)

    class Meta:
        db_table = "workflow_invocations"
        ordering = ("due_at", "id")
        verbose_name = "invocation"
        indexes = [
            models.Index(fields=("state", "due_at"), name="ix_workflow_invocations_due"),
            models.Index(
                fields=("record_type", "record_id", "actor_path", "actor_id"),
                name="ix_workflow_invocations_record",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.src} of {self.record_type} {self.record_id} ({self.state})"


class OverrideRequest(models.Model):  # type: ignore[misc]
    """A request to override a blocked step, and its decision."""

    id = models.BigAutoField(primary_key=True)
    record_type = models.CharField(max_length=100)
    record_id = models.CharField(max_length=64)
    request_key = models.CharField(max_length=64, null=True)
    kind = models.CharField(max_length=16)
    reason = models.TextField()
    requested_by = models.CharField(max_length=200)
    status = models.CharField(max_length=16, default=PENDING)
    decided_by = models.CharField(max_length=200, null=True)
    decided_at = models.DateTimeField(null=True)
    note = models.TextField(default="", blank=True)
    created_at = models.DateTimeField(default=utcnow)

    class Meta:
        db_table = "workflow_override_requests"
        ordering = ("id",)
        verbose_name = "override request"
        constraints = [
            models.UniqueConstraint(
                fields=("record_type", "record_id", "request_key"),
                name="uq_workflow_override_requests_key",
            )
        ]
        indexes = [
            models.Index(fields=("record_type", "record_id"), name="ix_wf_override_requests_record")
        ]

    def __str__(self) -> str:
        return f"{self.kind} override of {self.record_type} {self.record_id} ({self.status})"


def as_fields(values: Mapping[str, Any]) -> dict[str, Any]:
    """A journal entry (column names, as the SQLAlchemy journal writes it) as log-model fields."""
    fields = dict(values)
    fields["details"] = fields.pop("metadata")
    return fields
