"""The admin: a workflow model's change page shows its state, diagram, allowed events and log;
the changelist gets a "send event" action with a dry-run preview before anything commits.

    @admin.register(Order)
    class OrderAdmin(WorkflowAdmin):
        list_display = ("number", "status")

The service is ``ORDERFLOW["APP"]`` unless the admin names its own
(``workflow_service = ...``).  A record added in the admin starts its
workflow as it is saved (``workflow_input(obj)`` gives the machine's input).  Who acts is the signed-in user, through
:func:`~orderflow.django.auth.principal_for`: the allowed events and the
guards' reasons are the ones that user would meet, and the log names them.
The "send event" action needs the model's change permission; it previews
every selected record as a dry run (what each would do, or why it would
not), then sends for real with one idempotency key per preview (a second
click on "Send" replays, it does not move anything twice) and lists each
record it refused with the reason.  With ``WORKFLOW_ENABLED`` off the action offers the
model's states instead and sets each record's legacy status (``service.transition``: the
direct, logged status update).  The legacy ``status`` is read-only on a change page.

The tables the service writes beside records (transition log, outbox,
scheduled events, invocations, override requests) are registered read-only:
staff see what the workflow wrote, and only the workflow writes it.
"""

from __future__ import annotations

import contextvars
import json
import uuid
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.template.response import TemplateResponse
from django.utils.html import format_html, format_html_join
from django.utils.text import capfirst

from orderflow.django import conf
from orderflow.django.auth import principal_for
from orderflow.django.models import (
    Invocation,
    OutboxEvent,
    OverrideRequest,
    ScheduledEvent,
    TransitionLog,
)
from orderflow.django.rows import identity, record_type, state_fields
from orderflow.errors import ExportError, OrderflowError
from orderflow.export import to_mermaid, to_svg
from orderflow.service.identity import is_internal_event
from orderflow.service.results import TransitionResult

STEP = "orderflow_step"
#: who is looking at a change page (per request: a ModelAdmin is shared by every thread)
_viewer: contextvars.ContextVar[Any] = contextvars.ContextVar(
    "orderflow_admin_viewer", default=None
)


class SendEventForm(forms.Form):  # type: ignore[misc]
    """What the "send event" action asks: the event, its payload, a note; and the preview's key."""

    event = forms.ChoiceField(label="Event")
    payload = forms.CharField(
        label="Payload (JSON object)", required=False, initial="{}",
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
    )  # fmt: skip
    note = forms.CharField(label="Note for the log", required=False, max_length=500)
    key = forms.CharField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args: Any, events: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["event"].choices = [(name, name) for name in events]

    def clean_payload(self) -> dict[str, Any]:
        text = self.cleaned_data.get("payload") or "{}"
        try:
            payload = json.loads(text)
        except ValueError as exc:
            raise forms.ValidationError(f"the payload is not JSON: {exc}") from exc
        if not isinstance(payload, dict):
            raise forms.ValidationError("the payload must be a JSON object ({...})")
        if "type" in payload:
            raise forms.ValidationError("the event type is chosen above, not in the payload")
        return payload

    def event_data(self) -> dict[str, Any]:
        return {**self.cleaned_data["payload"], "type": self.cleaned_data["event"]}


