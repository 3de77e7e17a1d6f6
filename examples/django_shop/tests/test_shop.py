"""The shop's order workflow through the Django driver (the README's story, as tests)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.db import transaction
from shop.models import Order
from shop.workflow import service

from orderflow.django.auth import principal_for
from orderflow.django.models import OutboxEvent, ScheduledEvent, TransitionLog
from orderflow.django.signals import transition_committed

pytestmark = pytest.mark.django_db


def test_an_order_is_placed_paid_and_shipped_with_a_log_row_per_step(
    new_order: Any, shipper: Any
) -> None:
    order = new_order("A-1", "25.00", placed=True)
    assert (order.status, order.workflow_version) == ("pending", 2)
    paid = service.send(order, {"type": "PAY", "amount": "25.00"}, actor=principal_for(shipper))
    assert paid.success and paid.status == "paid"
    assert Order.objects.get(pk=order.pk).paid_at is not None  # the effect committed with it
    assert service.send(order, "SHIP", actor=principal_for(shipper)).success
    stored = Order.objects.get(pk=order.pk)
    assert (stored.status, stored.workflow_state["value"], stored.workflow_state["status"]) == (
        "shipped", "shipped", "done",
    )  # fmt: skip
    events = list(
        TransitionLog.objects.filter(record_id=str(order.pk)).values_list("event", flat=True)
    )
    assert events == ["xstate.init", "PLACE", "PAY", "SHIP"]
    assert OutboxEvent.objects.get().event_type == "order.paid"


def test_a_partial_payment_is_refused_with_the_guards_reason_and_nothing_changes(
    new_order: Any,
) -> None:
    order = new_order("A-2", "25.00", placed=True)
    result = service.send(order, {"type": "PAY", "amount": "5.00"})
    assert not result.success
    assert "the payment 5.00 is not the order's total 25.00" in (result.reason or "")
    stored = Order.objects.get(pk=order.pk)
    assert (stored.status, stored.paid_at, stored.workflow_version) == ("pending", None, 2)


def test_only_a_user_with_the_ship_permission_ships(
    new_order: Any, clerk: Any, shipper: Any
) -> None:
    order = new_order("A-3", placed=True)
    assert service.send(order, {"type": "PAY", "amount": "10.00"}).success
    refused = service.send(order, "SHIP", actor=principal_for(clerk))
    assert not refused.success and "only a shipper" in (refused.reason or "")
    assert service.send(order, "SHIP", actor=principal_for(shipper)).success


def test_placing_arms_the_expiry_timer_and_paying_cancels_it(new_order: Any) -> None:
    order = new_order("A-4", placed=True)
    timer = ScheduledEvent.objects.get()
    assert (timer.status, timer.record_id) == ("pending", str(order.pk))
    assert timer.due_at - timer.created_at >= timedelta(days=2) - timedelta(seconds=5)
    service.send(order, {"type": "PAY", "amount": "10.00"})
    assert ScheduledEvent.objects.get().status == "cancelled"


def test_the_shops_own_transaction_holds_the_transition(new_order: Any) -> None:
    order = new_order("A-5", placed=True)
    with pytest.raises(RuntimeError), transaction.atomic():
        service.send(order, {"type": "PAY", "amount": "10.00"})
        raise RuntimeError("the shop's own step failed after the payment")
    stored = Order.objects.get(pk=order.pk)
    assert (stored.status, stored.paid_at) == ("pending", None)
    assert not OutboxEvent.objects.exists()


def test_code_that_listens_hears_each_committed_move(
    new_order: Any, django_capture_on_commit_callbacks: Any
) -> None:
    heard: list[str] = []

    def listener(sender: Any, result: Any, **kwargs: Any) -> None:
        heard.append(f"{sender.__name__} {result.event} -> {result.to_state}")

    transition_committed.connect(listener, sender=Order)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            order = new_order("A-6")
            service.send(order, "PLACE")
            service.send(order, {"type": "PAY", "amount": "10.00"}, dry_run=True)  # no signal
            service.send(order, {"type": "PAY", "amount": "1.00"})  # refused: no signal
    finally:
        transition_committed.disconnect(listener, sender=Order)
    assert heard == ["Order xstate.init -> draft", "Order PLACE -> placed"]


def test_workflow_disabled_falls_back_to_direct_status_updates(
    new_order: Any, settings: Any
) -> None:
    order = new_order("A-7", placed=True)
    settings.ORDERFLOW = {**settings.ORDERFLOW, "WORKFLOW_ENABLED": False}
    result = service.transition(order, "paid")
    assert result.success and result.event == "orderflow.legacy_status"
    assert Order.objects.get(pk=order.pk).status == "paid"
    settings.ORDERFLOW = {**settings.ORDERFLOW, "WORKFLOW_ENABLED": True}
    assert service.snapshot(order).value == "placed"  # the workflow columns were left alone


def test_a_total_of_the_records_own_type_reaches_the_context(new_order: Any) -> None:
    order = new_order("A-8", "12.50")
    assert service.snapshot(order).context["total"] == str(Decimal("12.50"))
