"""The record commands on a real SQLite file: demo, inspect, send, bulk, backfill, export."""

from __future__ import annotations

import getpass
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from orderflow.cli import app
from orderflow.cli.records import acting, operator_login
from orderflow.service import order_service
from orderflow.store import Quotation, SaleOrder, TransitionLog, create_engine, upgrade

runner = CliRunner()


def invoke(*args: str) -> Any:
    return runner.invoke(app, list(args), catch_exceptions=False, env={"COLUMNS": "200"})


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A database the demo filled with 16 orders (two of each story)."""
    url = f"sqlite:///{tmp_path_factory.mktemp('demo') / 'orderflow.sqlite3'}"
    result = invoke("demo", "--database-url", url, "--count", "16")
    assert result.exit_code == 0, result.output
    return url


@pytest.fixture
def db(tmp_path: Path) -> Iterator[tuple[str, sessionmaker[Session]]]:
    url = f"sqlite:///{tmp_path / 'orderflow.sqlite3'}"
    engine = create_engine(url)
    upgrade(engine)
    yield url, sessionmaker(engine, expire_on_commit=False)
    engine.dispose()


def test_the_demo_runs_every_story_and_prints_the_summary_and_one_audit_trail(
    demo_db: str,
) -> None:
    engine = create_engine(demo_db)
    with Session(engine) as session:
        quotations = {str(q.workflow_state["value"]) for q in session.scalars(select(Quotation))}
        sales = {str(s.workflow_state["value"]) for s in session.scalars(select(SaleOrder))}
        events = set(session.scalars(select(TransitionLog.event)))
    engine.dispose()
    assert quotations == {"approved", "declined", "expired"}
    assert sales == {"cleared"}
    # approvals, both payment kinds, both overrides, a backorder, a return, timers
    assert {"APPROVE", "CAPTURE", "CREDIT_OVERRIDE_APPROVED", "ADMIN_OVERRIDE_APPROVED",
            "STOCK_SHORT", "RESTOCKED", "ACCEPT_RETURN", "orderflow.handoff",
            "RETURN_WINDOW_CLOSED", "xstate.after.validity.quotation.sent",
            "xstate.done.actor.credit_check"} <= events  # fmt: skip


def test_the_demo_output_has_the_state_table_the_rate_and_the_trail(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'demo.sqlite3'}"
    result = invoke("demo", "--database-url", url, "--count", "8")
    assert result.exit_code == 0, result.output
    assert "where the records ended" in result.output
    assert re.search(r"fulfilment\s+│\s+returned\s+│\s+1", result.output)
    assert re.search(r"log rows .* per second; \d+ timers fired", result.output)
    assert "ACCEPT_RETURN" in result.output and "look closer: orderflow inspect" in result.output
    assert re.search(r"timers fired; [1-9]\d* invocations run by the worker", result.output)
    # the credit check's answer, delivered by the worker, in the on-account sale's trail
    assert "xstate.done.actor.credit_check" in result.output
    assert "invocation worker" in result.output
    again = invoke("demo", "--database-url", url, "--count", "8")  # a second run adds to it
    assert again.exit_code == 0, again.output


def test_inspect_shows_state_context_events_with_reasons_and_the_log(demo_db: str) -> None:
    engine = create_engine(demo_db)
    with Session(engine) as session:
        sent = session.scalars(select(Quotation.id).where(Quotation.status == "expired")).first()
    engine.dispose()
    result = invoke("inspect", f"quotation:{sent}", "--database-url", demo_db)
    assert result.exit_code == 0, result.output
    assert "machine quotation  state expired  status done" in result.output
    assert '"currency": "EUR"' in result.output
    assert "xstate.after.validity.quotation.sent" in result.output  # the log row of the expiry


def test_send_moves_a_record_and_a_refusal_exits_1_with_the_reason(
    db: tuple[str, sessionmaker[Session]],
) -> None:
    url, Session_ = db
    service = order_service(Session_)
    sale = SaleOrder(reference="S-1", customer_id="C-1", workflow_machine="sale")
    service.start(sale, input={"customer_id": "C-1", "currency": "EUR", "total": "100.00"})

    refused = invoke("send", f"sale:{sale.id}", "CAPTURE", "--data",
                     '{"amount": "10.00", "reference": "P-1"}', "--database-url", url)  # fmt: skip
    assert refused.exit_code == 1
    assert f"sale:{sale.id} refused CAPTURE" in refused.output

    dry = invoke("send", f"sale:{sale.id}", "SELECT_PAYMENT_METHOD", "--data",
                 '{"method": "card"}', "--dry-run", "--database-url", url)  # fmt: skip
    assert dry.exit_code == 0 and "dry run: nothing written" in dry.output
    assert service.snapshot(sale).value == {"processing": "awaiting_payment_method"}

    moved = invoke("send", f"sale:{sale.id}", "SELECT_PAYMENT_METHOD", "--data",
                   '{"method": "card"}', "--actor", "u-1", "--note", "by phone",
                   "--database-url", url)  # fmt: skip
    assert moved.exit_code == 0, moved.output
    assert "processing.awaiting_payment_method → processing.awaiting_payment.unpaid" in (
        moved.output
    )
    with Session_() as session:
        last = session.scalars(select(TransitionLog).order_by(TransitionLog.id.desc())).first()
        assert last is not None and (last.actor_user, last.note) == ("u-1", "by phone")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["send", "sale", "X"], "name a record as TYPE:ID"),
        (["send", "invoice:1", "X"], "no record type 'invoice'"),
        (["send", "sale:999", "CANCEL"], "999"),
        (["send", "sale:1", "CANCEL", "--data", "{oops"], "--data is not valid JSON"),
        (["send", "sale:1", "NOT_AN_EVENT"], "NOT_AN_EVENT"),
        (["bulk", "sale", "CANCEL", "--where", ""], "--where needs a state"),
    ],
)
def test_record_mistakes_are_one_line_errors(
    db: tuple[str, sessionmaker[Session]], args: list[str], message: str
) -> None:
    url, Session_ = db
    service = order_service(Session_)
    service.start(SaleOrder(id=1, reference="S-1", customer_id="C-1", workflow_machine="sale"),
                  input={"customer_id": "C-1", "currency": "EUR", "total": "1.00"})  # fmt: skip
    result = runner.invoke(app, [*args, "--database-url", url])
    assert result.exit_code != 0
    assert message in str(result.exception) or message in result.output


def test_a_database_without_the_tables_is_a_clear_error(tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["inspect", "sale:1", "--database-url", f"sqlite:///{tmp_path / 'empty.db'}"]
    )
    assert result.exit_code != 0
    assert "has no orderflow tables; run `orderflow db upgrade`" in str(result.exception)


def test_bulk_sends_to_every_record_in_a_state_and_reports_each_failure(
    db: tuple[str, sessionmaker[Session]],
) -> None:
    url, Session_ = db
    service = order_service(Session_)
    for number in range(1, 5):
        sale = SaleOrder(reference=f"S-{number}", customer_id="C-1", workflow_machine="sale")
        service.start(sale, input={"customer_id": "C-1", "currency": "EUR", "total": "10.00"})
        if number == 4:
            service.send(sale, {"type": "SELECT_PAYMENT_METHOD", "method": "card"})

    dry = invoke("bulk", "sale", "CANCEL", "--where", "processing.awaiting_payment_method",
                 "--data", '{"reason": "duplicate"}', "--dry-run", "--database-url", url)  # fmt: skip
    assert dry.exit_code == 0 and "3 succeeded, 0 failed (dry run" in dry.output

    done = invoke("bulk", "sale", "CANCEL", "--where", "processing",
                  "--data", '{"reason": "duplicate"}', "--database-url", url)  # fmt: skip
    assert done.exit_code == 0 and "4 succeeded, 0 failed" in done.output

    again = invoke("bulk", "sale", "SELECT_PAYMENT_METHOD", "--where", "cancelled",
                   "--data", '{"method": "card"}', "--database-url", url)  # fmt: skip
    assert again.exit_code == 1
    assert "0 succeeded, 4 failed" in again.output
    assert again.output.count("the workflow of this record is done") == 4


def _started_sales(Session_: sessionmaker[Session], count: int) -> list[int]:
    service = order_service(Session_)
    ids = []
    for number in range(1, count + 1):
        sale = SaleOrder(reference=f"S-{number}", customer_id="C-1", workflow_machine="sale")
        service.start(sale, input={"customer_id": "C-1", "currency": "EUR", "total": "10.00"})
        ids.append(sale.id)
    return ids


def _log_rows(Session_: sessionmaker[Session]) -> list[tuple[str, str | None, str | None]]:
    with Session_() as session:
        return [
            (row.event, row.actor_user, row.actor_label)
            for row in session.scalars(select(TransitionLog).order_by(TransitionLog.id))
        ]


@pytest.mark.parametrize("command", ["send", "bulk"])
def test_data_naming_who_acts_is_refused_once_before_anything_runs(
    db: tuple[str, sessionmaker[Session]], command: str
) -> None:
    url, Session_ = db
    (sale_id,) = _started_sales(Session_, 1)
    before = _log_rows(Session_)
    forged = '{"reason": "x", "actor": {"id": "u-boss", "permissions": ["sale.override.admin"]}}'
    args = (["send", f"sale:{sale_id}", "CANCEL"] if command == "send"
            else ["bulk", "sale", "CANCEL", "--where", "processing"])  # fmt: skip
    result = runner.invoke(app, [*args, "--data", forged, "--database-url", url])
    assert result.exit_code != 0
    message = str(result.exception)
    assert "--data carries the reserved field 'actor'" in message and "--actor" in message
    assert _log_rows(Session_) == before


@pytest.mark.parametrize(
    "event", ["xstate.after.payment_timeout.sale.processing", "orderflow.backfill", "xstate.init"]
)
def test_an_internal_event_from_the_command_line_is_refused_and_nothing_moves(
    db: tuple[str, sessionmaker[Session]], event: str
) -> None:
    url, Session_ = db
    first, _ = _started_sales(Session_, 2)
    before = _log_rows(Session_)
    sent = runner.invoke(app, ["send", f"sale:{first}", event, "--database-url", url])
    assert sent.exit_code != 0
    assert "takes no event" in str(sent.exception) and event in str(sent.exception)
    bulk = invoke("bulk", "sale", event, "--where", "processing", "--database-url", url)
    assert bulk.exit_code == 1 and "0 succeeded, 2 failed" in bulk.output
    assert bulk.output.count("it is an internal event") == 2
    assert _log_rows(Session_) == before


def test_send_and_bulk_act_as_the_operator_they_name_or_else_as_the_login(
    db: tuple[str, sessionmaker[Session]], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, Session_ = db
    first, second = _started_sales(Session_, 2)
    monkeypatch.delenv("ORDERFLOW_ACTOR", raising=False)
    monkeypatch.setattr(getpass, "getuser", lambda: "ada")
    choose = ["SELECT_PAYMENT_METHOD", "--data", '{"method": "card"}', "--database-url", url]
    assert invoke("send", f"sale:{first}", *choose).exit_code == 0
    monkeypatch.setenv("ORDERFLOW_ACTOR", "u-ops")
    assert invoke("send", f"sale:{second}", *choose).exit_code == 0
    cancel = ["CANCEL", "--where", "processing", "--data", '{"reason": "x"}', "--database-url", url]
    assert invoke("bulk", "sale", *cancel, "--actor", "u-7", "--actor-label", "Bo").exit_code == 0
    assert _log_rows(Session_)[2:] == [
        ("SELECT_PAYMENT_METHOD", "ada", "ada (command line)"),
        ("SELECT_PAYMENT_METHOD", "u-ops", "u-ops"),
        ("CANCEL", "u-7", "Bo"),
        ("CANCEL", "u-7", "Bo"),
    ]


def test_acting_falls_back_to_a_named_tool_when_the_system_has_no_login_name(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def nobody() -> str:
        raise OSError("No username set in the environment")

    monkeypatch.setattr(getpass, "getuser", nobody)
    assert (acting(None, None, ["sale.override.credit"]).id, operator_login()) == ("cli", "cli")


def test_backfill_adopts_legacy_records_once_and_a_dry_run_writes_nothing(
    db: tuple[str, sessionmaker[Session]], tmp_path: Path
) -> None:
    url, Session_ = db
    with Session_() as session:
        session.add_all([
            Quotation(reference="Q-1", customer_id="C-1", status="open"),
            Quotation(reference="Q-2", customer_id="C-2", status="sent"),
            Quotation(reference="Q-3", customer_id="C-3", status="archived"),
        ])  # fmt: skip
        session.commit()
    context = {"quotation_id": "$reference", "customer_id": "$customer_id", "currency": "EUR"}
    mapping = tmp_path / "mapping.json"
    mapping.write_text(json.dumps({"machine": "quotation", "statuses": {
        "open": {"state": "draft", "context": context},
        "sent": {"state": "sent", "context": {**context, "lines": [
            {"sku": "CHAIR", "quantity": 1, "unit_price": "10.00"}], "total": "10.00"}},
    }}))  # fmt: skip

    dry = invoke("backfill", "quotation", "--mapping", str(mapping), "--dry-run",
                 "--database-url", url)  # fmt: skip
    assert dry.exit_code == 1  # Q-3's status has no mapping
    assert "2 adopted, 0 already in their workflow, 1 failed" in dry.output
    assert "no mapping for legacy status 'archived'" in dry.output
    with Session_() as session:
        assert session.scalars(select(TransitionLog)).first() is None

    invoke("backfill", "quotation", "--mapping", str(mapping), "--database-url", url)
    again = invoke("backfill", "quotation", "--mapping", str(mapping), "--database-url", url)
    assert "0 adopted" in again.output
    with Session_() as session:
        rows = session.scalars(select(TransitionLog.event)).all()
    assert rows == ["orderflow.backfill", "orderflow.backfill"]


def test_a_bad_mapping_file_is_a_one_line_error(
    db: tuple[str, sessionmaker[Session]], tmp_path: Path
) -> None:
    url, _ = db
    mapping = tmp_path / "mapping.json"
    mapping.write_text('{"machine": "quotation", "statuses": {"open": {"stat": "draft"}}}')
    result = runner.invoke(app, ["backfill", "quotation", "--mapping", str(mapping),
                                 "--database-url", url])  # fmt: skip
    assert result.exit_code != 0
    assert "statuses.open" in str(result.exception)


def test_export_writes_each_format_and_highlights_a_records_state(
    demo_db: str, tmp_path: Path
) -> None:
    for format in ("mermaid", "dot", "xstate"):
        result = invoke("export", "sale", "--format", format)
        assert result.exit_code == 0, result.output
    assert invoke("export", "sale", "--format", "mermaid").output.startswith("stateDiagram-v2")
    assert json.loads(invoke("export", "sale", "--format", "xstate").output)["id"] == "sale"

    highlighted = invoke("export", "fulfilment", "--record", "fulfilment:1",
                         "--database-url", demo_db)  # fmt: skip
    assert "class completed active" in highlighted.output or "active" in highlighted.output

    target = tmp_path / "sale.dot"
    invoke("export", "sale", "--format", "dot", "--output", str(target))
    assert target.read_text().startswith("digraph")

    wrong = runner.invoke(app, ["export", "sale", "--record", "fulfilment:1",
                                "--database-url", demo_db])  # fmt: skip
    assert "is moved by machine 'fulfilment', not 'sale'" in str(wrong.exception)
    unknown = runner.invoke(app, ["export", "sale", "--format", "png"])
    assert "unknown format 'png'" in str(unknown.exception)


def test_inspect_judges_the_allowed_events_for_the_actor_named(
    db: tuple[str, sessionmaker[Session]],
) -> None:
    url, Session_ = db
    service = order_service(Session_)
    quotation = Quotation(reference="Q-9", customer_id="C-1", workflow_machine="quotation")
    service.start(quotation, input={"quotation_id": "Q-9", "customer_id": "C-1", "currency": "EUR"})
    service.send(quotation, {"type": "ADD_LINE", "sku": "TABLE", "quantity": 10,
                             "unit_price": "1500.00"})  # fmt: skip
    assert service.send(quotation, "SUBMIT").to_state == "pending_approval"

    def approve_line(*options: str) -> str:
        result = invoke("inspect", f"quotation:{quotation.id}", *options, "--database-url", url)
        assert result.exit_code == 0, result.output
        return next(line for line in result.output.splitlines() if "APPROVE" in line)

    assert "sales-approver" in approve_line("--actor", "u-clerk")  # the role it lacks
    approver = approve_line("--actor", "u-ann", "--permission", "quotation.approve")
    assert "sales-approver" not in approver


def test_the_demos_hint_names_the_command_as_it_was_started(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    script = Path(sys.executable).parent / "orderflow"
    if not script.exists():
        pytest.skip(f"no orderflow script beside {sys.executable}")
    done = subprocess.run(
        [str(script), "demo", "--database-url", f"sqlite:///{tmp_path / 'd.db'}", "--count", "1"],
        capture_output=True, text=True, timeout=120, check=False, cwd=tmp_path,
        env={**os.environ, "PATH": "/usr/bin:/bin", "COLUMNS": "200"},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert f"look closer: {os.path.relpath(script, tmp_path)} inspect" in done.stdout
