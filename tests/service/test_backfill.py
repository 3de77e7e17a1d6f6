"""Backfill: records that only have a legacy status join their workflow, once, with a log row each."""

from __future__ import annotations

import multiprocessing
import os
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from orderflow.service import (
    BACKFILL_EVENT,
    BackfillReport,
    StatusMapping,
    WorkflowService,
)
from orderflow.service import backfill as backfill_with
from orderflow.store import ScheduledEvent, TransitionLog, WorkflowRecord
from workflow_db import Awaiting, Database, Ticket, capture, make_engine, ticket_machine


def backfill(service: Any, *args: Any, **options: Any) -> BackfillReport:
    """The backfill through either driver: the async one runs it with ``service.drive``."""
    if isinstance(service, Awaiting):
        report: BackfillReport = service.drive(lambda s: backfill_with(s, *args, **options))
        return report
    return backfill_with(service, *args, **options)


MAPPING = StatusMapping.model_validate(
    {
        "machine": "ticket",
        "statuses": {
            "OPEN": {"state": "open", "context": {"paid": 0}},
            "ON_HOLD": {"state": "held", "context": {"paid": 0}},
            "PAID": {"state": "paid", "context": {"paid": "$id"}},
            "DONE": {"state": "shipped", "context": {"paid": 1}},
        },
    }
)


def legacy(database: Database, *statuses: str | None) -> list[int]:
    """Tickets written before orderflow: a status and nothing else."""
    with database.Session() as session:
        tickets = [Ticket(title=f"legacy {i}", status=status) for i, status in enumerate(statuses)]
        session.add_all(tickets)
        session.commit()
        return [t.id for t in tickets]


def log_rows(database: Database) -> list[tuple[str, str, Any, int]]:
    with database.Session() as session:
        rows = session.execute(
            select(
                TransitionLog.record_id, TransitionLog.event, TransitionLog.to_state,
                TransitionLog.record_version,
            ).order_by(TransitionLog.id)
        ).all()  # fmt: skip
    return [tuple(row) for row in rows]  # type: ignore[misc]


def test_each_legacy_status_lands_in_its_mapped_state_with_a_backfill_log_row(
    database: Database, service: WorkflowService
) -> None:
    ids = legacy(database, "OPEN", "PAID", "DONE")

    report = backfill(service, Ticket, MAPPING)

    assert report.adopted == {"OPEN": 1, "PAID": 1, "DONE": 1}
    assert (report.skipped, report.failures) == (0, ())
    states = [service.snapshot((Ticket, i)) for i in ids]
    assert [(s.value, s.status) for s in states] == [
        ("open", "active"), ("paid", "active"), ("shipped", "done"),
    ]  # fmt: skip
    assert states[1].context == {"paid": ids[1]}  # "$id" read the record's column
    assert log_rows(database) == [(str(i), BACKFILL_EVENT, v, 1) for i, v in
                                  zip(ids, ["open", "paid", "shipped"], strict=True)]  # fmt: skip
    with database.Session() as session:
        first = session.scalars(select(TransitionLog).order_by(TransitionLog.id)).first()
        assert first is not None
        assert first.details["event"]["legacy_status"] == "OPEN"
        assert first.actor_label == "backfill"
        # the legacy status is still what the declared mapping says for the state
        assert [session.get_one(Ticket, i).status for i in ids] == ["OPEN", "PAID", "DONE"]


def test_a_backfilled_record_moves_on_like_any_other(
    database: Database, service: WorkflowService
) -> None:
    (ticket,) = legacy(database, "PAID")
    backfill(service, Ticket, MAPPING)
    result = service.send((Ticket, ticket), "SHIP")
    assert (result.success, result.to_state, result.version) == (True, "shipped", 2)


def test_running_the_backfill_twice_changes_nothing_the_second_time(
    database: Database, service: WorkflowService
) -> None:
    legacy(database, "OPEN", "ON_HOLD")
    backfill(service, Ticket, MAPPING)
    before = log_rows(database)

    again = backfill(service, Ticket, MAPPING)

    assert (again.adopted_total, again.skipped, again.failed) == (0, 0, 0)
    assert log_rows(database) == before


def test_the_timers_of_the_state_a_record_lands_in_are_armed(
    database: Database, service: WorkflowService
) -> None:
    (ticket,) = legacy(database, "ON_HOLD")
    backfill(service, Ticket, MAPPING)
    with database.Session() as session:
        (timer,) = session.scalars(select(ScheduledEvent)).all()
    assert (timer.record_id, timer.status) == (str(ticket), "pending")
    assert service.snapshot((Ticket, ticket)).timers[0].id == timer.timer_id


def test_a_dry_run_reports_what_it_would_do_and_writes_nothing(
    database: Database, service: WorkflowService
) -> None:
    legacy(database, "OPEN", "ON_HOLD")

    report = backfill(service, Ticket, MAPPING, dry_run=True)

    assert (report.adopted, report.dry_run) == ({"OPEN": 1, "ON_HOLD": 1}, True)
    assert log_rows(database) == []
    with database.Session() as session:
        assert session.scalar(select(func.count()).select_from(ScheduledEvent)) == 0
        assert session.scalars(select(Ticket.workflow_state)).all() == [None, None]


