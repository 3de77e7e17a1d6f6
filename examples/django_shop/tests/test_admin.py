"""The admin, through Django's test client: the change page's workflow panel and the send-event action."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.messages import get_messages
from django.urls import reverse
from shop.models import Order

from orderflow.django.models import TransitionLog

pytestmark = pytest.mark.django_db
CHANGELIST = reverse("admin:shop_order_changelist")


def test_the_change_page_shows_state_allowed_events_with_reasons_diagram_and_log(
    client: Any, boss: Any, new_order: Any
) -> None:
    order = new_order("B-1", "30.00", placed=True)
    client.force_login(boss)
    page = client.get(reverse("admin:shop_order_change", args=[order.pk])).content.decode()
    assert 'class="orderflow-state">&quot;placed&quot;' in page
    assert 'data-event="PAY"' in page and 'data-event="CANCEL"' in page
    assert "judged when sent with its payload: amount" in page
    assert "orderflow-diagram" in page
    assert "PLACE" in page and "orderflow-log" in page


def test_the_allowed_events_are_the_signed_in_users_with_the_guards_reason(
    client: Any, clerk: Any, boss: Any, new_order: Any
) -> None:
    from django.contrib.auth.models import Permission

    order = new_order("B-2", placed=True)
    from shop.workflow import service

    assert service.send(order, {"type": "PAY", "amount": "10.00"}).success
    clerk.is_staff = True
    clerk.save()
    clerk.user_permissions.add(
        *Permission.objects.filter(codename__in=["view_order", "change_order"])
    )
    url = reverse("admin:shop_order_change", args=[order.pk])
    client.force_login(clerk)
    assert "only a shipper may ship an order" in client.get(url).content.decode()
    client.force_login(boss)  # a superuser holds every permission, ship_order too
    assert "only a shipper may ship an order" not in client.get(url).content.decode()


def test_the_action_previews_as_a_dry_run_then_sends_and_lists_each_refusal(
    client: Any, boss: Any, new_order: Any
) -> None:
    placed = [new_order(f"C-{n}", placed=True) for n in range(2)]
    draft = new_order("C-9")
    selected = [o.pk for o in (*placed, draft)]
    client.force_login(boss)
    form = client.post(CHANGELIST, {"action": "send_event", ACTION_CHECKBOX_NAME: selected})
    assert form.status_code == 200 and b"Preview" in form.content
    preview = client.post(
        CHANGELIST,
        {"action": "send_event", ACTION_CHECKBOX_NAME: selected, "orderflow_step": "preview",
         "event": "CANCEL", "payload": "{}", "note": ""},
    )  # fmt: skip
    text = preview.content.decode()
    assert "2 of 3 would move" not in text  # a draft order can be cancelled too
    assert "3 of 3 would move" in text and "Nothing has been written yet" in text
    assert TransitionLog.objects.filter(event="CANCEL").count() == 0
    key = preview.context["form"].initial["key"]
    sent = client.post(
        CHANGELIST,
        {"action": "send_event", ACTION_CHECKBOX_NAME: selected, "orderflow_step": "send",
         "event": "CANCEL", "payload": "{}", "note": "bulk cancel", "key": key},
    )  # fmt: skip
    assert sent.status_code == 302
    assert set(Order.objects.values_list("status", flat=True)) == {"cancelled"}
    assert TransitionLog.objects.filter(event="CANCEL", note="bulk cancel").count() == 3
    assert TransitionLog.objects.filter(event="CANCEL").first().actor_label == "boss"


def test_refusals_are_listed_per_record_and_a_second_click_moves_nothing_twice(
    client: Any, boss: Any, new_order: Any
) -> None:
    placed, draft = new_order("D-1", placed=True), new_order("D-2")
    selected = [placed.pk, draft.pk]
    client.force_login(boss)
    fields = {"action": "send_event", ACTION_CHECKBOX_NAME: selected, "event": "PAY",
              "payload": '{"amount": "10.00"}', "note": ""}  # fmt: skip
    preview = client.post(CHANGELIST, {**fields, "orderflow_step": "preview"})
    rows = preview.context["preview"]
    outcomes = {r.pk: (bool(result and result.success), reason) for r, result, reason in rows}
    assert outcomes[placed.pk] == (True, None)
    assert not outcomes[draft.pk][0] and "PAY" in (outcomes[draft.pk][1] or "")
    key = preview.context["form"].initial["key"]
    for _ in range(2):
        sent = client.post(
            CHANGELIST, {**fields, "orderflow_step": "send", "key": key}, follow=True
        )
    notes = [str(m) for m in get_messages(sent.wsgi_request)] + [
        str(m) for m in sent.context["messages"]
    ]
    assert any(f"Order {draft.pk} refused" in n for n in notes), notes
    assert TransitionLog.objects.filter(event="PAY").count() == 1


def test_a_payload_that_is_not_a_json_object_is_refused_by_the_form(
    client: Any, boss: Any, new_order: Any
) -> None:
    order = new_order("E-1", placed=True)
    client.force_login(boss)
    page = client.post(
        CHANGELIST,
        {"action": "send_event", ACTION_CHECKBOX_NAME: [order.pk], "orderflow_step": "preview",
         "event": "PAY", "payload": "[1, 2]"},
    )  # fmt: skip
    assert b"the payload must be a JSON object" in page.content
    assert not TransitionLog.objects.filter(event="PAY").exists()


def test_a_user_without_the_change_permission_does_not_get_the_action(
    client: Any, clerk: Any, new_order: Any
) -> None:
    from django.contrib.auth.models import Permission

    clerk.is_staff = True
    clerk.save()
    clerk.user_permissions.add(Permission.objects.get(codename="view_order"))
    order = new_order("F-1", placed=True)
    client.force_login(clerk)
    answer = client.post(
        CHANGELIST,
        {"action": "send_event", ACTION_CHECKBOX_NAME: [order.pk], "orderflow_step": "send",
         "event": "CANCEL", "payload": "{}", "key": "x"},
    )  # fmt: skip
    assert answer.status_code == 200  # the changelist again: the action is not offered
    assert Order.objects.get(pk=order.pk).status == "pending"


def test_an_order_added_in_the_admin_starts_its_workflow_as_the_user(
    client: Any, boss: Any
) -> None:
    client.force_login(boss)
    answer = client.post(
        reverse("admin:shop_order_add"),
        {"number": "N-1", "total": "12.00", "workflow_machine": "order", "status": ""},
    )
    assert answer.status_code == 302, answer.content.decode()[:2000]
    order = Order.objects.get(number="N-1")
    assert (order.status, order.workflow_version) == ("new", 1)
    from shop.workflow import service

    assert service.snapshot(order).context["total"] == "12.00"
    assert TransitionLog.objects.get(record_id=str(order.pk)).actor_label == "boss"


@pytest.mark.parametrize(
    "table", ["transitionlog", "outboxevent", "scheduledevent", "invocation", "overriderequest"]
)
def test_the_workflow_tables_are_listed_read_only(
    client: Any, boss: Any, new_order: Any, table: str
) -> None:
    new_order("R-1", placed=True)
    client.force_login(boss)  # even a superuser: only the workflow writes these tables
    changelist = client.get(reverse(f"admin:orderflow_{table}_changelist"))
    assert changelist.status_code == 200
    assert client.get(reverse(f"admin:orderflow_{table}_add")).status_code == 403
    if table == "transitionlog":
        (log,) = TransitionLog.objects.filter(event="PLACE")
        page = client.get(reverse("admin:orderflow_transitionlog_change", args=[log.pk]))
        assert page.status_code == 200 and "PLACE" in page.content.decode()
        assert 'name="_save"' not in page.content.decode()


def test_with_the_workflow_disabled_the_action_moves_the_legacy_status_logged_once(
    client: Any, boss: Any, new_order: Any, settings: Any
) -> None:
    """WORKFLOW_ENABLED=False: the action offers states, previews and sets the legacy status."""
    placed, draft = new_order("L-1", placed=True), new_order("L-2")
    settings.ORDERFLOW = {**settings.ORDERFLOW, "WORKFLOW_ENABLED": False}
    selected = [placed.pk, draft.pk]
    client.force_login(boss)
    form = client.post(CHANGELIST, {"action": "send_event", ACTION_CHECKBOX_NAME: selected})
    assert "shipped" in dict(form.context["form"].fields["event"].choices)
    fields = {"action": "send_event", ACTION_CHECKBOX_NAME: selected, "event": "shipped",
              "payload": "{}", "note": "warehouse by hand"}  # fmt: skip
    preview = client.post(CHANGELIST, {**fields, "orderflow_step": "preview"})
    assert preview.context["moving"] == 2
    assert set(Order.objects.values_list("status", flat=True)) == {"new", "pending"}
    key = preview.context["form"].initial["key"]
    for _ in range(2):  # the second click replays
        client.post(CHANGELIST, {**fields, "orderflow_step": "send", "key": key})
    rows = Order.objects.filter(pk__in=selected)
    assert {(o.status, o.workflow_version) for o in rows} == {("shipped", 3), ("shipped", 2)}
    logs = TransitionLog.objects.filter(event="orderflow.legacy_status")
    assert [(log.note, log.actor_label) for log in logs] == [("warehouse by hand", "boss")] * 2
    refused = client.post(
        CHANGELIST, {**fields, "event": "NOWHERE", "orderflow_step": "send", "key": "k"}
    )  # an event name or an unknown state is not a choice: nothing moves
    assert refused.status_code == 200 and refused.context["form"].errors
    assert TransitionLog.objects.filter(event="orderflow.legacy_status").count() == 2


def test_with_the_workflow_disabled_an_order_is_added_with_its_legacy_status(
    client: Any, boss: Any, settings: Any
) -> None:
    add = reverse("admin:shop_order_add")
    client.force_login(boss)
    fields = {"number": "A-1", "total": "3.00", "workflow_machine": "order", "status": "paid"}
    assert client.post(add, fields).status_code == 302
    assert Order.objects.get(number="A-1").status == "new"  # the workflow's, not the form's
    settings.ORDERFLOW = {**settings.ORDERFLOW, "WORKFLOW_ENABLED": False}
    assert client.post(add, {**fields, "number": "A-2"}).status_code == 302
    added = Order.objects.get(number="A-2")
    assert (added.status, added.workflow_state) == ("paid", None)  # nothing started
