"""No double transitions under concurrency (PostgreSQL, real commits), and who acts from Django's auth."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from contract_app.models import Note, Ticket
from contract_app.workflow import make_service
from django.conf import settings
from django.contrib.auth.models import AnonymousUser, Permission, User
from django.db import connections

from orderflow.django.auth import principal_for
from orderflow.django.models import OutboxEvent, TransitionLog

needs_postgres = pytest.mark.skipif(
    "postgres" not in settings.DATABASES,
    reason="ORDERFLOW_TEST_POSTGRES_URL is not set; the concurrency proof needs PostgreSQL",
)


def race(workers: int, work: Any) -> list[Any]:
    """Run ``work(n)`` in ``workers`` threads released together; their answers (or exceptions)."""
    barrier = threading.Barrier(workers)
    answers: list[Any] = [None] * workers

    def one(n: int) -> None:
        try:
            barrier.wait()
            answers[n] = work(n)
        except Exception as exc:  # the test asserts on it
            answers[n] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=one, args=(n,)) for n in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answers


@needs_postgres
@pytest.mark.django_db(transaction=True, databases=["postgres"])
def test_eight_concurrent_payments_move_the_record_once() -> None:
    service = make_service("postgres")
    ticket = Ticket(title="contended", workflow_machine="ticket")
    assert service.start(ticket).success
    answers = race(
        8, lambda n: service.send((Ticket, ticket.pk), {"type": "PAY", "amount": 10 + n})
    )
    assert not [a for a in answers if isinstance(a, Exception)]
    moved = [a for a in answers if a.success]
    assert len(moved) == 1
    assert {a.refusal.kind for a in answers if not a.success} == {"unhandled"}
    assert Note.objects.using("postgres").count() == 1
    assert OutboxEvent.objects.using("postgres").count() == 1
    assert TransitionLog.objects.using("postgres").count() == 2
    assert Ticket.objects.using("postgres").get(pk=ticket.pk).workflow_version == 2


@needs_postgres
@pytest.mark.django_db(transaction=True, databases=["postgres"])
def test_concurrent_retries_under_one_key_run_once_and_share_the_first_answer() -> None:
    service = make_service("postgres")
    ticket = Ticket(title="retried", workflow_machine="ticket")
    assert service.start(ticket).success
    answers = race(6, lambda n: service.send((Ticket, ticket.pk), "HOLD", idempotency_key="hold-1"))
    assert all(a.success for a in answers), answers
    assert sum(1 for a in answers if not a.idempotent) == 1
    assert len({a.log_ids for a in answers}) == 1
    assert TransitionLog.objects.using("postgres").count() == 2


@needs_postgres
@pytest.mark.django_db(transaction=True, databases=["postgres"])
def test_holds_and_releases_from_many_threads_keep_the_version_count_exact() -> None:
    service = make_service("postgres")
    tickets = [Ticket(title=str(n), workflow_machine="ticket") for n in range(2)]
    for ticket in tickets:
        assert service.start(ticket).success

    def flip(n: int) -> int:
        ticket = tickets[n % 2]
        moved = 0
        for _ in range(10):
            for event in ("HOLD", "RELEASE"):
                moved += service.send((Ticket, ticket.pk), event).success
        return moved

    answers = race(8, flip)
    assert not [a for a in answers if isinstance(a, Exception)], answers
    for ticket in tickets:
        stored = Ticket.objects.using("postgres").get(pk=ticket.pk)
        logged = TransitionLog.objects.using("postgres").filter(record_id=str(ticket.pk)).count()
        assert stored.workflow_version == logged  # one version per log row, none lost
    assert sum(answers) == sum(
        Ticket.objects.using("postgres").get(pk=t.pk).workflow_version - 1 for t in tickets
    )


@pytest.mark.django_db
def test_a_django_user_acts_with_its_permissions_and_an_anonymous_one_as_nobody() -> None:
    user = User.objects.create_user("cleo", first_name="Cleo", last_name="Closer")
    user.user_permissions.add(
        Permission.objects.create(
            codename="close_ticket", name="Can close tickets",
            content_type_id=Permission.objects.first().content_type_id,
        )
    )  # fmt: skip
    user = User.objects.get(pk=user.pk)  # a fresh instance: Django caches permissions
    principal = principal_for(user)
    assert principal is not None
    assert (principal.id, principal.label) == (str(user.pk), "Cleo Closer")
    content_type = Permission.objects.get(codename="close_ticket").content_type
    assert principal.permissions == {f"{content_type.app_label}.close_ticket"}
    assert principal_for(AnonymousUser()) is None
    user.is_active = False
    assert principal_for(user).permissions == frozenset()


@pytest.mark.django_db
def test_a_permission_granted_in_django_lets_the_user_close_a_ticket() -> None:
    from django.contrib.contenttypes.models import ContentType

    permission = Permission.objects.create(
        codename="close_ticket", name="Can close tickets",
        content_type=ContentType.objects.get_for_model(Ticket),
    )  # fmt: skip
    clerk = User.objects.create_user("clerk")
    closer = User.objects.create_user("closer")
    closer.user_permissions.add(permission)
    service = make_service()
    ticket = Ticket(workflow_machine="ticket")
    assert service.start(ticket).success
    assert not service.send(ticket, "CLOSE", actor=principal_for(clerk)).success
    closer = User.objects.get(pk=closer.pk)
    assert service.send(ticket, "CLOSE", actor=principal_for(closer)).success
