"""The shop's one model: an order whose legacy ``status`` column predates the workflow."""

from __future__ import annotations

from django.db import models

from orderflow.django.models import WorkflowModel


class Order(WorkflowModel):
    """An order; ``status`` keeps the values the shop's reports and django-fsm used."""

    __workflow_status__ = {
        "draft": "new",
        "placed": "pending",
        "paid": "paid",
        "shipped": "shipped",
        "cancelled": "cancelled",
        "expired": "cancelled",
    }

    number = models.CharField(max_length=20, unique=True)
    total = models.DecimalField(max_digits=10, decimal_places=2)
    paid_at = models.DateTimeField(null=True, blank=True)
    # the team's own column names for the snapshot
    workflow_state = models.JSONField(null=True, blank=True, db_column="flow_state")
    workflow_context = models.JSONField(null=True, blank=True, db_column="flow_context")

    class Meta:
        permissions = [("ship_order", "Can ship orders")]

    def __str__(self) -> str:
        return self.number
