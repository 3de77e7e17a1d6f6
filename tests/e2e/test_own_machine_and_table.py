"""A help desk of the test's own, through every tool orderflow has.

The app module below is what a user writes: a ``desk`` machine (a guard, an
assignment, an effect, a payload model, a named ``after`` delay, a parallel
region, tags, emitted events) and the desk's existing tables, with their own
column names (``ticketId``, ``workflowState``, ...) and no legacy status;
an archive table of older tickets keeps a legacy status under a name of its
own (``ticketStatus``), for ``backfill``.  The test writes the module into a
folder of its own and names it once, ``--app MODULE:make_service``, as a
user would.

It is then driven through the service (send, dry run, idempotency), the
command line (``validate``, ``inspect``, ``send``, ``bulk``, ``backfill``,
``export --record``, ``worker``, ``serve``), the timer worker and the outbox
relay, the GraphQL API (``create_app(service=..., records=[...])``) and the
inspector in a real Chromium.  The shipped order machines share the
database: a sent quotation with its pending timer and outbox event, whose
rows no tool of the desk's may touch (``OrderRows``).
"""

from __future__ import annotations

import importlib
import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, inspect, select, text, update
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from orderflow.cli import app as cli
from orderflow.cli.app import UserError
from orderflow.errors import IdempotencyKeyReusedError, OrderflowError
from orderflow.service import Principal, WorkflowService, order_service
from orderflow.store import (
    OutboxEvent,
    Quotation,
    ScheduledEvent,
    TransitionLog,
    create_engine,
    upgrade,
)
from orderflow.store.base import utcnow
from orderflow.workers import OutboxMessage, OutboxRelay, TimerWorker
from workflow_db import NO_POSTGRES, POSTGRES_URL

