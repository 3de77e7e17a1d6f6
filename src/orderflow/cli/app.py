"""The command line: one function per command, each a thin layer over the library."""

from __future__ import annotations

import json
import sys
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from sqlalchemy.exc import OperationalError, ProgrammingError
from typer.core import TyperCommand, TyperGroup
from typer.models import CommandFunctionType

import orderflow
from orderflow.chart.implementations import Implementations
from orderflow.cli.validate_command import (
    Verdict,
    check,
    shipped_implementations,
    shipped_machine_at,
)
from orderflow.errors import DefinitionError, OrderflowError


def _flags_take_no_value(params: list[Any]) -> list[Any]:
    """Give each on/off flag an empty metavar, so the rich help shows no type for it.

    typer 0.29 prints every option's type in its help panel, flags included
    (``--dry-run <bool>``, even ``--help <bool>``), as if they took a value.
    An option with a metavar shows that instead, and a flag never shows its
    metavar anywhere else, so an empty one changes nothing but the panel.
    """
    for param in params:
        if getattr(param, "is_bool_flag", False) and param.metavar is None:
            param.metavar = ""
    return params


class FlagAwareCommand(TyperCommand):
    """A command whose help panel shows flags (``--help`` too) without a ``<bool>`` value."""

    def get_params(self, ctx: Any) -> list[Any]:
        return _flags_take_no_value(super().get_params(ctx))


class FlagAwareGroup(TyperGroup):
    """A group whose help panel shows flags (``--version``, ``--help``) without a ``<bool>`` value."""

    def get_params(self, ctx: Any) -> list[Any]:
        return _flags_take_no_value(super().get_params(ctx))


class CommandLine(typer.Typer):
    """``typer.Typer`` whose commands and groups use the flag-aware classes above."""

    def __init__(self, **options: Any) -> None:
        super().__init__(cls=FlagAwareGroup, **options)

    def command(
        self, *args: Any, **options: Any
    ) -> Callable[[CommandFunctionType], CommandFunctionType]:
        options.setdefault("cls", FlagAwareCommand)
        return super().command(*args, **options)


app = CommandLine(
    name="orderflow",
    help="Order workflows as statecharts: validate definitions, manage the database.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
db_app = CommandLine(help="The workflow tables: create and migrate them.", no_args_is_help=True)
app.add_typer(db_app, name="db")


def _print_version(asked: bool) -> None:
    if asked:
        from importlib.metadata import PackageNotFoundError, version

        try:
            out.print(f"orderflow {version('orderflow')}")
        except PackageNotFoundError:  # run from a source tree that was never installed
            out.print("orderflow (not installed)")
        raise typer.Exit()


@app.callback()
def _options(
    show_version: bool = typer.Option(
        False,
        "--version",
        help="Print orderflow's version and exit.",
        is_eager=True,
        callback=_print_version,
    ),
    app_name: str | None = typer.Option(
        None,
        "--app",
        envvar="ORDERFLOW_APP",
        help="Your service, as module:attribute (a WorkflowService or a factory of one); "
        "also [tool.orderflow] app in pyproject.toml. Without it: the order machines.",
    ),
) -> None:
    """Order workflows as statecharts: validate definitions, manage the database."""
    from orderflow.cli.app_loader import choose

    choose(app_name)


out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)

DEFAULT_DATABASE_URL = "sqlite:///orderflow.sqlite3"


class UserError(Exception):
    """A mistake of the person at the keyboard: reported in one line, exit status 2."""


def main() -> None:
    """Entry point of the ``orderflow`` script: typer handles usage errors; ours are one line, exit 2.

    So are the mistakes of a machine's surroundings rather than of orderflow:
    a file that cannot be written, a database that cannot be reached or has
    no tables yet.  Anything else is a bug and keeps its traceback.
    """
    try:
        app()
    except (UserError, OrderflowError) as exc:
        _fail(str(exc))
    except OSError as exc:
        where = f": {exc.filename}" if exc.filename else ""
        _fail(f"{exc.strerror or exc}{where}")
    except (OperationalError, ProgrammingError) as exc:
        _fail(_database_trouble(exc))


def _fail(message: str) -> NoReturn:
    err.print("[red]error:[/red] ", end="")
    err.print(message, markup=False, highlight=False)  # "orderflow[api]" stays as written
    sys.exit(2)


def _database_trouble(exc: OperationalError | ProgrammingError) -> str:
    """What went wrong with the database, in one line, and what to do about it."""
    reason = (str(exc.orig) if exc.orig is not None else str(exc)).strip()
    reason = reason.splitlines()[0] if reason else type(exc.orig or exc).__name__
    if _missing_table(exc):
        return (
            f"the database lacks orderflow's tables ({reason}); "
            "run `orderflow db upgrade` on it (the same --database-url) first"
        )
    return f"cannot use the database: {reason}"


