"""The command line: one function per command, each a thin layer over the library."""

from __future__ import annotations

import json
import sys
import warnings
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

import orderflow
from orderflow.errors import DefinitionError, OrderflowError

app = typer.Typer(
    name="orderflow",
    help="Order workflows as statecharts: validate definitions, manage the database.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="The workflow tables: create and migrate them.", no_args_is_help=True)
app.add_typer(db_app, name="db")

out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)

DEFAULT_DATABASE_URL = "sqlite:///orderflow.sqlite3"


class UserError(Exception):
    """A mistake of the person at the keyboard: reported in one line, exit status 2."""


def main() -> None:
    """Entry point of the ``orderflow`` script: typer handles usage errors; ours are one line, exit 2."""
    try:
        app()
    except (UserError, OrderflowError) as exc:
        err.print(f"[red]error:[/red] {exc}")
        sys.exit(2)


def _definition(source: str) -> tuple[str, Any, bool]:
    """(label, config, is_shipped): a JSON file, or the name of a machine orderflow ships."""
    path = Path(source)
    if path.exists():
        try:
            return str(path), json.loads(path.read_text()), False
        except json.JSONDecodeError as exc:
            raise UserError(f"{path} is not valid JSON: {exc.msg} at line {exc.lineno}") from exc
    from orderflow.orders import MACHINE_NAMES, read_definition

    if source in MACHINE_NAMES:
        return source, read_definition(source), True
    raise UserError(
        f"no file named {source!r}, and orderflow ships no machine by that name ({', '.join(MACHINE_NAMES)})"
    )


@app.command()
def validate(
    sources: Annotated[
        list[str], typer.Argument(help="JSON definition files, or names of shipped machines.")
    ],
) -> None:
    """Report every problem in each definition, with its JSON path; exit 1 if any."""
    failed = 0
    for source in sources:
        label, config, shipped = _definition(source)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                if shipped:
                    from orderflow.orders import load_machine

                    machine = load_machine(source)
                else:
                    machine = orderflow.create_machine(config)
            except DefinitionError as exc:
                failed += 1
                out.print(f"[red]✗[/red] {label}: {len(exc.problems)} problem(s)")
                for problem in exc.problems:
                    out.print(f"    {problem.path}: {problem.message}")
                continue
        out.print(
            f"[green]✓[/green] {label}: machine '{machine.id}', {len(machine.nodes)} states, version {machine.version}"
        )
        for warning in caught:
            out.print(f"    [yellow]warning[/yellow] {warning.message}")
    if failed:
        raise typer.Exit(1)


@db_app.command("upgrade")
def db_upgrade(
    database_url: Annotated[
        str, typer.Option("--database-url", envvar="ORDERFLOW_DATABASE_URL", help="SQLAlchemy URL.")
    ] = DEFAULT_DATABASE_URL,
    revision: Annotated[str, typer.Option(help="Alembic revision to reach.")] = "head",
) -> None:
    """Create or migrate the workflow tables (Alembic migrations shipped with orderflow)."""
    from orderflow.store.schema import upgrade

    upgrade(database_url, revision)
    out.print(f"[green]✓[/green] {database_url} is at revision {revision}")