APP_MODULE = '''
"""A help desk's workflow app: its machine, its tables, and the service that moves them."""

from typing import Any, ClassVar

from pydantic import BaseModel, Field
from sqlalchemy import String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, sessionmaker

import orderflow
from orderflow.service import WorkflowService
from orderflow.store import WorkflowRecord, create_engine
from orderflow.store.record import NullableJSONDocument


class Base(DeclarativeBase):
    pass


class Ticket(Base, WorkflowRecord):
    """The desk's existing table: its own column names, and no legacy status."""

    __tablename__ = "__TABLE__"

    id: Mapped[int] = mapped_column("ticketId", primary_key=True)
    subject: Mapped[str] = mapped_column(String(80), default="")
    workflow_machine: Mapped[str | None] = mapped_column("workflowMachine", String(40), default=None)
    workflow_state: Mapped[dict[str, Any] | None] = mapped_column(
        "workflowState", NullableJSONDocument, default=None
    )
    workflow_context: Mapped[Any] = mapped_column(
        "workflowContext", NullableJSONDocument, default=None, nullable=True
    )
    workflow_version: Mapped[int] = mapped_column("workflowVersion", default=0)
    status = None


class ArchivedTicket(Base, WorkflowRecord):
    """Tickets from before the workflow: a legacy status under a name of its own."""

    __tablename__ = "__TABLE___archive"
    __workflow_status__: ClassVar[dict[str, str]] = {"new": "NEW", "open": "OPEN", "solved": "CLOSED"}

    id: Mapped[int] = mapped_column(primary_key=True)
    subject: Mapped[str] = mapped_column(String(80), default="")
    workflow_machine: Mapped[str | None] = mapped_column("workflowMachine", String(40), default=None)
    workflow_state: Mapped[dict[str, Any] | None] = mapped_column(
        "workflowState", NullableJSONDocument, default=None
    )
    workflow_context: Mapped[Any] = mapped_column(
        "workflowContext", NullableJSONDocument, default=None, nullable=True
    )
    workflow_version: Mapped[int] = mapped_column("workflowVersion", default=0)
    status: Mapped[str | None] = mapped_column("ticketStatus", String(20), default=None)


class Note(Base):
    """What the notify effect writes, in the transaction of the send."""

    __tablename__ = "__TABLE___notes"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket: Mapped[int]
    text: Mapped[str] = mapped_column(String(200))


class Assignment(BaseModel):
    assignee: str = Field(min_length=1)
    priority: int = Field(default=1, ge=1, le=5)


def staffed(context: Any, event: Assignment, params: Any) -> tuple[bool, str]:
    return event.assignee in context["agents"], f"{event.assignee} is not an agent of this desk"


DESK = orderflow.setup(
    events={"ASSIGN": Assignment},
    guards={"staffed": staffed},
    actions={
        "take": orderflow.assign(
            lambda context, event, params: {"assignee": event.assignee, "priority": event.priority}
        ),
        "notify": lambda context, event, params: None,  # the service runs notify() instead
    },
    delays={"patience": lambda context, event, params: context["patience_ms"]},
).create_machine({
    "id": "desk",
    "version": 1,
    "initial": "new",
    "context": {"agents": ["ada", "bo"], "assignee": None, "priority": 0, "patience_ms": 3600000},
    "states": {
        "new": {"on": {"ASSIGN": {"target": "open", "guard": "staffed", "actions": [
            "take", "notify", {"type": "emit", "params": {"event": {"type": "desk.assigned"}}},
        ]}}},
        "open": {
            "type": "parallel",
            "states": {
                "work": {"initial": "triage", "states": {
                    "triage": {"on": {"START": "doing"}},
                    "doing": {"tags": ["busy"]},
                }},
                "sla": {"initial": "ticking", "states": {
                    "ticking": {"after": {"patience": "breached"}},
                    "breached": {"tags": ["late"], "entry": [
                        {"type": "emit", "params": {"event": {"type": "desk.breached"}}},
                    ]},
                }},
            },
            "on": {"SOLVE": "solved"},
        },
        "solved": {"type": "final", "entry": [
            {"type": "emit", "params": {"event": {"type": "desk.solved"}}},
        ]},
    },
})


def notify(session: Any, ticket: Ticket, action: Any) -> None:
    session.add(Note(ticket=ticket.id, text=f"assigned to {action.event.assignee}"))


def make_service(database_url: str) -> WorkflowService:
    engine = create_engine(database_url)
    Base.metadata.create_all(engine)
    Session = sessionmaker(engine, expire_on_commit=False)
    return WorkflowService(Session, {"desk": DESK}, effects={"notify": notify})
'''

SECRET = "own-machine-e2e-" + "k3y" * 8
AGENT = Principal("u-ada", "Ada Agent")
CLERK = Principal("u-clerk", "Clara Clerk")
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")


@dataclass
class Desk:
    """The app as the test wrote it, its database, and a session factory of the test's own."""

    spec: str
    url: str
    folder: Path
    module: Any
    service: WorkflowService
    Session: sessionmaker[Session]
    engine: Engine
    orders: OrderRows = field(init=False)

    @property
    def table(self) -> str:
        return str(self.module.Ticket.__tablename__)

    @property
    def archive(self) -> str:
        return str(self.module.ArchivedTicket.__tablename__)

    def ticket(self, subject: str, **input: Any) -> Any:
        ticket = self.module.Ticket(subject=subject, workflow_machine="desk")
        assert self.service.start(ticket, input=input or None, actor=AGENT).success
        return ticket

    def notes(self) -> list[str]:
        with self.Session() as session:
            return list(
                session.scalars(select(self.module.Note.text).order_by(self.module.Note.id))
            )

    def outbox(self) -> list[tuple[str, str, str]]:
        """The desk's outbox rows: (record id, event type, status)."""
        with self.Session() as session:
            rows = session.scalars(
                select(OutboxEvent)
                .where(OutboxEvent.record_type == self.table)
                .order_by(OutboxEvent.id)
            )
            return [(row.record_id, row.event_type, row.status) for row in rows]


