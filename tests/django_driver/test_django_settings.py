"""``settings.ORDERFLOW``: what a wrong setting gets (a clear error naming it), at the service and
at a management command's door, and that ``override_settings`` loads the service again."""

from __future__ import annotations

from io import StringIO
from typing import Any

import pytest
from contract_app import workflow
from contract_app.models import Ticket
from django.core.management import call_command
from django.core.management.base import CommandError

from orderflow.django import conf
from orderflow.django.service import DjangoWorkflowService
from orderflow.errors import ConfigurationError


def test_the_app_setting_names_the_service_and_a_change_of_settings_loads_it_again(
    settings: Any,
) -> None:
    assert conf.get_service() is workflow.service
    other = DjangoWorkflowService(workflow.service.machines)
    workflow.made = other  # type: ignore[attr-defined]
    try:
        settings.ORDERFLOW = {"APP": "contract_app.workflow:made"}
        assert conf.get_service() is other
        workflow.make = lambda: other  # type: ignore[attr-defined]
        settings.ORDERFLOW = {"APP": "contract_app.workflow:make"}  # a function making one
        assert conf.get_service() is other
        settings.ORDERFLOW = {"APP": "contract_app.workflow.service", "WORKFLOW_ENABLED": False}
        assert conf.get_service() is workflow.service and not conf.setting("WORKFLOW_ENABLED")
    finally:
        del workflow.made  # type: ignore[attr-defined]
        if hasattr(workflow, "make"):
            del workflow.make


@pytest.mark.parametrize(
    ("orderflow", "says"),
    [
        ({}, "to name the service"),
        ({"APP": "contract_app"}, "must be 'module:attribute'"),
        ({"APP": "contract_app.workflow"}, "is a module, not a DjangoWorkflowService"),
        ({"APP": "contract_app.workflow:ticket_machine"}, "gave Machine, not a Djan"),
        ({"APP": "no_such_module:service"}, "cannot be loaded"),
        ({"APP": "contract_app.workflow:nothing"}, "cannot be loaded"),
        ({"APP": "contract_app.models:Ticket"}, "is a ModelBase, not a DjangoWorkflowService"),
        ({"APP": "contract_app.workflow:service", "WORKFLOW_ENABLD": False}, "WORKFLOW_ENABLD"),
    ],
)
def test_a_wrong_setting_is_a_clear_error_at_the_service_and_at_each_command(
    settings: Any, orderflow: dict[str, Any], says: str
) -> None:
    settings.ORDERFLOW = orderflow
    with pytest.raises(ConfigurationError, match=says):
        conf.get_service()
    for command, args in (
        ("orderflow_inspect", ["contract_app.Ticket", "1"]),
        ("orderflow_export", []),
        ("orderflow_worker", ["--once"]),
    ):
        with pytest.raises(CommandError, match=says):
            call_command(command, *args, stdout=StringIO(), stderr=StringIO())


@pytest.mark.parametrize(
    ("orderflow", "says"),
    [
        ("contract_app.workflow:service", "must be a dict"),
        ({"APP": "contract_app.workflow:service", "WORKFLOW_ENABLED": "False"},
         "must be True or False, not 'False'"),
    ],
)  # fmt: skip
def test_a_malformed_setting_is_refused_and_the_record_is_not_moved(
    settings: Any, orderflow: Any, says: str, db: Any
) -> None:
    """A string where a switch belongs would have been true: the call is refused instead."""
    ticket = Ticket(title="t", workflow_machine="ticket")
    assert workflow.service.start(ticket).success
    settings.ORDERFLOW = orderflow
    with pytest.raises(ConfigurationError, match=says):
        workflow.service.send(ticket, "HOLD")
    stored = Ticket.objects.get(pk=ticket.pk)
    assert (stored.workflow_version, stored.workflow_state["value"]) == (1, "open")


@pytest.mark.parametrize(
    ("publisher", "says"),
    [("no_such_module:publish", "cannot be loaded"), ("contract_app.workflow:service", "neither")],
)
def test_a_wrong_publisher_is_a_command_error_of_the_worker(
    settings: Any, publisher: str, says: str
) -> None:
    settings.ORDERFLOW = {"APP": "contract_app.workflow:service", "PUBLISHER": publisher}
    with pytest.raises(CommandError, match=says):
        call_command("orderflow_worker", "--once", stdout=StringIO(), stderr=StringIO())


def test_a_setting_orderflow_does_not_have_is_refused_by_name() -> None:
    with pytest.raises(ConfigurationError, match="no setting 'WORKFLOW'"):
        conf.setting("WORKFLOW")


@pytest.mark.django_db
def test_the_shipped_migrations_match_the_models() -> None:
    """A model changed without its migration would leave users' tables behind: makemigrations
    finds nothing to write for orderflow (nor for the contract app)."""
    out = StringIO()
    call_command("makemigrations", "orderflow", "contract_app", "--check", "--dry-run", stdout=out)
    assert "No changes detected" in out.getvalue()
