"""``manage.py orderflow_backfill shop.Order --mapping statuses.json``: legacy statuses into the workflow."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from pydantic import ValidationError
from rich.console import Console
from rich.progress import Progress

from orderflow.django.backfill import backfill
from orderflow.django.management.commands._common import service, workflow_model
from orderflow.errors import OrderflowError
from orderflow.service.backfill import StatusMapping


class Command(BaseCommand):  # type: ignore[misc]
    help = (
        "Put every record of a model that has only a legacy status into its workflow "
        "(the mapping is the JSON orderflow backfill reads: machine, statuses -> state and context)."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("model", help="app_label.ModelName")
        parser.add_argument("--mapping", required=True, help="the status mapping (JSON file)")
        parser.add_argument(
            "--dry-run", action="store_true", help="check every record, write nothing"
        )
        parser.add_argument("--no-progress", action="store_true", help="no progress bar")

    def handle(self, *args: Any, **options: Any) -> None:
        workflow = service()
        model = workflow_model(options["model"])
        try:
            mapping = StatusMapping.model_validate_json(Path(options["mapping"]).read_text())
        except (OSError, ValidationError) as exc:
            raise CommandError(f"the mapping {options['mapping']!r} cannot be used: {exc}") from exc
        # the bar goes to the command's stderr stream itself (its wrapper would end each of the
        # bar's redraws with a newline), so the report on stdout stays clean for a pipe
        bar = Console(file=getattr(self.stderr, "_out", sys.stderr))
        with Progress(console=bar, disable=options["no_progress"], transient=True) as progress:
            task = progress.add_task(f"backfilling {options['model']}", total=None)

            def advance(done: int, total: int) -> None:
                progress.update(task, completed=done, total=total)

            try:
                report = backfill(
                    workflow, model, mapping, dry_run=options["dry_run"], progress=advance
                )
            except OrderflowError as exc:
                raise CommandError(str(exc)) from exc
        verb = "would adopt" if report.dry_run else "adopted"
        by_status = ", ".join(f"{status}: {n}" for status, n in sorted(report.adopted.items()))
        self.stdout.write(
            f"{verb} {report.adopted_total} ({by_status or 'none'}); skipped {report.skipped}; "
            f"failed {report.failed}"
        )
        for failure in report.failures:
            self.stdout.write(f"  {failure.record_id} ({failure.status}): {failure.reason}")
        if report.failed:
            raise CommandError(f"{report.failed} records could not be adopted")
