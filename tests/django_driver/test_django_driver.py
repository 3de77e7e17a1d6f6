"""The service contract, run by the Django driver: on SQLite always, on PostgreSQL when given.

The same promises the SQLAlchemy drivers' tests hold them to (tests/service/test_send.py):
a transition with its log row, outbox rows and effects in one transaction; refusals that
write nothing; idempotency keys; dry runs; version checks; timers; joining the caller's
transaction; and a user's own columns.
"""

from __future__ import annotations

from typing import Any

import pytest
from contract_app.models import Memo, Note, Ticket
from contract_app.workflow import make_service
from django.conf import settings
from django.db import transaction

from orderflow.django.models import OutboxEvent, ScheduledEvent, TransitionLog
from orderflow.django.service import DjangoWorkflowService
from orderflow.django.signals import transition_committed
from orderflow.errors import (
    IdempotencyKeyReusedError,
    InvalidEventError,
    InvalidRecordKeyError,
    NotAWorkflowRecordError,
    RecordNotFoundError,
    StaleRecordError,
    UnknownEventError,
)
from orderflow.service import Principal

CLERK = Principal("u-7", "Clara Clerk", frozenset({"sales"}))
pytestmark = pytest.mark.django_db(databases="__all__")


@pytest.fixture(params=["default", "postgres"], ids=["sqlite", "postgres"])
def using(request: pytest.FixtureRequest) -> str:
    if request.param not in settings.DATABASES:
        pytest.skip("ORDERFLOW_TEST_POSTGRES_URL is not set; the PostgreSQL run needs a server")
    return str(request.param)


@pytest.fixture
def service(using: str) -> DjangoWorkflowService:
    return make_service(using)


def new_ticket(service: DjangoWorkflowService, title: str = "t") -> Ticket:
    ticket = Ticket(title=title, workflow_machine="ticket")
    result = service.start(ticket, actor=CLERK)
    assert result.success, result.reason
    return ticket


def logs(using: str) -> Any:
    return TransitionLog.objects.using(using)


def test_start_saves_the_record_in_its_initial_state_with_a_log_row(
    service: DjangoWorkflowService, using: str
) -> None:
    ticket = new_ticket(service)
    assert ticket.pk is not None
    assert ticket.workflow_state is not None and ticket.workflow_state["value"] == "open"
    assert "context" not in ticket.workflow_state
    assert (ticket.workflow_context, ticket.workflow_version, ticket.status) == (
        {"paid": 0},
        1,
        "OPEN",
    )
    stored = Ticket.objects.using(using).get(pk=ticket.pk)
    assert (stored.workflow_version, stored.status, stored.workflow_machine) == (
        1,
        "OPEN",
        "ticket",
    )
    assert logs(using).count() == 1


def test_send_moves_the_record_runs_the_effect_and_writes_log_and_outbox(
    service: DjangoWorkflowService, using: str
) -> None:
    ticket = new_ticket(service)
    result = service.send(ticket, {"type": "PAY", "amount": 25}, actor=CLERK, note="phone order")
    assert result.success and not result.idempotent
    assert (result.from_state, result.to_state, result.effects) == ("open", "paid", ("note",))
    assert result.emitted == ({"type": "ticket.paid"},)
    assert (result.version, result.status) == (2, "PAID")
    assert (ticket.workflow_version, ticket.status) == (2, "PAID")  # the caller's instance follows
    stored = Ticket.objects.using(using).get(pk=ticket.pk)
    assert stored.workflow_state["value"] == "paid" and stored.workflow_context == {"paid": 1}
    log = logs(using).order_by("-id").first()
    assert (log.event, log.from_state, log.to_state, log.record_version) == (
        "PAY",
        "open",
        "paid",
        2,
    )
    assert (log.actor_user, log.actor_label, log.note) == ("u-7", "Clara Clerk", "phone order")
    assert log.details["effects"] == ["note"] and log.record_id == str(ticket.pk)
    assert log.record_type == "contract_app_ticket"
    outbox = OutboxEvent.objects.using(using).get()
    assert (outbox.event_type, outbox.sequence, outbox.status, outbox.transition_id) == (
        "ticket.paid", 1, "pending", log.id,
    )  # fmt: skip
    assert Note.objects.using(using).get().text == "paid 25"


