"""The record commands: export, inspect, send, bulk, backfill, demo.

Each opens the database at ``--database-url`` (the embedded SQLite file
``orderflow.sqlite3`` by default), builds the service of the shipped order
machines with the PhaseCoordinator, and calls the same public API a
service would.  A record is named ``TYPE:ID``: ``quotation:12``,
``sale:3``, ``fulfilment:7`` (table names work too).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from orderflow.cli.app import (
    DEFAULT_DATABASE_URL,
    DatabaseUrl,
    UserError,
    app,
    database_engine,
    err,
    out,
    require_tables,
)
from orderflow.service import Principal, WorkflowService

Json = dict[str, Any]


# -- shared pieces ---------------------------------------------------------------------------------


@contextmanager
def order_service_at(database_url: str, *, create: bool = False) -> Iterator[WorkflowService]:
    """The app's service (``--app``), or the order machines' (with the coordinator) on ``database_url``."""
    from sqlalchemy.orm import sessionmaker

    from orderflow.cli.app_loader import AppError, app_spec, load_app
    from orderflow.service import PhaseCoordinator, order_service
    from orderflow.store import upgrade

    spec = None if create else app_spec()  # the demo runs the order machines, always
    if spec is not None:
        try:
            yield load_app(spec, database_url)
        except AppError as exc:
            raise UserError(str(exc)) from None
        return
    engine = database_engine(database_url)
    try:
        if create:
            upgrade(engine)
        else:
            require_tables(engine)
        Session = sessionmaker(engine, expire_on_commit=False)
        yield order_service(Session, finish_hooks=[PhaseCoordinator.for_orders()])
    finally:
        engine.dispose()


def record_model(name: str) -> type[Any]:
    """The model of record type ``name``: the app's tables with ``--app``, else the order records."""
    import difflib

    from orderflow.cli.app_loader import AppError, app_spec, import_app, record_models
    from orderflow.service import WorkflowService, order_record_model

    try:
        spec = app_spec()
        found = None if spec is None else import_app(spec)
    except AppError as exc:
        raise UserError(str(exc)) from None
    if spec is not None:
        models = record_models(found if isinstance(found, WorkflowService) else None, spec)
        if name in models:
            return models[name]
        close = difflib.get_close_matches(name, list(models), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise UserError(
            f"no record type {name!r} in {spec}; it serves {', '.join(sorted(models)) or 'none'}"
            + hint
        )
    try:
        return order_record_model(name)
    except LookupError as exc:
        raise UserError(str(exc.args[0])) from exc


def _refuse_foreign_records(Session: Any, database_url: str) -> None:
    """The demo moves and fires what it finds: a database holding other services' records is refused."""
    from sqlalchemy import select, union

    from orderflow.service import ORDER_RECORDS
    from orderflow.service.ports import NOTIFICATIONS
    from orderflow.store import OutboxEvent, ScheduledEvent, TransitionLog

    ours = {model.__tablename__ for model in ORDER_RECORDS.values()} | {NOTIFICATIONS}
    kinds = union(
        *(
            select(table.record_type).distinct()
            for table in (TransitionLog, ScheduledEvent, OutboxEvent)
        )
    )
    with Session() as session:
        foreign = sorted(set(session.scalars(select(kinds.subquery().c[0]))) - ours)
    if foreign:
        raise UserError(
            f"{database_url} holds records of other services ({', '.join(foreign)}); the demo "
            "runs the order machines on a database of its own: give it another --database-url"
        )


def record_ref(spec: str) -> tuple[type[Any], Any]:
    """``TYPE:ID`` -> (model, primary key), the key converted as the service would.

    An id the key column cannot hold (``sale:abc``, ``sale:99999999999999999999``)
    is an :class:`~orderflow.errors.InvalidRecordKeyError`, said before any query.
    """
    from orderflow.store import primary_key_value

    kind, sep, key = spec.partition(":")
    if not sep or not kind or not key:
        raise UserError(f"name a record as TYPE:ID (for example sale:3), not {spec!r}")
    model = record_model(kind)
    return model, primary_key_value(model, key)


def parse_json(text: str | None, what: str) -> Json:
    if text is None:
        return {}
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UserError(f"{what} is not valid JSON: {exc.msg} at column {exc.colno}") from exc
    if not isinstance(data, dict):
        raise UserError(f"{what} must be a JSON object, not {type(data).__name__}")
    return data


def event_payload(event: str, data: str | None) -> Json:
    """``{"type": event, **data}``; ``--data`` naming another event type is refused, not overridden.

    So is ``--data`` naming who acts: the options say that, and the service
    writes it into the event (a bulk run is refused once, not once a record).
    """
    from orderflow.service.identity import RESERVED_FIELDS

    payload = parse_json(data, "--data")
    if "type" in payload and payload["type"] != event:
        raise UserError(
            f"--data names event type {payload['type']!r} but the event is {event!r}; "
            "leave 'type' out of --data"
        )
    reserved = sorted(RESERVED_FIELDS & payload.keys())
    if reserved:
        raise UserError(
            f"--data carries the reserved field {reserved[0]!r}; leave it out: who acts is "
            "named by --actor, --actor-label and --permission, and the service writes it"
        )
    return {**payload, "type": event}


def acting(actor: str | None, label: str | None, permissions: list[str] | None) -> Principal:
    """Who acts: the operator ``--actor`` names, or else the login running the command.

    The command line is a tool for people who hold the database's
    credentials; it names who acted so that the log does, never "somebody".
    """
    if actor is None:
        login = operator_login()
        return Principal(login, label or f"{login} (command line)", frozenset(permissions or ()))
    return Principal(actor, label, frozenset(permissions or ()))


def operator_login() -> str:
    """The name of the user running the command (``cli`` if the system cannot tell)."""
    import getpass

    try:
        return getpass.getuser() or "cli"
    except (OSError, KeyError):  # no login name in the environment, no password-file entry
        return "cli"


def dotted(value: Any) -> str:
    """A state value as people write it: ``processing.credit_hold``; parallel regions in braces."""
    if isinstance(value, dict):
        if len(value) == 1:
            ((key, sub),) = value.items()
            return f"{key}.{dotted(sub)}"
        return "{" + ", ".join(f"{k}.{dotted(v)}" for k, v in value.items()) + "}"
    return "-" if value is None else str(value)


def progress_bar() -> Progress:
    return Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        console=err, transient=True,
    )  # fmt: skip