class OrderRows:
    """A sent quotation of the shipped machines, and every row of it, to prove nothing touched them."""

    def __init__(self, Session: sessionmaker[Session]) -> None:
        self.Session = Session
        orders = order_service(Session)
        quotation = Quotation(reference="Q-1", customer_id="C-1", workflow_machine="quotation")
        orders.start(quotation, input={"quotation_id": "Q-1", "customer_id": "C-1",
                                       "currency": "EUR"}, actor=CLERK)  # fmt: skip
        orders.send(quotation, {"type": "ADD_LINE", "sku": "CHAIR", "quantity": 2,
                                "unit_price": "120.00"}, actor=CLERK)  # fmt: skip
        assert orders.send(quotation, "SUBMIT", actor=CLERK).to_state == "sent"
        self.before = self.read()
        timers, outbox = self.before[2], self.before[3]
        assert any(status == "pending" for *_, status in timers), "the quotation has a timer"
        assert any(status == "pending" for *_, status in outbox), "and an unpublished event"

    def read(self) -> list[list[tuple[Any, ...]]]:
        """Every order record row, and every log, timer and outbox row of an order record."""
        order_types = ("quotations", "sale_orders", "fulfillments")
        workflow_rows = [
            select(Quotation.id, Quotation.workflow_state, Quotation.workflow_context,
                   Quotation.workflow_version, Quotation.status),
            select(TransitionLog.id, TransitionLog.event, TransitionLog.record_version)
            .where(TransitionLog.record_type.in_(order_types)),
            select(ScheduledEvent.id, ScheduledEvent.due_at, ScheduledEvent.attempts,
                   ScheduledEvent.status).where(ScheduledEvent.record_type.in_(order_types)),
            select(OutboxEvent.id, OutboxEvent.attempts, OutboxEvent.status)
            .where(OutboxEvent.record_type.in_(order_types)),
        ]  # fmt: skip
        with self.Session() as session:
            return [[tuple(row) for row in session.execute(query)] for query in workflow_rows]

    def untouched(self) -> None:
        assert self.read() == self.before


@contextmanager
def shared_database(kind: str, folder: Path) -> Iterator[str]:
    """The URL of an empty database: a SQLite file, or a fresh schema on the PostgreSQL server.

    The schema travels in the URL (``options=-csearch_path=...``), so the
    command line and ``orderflow serve`` find it as the test does.
    """
    if kind == "sqlite-file":
        yield f"sqlite:///{folder / 'shared.sqlite3'}"
        return
    if POSTGRES_URL is None:
        pytest.skip(NO_POSTGRES)
    schema = f"e2e_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_URL)
    with admin.begin() as connection:
        connection.exec_driver_sql(f"CREATE SCHEMA {schema}")
    try:
        separator = "&" if "?" in POSTGRES_URL else "?"
        yield f"{POSTGRES_URL}{separator}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as connection:
            connection.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
        admin.dispose()


@pytest.fixture(params=["sqlite-file", "postgresql"])
def desk(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Desk]:
    name = f"helpdesk_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{name}.py").write_text(APP_MODULE.replace("__TABLE__", f"{name}_tickets"))
    with shared_database(request.param, tmp_path) as url:
        engine = create_engine(url)
        upgrade(engine)  # orderflow's tables, and the order records' own
        monkeypatch.chdir(tmp_path)
        monkeypatch.syspath_prepend(str(tmp_path))
        monkeypatch.delenv("ORDERFLOW_APP", raising=False)
        module = importlib.import_module(name)
        Session = sessionmaker(engine, expire_on_commit=False)
        service = module.make_service(url)
        found = Desk(f"{name}:make_service", url, tmp_path, module, service, Session, engine)
        found.orders = OrderRows(Session)
        try:
            yield found
        finally:
            sys.modules.pop(name, None)
            service.session_factory.kw["bind"].dispose()
            engine.dispose()


def orderflow(desk: Desk, *args: str) -> tuple[int, str]:
    """``orderflow --app SPEC ARGS --database-url URL``: exit status and output, as ``main()`` gives them."""
    command = ["--app", desk.spec, *args]
    if args[0] not in ("validate",):
        command += ["--database-url", desk.url]
    result = CliRunner().invoke(cli, command, env={"COLUMNS": "200"})
    if isinstance(result.exception, UserError | OrderflowError):
        return 2, str(result.exception)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.output


