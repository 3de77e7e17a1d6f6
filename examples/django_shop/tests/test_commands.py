"""The management commands: inspect, export, backfill (with its mapping) and the worker."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from shop.models import Order
from shop.workflow import service

from orderflow.django.models import OutboxEvent, ScheduledEvent, TransitionLog
from orderflow.django.workers import fire_due_timers, relay_outbox
from orderflow.errors import PublishError

pytestmark = pytest.mark.django_db


def run(*args: Any) -> str:
    out = StringIO()
    call_command(*args, stdout=out, stderr=StringIO())
    return out.getvalue()


def test_inspect_shows_the_state_the_events_with_reasons_and_the_log(
    new_order: Any, clerk: Any
) -> None:
    order = new_order("I-1", placed=True)
    service.send(order, {"type": "PAY", "amount": "10.00"})
    report = json.loads(
        run("orderflow_inspect", "shop.Order", str(order.pk), "--json", "--as-user", "clara")
    )
    assert report["state"] == "paid"
    (ship,) = report["events"]
    assert (ship["event"], ship["allowed"]) == ("SHIP", False)
    assert "only a shipper may ship an order" in ship["reason"]
    assert [row["event"] for row in report["log"]] == ["xstate.init", "PLACE", "PAY"]
    text = run("orderflow_inspect", "shop.Order", str(order.pk))
    assert '"paid" (active)' in text and "PAY" in text


def test_inspect_says_what_is_wrong_with_a_bad_model_or_key() -> None:
    with pytest.raises(CommandError, match="no model"):
        run("orderflow_inspect", "shop.Nothing", "1")
    with pytest.raises(CommandError, match=r"auth\.User is not a WorkflowModel"):
        run("orderflow_inspect", "auth.User", "1")
    with pytest.raises(CommandError, match="abc"):
        run("orderflow_inspect", "shop.Order", "abc")


def test_export_writes_the_machine_with_a_records_state_highlighted(
    new_order: Any, tmp_path: Path
) -> None:
    order = new_order("X-1", placed=True)
    assert "stateDiagram-v2" in run("orderflow_export", "--format", "mermaid")
    config = json.loads(run("orderflow_export", "order", "--format", "xstate"))
    assert config["id"] == "order"
    target = tmp_path / "order.dot"
    run(
        "orderflow_export",
        "--format",
        "dot",
        "--record",
        f"shop.Order:{order.pk}",
        "-o",
        str(target),
    )
    assert "placed" in target.read_text()


def test_backfill_adopts_legacy_orders_once_and_reports_the_unmapped(tmp_path: Path) -> None:
    for number, status in (
        ("L-1", "pending"),
        ("L-2", "paid"),
        ("L-3", "pending"),
        ("L-4", "lost"),
    ):
        Order.objects.create(number=number, total=Decimal("7.00"), status=status)
    mapping = tmp_path / "statuses.json"
    mapping.write_text(json.dumps({
        "machine": "order",
        "statuses": {
            "pending": {"state": "placed", "context": {"total": "$total", "paid": "0"}},
            "paid": {"state": "paid", "context": {"total": "$total", "paid": "$total"}},
        },
    }))  # fmt: skip
    with pytest.raises(CommandError, match="1 records could not be adopted"):
        run(
            "orderflow_backfill",
            "shop.Order",
            "--mapping",
            str(mapping),
            "--dry-run",
            "--no-progress",
        )
    assert not Order.objects.exclude(workflow_state=None).exists()  # the dry run wrote nothing
    with pytest.raises(CommandError):
        run("orderflow_backfill", "shop.Order", "--mapping", str(mapping), "--no-progress")
    adopted = Order.objects.exclude(workflow_state=None)
    assert sorted(adopted.values_list("number", flat=True)) == ["L-1", "L-2", "L-3"]
    assert service.snapshot(Order.objects.get(number="L-1")).context["total"] == "7.00"
    assert ScheduledEvent.objects.filter(status="pending").count() == 2  # placed arms its expiry
    with pytest.raises(CommandError):
        run("orderflow_backfill", "shop.Order", "--mapping", str(mapping), "--no-progress")
    assert TransitionLog.objects.filter(event="orderflow.backfill").count() == 3  # not twice


def test_a_due_timer_expires_the_order_once_and_the_worker_command_runs_a_batch(
    new_order: Any,
) -> None:
    order = new_order("W-1", placed=True)
    due = ScheduledEvent.objects.get().due_at
    early = fire_due_timers(service, now=due - timedelta(seconds=1))
    assert len(early) == 0
    report = fire_due_timers(service, now=due + timedelta(seconds=1))
    assert len(report.fired) == 1
    stored = Order.objects.get(pk=order.pk)
    assert (stored.status, stored.workflow_state["value"]) == ("cancelled", "expired")
    assert TransitionLog.objects.filter(actor_user="orderflow.timer-worker").count() == 1
    assert len(fire_due_timers(service, now=due + timedelta(seconds=2))) == 0
    assert "stopped" not in run("orderflow_worker", "--once")


def test_a_timer_whose_record_no_longer_takes_it_is_dropped_with_the_reason(new_order: Any) -> None:
    order = new_order("W-2", placed=True)
    row = ScheduledEvent.objects.get()
    Order.objects.filter(pk=order.pk).delete()
    report = fire_due_timers(service, now=row.due_at + timedelta(seconds=1))
    assert report.cancelled == [row.pk]
    assert ScheduledEvent.objects.get().status == "cancelled"


def test_the_relay_publishes_in_order_per_record_and_retries_a_failure(new_order: Any) -> None:
    first, second = new_order("R-1", placed=True), new_order("R-2", placed=True)
    for order in (first, second):
        service.send(order, {"type": "PAY", "amount": "10.00"})
    sent: list[tuple[str, int]] = []
    # the broker refuses the first order's event once, whichever record the relay takes first
    refused: list[str] = []

    def flaky(message: Any) -> None:
        if message.record_id == str(first.pk) and not refused:
            refused.append(message.record_id)
            raise PublishError("broker away", retryable=True)
        sent.append((message.record_id, message.sequence))

    report = relay_outbox(service, flaky)
    assert (len(report.published), len(report.retried)) == (1, 1)
    retry = OutboxEvent.objects.get(record_id=str(first.pk))
    assert (retry.status, retry.attempts) == ("pending", 1)
    later = relay_outbox(service, flaky, now=retry.available_at + timedelta(seconds=1))
    assert len(later.published) == 1
    assert set(OutboxEvent.objects.values_list("status", flat=True)) == {"published"}
    assert sorted(sent) == sorted([(str(first.pk), 1), (str(second.pk), 1)])


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["orderflow_inspect", "shop.Order", "{pk}", "--log", "-5"], "--log: -5 is below"),
        (["orderflow_inspect", "shop.Order", "{pk}", "--log", "x"], "'x' is not a number"),
        (["orderflow_worker", "--once", "--batch", "-3"], "--batch: -3 is below"),
        (["orderflow_worker", "--once", "--batch", "0"], "--batch: 0 is below"),
        (["orderflow_worker", "--once", "--interval", "-1"], "--interval: -1 is below"),
        (["orderflow_export", "--record", "shop.Order:{pk}", "-o", "/no/such/dir/x.mmd"],
         "cannot write '/no/such/dir/x.mmd'"),
    ],
)  # fmt: skip
def test_a_bad_option_is_a_command_error_and_nothing_runs(
    new_order: Any, args: list[str], says: str
) -> None:
    order = new_order("B-1", placed=True)
    expired = ScheduledEvent.objects.get()
    expired.due_at = expired.due_at - timedelta(days=3)  # due: a worker that ran would fire it
    expired.save()
    before = (Order.objects.get(pk=order.pk).workflow_version, TransitionLog.objects.count())
    with pytest.raises(CommandError, match=says):
        run(*(arg.format(pk=order.pk) for arg in args))
    after = (Order.objects.get(pk=order.pk).workflow_version, TransitionLog.objects.count())
    assert after == before and ScheduledEvent.objects.get().status == "pending"


def test_backfills_progress_bar_goes_to_the_commands_stderr_and_the_report_to_stdout(
    tmp_path: Path, capfd: Any
) -> None:
    Order.objects.create(number="P-1", total=Decimal("7.00"), status="pending")
    mapping = tmp_path / "statuses.json"
    mapping.write_text(json.dumps({
        "machine": "order",
        "statuses": {"pending": {"state": "placed", "context": {"total": "$total", "paid": "0"}}},
    }))  # fmt: skip
    out, err = StringIO(), StringIO()
    call_command(
        "orderflow_backfill", "shop.Order", "--mapping", str(mapping), stdout=out, stderr=err
    )
    assert out.getvalue() == "adopted 1 (pending: 1); skipped 0; failed 0\n"
    assert capfd.readouterr().out == ""  # nothing of the bar on the process's own stdout
