"""``orderflow worker``: due timers fired through the order machines, the outbox relayed."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import sessionmaker
from typer.testing import CliRunner

from orderflow.cli import app
from orderflow.service import order_service
from orderflow.store import OutboxEvent, Quotation, create_engine, upgrade

runner = CliRunner()
CHAIRS = {"type": "ADD_LINE", "sku": "CHAIR", "quantity": 2, "unit_price": "120.00"}


def _sent_quotation_already_due(url: str) -> int:
    """A quotation sent with a validity of 0 ms: its expiry timer is due at once."""
    engine = create_engine(url)
    upgrade(engine)
    service = order_service(sessionmaker(engine, expire_on_commit=False))
    quotation = Quotation(reference="Q-1", customer_id="C-1", workflow_machine="quotation")
    service.start(quotation, input={"customer_id": "C-1", "currency": "EUR", "validity_ms": 0})
    service.send(quotation, CHAIRS)
    service.send(quotation, "SUBMIT")
    engine.dispose()
    return quotation.id


def test_worker_once_fires_the_due_timer_and_relays_the_events(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'flow.db'}"
    quotation_id = _sent_quotation_already_due(url)

    result = runner.invoke(app, ["worker", "--database-url", url, "--once", "--stdout"])

    assert result.exit_code == 0, result.output
    assert "timers: 1 claimed (1 fired)" in result.output
    assert "outbox: 3 published, 0 retried, 0 dead" in result.output
    printed = [json.loads(line) for line in result.output.splitlines() if line.startswith("{")]
    assert [m["type"] for m in printed if m["record"]["type"] == "quotations"] == [
        "quotation.sent",
        "quotation.expired",
    ]
    engine = create_engine(url)
    with sessionmaker(engine)() as session:
        quotation = session.get(Quotation, quotation_id)
        assert quotation is not None and quotation.status == "expired"
        assert set(session.scalars(select(OutboxEvent.status))) == {"published"}
    engine.dispose()


def test_worker_without_a_publisher_runs_timers_only(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'flow.db'}"
    _sent_quotation_already_due(url)

    result = runner.invoke(app, ["worker", "--database-url", url, "--once"])

    assert result.exit_code == 0, result.output
    assert "the outbox relay is off" in result.output
    assert "timers: 1 claimed (1 fired)" in result.output
    assert "outbox:" not in result.output


def test_worker_refuses_two_publishers(tmp_path: Path) -> None:
    result = runner.invoke(
        app,
        ["worker", "--database-url", f"sqlite:///{tmp_path / 'x.db'}", "--once", "--stdout",
         "--amqp-url", "amqp://guest:guest@127.0.0.1:5672/%2F"],
    )  # fmt: skip
    assert result.exit_code != 0
    assert "choose one publisher" in str(result.exception)