def _missing_table(exc: OperationalError | ProgrammingError) -> bool:
    """Did ``exc`` say a table is missing (not the database itself, nor the server)?"""
    code = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None)
    return code == _UNDEFINED_TABLE or str(exc.orig).startswith("no such table")


#: PostgreSQL's SQLSTATE for a missing table ("relation ... does not exist")
_UNDEFINED_TABLE = "42P01"


def database_engine(database_url: str) -> Any:
    """The engine for ``--database-url``; a URL nobody can open is one line, not a traceback.

    The message never repeats the URL: it may hold a password.
    """
    from sqlalchemy.exc import ArgumentError

    from orderflow.store import create_engine

    try:
        return create_engine(database_url)
    except ArgumentError as exc:  # unparseable, or an unknown dialect (NoSuchModuleError)
        reason = str(exc).strip().splitlines()[0]  # SQLite's lists the valid forms below
        raise UserError(
            f"--database-url is not a database URL SQLAlchemy can use: {reason}"
        ) from exc
    except ModuleNotFoundError as exc:
        raise UserError(
            f"--database-url needs the database driver {exc.name!r}, which is not installed"
        ) from exc


def require_tables(engine: Any) -> None:
    """Refuse, in one line, a database that ``orderflow db upgrade`` has not prepared."""
    from sqlalchemy import inspect

    if not inspect(engine).has_table("workflow_transition_log"):
        raise UserError(
            f"{engine.url.render_as_string()} has no orderflow tables; run `orderflow db upgrade` "
            "on it (the same --database-url), or `orderflow demo` to fill it with sample orders"
        )


def _definition(source: str) -> tuple[str, Any, bool]:
    """(label, config, is_shipped): a JSON file, or the name of a machine orderflow ships."""
    path = Path(source)
    if path.exists():
        try:
            return str(path), json.loads(path.read_text(encoding="utf-8")), False
        except json.JSONDecodeError as exc:
            raise UserError(
                f"{path} is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}"
            ) from exc
        except UnicodeDecodeError as exc:
            raise UserError(f"{path} is not UTF-8 text: {exc.reason} at byte {exc.start}") from exc
    from orderflow.orders import MACHINE_NAMES, read_definition

    if source in MACHINE_NAMES:
        return source, read_definition(source), True
    raise UserError(
        f"no file named {source!r}, and orderflow ships no machine by that name ({', '.join(MACHINE_NAMES)})"
    )


def load_definition(source: str) -> Any:
    """The machine in ``source``: the app's or a shipped machine's name, a JSON file or an SCXML file.

    A JSON file's named guards and actions need no implementation here: the
    machine is only drawn or validated, never run.
    """
    path = Path(source)
    if path.suffix.lower() == ".scxml" and path.exists():
        import importlib

        return importlib.import_module("orderflow.io.scxml").load(path)  # the formats layer
    app_machine = _app_machine(source, path)
    if app_machine is not None:  # --app: a machine of the app's service, by its name there
        return app_machine
    _, config, shipped = _definition(source)
    if shipped:
        from orderflow.orders import load_machine

        return load_machine(source)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return orderflow.create_machine(config)


@app.command()
def validate(
    sources: Annotated[
        list[str],
        typer.Argument(help="JSON or SCXML definition files, or names of shipped machines."),
    ],
    allow_missing: Annotated[
        bool,
        typer.Option(
            "--allow-missing",
            help="Pass a file whose guards, actions and delays are not implemented yet.",
        ),
    ] = False,
) -> None:
    """Report every problem in each definition, with its JSON path; exit 1 if any.

    A shipped machine's guard, action and delay names are checked against the
    implementations orderflow binds to it.  A file's are listed as still needing
    an implementation, and fail the file unless --allow-missing is given.
    """
    failed = 0
    for source in sources:
        label, compile, implementations = _validation_source(source)
        verdict = check(label, compile, implementations)
        failed += not verdict.passes(allow_missing=allow_missing)
        _print_verdict(verdict, allow_missing=allow_missing)
    if failed:
        raise typer.Exit(1)


def _validation_source(
    source: str,
) -> tuple[str, Callable[[], orderflow.Machine], Implementations | None]:
    """(label, compile without implementations, the implementations to judge names by or None).

    The seam for ``--app``: an application's machine comes with its own
    ``machine.implementations`` to pass in place of the shipped ones.
    """
    path = Path(source)
    if path.suffix.lower() == ".scxml" and path.exists():
        from orderflow.io import scxml

        def compile_scxml() -> orderflow.Machine:
            try:
                return scxml.load(path)
            except DefinitionError:
                raise  # the document's problems, each with its path: check() lists them
            except OrderflowError as exc:  # not XML, unsafe, an element orderflow cannot load
                raise UserError(f"{path} cannot be loaded as SCXML: {exc}") from exc

        return str(path), compile_scxml, None
    app_machine = _app_machine(source, path)
    if app_machine is not None:  # --app: its machine, judged by its own implementations
        return f"{source} (the app's)", lambda: app_machine, app_machine.implementations
    label, config, shipped = _definition(source)
    own = _app_machine(str(config.get("id")), None) if isinstance(config, dict) else None
    if own is not None:  # a file of a machine the app runs: the app's implementations judge it
        return label, lambda: orderflow.create_machine(config), own.implementations
    name = source if shipped else shipped_machine_at(path)
    return (
        label,
        lambda: orderflow.create_machine(config),
        shipped_implementations(name) if name is not None else None,
    )