ActorOption = Annotated[
    str | None,
    typer.Option(
        "--actor", envvar="ORDERFLOW_ACTOR",
        help="Who acts: the operator's id for the log (default: your login name).",
    ),
]  # fmt: skip
LabelOption = Annotated[str | None, typer.Option("--actor-label", help="The actor's name.")]
PermissionOption = Annotated[
    list[str] | None,
    typer.Option("--permission", help="A permission the actor holds (repeat for more)."),
]
DryRunOption = Annotated[
    bool, typer.Option("--dry-run", help="Do everything but the writes; change nothing.")
]
DataOption = Annotated[
    str | None,
    typer.Option("--data", help='The event payload as a JSON object: \'{"amount": "10"}\'.'),
]


# -- export --------------------------------------------------------------------------------------


@app.command()
def export(
    source: Annotated[
        str, typer.Argument(help="A shipped machine's name, or a JSON or SCXML file.")
    ],
    format: Annotated[
        str, typer.Option("--format", "-f", help="mermaid, dot, svg, scxml or xstate.")
    ] = "mermaid",
    record: Annotated[
        str | None, typer.Option("--record", help="Highlight this record's state: TYPE:ID.")
    ] = None,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write to a file.")] = None,
    database_url: DatabaseUrl = DEFAULT_DATABASE_URL,
) -> None:
    """Write a machine as a diagram (Mermaid, DOT, SVG) or a portable copy (SCXML, XState JSON)."""
    from orderflow.cli.app import load_definition
    from orderflow.export import FORMATS
    from orderflow.export import export as render

    formats = (*FORMATS, "scxml")
    if format not in formats:
        raise UserError(f"unknown format {format!r}; choose one of {', '.join(formats)}")
    machine = load_definition(source)
    highlight = None
    if record is not None:
        with order_service_at(database_url) as service:
            highlight = service.snapshot(record_ref(record))
        if highlight.machine is not None and highlight.machine.id != machine.id:
            raise UserError(
                f"{record} is moved by machine '{highlight.machine.id}', not '{machine.id}'"
            )
    text = _scxml(machine) if format == "scxml" else render(machine, format, highlight=highlight)
    if output is None:
        out.print(text, highlight=False, markup=False, soft_wrap=True)
    else:
        output.write_text(text if text.endswith("\n") else text + "\n")
        err.print(f"[green]✓[/green] wrote {format} of '{machine.id}' to {output}")


