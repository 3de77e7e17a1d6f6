"""``orderflow --app module:attribute``: the commands serve the user's own service and table.

The app module is written by the test into a folder of its own (the
current folder is importable, as for uvicorn): a help desk table with its
own camelCase columns and no status, and a machine with a timer and a
function actor.  The
shipped order records share the database and are never touched.
"""

from __future__ import annotations

import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine as sa_create_engine
from sqlalchemy import select
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from typer.testing import CliRunner

from orderflow.cli import app
from orderflow.cli.app import UserError
from orderflow.errors import OrderflowError
from orderflow.service import PhaseCoordinator, Principal, order_service
from orderflow.store import SaleOrder, ScheduledEvent, WorkflowRecord, create_engine, upgrade

APP_MODULE = """
from datetime import timedelta
from typing import Any

from sqlalchemy import String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, sessionmaker

import orderflow
from orderflow.service import WorkflowService
from orderflow.store import WorkflowRecord, create_engine
from orderflow.store.record import NullableJSONDocument


class Base(DeclarativeBase):
    pass


class DeskTicket(Base, WorkflowRecord):
    __tablename__ = "{table}"
    id: Mapped[int] = mapped_column(primary_key=True)
    subject: Mapped[str] = mapped_column(String(80), default="")
    workflow_machine: Mapped[str | None] = mapped_column("workflowMachine", default=None)
    workflow_state: Mapped[dict[str, Any] | None] = mapped_column(
        "workflowState", NullableJSONDocument, default=None
    )
    workflow_context: Mapped[Any] = mapped_column(
        "workflowContext", NullableJSONDocument, default=None, nullable=True
    )
    workflow_version: Mapped[int] = mapped_column("workflowVersion", default=0)
    status = None


def triage(value: Any) -> dict[str, str]:  # a function actor: a durable invocation
    return {{"team": "it"}}


DESK = orderflow.setup(actors={{"triage": triage}}).create_machine({{
    "id": "desk", "initial": "new",
    "states": {{
        "new": {{"on": {{"ASSIGN": "open", "TRIAGE": "triaging"}}}},
        "triaging": {{"invoke": {{"id": "triage", "src": "triage", "onDone": "open"}}}},
        "open": {{"after": {{"60000": "stale"}}, "on": {{"SOLVE": "solved"}}}},
        "stale": {{"on": {{"SOLVE": "solved"}}}},
        "solved": {{"type": "final"}},
    }},
}})


def make_service(database_url: str) -> WorkflowService:
    engine = create_engine(database_url)
    Base.metadata.create_all(engine)
    return WorkflowService(sessionmaker(engine, expire_on_commit=False), {{"desk": DESK}})
"""


@pytest.fixture
def desk_app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, str, str]]:
    """(app spec, database URL, table): a module of the test's own in the current folder."""
    name = f"desk_{uuid.uuid4().hex[:8]}"
    table = f"{name}_tickets"
    (tmp_path / f"{name}.py").write_text(textwrap.dedent(APP_MODULE.format(table=table)))
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    engine = create_engine(url)
    upgrade(engine)
    engine.dispose()
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delenv("ORDERFLOW_APP", raising=False)
    yield f"{name}:make_service", url, table


def run(*args: str) -> tuple[int, str]:
    """The command's exit status and output; a one-line error (status 2) as ``main()`` gives it."""
    result = CliRunner().invoke(app, list(args), env={"COLUMNS": "200"})
    if isinstance(result.exception, UserError | OrderflowError):
        return 2, str(result.exception)
    return result.exit_code, result.output


def test_the_commands_serve_the_apps_own_table(desk_app: tuple[str, str, str]) -> None:
    spec, url, table = desk_app
    import importlib

    module = importlib.import_module(spec.split(":")[0])
    service = module.make_service(url)
    ticket = module.DeskTicket(subject="printer", workflow_machine="desk")
    assert service.start(ticket).success

    code, output = run("--app", spec, "inspect", f"{table}:{ticket.id}", "--database-url", url)
    assert code == 0, output
    assert "new" in output and "ASSIGN" in output
    code, output = run(
        "--app", spec, "send", f"{table}:{ticket.id}", "ASSIGN", "--database-url", url
    )
    assert code == 0, output
    assert service.snapshot(ticket).value == "open"

    code, output = run("--app", spec, "inspect", "tickets_typo:1", "--database-url", url)
    assert code == 2 and "no record type 'tickets_typo'" in output


