"""The service's query functions: what the API reads, on a table and machine of the test's own.

Each database kind the service runs on (SQLite in memory and in a file, and
PostgreSQL when ``ORDERFLOW_TEST_POSTGRES_URL`` names a server) answers the
same: a record's log oldest first, its timers still waiting, override
requests newest first, the rows that have a workflow newest first, as frozen
values that outlive their session.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

import orderflow
from orderflow import store
from orderflow.chart import Machine
from orderflow.service import Principal, WorkflowService, queries
from orderflow.service.queries import (
    LogEntry,
    PendingTimer,
    RequestedOverride,
    WorkflowRecord,
    override_requests,
    pending_timers,
    primary_key_value,
    started_records,
    transition_log,
)
from workflow_db import Database

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
PACKER = Principal("u-pack", "Pat Packer", frozenset())
TABLE = "query_parcels"


class LocalBase(DeclarativeBase):
    pass


class Parcel(LocalBase, WorkflowRecord):
    """The test's own table, keyed by an integer, with a column of its own."""

    __tablename__ = TABLE

    id: Mapped[int] = mapped_column(primary_key=True)
    label: Mapped[str] = mapped_column(default="")


def parcel_machine() -> Machine:
    """A parcel waits an hour to be packed (or expires), then ships."""
    return orderflow.create_machine(
        {
            "id": "parcel",
            "initial": "waiting",
            "states": {
                "waiting": {"after": {"3600000": "expired"}, "on": {"PACK": "packed"}},
                "packed": {"on": {"SHIP": "shipped"}},
                "shipped": {"type": "final"},
                "expired": {"type": "final"},
            },
        }
    )


def crate_machine() -> Machine:
    return orderflow.create_machine(
        {
            "id": "crate",
            "initial": "open",
            "states": {"open": {"on": {"CLOSE": "closed"}}, "closed": {}},
        }
    )


@pytest.fixture
def db(database: Database) -> Iterator[Database]:
    LocalBase.metadata.create_all(database.engine)
    yield database


@pytest.fixture
def service(db: Database) -> WorkflowService:
    machines = {"parcel": parcel_machine(), "crate": crate_machine()}
    return WorkflowService(db.Session, machines, clock=lambda: NOW)


def started(service: WorkflowService, key: int, machine: str = "parcel") -> Parcel:
    parcel = Parcel(id=key, label=f"P-{key}", workflow_machine=machine)
    assert service.start(parcel, actor=PACKER).success
    return parcel


def test_the_log_lists_a_records_last_transitions_oldest_first_and_only_its_own(
    db: Database, service: WorkflowService
) -> None:
    first, other = started(service, 1), started(service, 2)
    assert service.send(first, "PACK", actor=PACKER, note="boxed").success
    assert service.send(other, "PACK", actor=PACKER).success
    assert service.send(first, "SHIP", actor=PACKER).success
    with db.Session() as session:
        log = transition_log(session, TABLE, "1")
        last = transition_log(session, TABLE, "1", limit=1)
        none = transition_log(session, TABLE, "1", limit=0)
    assert [entry.event for entry in log][1:] == ["PACK", "SHIP"]
    assert [(entry.from_state, entry.to_state) for entry in log][1:] == [
        ("waiting", "packed"), ("packed", "shipped"),
    ]  # fmt: skip
    assert [entry.record_version for entry in log] == sorted(e.record_version for e in log)
    assert {(entry.record_type, entry.record_id) for entry in log} == {(TABLE, "1")}
    assert log[1].note == "boxed" and log[1].actor_label == "Pat Packer"
    assert log[1].actor_user == "u-pack" and log[1].machine == "parcel"
    assert [entry.event for entry in last] == ["SHIP"] and none == []