# -- the service -----------------------------------------------------------------------------------


def test_the_service_moves_the_desks_own_table(desk: Desk) -> None:
    ticket = desk.ticket("printer")
    refused = desk.service.send(ticket, {"type": "ASSIGN", "assignee": "eve"}, actor=AGENT)
    assert refused.refusal is not None and refused.refusal.kind == "guarded"
    assert "eve is not an agent of this desk" in (refused.reason or "")

    assign = {"type": "ASSIGN", "assignee": "bo", "priority": 2}
    dry = desk.service.send(ticket, assign, actor=AGENT, dry_run=True)
    assert dry.success and dry.dry_run and dry.effects == ("notify",)
    assert desk.notes() == [] and desk.outbox() == [] and ticket.workflow_version == 1

    first = desk.service.send(ticket, assign, actor=AGENT, idempotency_key="assign-1")
    again = desk.service.send(ticket, assign, actor=AGENT, idempotency_key="assign-1")
    assert first.success and again.idempotent and again.log_ids == first.log_ids
    with pytest.raises(IdempotencyKeyReusedError):
        desk.service.send(ticket, {**assign, "assignee": "ada"}, actor=AGENT,
                          idempotency_key="assign-1")  # fmt: skip
    assert desk.notes() == ["assigned to bo"]  # the effect ran once, in the send's transaction
    assert desk.outbox() == [(str(ticket.id), "desk.assigned", "pending")]

    snapshot = desk.service.snapshot(ticket)
    assert snapshot.value == {"open": {"work": "triage", "sla": "ticking"}}
    assert snapshot.context["assignee"] == "bo" and snapshot.context["priority"] == 2
    desk.service.send(ticket, "START", actor=AGENT)
    assert desk.service.snapshot(ticket).has_tag("busy")

    with desk.engine.connect() as connection:  # the desk's own column names hold it all
        row = connection.execute(
            text(f'SELECT "workflowState", "workflowVersion" FROM {desk.table} '
                 'WHERE "ticketId" = :id'), {"id": ticket.id},
        ).one()  # fmt: skip
        columns = {column["name"] for column in inspect(connection).get_columns(desk.table)}
    state = row[0] if isinstance(row[0], dict) else json.loads(row[0])  # JSON text on SQLite
    assert state["value"]["open"]["work"] == "doing" and row[1] == 3
    assert "status" not in columns and "workflow_state" not in columns
    desk.orders.untouched()


# -- the command line ------------------------------------------------------------------------------


def test_the_command_line_serves_the_apps_records(desk: Desk) -> None:
    code, output = orderflow(desk, "validate", "desk")
    assert code == 0 and "desk" in output, output

    first, second = desk.ticket("vpn"), desk.ticket("mail")
    code, output = orderflow(desk, "inspect", f"{desk.table}:{first.id}")
    assert code == 0 and "state new" in output and "ASSIGN" in output, output

    assign = ["--data", '{"assignee": "ada"}', "--actor", "u-ada"]
    code, output = orderflow(desk, "send", f"{desk.table}:{first.id}", "ASSIGN", *assign,
                             "--dry-run")  # fmt: skip
    assert code == 0 and "dry run: nothing written" in output, output
    assert desk.service.snapshot(first).value == "new"
    for _ in range(2):
        code, output = orderflow(desk, "send", f"{desk.table}:{first.id}", "ASSIGN", *assign,
                                 "--idempotency-key", "cli-1")  # fmt: skip
        assert code == 0, output
    assert "already sent under this key" in output and "desk.assigned" in output
    assert desk.service.snapshot(first).matches("open.work.triage")
    assert desk.notes() == ["assigned to ada"]

    code, output = orderflow(desk, "bulk", desk.table, "ASSIGN", "--where", "new", *assign,
                             "--dry-run")  # fmt: skip
    assert code == 0 and "1 succeeded" in output and "dry run" in output, output
    assert desk.service.snapshot(second).value == "new"
    code, output = orderflow(desk, "bulk", desk.table, "START", "--where", "open.work.triage")
    assert code == 0 and "1 succeeded" in output, output
    assert desk.service.snapshot(first).matches("open.work.doing")

    code, output = orderflow(desk, "export", "desk", "--format", "dot", "--record",
                             f"{desk.table}:{first.id}")  # fmt: skip
    assert code == 0, output
    assert re.search(r'"desk\.open\.work\.doing"[^\n]*active', output), output
    code, output = orderflow(desk, "export", "desk", "--record", f"{desk.archive}:99")
    assert code == 2 and "There is no" in output and "with id '99'" in output, output

    code, output = orderflow(desk, "inspect", f"{desk.table[:-1]}:1")
    assert code == 2 and f"did you mean '{desk.table}'" in output, output
    desk.orders.untouched()