def _scxml(machine: Any) -> str:
    import importlib

    scxml = importlib.import_module("orderflow.io.scxml")  # the formats layer, loaded on demand
    return str(scxml.dump(machine))


# -- inspect ---------------------------------------------------------------------------------------


@app.command()
def inspect(
    record: Annotated[str, typer.Argument(help="The record: TYPE:ID, e.g. sale:3.")],
    actor: ActorOption = None,
    actor_label: LabelOption = None,
    permission: PermissionOption = None,
    database_url: DatabaseUrl = DEFAULT_DATABASE_URL,
) -> None:
    """A record's current state, context, allowed events (judged for --actor), timers and log."""
    from sqlalchemy import select

    from orderflow.store import ScheduledEvent, TransitionLog
    from orderflow.store.workflow_tables import PENDING

    model, key = record_ref(record)
    with order_service_at(database_url) as service:
        snapshot = service.snapshot((model, key))
        options = service.allowed_events((model, key), actor=acting(actor, actor_label, permission))
        with service.session_factory() as session:
            row = session.get(model, key)
            assert row is not None  # snapshot() raised RecordNotFoundError otherwise
            record_type = model.__tablename__
            timers = list(session.scalars(
                select(ScheduledEvent).where(
                    ScheduledEvent.record_type == record_type,
                    ScheduledEvent.record_id == str(key), ScheduledEvent.status == PENDING,
                ).order_by(ScheduledEvent.due_at)))  # fmt: skip
            log = list(session.scalars(
                select(TransitionLog).where(
                    TransitionLog.record_type == record_type,
                    TransitionLog.record_id == str(key),
                ).order_by(TransitionLog.id)))  # fmt: skip
        machine_id = snapshot.machine.id if snapshot.machine is not None else "?"
        out.print(f"[bold]{record}[/bold]  machine [cyan]{machine_id}[/cyan]  "
                  f"state [bold green]{dotted(snapshot.value)}[/bold green]  "
                  f"status {snapshot.status}  version {row.workflow_version}  "
                  f"legacy status {row.status or '-'}")  # fmt: skip
        out.print("context:", highlight=False)
        out.print_json(json.dumps(snapshot.to_json()["context"], default=str))

        if not options:  # a finished (or stuck) record: say so rather than print an empty table
            out.print(
                f"events: none, the workflow is {snapshot.status} in {dotted(snapshot.value)}"
            )
        else:
            events = Table(
                "event", "allowed", "why not / goes to", title="events", title_justify="left"
            )
            for option in options:
                detail = ", ".join(option.targets) if option.allowed else (option.reason or "")
                if option.needs_payload and option.reason:
                    detail = f"{detail} ({option.reason})" if detail else option.reason
                events.add_row(option.event, "[green]yes[/green]" if option.allowed else "[red]no[/red]",
                               detail)  # fmt: skip
            out.print(events)

        if timers:
            pending = Table("timer", "due", title="pending timers", title_justify="left")
            for timer in timers:
                pending.add_row(timer.timer_id, timer.due_at.isoformat(timespec="seconds"))
            out.print(pending)

        history = Table("#", "when", "event", "from", "to", "actor", "note",
                        title="log", title_justify="left")  # fmt: skip
        for entry in log:
            history.add_row(
                str(entry.record_version), entry.created_at.isoformat(timespec="seconds"),
                entry.event, dotted(entry.from_state), dotted(entry.to_state),
                entry.actor_label or entry.actor_user or "", entry.note or "",
            )  # fmt: skip
        out.print(history)


# -- send and bulk ---------------------------------------------------------------------------------


