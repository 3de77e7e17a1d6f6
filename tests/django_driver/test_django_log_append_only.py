"""The Django transition log is append-only on PostgreSQL (migration 0002's trigger)."""

from __future__ import annotations

import pytest
from contract_app.models import Ticket
from contract_app.workflow import make_service
from django.conf import settings
from django.db import DatabaseError, connections, transaction

from orderflow.django.models import TransitionLog

needs_postgres = pytest.mark.skipif(
    "postgres" not in settings.DATABASES,
    reason="ORDERFLOW_TEST_POSTGRES_URL is not set; the trigger is installed on PostgreSQL only",
)
pytestmark = [
    needs_postgres,
    pytest.mark.django_db(transaction=True, databases=["default", "postgres"]),
]


def logged_ticket() -> TransitionLog:
    service = make_service("postgres")
    ticket = Ticket(title="audited", workflow_machine="ticket")
    assert service.start(ticket).success
    assert service.send((Ticket, ticket.pk), {"type": "PAY", "amount": 10}).success
    return TransitionLog.objects.using("postgres").filter(record_id=str(ticket.pk)).last()


def rows() -> list[tuple[int, str, str]]:
    return list(TransitionLog.objects.using("postgres").values_list("id", "event", "note"))


def test_an_orm_update_or_delete_of_a_log_row_is_refused_and_changes_nothing() -> None:
    row = logged_ticket()
    before = rows()
    refused = pytest.raises(DatabaseError, match="append-only: UPDATE refused")
    with refused, transaction.atomic(using="postgres"):
        TransitionLog.objects.using("postgres").filter(pk=row.pk).update(note="rewritten")
    refused = pytest.raises(DatabaseError, match="append-only: DELETE refused")
    with refused, transaction.atomic(using="postgres"):
        # the start row: no outbox row protects it, so only the trigger stands in the way
        TransitionLog.objects.using("postgres").filter(pk=row.pk - 1).delete()
    assert rows() == before


def test_raw_sql_cannot_rewrite_history_either() -> None:
    row = logged_ticket()
    before = rows()
    for sql in (
        "UPDATE workflow_transition_log SET actor_user = 'someone-else' WHERE id = %s",
        "DELETE FROM workflow_transition_log WHERE id = %s",
    ):
        refused = pytest.raises(DatabaseError, match="append-only")
        with refused, transaction.atomic(using="postgres"), connections["postgres"].cursor() as cur:
            cur.execute(sql, [row.pk])
    assert rows() == before


def test_inserting_and_truncating_stay_allowed() -> None:
    logged_ticket()
    assert len(rows()) == 2  # start and PAY appended
    with transaction.atomic(using="postgres"), connections["postgres"].cursor() as cur:
        cur.execute("TRUNCATE workflow_transition_log, workflow_outbox")  # what Django's flush does
    assert rows() == []