def test_the_values_read_are_frozen_and_outlive_their_session(
    db: Database, service: WorkflowService
) -> None:
    started(service, 1)
    with db.Session() as session:
        (entry,) = transition_log(session, TABLE, "1")
        (timer,) = pending_timers(session, TABLE, "1")
    assert isinstance(entry, LogEntry) and isinstance(timer, PendingTimer)
    assert entry.to_state == "waiting" and isinstance(entry.details, dict)
    with pytest.raises(dataclasses.FrozenInstanceError):
        entry.note = "rewritten"  # type: ignore[misc]


def test_a_records_pending_timers_are_the_ones_still_waiting(
    db: Database, service: WorkflowService
) -> None:
    started(service, 1)
    packed = started(service, 2)
    assert service.send(packed, "PACK", actor=PACKER).success
    with db.Session() as session:
        timers = pending_timers(session, TABLE, "1")
        cancelled = pending_timers(session, TABLE, "2")
        unknown = pending_timers(session, "other_table", "1")
    assert len(timers) == 1 and cancelled == [] and unknown == []
    (timer,) = timers
    assert timer.machine == "parcel" and timer.record_id == "1"
    assert timer.due_at == NOW + timedelta(hours=1)
    assert timer.attempts == 0 and isinstance(timer.event.get("type"), str)


def test_override_requests_are_newest_first_and_filtered_by_what_is_given(db: Database) -> None:
    with db.Session() as session:
        session.add_all(
            [
                request(1, "credit-1", "credit", "open"),
                request(1, "admin-1", "admin", "approved", decided_by="u-admin"),
                request(2, "credit-1", "credit", "open"),
            ]
        )
        session.commit()
    with db.Session() as session:
        everything = override_requests(session)
        first_record = override_requests(session, record_type=TABLE, record_id="1")
        open_credit = override_requests(session, status="open", kind="credit")
        newest = override_requests(session, limit=1)
        nothing = override_requests(session, limit=-5)
    assert [(r.record_id, r.request_key) for r in everything] == [
        ("2", "credit-1"), ("1", "admin-1"), ("1", "credit-1"),
    ]  # fmt: skip
    assert [r.request_key for r in first_record] == ["admin-1", "credit-1"]
    assert [r.record_id for r in open_credit] == ["2", "1"]
    assert [r.record_id for r in newest] == ["2"] and nothing == []
    decided = first_record[0]
    assert isinstance(decided, RequestedOverride)
    assert decided.decided_by == "u-admin" and decided.reason == "needs a look"
    assert decided.requested_by == "u-pack" and decided.created_at is not None


def request(
    record_id: int, key: str, kind: str, status: str, decided_by: str | None = None
) -> store.OverrideRequest:
    return store.OverrideRequest(
        record_type=TABLE, record_id=str(record_id), request_key=key, kind=kind,
        reason="needs a look", requested_by="u-pack", status=status, decided_by=decided_by,
    )  # fmt: skip


def test_started_records_are_the_rows_with_a_workflow_newest_key_first(
    db: Database, service: WorkflowService
) -> None:
    started(service, 1)
    started(service, 3, machine="crate")
    started(service, 4)
    with db.Session() as session:
        session.add(Parcel(id=9, label="never started"))
        session.commit()
    with db.Session() as session:
        every = [(row.id, row.workflow_machine) for row in started_records(session, Parcel)]
        crates = [row.label for row in started_records(session, Parcel, machine="crate")]
        first = next(started_records(session, Parcel))
        assert isinstance(first, Parcel) and first.workflow_state is not None
    assert every == [(4, "parcel"), (3, "crate"), (1, "parcel")]
    assert crates == ["P-3"]


def test_the_store_names_a_reader_needs_come_from_the_queries_module() -> None:
    assert queries.WorkflowRecord is store.WorkflowRecord
    assert primary_key_value(Parcel, "7") == 7
    shipped = (queries.Quotation, queries.SaleOrder, queries.Fulfillment)
    assert shipped == (store.Quotation, store.SaleOrder, store.Fulfillment)
    assert all(issubclass(model, WorkflowRecord) for model in shipped)