def test_the_columns_have_the_models_own_names_in_the_database(
    service: DjangoWorkflowService, using: str
) -> None:
    from django.db import connections

    ticket = new_ticket(service)
    service.send(ticket, {"type": "PAY", "amount": 10})
    with connections[using].cursor() as cursor:
        cursor.execute(
            'SELECT "wfVersion", "legacyStatus" FROM contract_app_ticket WHERE id = %s', [ticket.pk]
        )
        assert cursor.fetchone() == (2, "PAID")


def test_outbox_sequence_counts_per_record(service: DjangoWorkflowService, using: str) -> None:
    first, second = new_ticket(service, "a"), new_ticket(service, "b")
    service.send(first, {"type": "PAY", "amount": 10})
    service.send(second, {"type": "PAY", "amount": 10})
    service.send(first, "SHIP")
    rows = OutboxEvent.objects.using(using).order_by("id")
    assert [(r.record_id, r.sequence, r.event_type) for r in rows] == [
        (str(first.pk), 1, "ticket.paid"),
        (str(second.pk), 1, "ticket.paid"),
        (str(first.pk), 2, "ticket.shipped"),
    ]


def test_a_blocked_guard_is_a_refusal_with_its_reason_and_writes_nothing(
    service: DjangoWorkflowService, using: str
) -> None:
    ticket = new_ticket(service)
    result = service.send(ticket, {"type": "PAY", "amount": 3})
    assert not result.success and result.refusal is not None
    assert result.refusal.kind == "guarded"
    assert "amount 3 is below the minimum of 10" in (result.reason or "")
    assert logs(using).count() == 1 and Note.objects.using(using).count() == 0
    assert service.snapshot(ticket).value == "open"
    assert Ticket.objects.using(using).get(pk=ticket.pk).workflow_version == 1


def test_an_event_no_state_handles_raises_and_a_bad_payload_raises(
    service: DjangoWorkflowService, using: str
) -> None:
    ticket = new_ticket(service)
    with pytest.raises(UnknownEventError):
        service.send(ticket, "TELEPORT")
    with pytest.raises(InvalidEventError):
        service.send(ticket, {"type": "PAY", "amount": -5})
    with pytest.raises(InvalidEventError):
        service.send(ticket, {"type": "PAY", "amount": 50, "actor": {"id": "boss"}})
    assert logs(using).count() == 1


def test_an_effect_that_raises_rolls_the_whole_transition_back(using: str) -> None:
    from orderflow.errors import EffectError

    def broken(call: Any, record: Any, action: Any) -> None:
        Note.objects.using(call.using).create(ticket=record, text="half")
        raise RuntimeError("card declined")

    service = make_service(using)
    service.effects["note"] = broken
    ticket = new_ticket(service)
    with pytest.raises(EffectError, match="card declined"):
        service.send(ticket, {"type": "PAY", "amount": 10})
    assert Note.objects.using(using).count() == 0 and logs(using).count() == 1
    assert OutboxEvent.objects.using(using).count() == 0
    assert Ticket.objects.using(using).get(pk=ticket.pk).workflow_version == 1


def test_an_idempotency_key_applies_once_and_replays_the_first_result(
    service: DjangoWorkflowService, using: str
) -> None:
    ticket = new_ticket(service)
    first = service.send(ticket, {"type": "PAY", "amount": 10}, idempotency_key="k1")
    again = service.send(ticket, {"type": "PAY", "amount": 10}, idempotency_key="k1")
    assert first.success and again.success and again.idempotent and not first.idempotent
    assert again.log_ids == first.log_ids and again.to_state == "paid"
    assert Note.objects.using(using).count() == 1 and logs(using).count() == 2
    with pytest.raises(IdempotencyKeyReusedError):
        service.send(ticket, {"type": "PAY", "amount": 99}, idempotency_key="k1")


def test_dry_run_reports_the_transition_and_writes_nothing(
    service: DjangoWorkflowService, using: str
) -> None:
    ticket = new_ticket(service)
    result = service.send(ticket, {"type": "PAY", "amount": 10}, dry_run=True)
    assert result.success and result.dry_run and result.to_state == "paid"
    assert (result.effects, result.version) == (("note",), 1)
    assert logs(using).count() == 1 and Note.objects.using(using).count() == 0
    assert OutboxEvent.objects.using(using).count() == 0
    assert Ticket.objects.using(using).get(pk=ticket.pk).status == "OPEN"


