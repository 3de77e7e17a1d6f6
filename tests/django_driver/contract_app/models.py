"""A user's own models: columns with their own names, one with no legacy status at all."""

from __future__ import annotations

from django.db import models

from orderflow.django.models import WorkflowModel


class Ticket(WorkflowModel):
    """A ticket whose workflow columns have the team's own names."""

    __workflow_status__ = {"open": "OPEN", "paid": "PAID", "closed": "CLOSED"}

    title = models.CharField(max_length=100, default="")
    workflow_state = models.JSONField(null=True, blank=True, db_column="wfState")
    workflow_context = models.JSONField(null=True, blank=True, db_column="wfContext")
    workflow_version = models.IntegerField(default=0, db_column="wfVersion")
    status = models.CharField(max_length=64, null=True, blank=True, db_column="legacyStatus")


class Note(models.Model):
    """A row an effect writes in the transition's transaction."""

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE)
    text = models.CharField(max_length=200)


class Memo(WorkflowModel):
    """A record without a legacy status column."""

    status = None


class Quote(WorkflowModel):
    """A user's own table moved by the shipped quotation machine (the hostile-input corpus)."""

    reference = models.CharField(max_length=40)


class Booking(WorkflowModel):
    """A record whose machine charges through a function actor (a durable invocation)."""

    status = None
    workflow_state = models.JSONField(null=True, blank=True, db_column="bookingState")