def test_the_worker_of_an_app_fires_only_its_own_timers(
    desk_app: tuple[str, str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    spec, url, table = desk_app
    import importlib

    module = importlib.import_module(spec.split(":")[0])
    service = module.make_service(url)
    ticket = module.DeskTicket(subject="vpn", workflow_machine="desk")
    service.start(ticket)
    service.send(ticket, "ASSIGN")
    engine = sa_create_engine(url)
    from sqlalchemy.orm import sessionmaker

    Session = sessionmaker(engine)
    orders = order_service(Session, finish_hooks=[PhaseCoordinator.for_orders()])
    sale = SaleOrder(reference="S-1", customer_id="C-1", currency="EUR", total=10,
                     workflow_machine="sale")  # fmt: skip
    orders.start(sale, input={"sale_id": "S-1", "customer_id": "C-1", "currency": "EUR",
                              "total": "10.00"}, actor=Principal("u-1"))  # fmt: skip
    with Session.begin() as session:  # everything due now
        for row in session.scalars(select(ScheduledEvent)):
            row.due_at = row.due_at - __import__("datetime").timedelta(days=30)
    with Session() as session:
        before = {
            (r.record_type, r.timer_id): (r.status, r.attempts, r.due_at)
            for r in session.scalars(select(ScheduledEvent))
        }

    monkeypatch.setenv("ORDERFLOW_APP", spec)
    code, output = run("worker", "--once", "--database-url", url)
    assert code == 0, output
    assert "1 claimed" in output and "1 fired" in output
    with Session() as session:
        after = {
            (r.record_type, r.timer_id): (r.status, r.attempts, r.due_at)
            for r in session.scalars(select(ScheduledEvent))
        }
    for key, value in before.items():
        if key[0] == table:
            assert after[key][0] == "fired"
        else:
            assert after[key] == value  # the order records' timers: untouched
    assert service.snapshot(ticket).value == "stale"
    engine.dispose()


def test_pyproject_names_the_app(desk_app: tuple[str, str, str], tmp_path: Path) -> None:
    spec, url, table = desk_app
    import importlib

    module = importlib.import_module(spec.split(":")[0])
    ticket = module.DeskTicket(subject="mail", workflow_machine="desk")
    module.make_service(url).start(ticket)
    (tmp_path / "pyproject.toml").write_text(f'[tool.orderflow]\napp = "{spec}"\n')
    code, output = run("inspect", f"{table}:{ticket.id}", "--database-url", url)
    assert code == 0 and "ASSIGN" in output, output
    code, output = run("inspect", "sale:1", "--database-url", url)
    assert code == 2 and "no record type 'sale'" in output  # the app serves its own tables


def test_a_name_that_is_not_a_service_is_one_line(desk_app: tuple[str, str, str]) -> None:
    spec, url, _ = desk_app
    module = spec.split(":")[0]
    code, output = run("--app", f"{module}:DESK", "inspect", "x:1", "--database-url", url)
    assert code == 2 and "not a WorkflowService" in output
    code, output = run("--app", "no_such_module:app", "inspect", "x:1", "--database-url", url)
    assert code == 2 and "cannot be imported" in output


def test_validate_judges_names_by_the_apps_implementations(
    desk_app: tuple[str, str, str], tmp_path: Path
) -> None:
    spec, _, _ = desk_app
    code, output = run("--app", spec, "validate", "desk")
    assert code == 0, output
    typo = {
        "id": "desk", "initial": "new",
        "states": {"new": {"on": {"ASSIGN": {"target": "done", "guard": "isUrgnet"}}},
                   "done": {"type": "final"}},
    }  # fmt: skip
    (tmp_path / "desk.json").write_text(__import__("json").dumps(typo))
    code, output = run("--app", spec, "validate", "desk.json")
    assert code == 1 and "isUrgnet" in output, output


def test_the_demo_refuses_a_database_holding_other_services_records(
    desk_app: tuple[str, str, str],
) -> None:
    spec, url, table = desk_app
    import importlib

    module = importlib.import_module(spec.split(":")[0])
    ticket = module.DeskTicket(subject="printer", workflow_machine="desk")
    module.make_service(url).start(ticket)
    code, output = run("demo", "--database-url", url, "--count", "1")
    assert code == 2 and table in output and "database of its own" in output


def test_inspect_of_a_finished_record_says_it_takes_no_events(
    desk_app: tuple[str, str, str],
) -> None:
    spec, url, table = desk_app
    import importlib

    module = importlib.import_module(spec.split(":")[0])
    service = module.make_service(url)
    ticket = module.DeskTicket(subject="done", workflow_machine="desk")
    service.start(ticket)
    service.send(ticket, "ASSIGN")
    service.send(ticket, "SOLVE")
    code, output = run("--app", spec, "inspect", f"{table}:{ticket.id}", "--database-url", url)
    assert code == 0 and "events: none, the workflow is done in solved" in output, output


def test_the_apps_own_model_wins_a_table_name_another_module_maps_too(
    desk_app: tuple[str, str, str],
) -> None:
    """Another module of the process maps the app's table name: the app's class is the one meant."""
    import importlib

    spec, url, table = desk_app
    module = importlib.import_module(spec.split(":")[0])

    class OtherBase(DeclarativeBase):
        pass

    class Namesake(OtherBase, WorkflowRecord):  # same table name, another registry
        __tablename__ = table
        id: Mapped[int] = mapped_column(primary_key=True)

    service = module.make_service(url)
    ticket = module.DeskTicket(subject="fax", workflow_machine="desk")
    service.start(ticket)
    code, output = run(
        "--app", spec, "send", f"{table}:{ticket.id}", "ASSIGN", "--database-url", url
    )
    assert code == 0, output
    assert service.snapshot(ticket).value == "open"
    assert Namesake.__tablename__ == table


def test_the_worker_of_an_app_runs_its_invocations(
    desk_app: tuple[str, str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    spec, url, _table = desk_app
    import importlib

    module = importlib.import_module(spec.split(":")[0])
    service = module.make_service(url)
    ticket = module.DeskTicket(subject="laptop", workflow_machine="desk")
    service.start(ticket)
    service.send(ticket, "TRIAGE")

    monkeypatch.setenv("ORDERFLOW_APP", spec)
    code, output = run("worker", "--once", "--database-url", url)
    assert code == 0, output
    assert "invocations: 1 claimed (1 delivered)" in output
    assert service.snapshot(ticket).value == "open"
    code, output = run("worker", "--once", "--database-url", url)
    assert "invocations: 0 claimed" in output
