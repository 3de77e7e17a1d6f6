"""Invariants of the Django driver under any sequence of events (hypothesis).

Whatever is sent, in whatever order: the row holds what the pure core says
the machine's snapshot is after the accepted events; the version counts the
log rows one for one; refused and failed calls leave no trace; outbox
sequences per record run 1, 2, 3...
"""

from __future__ import annotations

from typing import Any

import pytest
from contract_app.models import Note, Ticket
from contract_app.workflow import make_service, ticket_machine
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orderflow.django.models import OutboxEvent, TransitionLog
from orderflow.errors import InvalidEventError

EVENTS = st.one_of(
    st.sampled_from(["HOLD", "RELEASE", "CANCEL", "SHIP", "CLOSE"]),
    st.builds(lambda amount: {"type": "PAY", "amount": amount}, st.integers(-5, 40)),
)


@pytest.mark.django_db
@settings(
    max_examples=40, deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],  # each example has its own row
)  # fmt: skip
@given(events=st.lists(EVENTS, max_size=8))
def test_the_row_the_log_and_the_outbox_agree_with_the_pure_core(events: list[Any]) -> None:
    service = make_service()
    machine = ticket_machine()
    ticket = Ticket(workflow_machine="ticket")
    assert service.start(ticket).success
    expected, _ = machine.initial_transition()
    moved = 1
    for event in events:
        try:
            result = service.send(ticket, event)
        except InvalidEventError:
            continue  # a payload that fails its model: refused before anything runs
        after, _ = machine.transition(expected, event)
        if result.success:
            moved += 1
            expected = after
        else:
            assert after.value == expected.value  # the core moves nothing either
    stored = Ticket.objects.get(pk=ticket.pk)
    assert stored.workflow_state["value"] == expected.value
    assert stored.workflow_context == expected.context
    logs = TransitionLog.objects.filter(record_id=str(ticket.pk))
    assert stored.workflow_version == logs.count() == moved
    assert Note.objects.filter(ticket=ticket).count() == sum(
        1 for log in logs if log.event == "PAY"
    )
    sequences = list(
        OutboxEvent.objects.filter(record_id=str(ticket.pk))
        .order_by("sequence")
        .values_list("sequence", flat=True)
    )
    assert sequences == list(range(1, len(sequences) + 1))
