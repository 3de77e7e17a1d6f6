"""The management commands on the contract app: a service with several machines, a table with
its own column names, a model without a legacy status."""

from __future__ import annotations

import json
from io import StringIO
from typing import Any

import pytest
from contract_app import workflow
from contract_app.models import Memo, Ticket
from django.core.management import call_command
from django.core.management.base import CommandError

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = StringIO()
    call_command(*args, stdout=out, stderr=StringIO())
    return out.getvalue()


def test_export_draws_the_records_own_machine_when_the_service_has_several() -> None:
    assert sorted(workflow.service.machines) == ["booking", "ticket"]
    ticket = Ticket(title="t", workflow_machine="ticket")
    assert workflow.service.start(ticket).success
    drawn = json.loads(run("orderflow_export", "--record", f"contract_app.Ticket:{ticket.pk}",
                           "--format", "xstate"))  # fmt: skip
    assert drawn["id"] == "ticket"
    with pytest.raises(CommandError, match="runs the machine 'ticket', not 'booking'"):
        run("orderflow_export", "booking", "--record", f"contract_app.Ticket:{ticket.pk}")
    with pytest.raises(CommandError, match="say which machine"):
        run("orderflow_export")


def test_inspect_reads_a_table_with_its_own_columns_and_a_model_without_a_status(
    settings: Any,
) -> None:
    ticket, memo = Ticket(title="t", workflow_machine="ticket"), Memo(workflow_machine="ticket")
    assert workflow.service.start(ticket).success and workflow.service.start(memo).success
    report = json.loads(run("orderflow_inspect", "contract_app.Ticket", str(ticket.pk), "--json"))
    assert (report["machine"], report["state"]) == ("ticket", "open")
    assert [row["event"] for row in report["log"]] == ["xstate.init"]
    assert '"open" (active)' in run("orderflow_inspect", "contract_app.Memo", str(memo.pk))