def test_expected_version_refuses_a_record_that_moved(
    service: DjangoWorkflowService, using: str
) -> None:
    ticket = new_ticket(service)
    service.send(ticket, "HOLD")
    with pytest.raises(StaleRecordError) as caught:
        service.send(ticket, "RELEASE", expected_version=1)
    assert (caught.value.expected, caught.value.found) == (1, 2)
    assert service.send(ticket, "RELEASE", expected_version=2).success


def test_a_record_that_is_not_there_or_a_key_that_cannot_be_one_is_reported(
    service: DjangoWorkflowService,
) -> None:
    with pytest.raises(RecordNotFoundError):
        service.send((Ticket, 424242), "HOLD")
    for bad in ("abc", 3.5, True, 2**70, None):
        with pytest.raises(InvalidRecordKeyError):
            service.send((Ticket, bad), "HOLD")
    assert service.send((Ticket, str(new_ticket(service).pk)), "HOLD").success


def test_a_model_that_is_not_a_workflow_model_is_refused(service: DjangoWorkflowService) -> None:
    with pytest.raises(NotAWorkflowRecordError, match="WorkflowModel"):
        service.send((Note, 1), "HOLD")


def test_after_timers_become_scheduled_rows_fired_on_delivery_and_cancelled_on_exit(
    service: DjangoWorkflowService, using: str
) -> None:
    ticket = new_ticket(service)
    service.send(ticket, "HOLD")
    timer = ScheduledEvent.objects.using(using).get()
    assert (timer.status, timer.machine, timer.record_id) == ("pending", "ticket", str(ticket.pk))
    assert timer.event["type"].startswith("xstate.after.")
    delivered = service.deliver(ticket, timer.event, idempotency_key=f"timer:{timer.pk}")
    assert delivered.success and delivered.to_state == "open"
    assert ScheduledEvent.objects.using(using).get().status == "fired"
    service.send(ticket, "HOLD")
    service.send(ticket, "CANCEL")
    assert sorted(ScheduledEvent.objects.using(using).values_list("status", flat=True)) == [
        "cancelled", "fired",
    ]  # fmt: skip


def test_a_call_inside_the_callers_transaction_commits_or_rolls_back_with_it(
    service: DjangoWorkflowService, using: str
) -> None:
    ticket = new_ticket(service)
    with pytest.raises(RuntimeError), transaction.atomic(using=using):
        assert service.send(ticket, {"type": "PAY", "amount": 10}).success
        assert Note.objects.using(using).count() == 1  # visible inside the caller's transaction
        raise RuntimeError("the caller changes its mind")
    assert Note.objects.using(using).count() == 0 and logs(using).count() == 1
    assert Ticket.objects.using(using).get(pk=ticket.pk).status == "OPEN"
    with transaction.atomic(using=using):
        refused = service.send(ticket, {"type": "PAY", "amount": 1})  # rolls back itself only
        moved = service.send(ticket, {"type": "PAY", "amount": 10})
    assert not refused.success and moved.success
    assert Ticket.objects.using(using).get(pk=ticket.pk).status == "PAID"


def test_the_signal_is_sent_once_the_transaction_commits_and_never_for_a_refusal(
    service: DjangoWorkflowService, using: str, django_capture_on_commit_callbacks: Any
) -> None:
    heard: list[Any] = []

    def listener(sender: Any, **kwargs: Any) -> None:
        heard.append((sender, kwargs["result"].to_state, kwargs["record_id"], kwargs["using"]))

    transition_committed.connect(listener)
    try:
        ticket = new_ticket(service)
        with django_capture_on_commit_callbacks(using=using, execute=True):
            service.send(ticket, {"type": "PAY", "amount": 1})  # refused
            service.send(ticket, {"type": "PAY", "amount": 10}, dry_run=True)
            service.send(ticket, {"type": "PAY", "amount": 10})
        assert heard == [(Ticket, "paid", str(ticket.pk), using)]
    finally:
        transition_committed.disconnect(listener)


def test_the_signal_is_not_sent_for_a_replay_nor_for_a_call_the_callers_rollback_undid(
    service: DjangoWorkflowService, using: str, django_capture_on_commit_callbacks: Any
) -> None:
    heard: list[str] = []

    def listener(sender: Any, **kwargs: Any) -> None:
        heard.append(kwargs["result"].event)

    transition_committed.connect(listener)
    try:
        ticket = new_ticket(service)
        with django_capture_on_commit_callbacks(using=using, execute=True):
            with pytest.raises(RuntimeError), transaction.atomic(using=using):
                assert service.send(ticket, "HOLD").success
                raise RuntimeError("the caller changes its mind")
            for _ in range(2):  # the second is a replay of the first
                assert service.send(ticket, {"type": "PAY", "amount": 10}, idempotency_key="k")
        assert heard == ["PAY"]
    finally:
        transition_committed.disconnect(listener)