@app.command()
def send(
    record: Annotated[str, typer.Argument(help="The record: TYPE:ID, e.g. sale:3.")],
    event: Annotated[str, typer.Argument(help="The event type, e.g. CAPTURE.")],
    data: DataOption = None,
    actor: ActorOption = None,
    actor_label: LabelOption = None,
    permission: PermissionOption = None,
    note: Annotated[str, typer.Option(help="A note for the log.")] = "",
    idempotency_key: Annotated[
        str | None, typer.Option(help="Send at most once under this key.")
    ] = None,
    dry_run: DryRunOption = False,
    database_url: DatabaseUrl = DEFAULT_DATABASE_URL,
) -> None:
    """Send one event to one record; exit 1 if the record does not take it."""
    payload = event_payload(event, data)
    with order_service_at(database_url) as service:
        result = service.send(
            record_ref(record), payload, actor=acting(actor, actor_label, permission), note=note,
            idempotency_key=idempotency_key, dry_run=dry_run,
        )  # fmt: skip
    tag = " [yellow](dry run: nothing written)[/yellow]" if dry_run else ""
    if not result.success:
        out.print(f"[red]✗[/red] {record} refused {event}: {result.reason}{tag}")
        raise typer.Exit(1)
    again = " [yellow](already sent under this key)[/yellow]" if result.idempotent else ""
    out.print(f"[green]✓[/green] {record} {event}: {dotted(result.from_state)} → "
              f"[bold]{dotted(result.to_state)}[/bold] (version {result.version}){again}{tag}")  # fmt: skip
    for label, items in (("effects", result.effects), ("timers scheduled", result.scheduled),
                         ("timers cancelled", result.cancelled)):  # fmt: skip
        if items:
            out.print(f"  {label}: {', '.join(items)}")
    if result.emitted:
        out.print(f"  events: {', '.join(str(e.get('type')) for e in result.emitted)}")


@app.command()
def bulk(
    record_type: Annotated[
        str, typer.Argument(metavar="TYPE", help="quotation, sale or fulfilment.")
    ],
    event: Annotated[str, typer.Argument(help="The event type to send to each record.")],
    where: Annotated[
        str, typer.Option("--where", help="Only records in this state (a dotted path).")
    ],
    data: DataOption = None,
    actor: ActorOption = None,
    actor_label: LabelOption = None,
    permission: PermissionOption = None,
    note: Annotated[str, typer.Option(help="A note for each log row.")] = "",
    dry_run: DryRunOption = False,
    database_url: DatabaseUrl = DEFAULT_DATABASE_URL,
) -> None:
    """Send one event to every record in a state, each in its own transaction; report failures."""
    from sqlalchemy import inspect as inspect_model
    from sqlalchemy import select

    from orderflow.chart.snapshot import matches_state

    model = record_model(record_type)
    wanted = _value_of(where)
    payload = event_payload(event, data)
    with order_service_at(database_url) as service:
        (key,) = inspect_model(model).primary_key
        with service.session_factory() as session:
            rows = session.execute(
                select(key, model.workflow_state).where(model.workflow_state.is_not(None))
                .order_by(key)
            ).all()  # fmt: skip
        keys = [k for k, state in rows if matches_state(wanted, (state or {}).get("value"))]
        if not keys:
            out.print(f"no {record_type} record is in state '{where}'")
            return
        with progress_bar() as bar:
            task = bar.add_task(f"{event} → {len(keys)} {record_type}", total=len(keys))
            result = service.bulk_send(
                [(model, k) for k in keys], payload, actor=acting(actor, actor_label, permission),
                note=note, dry_run=dry_run, progress=lambda done, _: bar.update(task, completed=done),
            )  # fmt: skip
    tag = " (dry run: nothing written)" if dry_run else ""
    out.print(
        f"[green]{result.succeeded} succeeded[/green], [red]{result.failed} failed[/red]{tag}"
    )
    for failure in result.failures:
        out.print(f"  {record_type}:{failure.record_id}: {failure.reason}")
    if result.failed:
        raise typer.Exit(1)


def _value_of(path: str) -> Any:
    """``a.b.c`` -> ``{"a": {"b": "c"}}`` (what ``matches`` compares with)."""
    parts = [p for p in path.split(".") if p]
    if not parts:
        raise UserError("--where needs a state, e.g. processing.credit_hold")
    value: Any = parts[-1]
    for part in reversed(parts[:-1]):
        value = {part: value}
    return value


# -- backfill ----------------------------------------------------------------------------------------