def test_backfill_through_the_app_adopts_the_archive_and_refuses_a_table_without_status(
    desk: Desk,
) -> None:
    Archived = desk.module.ArchivedTicket
    with desk.Session.begin() as session:
        session.add_all([Archived(subject="old", status="NEW"),
                         Archived(subject="older", status="CLOSED")])  # fmt: skip
    context = {"agents": ["ada"], "assignee": None, "priority": 0, "patience_ms": 1000}
    mapping = desk.folder / "statuses.json"
    mapping.write_text(json.dumps({"machine": "desk", "statuses": {
        "NEW": {"state": "new", "context": context},
        "CLOSED": {"state": "solved", "context": {**context, "assignee": "ada"}},
    }}))  # fmt: skip

    code, output = orderflow(desk, "backfill", desk.archive, "--mapping", str(mapping),
                             "--dry-run")  # fmt: skip
    assert code == 0 and "2 adopted" in output, output
    with desk.Session() as session:
        assert session.scalars(select(Archived.workflow_state)).all() == [None, None]
    code, output = orderflow(desk, "backfill", desk.archive, "--mapping", str(mapping))
    assert code == 0 and "2 adopted" in output, output
    with desk.Session() as session:
        adopted = {a.subject: (a.status, a.workflow_state["value"])
                   for a in session.scalars(select(Archived))}  # fmt: skip
    assert adopted == {"old": ("NEW", "new"), "older": ("CLOSED", "solved")}
    code, output = orderflow(desk, "backfill", desk.archive, "--mapping", str(mapping))
    assert code == 0 and "0 adopted, 0 already in their workflow, 0 failed" in output, output

    untracked = desk.module.Ticket(subject="legacy")
    with desk.Session.begin() as session:
        session.add(untracked)
    code, output = orderflow(desk, "backfill", desk.table, "--mapping", str(mapping))
    assert code == 2 and "no legacy status" in output, output
    with desk.Session() as session:
        assert session.get(desk.module.Ticket, untracked.id).workflow_state is None
    desk.orders.untouched()


# -- the timer worker and the relay ----------------------------------------------------------------


class Recording:
    """A publisher that keeps what it is given."""

    def __init__(self) -> None:
        self.messages: list[OutboxMessage] = []

    def publish(self, message: OutboxMessage) -> None:
        self.messages.append(message)


def test_the_workers_fire_and_relay_only_the_desks_rows(desk: Desk) -> None:
    ticket = desk.ticket("backup")
    desk.service.send(ticket, {"type": "ASSIGN", "assignee": "ada"}, actor=AGENT)
    models = {desk.table: desk.module.Ticket}
    a_year_on = utcnow() + timedelta(days=400)  # the ticket's patience is an hour
    (_, _, order_timers, _) = desk.orders.before
    assert all(
        due_at.replace(tzinfo=a_year_on.tzinfo) < a_year_on for _, due_at, *_ in order_timers
    )
    worker = TimerWorker(desk.service, desk.Session, models=models, clock=lambda: a_year_on)
    (firing,) = worker.run_once()  # the quotation's timer is due as well, and not claimed
    assert (firing.record_type, firing.outcome) == (desk.table, "fired")
    snapshot = desk.service.snapshot(ticket)
    assert snapshot.matches("open.sla.breached") and snapshot.has_tag("late")

    publisher = Recording()
    report = OutboxRelay(desk.Session, publisher, record_types=set(models)).run_once()
    assert [m.event_type for m in publisher.messages] == ["desk.assigned", "desk.breached"]
    assert len(report.published) == 2 and {m.record_type for m in publisher.messages} == {
        desk.table
    }
    assert [status for *_, status in desk.outbox()] == ["published", "published"]
    desk.orders.untouched()


