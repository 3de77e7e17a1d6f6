"""The Django backfill: the service's one loop (``adopt_all``) over rows Django reads."""

from __future__ import annotations

import pytest
import test_django_driver as contract
from contract_app.models import Memo, Ticket

from orderflow.django.backfill import backfill
from orderflow.django.models import TransitionLog
from orderflow.django.service import DjangoWorkflowService
from orderflow.errors import ConfigurationError, OrderflowError
from orderflow.service import BACKFILL_EVENT
from orderflow.service.backfill import StatusMapping

pytestmark = pytest.mark.django_db(databases="__all__")
using, service = contract.using, contract.service  # the contract tests' fixtures

MAPPING = StatusMapping.model_validate({
    "machine": "ticket",
    "statuses": {
        "OPEN": {"state": "open", "context": {"paid": 0, "title": "$title"}},
        "PAID": {"state": "paid", "context": {"paid": 1, "title": "$title"}},
    },
})  # fmt: skip


def legacy(using: str, title: str, status: str) -> Ticket:
    return Ticket.objects.using(using).create(title=title, status=status)


def test_each_legacy_row_is_adopted_by_its_status_once(
    service: DjangoWorkflowService, using: str
) -> None:
    rows = [legacy(using, "a", "OPEN"), legacy(using, "b", "PAID"), legacy(using, "c", "LOST")]
    dry = backfill(service, Ticket, MAPPING, dry_run=True)
    assert (dry.adopted, dry.dry_run) == ({"OPEN": 1, "PAID": 1}, True)
    assert not TransitionLog.objects.using(using).exists()  # a dry run writes nothing

    done: list[tuple[int, int]] = []
    report = backfill(service, Ticket, MAPPING, progress=lambda n, total: done.append((n, total)))
    assert report.adopted == {"OPEN": 1, "PAID": 1} and report.skipped == 0
    (failure,) = report.failures
    assert (failure.record_id, failure.status) == (str(rows[2].pk), "LOST")
    assert "no mapping for legacy status 'LOST'" in failure.reason
    assert done == [(1, 3), (2, 3), (3, 3)]
    fresh = {t.title: t for t in Ticket.objects.using(using).all()}
    assert fresh["a"].workflow_state["value"] == "open"
    assert fresh["b"].workflow_state["value"] == "paid"
    assert fresh["b"].workflow_context == {"paid": 1, "title": "b"}
    assert fresh["c"].workflow_state is None
    events = list(TransitionLog.objects.using(using).values_list("event", flat=True))
    assert events == [BACKFILL_EVENT, BACKFILL_EVENT]

    again = backfill(service, Ticket, MAPPING)  # only the unmapped row is still pending
    assert (again.adopted_total, again.failed) == (0, 1)
    assert TransitionLog.objects.using(using).count() == 2


def test_a_model_without_a_legacy_status_is_refused_before_anything_is_read(
    service: DjangoWorkflowService, using: str
) -> None:
    with pytest.raises(ConfigurationError, match="has no legacy status column"):
        backfill(service, Memo, MAPPING)


def test_a_mapping_for_a_machine_the_service_lacks_is_refused(
    service: DjangoWorkflowService, using: str
) -> None:
    legacy(using, "a", "OPEN")
    other = StatusMapping.model_validate(
        {"machine": "invoice", "statuses": {"OPEN": {"state": "x"}}}
    )
    with pytest.raises(OrderflowError, match="machine 'invoice', which this service does not have"):
        backfill(service, Ticket, other)
    assert Ticket.objects.using(using).get().workflow_state is None
