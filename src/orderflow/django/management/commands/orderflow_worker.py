"""``manage.py orderflow_worker``: fire due timers, run due invocations and relay the outbox,
until stopped (or ``--once``)."""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from orderflow.django.management.commands._common import at_least, service
from orderflow.django.workers import (
    fire_due_timers,
    publisher_from_settings,
    relay_outbox,
    run_due_invocations,
)
from orderflow.errors import OrderflowError
from orderflow.workers.invocation_rules import InvocationOptions


class Command(BaseCommand):  # type: ignore[misc]
    help = (
        "Deliver due `after` timers through the service, run due invocations (function actors "
        "records started) and deliver their results, and publish the outbox "
        "(ORDERFLOW['PUBLISHER']); safe to run in many processes on PostgreSQL."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--once", action="store_true", help="one batch of each, then exit")
        parser.add_argument(
            "--interval", type=at_least(0.01, float), default=1.0,
            help="seconds between idle polls",
        )  # fmt: skip
        parser.add_argument("--batch", type=at_least(1), default=100)

    def handle(self, *args: Any, **options: Any) -> None:
        workflow = service()
        try:
            publish = publisher_from_settings()
        except OrderflowError as exc:
            raise CommandError(str(exc)) from exc
        if publish is None:
            self.stderr.write(
                "ORDERFLOW['PUBLISHER'] is not set: the outbox is left for another relay"
            )
        invocations = InvocationOptions(batch=options["batch"])
        try:
            while True:
                timers = fire_due_timers(workflow, batch=options["batch"])
                runs = run_due_invocations(workflow, options=invocations)
                relayed = (
                    relay_outbox(workflow, publish, batch=options["batch"]) if publish else None
                )
                if len(timers) or runs or (relayed is not None and len(relayed)):
                    outcomes = Counter(run.outcome for run in runs)
                    self.stdout.write(
                        f"timers: {len(timers.fired)} fired, {len(timers.dropped)} dropped, "
                        f"{len(timers.retried)} retried, {len(timers.dead)} dead; invocations: "
                        + (", ".join(f"{n} {o}" for o, n in sorted(outcomes.items())) or "-")
                        + "; outbox: "
                        + ("-" if relayed is None else
                           f"{len(relayed.published)} published, {len(relayed.retried)} retried, "
                           f"{len(relayed.dead)} dead")
                    )  # fmt: skip
                if options["once"]:
                    return
                if not len(timers) and not runs and (relayed is None or not len(relayed)):
                    time.sleep(options["interval"])
        except KeyboardInterrupt:
            self.stdout.write("stopped")