def _app_machine(name: str, path: Path | None) -> orderflow.Machine | None:
    """With ``--app``, the app's machine called ``name`` (not a file), else None.

    A factory that takes ``database_url`` is given an in-memory SQLite URL:
    validating reads no database.
    """
    from orderflow.cli.app_loader import AppError, app_spec, load_app

    if path is not None and path.exists():
        return None
    try:
        spec = app_spec()
        if spec is None:
            return None
        service = load_app(spec, "sqlite://")
    except AppError as exc:
        raise UserError(str(exc)) from None
    machine: orderflow.Machine | None = service.machines.get(name)
    return machine


def _print_verdict(verdict: Verdict, *, allow_missing: bool) -> None:
    """One line for the definition, then one indented line per problem, name and warning."""
    label = escape(verdict.label)
    machine = verdict.machine
    if machine is None or verdict.problems:
        out.print(f"[red]✗[/red] {label}: {len(verdict.problems)} problem(s)")
        for problem in verdict.problems:
            out.print(f"    {problem.path}: {problem.message}", markup=False, highlight=False)
        return
    summary = escape(
        f"machine '{machine.id}', {len(machine.nodes)} states, version {machine.version}"
    )
    names = verdict.unimplemented
    if verdict.known_implementations and names:
        out.print(
            f"[red]✗[/red] {label}: {summary}; {len(names)} name(s) without an implementation"
        )
        for use in names:
            out.print(f"    {use.path}: no implementation for {use.kind} '{use.name}'",
                      markup=False, highlight=False)  # fmt: skip
    elif names:
        mark = "[green]✓[/green]" if allow_missing else "[red]✗[/red]"
        hint = "" if allow_missing else " (--allow-missing passes the file)"
        out.print(
            f"{mark} {label}: {summary}; {len(names)} name(s) still need an implementation{hint}"
        )
        for use in names:
            out.print(f"    {use.path}: {use.kind} '{use.name}'", markup=False, highlight=False)
    else:
        out.print(f"[green]✓[/green] {label}: {summary}")
    for warning in verdict.warnings:
        out.print(f"    [yellow]warning[/yellow] {escape(warning)}")


@db_app.command("upgrade")
def db_upgrade(
    database_url: Annotated[
        str, typer.Option("--database-url", envvar="ORDERFLOW_DATABASE_URL", help="SQLAlchemy URL.")
    ] = DEFAULT_DATABASE_URL,
    revision: Annotated[str, typer.Option(help="Alembic revision to reach.")] = "head",
) -> None:
    """Create or migrate the workflow tables (Alembic migrations shipped with orderflow)."""
    from orderflow.store.schema import upgrade

    engine = database_engine(database_url)
    try:
        upgrade(engine, revision)
    finally:
        engine.dispose()
    out.print(f"[green]✓[/green] {engine.url.render_as_string()} is at revision {revision}")


DatabaseUrl = Annotated[
    str, typer.Option("--database-url", envvar="ORDERFLOW_DATABASE_URL", help="SQLAlchemy URL.")
]


class _ConsolePublisher:
    """Print each event as one JSON line (``--stdout``): for a look at what the relay would send."""

    def publish(self, message: Any) -> None:
        out.print(json.dumps(message.to_json(), default=str, sort_keys=True), highlight=False)


def _publisher(
    webhook_url: str | None, webhook_secret: str | None, amqp_url: str | None, stdout: bool
) -> Any:
    from orderflow.workers import RabbitMQPublisher, WebhookPublisher

    chosen = [name for name, on in (("--webhook-url", webhook_url), ("--amqp-url", amqp_url),
                                    ("--stdout", stdout)) if on]  # fmt: skip
    if len(chosen) > 1:
        raise UserError(f"choose one publisher for the outbox relay, not {' and '.join(chosen)}")
    if webhook_url:
        if not webhook_secret:
            raise UserError("--webhook-url needs --webhook-secret (or ORDERFLOW_WEBHOOK_SECRET)")
        return WebhookPublisher(webhook_url, secret=webhook_secret)
    if amqp_url:
        return RabbitMQPublisher(amqp_url)
    return _ConsolePublisher() if stdout else None


