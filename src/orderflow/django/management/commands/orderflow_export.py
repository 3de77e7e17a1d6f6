"""``manage.py orderflow_export order --format mermaid``: a machine of the app drawn or written out."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from orderflow.django.management.commands._common import service, workflow_model
from orderflow.errors import OrderflowError
from orderflow.export import export

FORMATS = ("mermaid", "dot", "svg", "xstate")


class Command(BaseCommand):  # type: ignore[misc]
    help = "Write a machine of the app as Mermaid, DOT, SVG or XState JSON (a record's state highlighted)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("machine", nargs="?", help="the machine id (the only one when omitted)")
        parser.add_argument("--format", choices=FORMATS, default="mermaid")
        parser.add_argument("--record", help="app_label.ModelName:pk whose state to highlight")
        parser.add_argument("--output", "-o", help="a file to write (default: standard output)")

    def handle(self, *args: Any, **options: Any) -> None:
        workflow = service()
        try:
            highlight = None
            if options["record"]:  # the record's own machine (the one named must be it)
                label, _, key = options["record"].rpartition(":")
                if not label:
                    raise CommandError("--record is app_label.ModelName:pk")
                highlight = workflow.snapshot((workflow_model(label), key))
                machine = workflow.machine_of(highlight)
                if options["machine"] not in (None, machine.id):
                    raise CommandError(
                        f"{options['record']} runs the machine {machine.id!r}, "
                        f"not {options['machine']!r}"
                    )
            else:
                machine = workflow.machine_named(options["machine"])
            text = export(machine, options["format"], highlight=highlight)
        except OrderflowError as exc:
            raise CommandError(str(exc)) from exc
        if options["output"]:
            try:
                Path(options["output"]).write_text(text)
            except OSError as exc:
                raise CommandError(f"cannot write {options['output']!r}: {exc}") from exc
            self.stderr.write(f"wrote {options['output']}")
        else:
            self.stdout.write(text)