def test_the_command_line_worker_fires_and_relays_only_the_apps_rows(desk: Desk) -> None:
    ticket = desk.ticket("laptop", patience_ms=0)  # due as soon as it is assigned
    desk.service.send(ticket, {"type": "ASSIGN", "assignee": "bo"}, actor=AGENT)
    with desk.Session.begin() as session:  # the quotation's timer is due too: still not the app's
        session.execute(
            update(ScheduledEvent).where(ScheduledEvent.record_type == "quotations")
            .values(due_at=utcnow() - timedelta(days=1))
        )  # fmt: skip
    desk.orders.before = desk.orders.read()
    code, output = orderflow(desk, "worker", "--once", "--stdout")
    assert code == 0 and "1 claimed" in output and "1 fired" in output, output
    assert desk.service.snapshot(ticket).matches("open.sla.breached")
    published = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    assert [(m["type"], m["record"]["type"]) for m in published] == [
        ("desk.assigned", desk.table), ("desk.breached", desk.table),
    ]  # fmt: skip
    desk.orders.untouched()


# -- the GraphQL API -------------------------------------------------------------------------------


def test_the_graphql_api_serves_the_desks_records(desk: Desk) -> None:
    from orderflow.api import create_app, issue_token

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # starlette's own deprecation of httpx
        from starlette.testclient import TestClient

    ticket = desk.ticket("monitor")
    app = create_app(service=desk.service, secret=SECRET,
                     records=[desk.module.Ticket, desk.module.ArchivedTicket])  # fmt: skip
    client = TestClient(app)
    client.headers["Authorization"] = f"Bearer {issue_token(SECRET, AGENT)}"

    def graphql(query: str, **variables: Any) -> Any:
        response = client.post("/graphql", json={"query": query, "variables": variables})
        assert response.status_code == 200, response.text
        return response.json()

    read = graphql(
        "query($t: String!, $id: ID!) { workflow(recordType: $t, recordId: $id) "
        "{ machine value version allowedEvents { event allowed needsPayload } } }",
        t=desk.table,
        id=str(ticket.id),
    )
    assert read.get("errors") is None, read
    flow = read["data"]["workflow"]
    assert (flow["machine"], flow["value"], flow["version"]) == ("desk", "new", 1)
    assert (
        flow["allowedEvents"][0]["event"] == "ASSIGN" and flow["allowedEvents"][0]["needsPayload"]
    )

    send = ("mutation($t: String!, $id: ID!, $p: JSON, $dry: Boolean!) { sendEvent(recordType: $t, "
            'recordId: $id, event: "ASSIGN", payload: $p, dryRun: $dry, idempotencyKey: "api-1") '
            "{ success toState dryRun idempotent emitted } }")  # fmt: skip
    dry = graphql(send, t=desk.table, id=str(ticket.id), p={"assignee": "ada"}, dry=True)
    assert dry["data"]["sendEvent"]["dryRun"] and desk.notes() == []
    moved = graphql(send, t=desk.table, id=str(ticket.id), p={"assignee": "ada"}, dry=False)
    assert moved.get("errors") is None, moved
    answer = moved["data"]["sendEvent"]
    assert answer["success"] and answer["toState"] == {"open": {"work": "triage", "sla": "ticking"}}
    assert answer["emitted"] == [{"type": "desk.assigned"}]
    replay = graphql(send, t=desk.table, id=str(ticket.id), p={"assignee": "ada"}, dry=False)
    assert replay["data"]["sendEvent"]["idempotent"] and desk.notes() == ["assigned to ada"]

    bad = graphql(send, t=desk.table, id=str(ticket.id), p={"assignee": ""}, dry=False)
    assert bad["errors"] and "assignee" in bad["errors"][0]["message"]
    other = graphql(send, t="quotations", id="1", p={"assignee": "ada"}, dry=False)
    assert other["errors"]  # the order records are not this app's
    desk.orders.untouched()