def test_permissions_become_roles_a_guard_reads(using: str) -> None:
    service = make_service(using)
    ticket = new_ticket(service)
    refused = service.send(ticket, "CLOSE", actor=CLERK)
    assert not refused.success and "only a closer" in (refused.reason or "")
    closer = Principal("u-9", "Cleo", frozenset({"contract_app.close_ticket"}))
    assert service.send(ticket, "CLOSE", actor=closer).success
    assert logs(using).order_by("-id").first().actor_user == "u-9"


def test_workflow_disabled_falls_back_to_the_legacy_status(
    service: DjangoWorkflowService, using: str, settings: Any
) -> None:
    ticket = new_ticket(service)
    settings.ORDERFLOW = {"APP": "contract_app.workflow:service", "WORKFLOW_ENABLED": False}
    refused = service.send(ticket, "HOLD")
    assert not refused.success and refused.refusal is not None
    assert refused.refusal.kind == "disabled"
    moved = service.transition(ticket, "paid", actor=CLERK)
    assert moved.success and moved.status == "PAID"
    stored = Ticket.objects.using(using).get(pk=ticket.pk)
    assert (stored.status, stored.workflow_state["value"], stored.workflow_version) == (
        "PAID",
        "open",
        2,
    )
    memo = Memo(workflow_machine="ticket")
    settings.ORDERFLOW = {"WORKFLOW_ENABLED": True}
    assert service.start(memo).success
    settings.ORDERFLOW = {"WORKFLOW_ENABLED": False}
    assert service.transition(memo, "paid").refusal.kind == "disabled"  # no status to fall back to


def test_reads_answer_from_the_database_with_guard_reasons(
    service: DjangoWorkflowService,
) -> None:
    ticket = new_ticket(service)
    options = {o.event: o for o in service.allowed_events(ticket, actor=CLERK)}
    assert set(options) >= {"PAY", "HOLD", "CANCEL", "CLOSE"}
    assert not options["CLOSE"].allowed and "only a closer" in (options["CLOSE"].reason or "")
    assert service.can(ticket, "HOLD") and not service.can(ticket, "SHIP")


def test_bulk_send_moves_each_record_and_lists_the_refusals(
    service: DjangoWorkflowService, using: str
) -> None:
    tickets = [new_ticket(service, str(n)) for n in range(3)]
    service.send(tickets[1], "CANCEL")
    result = service.bulk_send([*tickets, (Ticket, 999999)], "HOLD", actor=CLERK)
    assert (result.succeeded, result.failed) == (2, 2)
    assert [f.record_id for f in result.failures] == [str(tickets[1].pk), "999999"]


def test_a_bulk_failure_names_the_model_instance_it_was_about(
    service: DjangoWorkflowService,
) -> None:
    tickets = [new_ticket(service, str(n)) for n in range(2)]
    result = service.bulk_send(tickets, "HOLD", expected_version=7)
    assert (result.succeeded, result.failed) == (0, 2)
    assert [f.record_id for f in result.failures] == [str(t.pk) for t in tickets]
    assert all("version" in f.reason for f in result.failures)


@pytest.mark.parametrize("entries", [1, 2], ids=["one statement", "two statements"])
def test_a_move_from_a_stale_version_writes_neither_the_row_nor_a_log_row(
    service: DjangoWorkflowService, using: str, entries: int
) -> None:
    """The journal's move checks the version it read (on PostgreSQL, inside one statement)."""
    from orderflow.django.driver import DjangoCall

    ticket = new_ticket(service)
    entry = {k: v for k, v in logs(using).get().__dict__.items() if k not in ("_state", "id")}
    entry["metadata"] = entry.pop("details")
    call, before = DjangoCall(using), logs(using).count()
    with transaction.atomic(using=using), pytest.raises(StaleRecordError):
        service.journal.move(call, ticket, {"status": "PAID"}, 0, [entry] * entries)
    assert logs(using).count() == before
    assert Ticket.objects.using(using).get(pk=ticket.pk).workflow_version == 1
