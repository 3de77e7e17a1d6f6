"""The project's hostile-input corpus (tests/test_hostile_input.py) through the Django door.

The record is a sent quotation on a table of the test's own (``contract_app.Quote``), moved
by the shipped quotation machine through :class:`DjangoWorkflowService`.  Each input must be
a clear ``orderflow.errors`` exception (or, for ``bulk_send``, a refusal of every record)
and leave the row, the transition log, the outbox and the timers as they were.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
from contract_app.models import Quote
from django.conf import settings

from orderflow.django.models import OutboxEvent, ScheduledEvent, TransitionLog
from orderflow.django.service import DjangoWorkflowService
from orderflow.errors import OrderflowError
from orderflow.orders import Policies, load_machine
from orderflow.service import Principal

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from test_hostile_input import CLERK, CORPUS  # the one corpus, not a copy

pytestmark = pytest.mark.django_db(databases="__all__")
BOSS = Principal("u-boss", "Bea Boss", frozenset({"sale.approve", "sale.create"}))  # forged


@pytest.fixture(params=["default", "postgres"], ids=["sqlite", "postgres"])
def using(request: pytest.FixtureRequest) -> str:
    if request.param not in settings.DATABASES:
        pytest.skip("ORDERFLOW_TEST_POSTGRES_URL is not set; the PostgreSQL run needs a server")
    return str(request.param)


@pytest.fixture
def service(using: str) -> DjangoWorkflowService:
    policies = Policies()
    return DjangoWorkflowService(
        {"quotation": load_machine("quotation", policies=policies)}, using=using,
        roles=policies.role_table(),
    )  # fmt: skip


@pytest.fixture
def quote(service: DjangoWorkflowService) -> Quote:
    quote = Quote(reference="Q-1", workflow_machine="quotation")
    started = service.start(
        quote, input={"quotation_id": "Q-1", "customer_id": "C-1", "currency": "EUR"}
    )
    assert started.success, started.reason
    line = {"type": "ADD_LINE", "sku": "CHAIR", "quantity": 2, "unit_price": "120.00"}
    assert service.send(quote, line, actor=CLERK).success
    assert service.send(quote, "SUBMIT", actor=CLERK).to_state == "sent"
    return quote


def stored(using: str, quote: Quote) -> tuple[Any, ...]:
    row = Quote.objects.using(using).get(pk=quote.pk)
    return (
        row.workflow_state, row.workflow_context, row.workflow_version, row.status,
        list(TransitionLog.objects.using(using).values_list("id", "event", "actor_user")),
        list(OutboxEvent.objects.using(using).values_list("id", "status")),
        list(ScheduledEvent.objects.using(using).values_list("id", "status", "attempts")),
    )  # fmt: skip


def test_the_quote_is_sent_with_its_validity_timer_pending(using: str, quote: Quote) -> None:
    """The corpus hits a record with something to lose: a state, a log and a pending timer."""
    state, _, version, _, logs, _, timers = stored(using, quote)
    assert state["value"] == "sent" and version == 3 and len(logs) == 3
    assert [status for _, status, _ in timers] == ["pending"]


@pytest.mark.parametrize("dry_run", [False, True], ids=["send", "dry run"])
def test_the_corpus_through_send_is_refused_and_changes_nothing(
    service: DjangoWorkflowService, using: str, quote: Quote, dry_run: bool
) -> None:
    before = stored(using, quote)
    for attempt, event_type, payload in CORPUS:
        with pytest.raises(OrderflowError):
            service.send((Quote, quote.pk), {**payload, "type": event_type}, actor=CLERK,
                         dry_run=dry_run)  # fmt: skip
        assert stored(using, quote) == before, attempt


def test_the_corpus_through_bulk_send_refuses_every_record_and_changes_nothing(
    service: DjangoWorkflowService, using: str, quote: Quote
) -> None:
    before = stored(using, quote)
    for attempt, event_type, payload in CORPUS:
        try:
            done = service.bulk_send([quote, quote], {**payload, "type": event_type}, actor=CLERK)
        except OrderflowError:
            pass
        else:
            assert (done.succeeded, done.failed) == (0, 2), attempt
        assert stored(using, quote) == before, attempt


def test_a_payload_naming_another_actor_cannot_change_who_is_logged(
    service: DjangoWorkflowService, using: str, quote: Quote
) -> None:
    """Who acts is the ``actor`` argument (the authenticated principal), never the payload."""
    before = stored(using, quote)
    forged = {"type": "ACCEPT", "actor": {"id": BOSS.id, "label": BOSS.label}}
    with pytest.raises(OrderflowError):
        service.send(quote, forged, actor=CLERK)
    assert stored(using, quote) == before
    assert service.send(quote, "ACCEPT", actor=CLERK).success
    last = TransitionLog.objects.using(using).filter(record_id=str(quote.pk)).last()
    assert (last.event, last.actor_user, last.actor_label) == ("ACCEPT", CLERK.id, CLERK.label)