def _claimed(outcomes: list[str]) -> str:
    """``"3 claimed (2 fired, 1 retry)"``: a batch's rows and what they came to."""
    counts = ", ".join(f"{outcomes.count(o)} {o}" for o in sorted(set(outcomes)))
    return f"{len(outcomes)} claimed" + (f" ({counts})" if counts else "")


@app.command()
def worker(
    database_url: DatabaseUrl = DEFAULT_DATABASE_URL,
    once: Annotated[
        bool,
        typer.Option("--once", help="One timer, invocation and relay batch each, then exit."),
    ] = False,
    webhook_url: Annotated[
        str | None, typer.Option(envvar="ORDERFLOW_WEBHOOK_URL", help="Relay to this webhook.")
    ] = None,
    webhook_secret: Annotated[
        str | None, typer.Option(envvar="ORDERFLOW_WEBHOOK_SECRET", help="HMAC secret.")
    ] = None,
    amqp_url: Annotated[
        str | None, typer.Option(envvar="ORDERFLOW_AMQP_URL", help="Relay to this RabbitMQ.")
    ] = None,
    stdout: Annotated[
        bool, typer.Option("--stdout", help="Relay by printing each event as a JSON line.")
    ] = False,
    batch: Annotated[int, typer.Option(help="Rows per timer or relay batch.")] = 50,
    poll_interval: Annotated[float, typer.Option(help="Seconds to wait when idle.")] = 1.0,
) -> None:
    """Fire due timers, run due invocations (function actors) and relay the outbox.

    Through the app's service, or the order machines (with their hand-offs).
    Without a publisher option the relay is off and only timers and
    invocations run.  Many workers may run at once on PostgreSQL; on SQLite run one.
    """
    import threading

    from sqlalchemy.orm import sessionmaker

    from orderflow.cli.app_loader import AppError, app_spec, load_app, record_models
    from orderflow.service import PhaseCoordinator, order_service
    from orderflow.workers import InvocationOptions, InvocationWorker, OutboxRelay, TimerWorker

    publisher = _publisher(webhook_url, webhook_secret, amqp_url, stdout)
    spec = app_spec()
    record_types: set[str] | None = None
    if spec is not None:  # the app's service, its session factory, only its record types
        try:
            service = load_app(spec, database_url)
        except AppError as exc:
            raise UserError(str(exc)) from None
        Session = service.session_factory
        engine = None
        models = record_models(service, spec)
        record_types = set(models)
        timers = TimerWorker(
            service, Session, batch=batch, poll_interval=poll_interval, models=models
        )
    else:
        engine = database_engine(database_url)
        try:
            require_tables(engine)
        except BaseException:
            engine.dispose()
            raise
        Session = sessionmaker(engine, expire_on_commit=False)
        service = order_service(Session, finish_hooks=[PhaseCoordinator.for_orders()])
        timers = TimerWorker(service, Session, batch=batch, poll_interval=poll_interval)
    invocations = InvocationWorker(
        service, Session, poll_interval=poll_interval,
        options=InvocationOptions(batch=batch, models=timers.models),
    )  # fmt: skip
    relay = None
    if publisher is not None:
        relay = OutboxRelay(
            Session, publisher, batch=batch, poll_interval=poll_interval,
            record_types=record_types,
        )  # fmt: skip
    else:
        err.print("[yellow]no publisher given[/yellow]: the outbox relay is off")
    try:
        if once:
            firings = timers.run_once()
            runs = invocations.run_once()
            report = relay.run_once() if relay is not None else None
            out.print(f"timers: {_claimed([f.outcome for f in firings])}")
            out.print(f"invocations: {_claimed([r.outcome for r in runs])}")
            if report is not None:
                out.print(
                    f"outbox: {len(report.published)} published, {len(report.retried)} retried, "
                    f"{len(report.dead)} dead"
                    + (" (another relay held the lock)" if report.skipped else "")
                )
            return
        stop = threading.Event()
        threads = [
            threading.Thread(target=timers.run, args=(stop,), daemon=True),
            threading.Thread(target=invocations.run, args=(stop,), daemon=True),
        ]
        if relay is not None:
            threads.append(threading.Thread(target=relay.run, args=(stop,), daemon=True))
        for thread in threads:
            thread.start()
        where = spec if engine is None else engine.url.render_as_string()
        out.print(f"worker running on {where}; Ctrl-C stops it")
        try:
            while any(thread.is_alive() for thread in threads):
                stop.wait(0.5)
        except KeyboardInterrupt:
            stop.set()
        for thread in threads:
            thread.join()
        out.print(f"stopped: {timers.fired} timers fired, {invocations.delivered} invocations delivered"
                  + (f", {relay.published} events published" if relay is not None else ""))  # fmt: skip
    finally:
        if engine is not None:
            engine.dispose()