def test_unmapped_statuses_and_bad_contexts_are_reported_and_left_alone(
    database: Database, service: WorkflowService
) -> None:
    mapping = StatusMapping.model_validate(
        {
            "machine": "ticket",
            "statuses": {
                "OPEN": {"state": "open", "context": {"paid": 0}},
                "PAID": {"state": "nowhere", "context": {}},
                "ON_HOLD": {"state": "held", "context": {"paid": "$missing_column"}},
            },
        }
    )
    good, unmapped, none, bad_state, bad_column = legacy(
        database, "OPEN", "LOST", None, "PAID", "ON_HOLD"
    )

    report = backfill(service, Ticket, mapping)

    assert report.adopted == {"OPEN": 1}
    reasons = {f.record_id: f.reason for f in report.failures}
    assert set(reasons) == {str(unmapped), str(none), str(bad_state), str(bad_column)}
    assert "no mapping for legacy status 'LOST'" in reasons[str(unmapped)]
    assert "no mapping for legacy status None" in reasons[str(none)]
    assert "nowhere" in reasons[str(bad_state)]
    assert "missing_column" in reasons[str(bad_column)]
    assert [r[0] for r in log_rows(database)] == [str(good)]


def test_a_mapping_for_a_machine_the_service_lacks_is_refused(
    database: Database, service: WorkflowService
) -> None:
    from orderflow.errors import OrderflowError

    with pytest.raises(OrderflowError, match="machine 'sale'"):
        backfill(service, Ticket, MAPPING.model_copy(update={"machine": "sale"}))


class UntrackedBase(DeclarativeBase):
    pass


class Untracked(UntrackedBase, WorkflowRecord):
    """A table of its own without a legacy status: nothing for a backfill to read."""

    __tablename__ = "untracked_without_status"
    id: Mapped[int] = mapped_column(primary_key=True)
    status = None  # type: ignore[assignment]


def test_a_table_without_a_legacy_status_is_refused_before_anything_is_read(
    database: Database, service: WorkflowService
) -> None:
    from orderflow.errors import ConfigurationError

    UntrackedBase.metadata.create_all(database.engine)
    with database.Session() as session:
        session.add(Untracked())
        session.commit()
    with pytest.raises(ConfigurationError, match="has no legacy status column") as refused:
        backfill(service, Untracked, MAPPING)
    assert refused.value.setting == "model"
    with database.Session() as session:
        assert session.scalars(select(Untracked.workflow_state)).all() == [None]
    assert log_rows(database) == []


def test_a_mapping_file_with_an_unknown_key_is_refused() -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="statusses"):
        StatusMapping.model_validate_json('{"machine": "ticket", "statusses": {}}')


def test_progress_is_reported_per_record(database: Database, service: WorkflowService) -> None:
    legacy(database, "OPEN", "OPEN", "LOST")
    seen: list[tuple[int, int]] = []
    backfill(service, Ticket, MAPPING, progress=lambda done, total: seen.append((done, total)))
    assert seen == [(1, 3), (2, 3), (3, 3)]


fork = multiprocessing.get_context("fork")


def _backfill_in_a_process(database: Database, barrier: Any) -> None:
    code = 1
    try:
        from sqlalchemy.orm import sessionmaker

        Session = sessionmaker(make_engine(database.engine_url(), database.schema),
                               expire_on_commit=False)  # fmt: skip
        service = WorkflowService(
            Session, {"ticket": ticket_machine()}, effects={"capture": capture}
        )
        barrier.wait(timeout=30)
        backfill(service, Ticket, MAPPING)
        code = 0
    finally:
        os._exit(code)


def test_racing_backfills_adopt_each_record_once(shared_database: Database) -> None:
    ids = legacy(shared_database, *["OPEN", "ON_HOLD", "PAID"] * 10)
    barrier = fork.Barrier(3)
    processes = [
        fork.Process(target=_backfill_in_a_process, args=(shared_database, barrier))
        for _ in range(3)
    ]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=120)

    assert [p.exitcode for p in processes] == [0, 0, 0]
    rows = log_rows(shared_database)
    assert sorted(int(r[0]) for r in rows) == ids
    with shared_database.Session() as session:
        assert session.scalar(select(func.count()).select_from(ScheduledEvent)) == 10


def test_a_backfill_with_the_workflow_disabled_reports_why_each_record_was_left(
    database: Database,
) -> None:
    legacy(database, "OPEN")
    disabled = WorkflowService(database.Session, {"ticket": ticket_machine()},
                               workflow_enabled=False)  # fmt: skip
    report = backfill(disabled, Ticket, MAPPING)
    assert (report.adopted_total, report.skipped) == (0, 0)
    (failure,) = report.failures
    assert "workflow is disabled" in failure.reason


def test_a_record_whose_workflow_state_was_set_to_none_counts_as_not_started(
    database: Database, service: WorkflowService
) -> None:
    with database.Session() as session:
        ticket = Ticket(title="explicit", status="OPEN", workflow_state=None, workflow_context=None)
        session.add(ticket)
        session.commit()
        # stored as SQL NULL, not as the JSON value null, so SQL sees "no workflow yet"
        assert session.scalar(select(func.count()).where(Ticket.workflow_state.is_(None))) == 1
    assert backfill(service, Ticket, MAPPING).adopted == {"OPEN": 1}
