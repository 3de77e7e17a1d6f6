"""The project's hostile-input corpus (tests/test_hostile_input.py) through the admin's bulk action.

A signed-in staff user posts each corpus entry to the "send event" action, at the preview
and at the send step: once with the corpus's own event type, once with its payload on an
event the order machine handles (``PAY``).  Each is a refused form, a preview where nothing
would move, or per-record refusals; never a server error, and the order's row, the log,
the outbox and the timers stay as they were.  Without the change permission the action is
not offered at all.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.auth.models import Permission, User
from django.urls import reverse
from shop.models import Order

from orderflow.django.models import OutboxEvent, ScheduledEvent, TransitionLog

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "tests"))
from test_hostile_input import CORPUS  # the one corpus, not a copy

pytestmark = pytest.mark.django_db
CHANGELIST = reverse("admin:shop_order_changelist")


def stored(order: Order) -> tuple[Any, ...]:
    row = Order.objects.get(pk=order.pk)
    return (
        row.workflow_state, row.workflow_context, row.workflow_version, row.status,
        list(TransitionLog.objects.values_list("id", "event", "actor_user")),
        list(OutboxEvent.objects.values_list("id", "status")),
        list(ScheduledEvent.objects.values_list("id", "status")),
    )  # fmt: skip


def staff(codenames: list[str]) -> User:
    user = User.objects.create_user("stan", password="pw", is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    return User.objects.get(pk=user.pk)


def post(client: Any, order: Order, step: str, event: str, payload: dict[str, Any]) -> Any:
    fields = {"action": "send_event", ACTION_CHECKBOX_NAME: [order.pk], "orderflow_step": step,
              "event": event, "payload": json.dumps(payload), "note": "", "key": "k-" + step}  # fmt: skip
    return client.post(CHANGELIST, fields, follow=True)


def refused(answer: Any) -> bool:
    """A form with errors, a preview where nothing moves, or only refusals after a send."""
    assert answer.status_code == 200, answer.status_code
    context = answer.context
    form = context.get("form") if context else None
    if form is not None and form.errors:
        return True
    preview = context.get("preview") if context else None
    if preview is not None:
        return not any(result and result.success for _, result, _ in preview)
    notes = [str(m) for m in context["messages"]] if context else []
    return any("refused" in n for n in notes) and not any(
        "1 of 1 records moved" in n for n in notes
    )


@pytest.mark.parametrize("user", ["staff with the change permission", "superuser"])
def test_the_corpus_through_the_bulk_action_is_refused_and_changes_nothing(
    client: Any, new_order: Any, boss: Any, user: str
) -> None:
    order = new_order("H-1", placed=True)
    client.force_login(boss if user == "superuser" else staff(["view_order", "change_order"]))
    before = stored(order)
    for attempt, event_type, payload in CORPUS:
        for event in (event_type, "PAY"):
            for step in ("preview", "send"):
                answer = post(client, order, step, event, payload)
                assert refused(answer), (attempt, event, step, answer.content.decode()[-1500:])
                assert stored(order) == before, (attempt, event, step)


def test_without_the_change_permission_the_corpus_changes_nothing(
    client: Any, new_order: Any
) -> None:
    order = new_order("H-2", placed=True)
    client.force_login(staff(["view_order"]))
    before = stored(order)
    for attempt, event_type, payload in CORPUS:
        for event in (event_type, "PAY"):
            answer = post(client, order, "send", event, payload)
            assert answer.status_code == 200 and answer.context.get("preview") is None, attempt
            assert stored(order) == before, attempt


def test_a_payload_naming_another_actor_cannot_change_who_is_logged(
    client: Any, new_order: Any, boss: Any
) -> None:
    """The admin acts as the signed-in user (``principal_for``), never as a payload's actor."""
    order = new_order("H-3", placed=True)
    clerk = staff(["view_order", "change_order"])
    client.force_login(clerk)
    forged = {"amount": "10.00", "actor": {"id": str(boss.pk), "label": "boss"}}
    assert refused(post(client, order, "send", "PAY", forged))
    assert not TransitionLog.objects.filter(event="PAY").exists()
    post(client, order, "send", "PAY", {"amount": "10.00"})
    logged = TransitionLog.objects.get(event="PAY")
    assert (logged.actor_user, logged.actor_label) == (str(clerk.pk), "stan")


def test_the_change_page_does_not_let_the_legacy_status_or_the_machine_be_typed_in(
    client: Any, new_order: Any, boss: User
) -> None:
    """The status mirrors the workflow: a change form cannot set it past the log and the version."""
    order = new_order("H-1", placed=True)
    before = stored(order)
    client.force_login(boss)
    url = reverse("admin:shop_order_change", args=[order.pk])
    fields = {"number": "H-1", "total": "10.00", "status": "shipped", "workflow_machine": "x",
              "workflow_version": "99", "paid_at_0": "", "paid_at_1": ""}  # fmt: skip
    assert client.post(url, fields).status_code == 302
    assert stored(order) == before
    assert "status" not in client.get(url).context["adminform"].form.fields


def test_an_unknown_machine_on_the_add_page_is_a_form_error_and_adds_nothing(
    client: Any, boss: User
) -> None:
    client.force_login(boss)
    add = reverse("admin:shop_order_add")
    answer = client.post(add, {"number": "N-9", "total": "1.00", "workflow_machine": "nope"})
    assert (
        answer.status_code == 200 and "workflow_machine" in answer.context["adminform"].form.errors
    )
    assert not Order.objects.exists() and not TransitionLog.objects.exists()