# -- orderflow serve, and the inspector in Chromium -----------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def served(desk: Desk) -> Iterator[str]:
    """``orderflow --app SPEC serve`` in a process of its own, run from the app's folder."""
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "orderflow", "--app", desk.spec, "serve", "--port", str(port),
         "--database-url", desk.url],
        cwd=desk.folder, env={**os.environ, "ORDERFLOW_API_SECRET": SECRET},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    address = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    try:
        while True:
            assert process.poll() is None, process.communicate()[0]
            assert time.monotonic() < deadline, "orderflow serve did not start in 30 s"
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    break
            except OSError:
                time.sleep(0.1)
        yield address
    finally:
        process.terminate()
        process.wait(15)


def _graphql_over_http(address: str, query: str, actor: Principal) -> Any:
    from orderflow.api import issue_token

    request = urllib.request.Request(
        f"{address}/graphql", data=json.dumps({"query": query}).encode(),
        headers={"Content-Type": "application/json",
                 "Authorization": f"Bearer {issue_token(SECRET, actor)}"},
    )  # fmt: skip
    with urllib.request.urlopen(request, timeout=15) as response:
        return json.loads(response.read())


def test_orderflow_serve_serves_the_apps_records(desk: Desk, served: str) -> None:
    ticket = desk.ticket("keyboard")
    answer = _graphql_over_http(
        served,
        f'mutation {{ sendEvent(recordType: "{desk.table}", recordId: "{ticket.id}", '
        'event: "ASSIGN", payload: {assignee: "bo"}) { success } }',
        AGENT,
    )
    assert answer == {"data": {"sendEvent": {"success": True}}}, answer
    assert desk.service.snapshot(ticket).matches("open.sla.ticking")
    assert desk.notes() == ["assigned to bo"]
    desk.orders.untouched()


def _no_browser() -> str | None:
    if importlib.util.find_spec("playwright") is None:
        return "Playwright for Python is not installed (pip install playwright)"
    if not os.access(CHROMIUM, os.X_OK):
        return f"no Chromium at {CHROMIUM} (apt-get install -y chromium, as .ci/run does)"
    return None


@pytest.mark.skipif(_no_browser() is not None, reason=str(_no_browser()))
def test_the_inspector_in_chromium_moves_a_ticket_of_the_app(desk: Desk, served: str) -> None:
    from playwright.sync_api import sync_playwright

    from orderflow.api import issue_token

    ticket = desk.ticket("headset")
    desk.service.send(ticket, {"type": "ASSIGN", "assignee": "ada"}, actor=AGENT)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
            page = browser.new_context().new_page()
            page.goto(served + "/")
            page.fill("#token", issue_token(SECRET, AGENT))
            with page.expect_navigation():
                page.click("button:has-text('Sign in')")
            page.click(f'a[href="/records/{desk.table}/{ticket.id}"]')
            page.wait_for_selector("#state")
            assert "triage" in page.text_content("#state")
            page.locator('button[value="SOLVE"]').click()
            page.wait_for_selector(".flash.ok")
            assert page.text_content("#state").strip() == "solved"
            solved = page.locator("#log tr", has_text="SOLVE")
            assert "Ada Agent" in solved.text_content()
        finally:
            browser.close()
    assert desk.service.snapshot(ticket).value == "solved"
    assert [event for _, event, _ in desk.outbox()] == ["desk.assigned", "desk.solved"]
    desk.orders.untouched()
