"""``manage.py orderflow_inspect shop.Order 12``: a record's state, the events it takes, its log."""

from __future__ import annotations

import json
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from orderflow.django.auth import principal_for
from orderflow.django.management.commands._common import at_least, service, workflow_model
from orderflow.django.models import TransitionLog
from orderflow.django.rows import identity, record_type
from orderflow.errors import OrderflowError


class Command(BaseCommand):  # type: ignore[misc]
    help = "Show a record's workflow: state, allowed events (with guard reasons) and its log."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("model", help="app_label.ModelName")
        parser.add_argument("pk", help="the record's primary key")
        parser.add_argument("--as-user", help="whose permissions the allowed events are for")
        parser.add_argument("--json", action="store_true", help="print JSON")
        parser.add_argument(
            "--log", type=at_least(0), default=20, help="how many log rows (newest)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        workflow = service()
        model = workflow_model(options["model"])
        actor = None
        if options["as_user"]:
            users = get_user_model()._default_manager
            user = users.filter(**{get_user_model().USERNAME_FIELD: options["as_user"]}).first()
            if user is None:
                raise CommandError(f"no user {options['as_user']!r}")
            actor = principal_for(user)
        try:
            ref = (model, options["pk"])
            key = identity(ref)[1]
            snapshot = workflow.snapshot(ref)
            events = workflow.allowed_events(ref, actor=actor)
        except OrderflowError as exc:
            raise CommandError(str(exc)) from exc
        logs = (
            TransitionLog.objects.using(workflow.using)
            .filter(record_type=record_type(model), record_id=str(key))
            .order_by("-id")[: options["log"]]
        )
        report = {
            "record": {"type": record_type(model), "id": str(key)},
            "machine": snapshot.machine.id if snapshot.machine else None,
            "state": snapshot.value,
            "status": snapshot.status,
            "events": [
                {"event": o.event, "allowed": o.allowed, "reason": o.reason, "targets": list(o.targets)}
                for o in events
            ],
            "log": [
                {"id": log.id, "event": log.event, "from": log.from_state, "to": log.to_state,
                 "actor": log.actor_label, "at": log.created_at.isoformat(), "note": log.note}
                for log in reversed(list(logs))
            ],
        }  # fmt: skip
        if options["json"]:
            self.stdout.write(json.dumps(report, indent=2, default=str))
            return
        self.stdout.write(
            f"{report['record']['type']} {key}: {json.dumps(snapshot.value)} ({snapshot.status})"
        )
        for option in report["events"]:
            mark = "yes" if option["allowed"] else "no "
            why = option["reason"] or ", ".join(option["targets"])
            self.stdout.write(f"  {mark} {option['event']}: {why}")
        for log in report["log"]:
            self.stdout.write(
                f"  #{log['id']} {log['at']} {log['event']}: {json.dumps(log['from'])} -> "
                f"{json.dumps(log['to'])} by {log['actor'] or '-'}"
            )
