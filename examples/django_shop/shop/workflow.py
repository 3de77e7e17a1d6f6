"""The shop's workflow service (``ORDERFLOW["APP"]``), its effect, and the outbox's publisher."""

from __future__ import annotations

import logging
from typing import Any

from orderflow.chart import Action
from orderflow.django.service import DjangoWorkflowService
from shop.machine import order_machine

logger = logging.getLogger("shop.workflow")


def mark_paid(call: Any, order: Any, action: Action) -> None:
    """Stamp the payment time in the transition's own transaction (both commit, or neither)."""
    from shop.models import Order

    Order.objects.using(call.using).filter(pk=order.pk).update(paid_at=service.clock())


def publish(event: Any) -> None:
    """Where the outbox's events go: here, the log (a real shop would call its broker)."""
    logger.info("published %s for %s %s", event.event_type, event.record_type, event.record_id)


def open_order(order: Any, *, actor: Any = None) -> Any:
    """Start a new order's workflow with its total in the context."""
    return service.start(order, input={"total": str(order.total)}, actor=actor)


service = DjangoWorkflowService(
    {"order": order_machine()},
    effects={"mark_paid": mark_paid},
    roles={"shipper": ["shop.ship_order"]},
)