@app.command()
def backfill(
    record_type: Annotated[
        str, typer.Argument(metavar="TYPE", help="quotation, sale or fulfilment.")
    ],
    mapping: Annotated[
        Path, typer.Option("--mapping", help="JSON: legacy status -> state and context.")
    ],
    dry_run: DryRunOption = False,
    database_url: DatabaseUrl = DEFAULT_DATABASE_URL,
) -> None:
    """Move records that only have a legacy status into their workflow (idempotent)."""
    from pydantic import ValidationError

    from orderflow.service import StatusMapping
    from orderflow.service import backfill as run_backfill

    model = record_model(record_type)
    try:
        declared = StatusMapping.model_validate_json(mapping.read_text())
    except FileNotFoundError as exc:
        raise UserError(f"no mapping file {mapping}") from exc
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "the file"
        raise UserError(f"{mapping}: {where}: {first['msg']}") from exc
    with order_service_at(database_url) as service, progress_bar() as bar:
        task = bar.add_task(f"backfill {record_type}", total=None)
        report = run_backfill(
            service, model, declared, dry_run=dry_run,
            progress=lambda done, total: bar.update(task, completed=done, total=total),
        )  # fmt: skip
    summary = Table("legacy status", "adopted", title=f"backfill of {record_type}"
                    + (" (dry run: nothing written)" if dry_run else ""), title_justify="left")  # fmt: skip
    for status, count in sorted(report.adopted.items()):
        summary.add_row(status, str(count))
    out.print(summary)
    out.print(f"{report.adopted_total} adopted, {report.skipped} already in their workflow, "
              f"{report.failed} failed")  # fmt: skip
    for failure in report.failures:
        out.print(f"  {record_type}:{failure.record_id} ({failure.status}): {failure.reason}")
    if report.failed:
        raise typer.Exit(1)


# -- demo --------------------------------------------------------------------------------------------


@app.command()
def demo(
    database_url: DatabaseUrl = DEFAULT_DATABASE_URL,
    count: Annotated[int, typer.Option("--count", "-n", min=1, help="Quotations to run.")] = 40,
) -> None:
    """Run COUNT quotations through the whole order flow on a real database (SQLite by default)."""
    from sqlalchemy.orm import sessionmaker

    from orderflow.cli.audit_table import audit_table
    from orderflow.cli.demo import Demo

    with order_service_at(database_url, create=True) as service:
        Session = sessionmaker(service.session_factory.kw["bind"], expire_on_commit=False)  # type: ignore[attr-defined]
        _refuse_foreign_records(Session, database_url)
        run = Demo(Session)
        with progress_bar() as bar:
            task = bar.add_task(f"{count} quotations", total=count)
            report = run.run(count, progress=lambda done: bar.update(task, completed=done))
        records = run.records()
        trail = run.audit_trail()
        checked = [row for row in run.audit_trail("credit") if row.record_type == "sale_orders"]

    out.print(f"[bold]orderflow demo[/bold] run {report.run} on {database_url}")
    states = Table("machine", "state", "records", title="where the records ended",
                   title_justify="left")  # fmt: skip
    for machine, rows in records.items():
        counts: dict[str, int] = {}
        for row in rows:
            state = dotted((row.workflow_state or {}).get("value"))
            counts[state] = counts.get(state, 0) + 1
        for state, number in sorted(counts.items()):
            states.add_row(machine, state, str(number))
    out.print(states)
    out.print(
        f"{report.transitions} log rows (transitions and hand-offs) in {report.seconds:.2f} s: "
        f"[bold]{report.transitions_per_second:,.0f}[/bold] per second; "
        f"{report.timers_fired} timers fired; {report.invocations_delivered} invocations run by "
        f"the worker; {report.events_published} domain events published"
    )
    if checked:  # its credit check ran in the invocation worker, which delivered the answer
        title = "one sale on account: the invocation worker runs its credit check"
        out.print(audit_table(checked, out.width, short_label, dotted, title=title))
    audit = audit_table(trail, out.width, short_label, dotted)
    out.print(audit)
    if trail:
        out.print(f"look closer: [bold]{_command_name()} inspect "
                  f"{short_label(trail[-1].record_type, trail[-1].record_id)}[/bold]")  # fmt: skip


def _command_name() -> str:
    """``orderflow`` when it is on the PATH, else the path this run was started by (``.venv/bin/orderflow``)."""
    import os
    import shutil
    import sys

    if shutil.which("orderflow"):
        return "orderflow"
    started = sys.argv[0]
    if os.path.basename(started) == "orderflow" and os.path.exists(started):
        return os.path.relpath(started)
    return "orderflow"


def short_label(record_type: str, record_id: str) -> str:
    """``sale_orders``, ``7`` -> ``sale:7`` (how the commands name records)."""
    from orderflow.service import ORDER_RECORDS

    names = {model.__tablename__: name for name, model in ORDER_RECORDS.items()}
    return f"{names.get(record_type, record_type)}:{record_id}"