class WorkflowAdmin(admin.ModelAdmin):  # type: ignore[misc]
    """A ``ModelAdmin`` for a :class:`~orderflow.django.models.WorkflowModel` subclass."""

    workflow_service: Any = None
    actions = ("send_event",)
    workflow_fields = (
        "workflow_panel", "workflow_log", "workflow_machine", "workflow_state",
        "workflow_context", "workflow_version",
    )  # fmt: skip

    def service(self) -> Any:
        return self.workflow_service if self.workflow_service is not None else conf.get_service()

    def get_readonly_fields(self, request: Any, obj: Any = None) -> tuple[str, ...]:
        """On a change page the workflow's fields, the legacy ``status`` too, are only shown:
        a record moves by events (or, with the workflow disabled, by the logged status update)."""
        own = tuple(super().get_readonly_fields(request, obj))
        if obj is None:
            return own
        shown = (*self.workflow_fields, *_legacy_status(self.model))
        return own + tuple(name for name in shown if name not in own)

    def get_exclude(self, request: Any, obj: Any = None) -> tuple[str, ...]:
        """A new record gets its workflow fields (and its legacy status) from ``start``, not a
        form; with the workflow disabled nothing starts, and the status is typed in as before."""
        own = tuple(super().get_exclude(request, obj) or ())
        if obj is not None:
            return own
        status = _legacy_status(self.model) if self.service().workflow_enabled else ()
        return (*own, "workflow_state", "workflow_context", "workflow_version", *status)

    def formfield_for_dbfield(self, db_field: Any, request: Any, **kwargs: Any) -> Any:
        """On the add page the machine is one of the service's, chosen from a list."""
        if db_field.name != "workflow_machine":
            return super().formfield_for_dbfield(db_field, request, **kwargs)
        names = sorted(self.service().machines)
        return forms.TypedChoiceField(
            label=capfirst(db_field.verbose_name), choices=[(name, name) for name in names],
            initial=names[0] if len(names) == 1 else None, required=True,
        )  # fmt: skip

    def workflow_input(self, obj: Any) -> Any:
        """The ``input`` a record added in the admin starts its machine with (override it)."""
        return None

    def save_model(self, request: Any, obj: Any, form: Any, change: bool) -> None:
        """Save; a record added here starts its workflow in the same transaction, as the user."""
        super().save_model(request, obj, form, change)
        if change or obj.workflow_state is not None:
            return
        result = self.service().start(
            obj, input=self.workflow_input(obj), actor=principal_for(request.user)
        )
        if not result.success:
            self.message_user(
                request, f"The workflow did not start: {result.reason}", messages.WARNING
            )

    # -- the change page ---------------------------------------------------------------------

    @admin.display(description="Workflow")  # type: ignore[untyped-decorator]
    def workflow_panel(self, obj: Any) -> Any:
        if obj is None or obj.pk is None or obj.workflow_state is None:
            return "not started"
        service = self.service()
        actor = principal_for(_viewer.get())
        try:
            snapshot = service.snapshot(obj)
        except OrderflowError as exc:
            return format_html('<p class="errornote">{}</p>', str(exc))
        machine = service.machine_of(snapshot)
        options = service.allowed_events(obj, actor=actor)
        rows = format_html_join(
            "", '<tr class="orderflow-event" data-event="{}"><td>{}</td><td>{}</td><td>{}</td></tr>',
            (
                (o.event, o.event, "allowed" if o.allowed else "refused",
                 o.reason or ", ".join(o.targets))
                for o in options
            ),
        )  # fmt: skip
        return format_html(
            '<div class="orderflow-workflow"><p>State <strong class="orderflow-state">{}</strong>'
            " &middot; status {} &middot; version {} &middot; {}</p>"
            "<table><thead><tr><th>Event</th><th>Now</th><th>Why / where to</th></tr></thead>"
            "<tbody>{}</tbody></table>{}</div>",
            json.dumps(snapshot.value), getattr(obj, "status", None) or "-",
            obj.workflow_version, snapshot.status, rows, diagram(machine, snapshot),
        )  # fmt: skip

    @admin.display(description="Transition log")  # type: ignore[untyped-decorator]
    def workflow_log(self, obj: Any) -> Any:
        if obj is None or obj.pk is None:
            return "-"
        model, key = identity(obj)
        logs = (
            TransitionLog.objects.using(self.service().using)
            .filter(record_type=record_type(model), record_id=str(key))
            .order_by("-id")[:100]
        )
        rows = format_html_join(
            "", "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (log.created_at.strftime("%Y-%m-%d %H:%M:%S"), log.event,
                 json.dumps(log.from_state), json.dumps(log.to_state),
                 log.actor_label or log.actor_user or "-", log.note)
                for log in logs
            ),
        )  # fmt: skip
        return format_html(
            '<table class="orderflow-log"><thead><tr><th>When</th><th>Event</th><th>From</th>'
            "<th>To</th><th>Who</th><th>Note</th></tr></thead><tbody>{}</tbody></table>",
            rows,
        )

    def change_view(self, request: Any, object_id: str, *args: Any, **kwargs: Any) -> Any:
        token = _viewer.set(request.user)  # the panel shows what this user may do
        try:
            response = super().change_view(request, object_id, *args, **kwargs)
            if hasattr(response, "render"):
                response.render()  # while the viewer is known: the panel renders in here
            return response
        finally:
            _viewer.reset(token)

    # -- the bulk action ---------------------------------------------------------------------

    @admin.action(  # type: ignore[untyped-decorator]
        description="Send an event to the selected records", permissions=["change"]
    )
    def send_event(self, request: Any, queryset: Any) -> Any:
        service = self.service()
        step = request.POST.get(STEP)
        legacy = not service.workflow_enabled  # the fallback: a logged direct status update
        choices = legacy_states(self.model) if legacy else outside_events(service)
        form = SendEventForm(request.POST if step else None, events=choices)
        if legacy:
            form.fields["event"].label = "Move to state (workflow disabled: direct status update)"
        records = list(queryset)
        if step and form.is_valid():
            actor = principal_for(request.user)
            event = form.event_data()
            if step == "send":
                if legacy:
                    return self._move(request, service, records, form, actor, event)
                return self._send(request, service, records, form, actor, event)
            preview = [self._dry_run(service, record, event, actor, legacy) for record in records]
            form = SendEventForm(
                initial={**form.cleaned_data, "payload": json.dumps(form.cleaned_data["payload"]),
                         "key": uuid.uuid4().hex},
                events=choices,
            )  # fmt: skip
            return self._page(request, records, form, preview)
        return self._page(request, records, form, None)

    def _dry_run(
        self, service: Any, record: Any, event: dict[str, Any], actor: Any, legacy: bool = False
    ) -> tuple[Any, TransitionResult | None, str | None]:
        try:
            if legacy:
                result = service.transition(
                    record, event["type"], params=_payload(event), actor=actor, dry_run=True
                )
            else:
                result = service.send(record, event, actor=actor, dry_run=True)
        except OrderflowError as exc:
            return record, None, str(exc)
        return record, result, None if result.success else result.reason

    def _move(
        self, request: Any, service: Any, records: list[Any], form: SendEventForm, actor: Any,
        event: dict[str, Any],
    ) -> None:  # fmt: skip
        """With the workflow disabled: each record's legacy status set for the chosen state, logged."""
        key = form.cleaned_data.get("key") or uuid.uuid4().hex
        moved, state = 0, event["type"]
        for record in records:
            try:
                result = service.transition(
                    record, state, params=_payload(event), actor=actor,
                    idempotency_key=f"admin:{key}", note=form.cleaned_data.get("note") or "",
                )  # fmt: skip
                reason = result.reason
            except OrderflowError as exc:
                result, reason = None, str(exc)
            if result is not None and result.success:
                moved += 1
            else:
                self.message_user(
                    request, f"{capfirst(self.model._meta.verbose_name)} {record.pk} refused: "
                    f"{reason}", messages.WARNING,
                )  # fmt: skip
        self.message_user(
            request, f"{state} (direct status update): {moved} of {len(records)} records moved.",
            messages.SUCCESS if moved else messages.WARNING,
        )  # fmt: skip
        return None

    def _send(
        self, request: Any, service: Any, records: list[Any], form: SendEventForm, actor: Any,
        event: dict[str, Any],
    ) -> None:  # fmt: skip
        key = form.cleaned_data.get("key") or uuid.uuid4().hex
        try:
            done = service.bulk_send(
                records, event, actor=actor, idempotency_key=f"admin:{key}",
                note=form.cleaned_data.get("note") or "",
            )  # fmt: skip
        except OrderflowError as exc:  # refused for the whole job (a reserved field, ...)
            self.message_user(request, f"{event['type']} refused: {exc}", messages.ERROR)
            return None
        self.message_user(
            request, f"{event['type']}: {done.succeeded} of {len(records)} records moved.",
            messages.SUCCESS if done.succeeded else messages.WARNING,
        )  # fmt: skip
        for failure in done.failures:
            self.message_user(
                request, f"{capfirst(self.model._meta.verbose_name)} {failure.record_id} refused: "
                f"{failure.reason}", messages.WARNING,
            )  # fmt: skip
        return None

    def _page(
        self, request: Any, records: list[Any], form: SendEventForm, preview: Any
    ) -> TemplateResponse:
        context = {
            **self.admin_site.each_context(request),
            "title": "Send an event",
            "opts": self.model._meta,
            "records": records,
            "form": form,
            "preview": preview,
            "moving": sum(1 for _, result, _ in preview or () if result and result.success),
            "step": STEP,
            "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "orderflow/admin/send_event.html", context)


def _payload(event: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in event.items() if name != "type"}


def legacy_states(model: type[Any]) -> list[str]:
    """The states a record may be put in by a direct status update (``__workflow_status__``)."""
    return sorted(getattr(model, "__workflow_status__", {}) or {})


def _legacy_status(model: type[Any]) -> tuple[str, ...]:
    """``("status",)`` when the model keeps a legacy status column (it mirrors the workflow)."""
    return ("status",) if "status" in state_fields(model) else ()


def outside_events(service: Any) -> list[str]:
    """The event types of the service's machines a person may send (no internal ones)."""
    names: set[str] = set()
    for machine in service.machines.values():
        names.update(e for e in machine.events if not is_internal_event(machine, e) and e != "*")
    return sorted(names)


def diagram(machine: Any, snapshot: Any) -> Any:
    """The machine with the record's states highlighted: SVG with Graphviz, else Mermaid text."""
    try:
        svg = to_svg(machine, highlight=snapshot)
    except ExportError:
        return format_html(
            '<pre class="orderflow-diagram mermaid">{}</pre>',
            to_mermaid(machine, highlight=snapshot),
        )
    start = svg.find("<svg")
    return format_html('<div class="orderflow-diagram">{}</div>', _trusted(svg[start:]))


def _trusted(svg: str) -> Any:
    """Graphviz's own SVG of our own diagram model (state names are escaped by the renderer)."""
    from django.utils.safestring import mark_safe

    return mark_safe(svg)


class WorkflowTableAdmin(admin.ModelAdmin):  # type: ignore[misc]
    """A table the service writes (log, outbox, timers, invocations, overrides): read-only."""

    def has_add_permission(self, request: Any) -> bool:
        return False

    def has_change_permission(self, request: Any, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: Any, obj: Any = None) -> bool:
        return False


@admin.register(TransitionLog)
class TransitionLogAdmin(WorkflowTableAdmin):
    list_display = ("id", "record_type", "record_id", "event", "actor_label", "created_at")
    list_filter = ("record_type", "machine")
    search_fields = ("record_id", "event", "idempotency_key")


@admin.register(OutboxEvent)
class OutboxEventAdmin(WorkflowTableAdmin):
    list_display = ("id", "record_type", "record_id", "sequence", "event_type", "status")
    list_filter = ("status", "record_type")
    search_fields = ("record_id", "event_id", "event_type")


@admin.register(ScheduledEvent)
class ScheduledEventAdmin(WorkflowTableAdmin):
    list_display = ("id", "record_type", "record_id", "actor_path", "timer_id", "due_at", "status")
    list_filter = ("status", "record_type")
    search_fields = ("record_id", "timer_id")


@admin.register(Invocation)
class InvocationAdmin(WorkflowTableAdmin):
    list_display = (
        "id", "record_type", "record_id", "actor_path", "actor_id", "src", "state", "attempts",
        "due_at",
    )  # fmt: skip
    list_filter = ("state", "src", "record_type")
    search_fields = ("record_id", "actor_id", "src")


@admin.register(OverrideRequest)
class OverrideRequestAdmin(WorkflowTableAdmin):
    list_display = ("id", "record_type", "record_id", "kind", "status", "requested_by")
    list_filter = ("kind", "status", "record_type")
    search_fields = ("record_id", "request_key")
