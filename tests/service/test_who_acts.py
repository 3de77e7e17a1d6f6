"""Who acts is the service's word: identity, roles and internal events at the service's doors.

The service writes the authenticated actor into every event; a payload that
names one is refused with nothing written (dry runs included); roles come
from permissions through the service's role mapping; internal event types
never come in through ``send``, ``bulk_send``, ``transition`` or ``can``.
The walk at the end sends every shipped machine's events through the
service with a forged payload actor, and checks that the log row, what the
machine wrote about who acted and the outbox name the same person.
"""

from __future__ import annotations

import random
import sys
import threading
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

import pytest
from pydantic import BaseModel, ConfigDict
from sqlalchemy import String, func, select
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

import orderflow
from orderflow.errors import InvalidEventError, ReservedEventFieldError, UnknownEventError
from orderflow.orders import in_memory_ports
from orderflow.service import Principal, WorkflowService, order_service
from orderflow.store import OutboxEvent, TransitionLog, WorkflowRecord
from workflow_db import NO_POSTGRES, POSTGRES_URL, Database, open_database

sys.path.insert(0, str(Path(__file__).parents[1] / "orders"))
from orderflow.orders.walks import WALKS  # how the order tests walk the shipped machines

ALICE = Principal("u-alice", "Alice Approver", frozenset({"invoice.approve"}))
CLERK = Principal("u-clerk", "Clara Clerk", frozenset({"invoice.edit"}))
#: who an attacker claims to be in a payload
FORGED = {"id": "u-boss", "label": "The Boss", "roles": ["approver"], "permissions": ["*"]}


class Base(DeclarativeBase):
    pass


class Invoice(Base, WorkflowRecord):
    """A record of the test's own, in a table of its own."""

    __tablename__ = "who_acts_invoices"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)


class Approve(BaseModel):
    model_config = ConfigDict(frozen=True)
    reason: str = ""
    actor: dict[str, Any] | None = None


def approver(context: Any, event: Any, params: Any) -> tuple[bool, str | None]:
    actor = event.actor if isinstance(event, Approve) else getattr(event, "actor", None)
    if actor is None or "approver" not in actor["roles"]:
        return False, "only an approver may approve"
    return True, None


def record_approval(context: Any, event: Any, params: Any) -> dict[str, Any]:
    return {"approved_by": event.actor["id"]}


def note_editor(context: Any, event: Any, params: Any) -> dict[str, Any]:
    return {
        "edited_by": (getattr(event, "actor", None) or {}).get("id"),
        "amount": getattr(event, "amount", None),
    }


INVOICE = {
    "id": "invoice",
    "initial": "draft",
    "context": {"approved_by": None, "edited_by": None, "amount": None},
    "states": {
        "draft": {
            "on": {
                "EDIT": {"actions": ["note_editor"]},
                "SUBMIT": "pending",
            }
        },
        "pending": {
            "after": {"60000": "expired"},
            "on": {
                "APPROVE": {
                    "target": "approved",
                    "guard": "approver",
                    "actions": [
                        "record_approval",
                        {"type": "emit", "params": {"event": {"type": "invoice.approved"}}},
                    ],
                },
            },
        },
        "approved": {"type": "final"},
        "expired": {"type": "final"},
    },
}


def invoice_machine() -> orderflow.Machine:
    return orderflow.setup(
        guards={"approver": approver},
        actions={
            "record_approval": orderflow.assign(record_approval),
            "note_editor": orderflow.assign(note_editor),
        },
        events={"APPROVE": Approve},
    ).create_machine(INVOICE)


@pytest.fixture(params=["sqlite-memory", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    if request.param == "postgresql" and POSTGRES_URL is None:
        pytest.skip(NO_POSTGRES)
    with open_database(request.param, tmp_path) as database:
        Base.metadata.create_all(database.engine)
        yield database


@pytest.fixture
def service(database: Database) -> WorkflowService:
    return WorkflowService(
        database.Session, {"invoice": invoice_machine()}, roles={"approver": ["invoice.approve"]}
    )


def pending(service: WorkflowService, key: str = "INV-1") -> Invoice:
    invoice = Invoice(id=key, workflow_machine="invoice")
    assert service.start(invoice, actor=CLERK)
    assert service.send(invoice, "SUBMIT", actor=CLERK)
    return invoice


def stored(database: Database, key: str = "INV-1") -> tuple[Any, ...]:
    """The record's row, its log and its outbox, as they are in the database."""
    with database.Session() as session:
        row = session.get(Invoice, key)
        assert row is not None
        logs = session.scalar(select(func.count()).select_from(TransitionLog))
        outbox = session.scalar(select(func.count()).select_from(OutboxEvent))
        return (row.workflow_state, row.workflow_context, row.workflow_version, logs, outbox)


# -- the actor field -----------------------------------------------------------------------------


@pytest.mark.parametrize("dry_run", [False, True])
@pytest.mark.parametrize("forged", [FORGED, {"id": "u-alice"}, None, "u-boss"])
def test_a_payload_naming_an_actor_is_refused_and_nothing_is_written(
    service: WorkflowService, database: Database, dry_run: bool, forged: Any
) -> None:
    invoice = pending(service)
    before = stored(database)
    event = {"type": "APPROVE", "reason": "ok", "actor": forged}
    with pytest.raises(ReservedEventFieldError, match="reserved field 'actor'"):
        service.send(invoice, event, actor=CLERK, dry_run=dry_run, idempotency_key="k")
    assert stored(database) == before
    # the key was not spent: the honest request under it is answered afresh
    assert not service.send(invoice, {"type": "APPROVE", "reason": "ok"}, actor=ALICE,
                            idempotency_key="k").idempotent  # fmt: skip


def test_the_service_writes_the_authenticated_actor_with_roles_from_its_permissions(
    service: WorkflowService, database: Database
) -> None:
    invoice = pending(service)
    refused = service.send(invoice, {"type": "APPROVE", "reason": "mine"}, actor=CLERK)
    assert not refused.success and refused.reason is not None
    assert "only an approver may approve" in refused.reason
    result = service.send(invoice, {"type": "APPROVE", "reason": "fine"}, actor=ALICE)
    assert result.success and result.to_state == "approved"
    with database.Session() as session:
        log = session.scalars(select(TransitionLog).order_by(TransitionLog.id.desc())).first()
        assert log is not None and (log.actor_user, log.actor_label) == (ALICE.id, ALICE.label)
        assert log.details["event"]["actor"] == {
            "id": ALICE.id, "label": ALICE.label, "permissions": ["invoice.approve"],
            "roles": ["approver"],
        }  # fmt: skip
    assert service.snapshot(invoice).context["approved_by"] == ALICE.id


def test_an_untyped_event_reads_who_acts_from_the_same_field(service: WorkflowService) -> None:
    invoice = Invoice(id="INV-2", workflow_machine="invoice")
    service.start(invoice)
    service.send(invoice, {"type": "EDIT", "amount": Decimal("12.50")}, actor=CLERK)
    assert service.snapshot(invoice).context["edited_by"] == CLERK.id
    assert service.snapshot(invoice).context["amount"] == "12.50"  # as the log keeps it
    service.send(invoice, "EDIT")  # nobody authenticated: the machine sees no actor at all
    assert service.snapshot(invoice).context["edited_by"] is None


def test_roles_are_asked_of_the_mapping_and_a_function_may_decide_them(
    database: Database,
) -> None:
    service = WorkflowService(
        database.Session, {"invoice": invoice_machine()},
        roles=lambda actor: ["approver"] if actor.id.endswith("-boss") else [],
    )  # fmt: skip
    invoice = pending(service)
    assert not service.can(invoice, {"type": "APPROVE", "reason": "x"}, actor=ALICE)
    assert service.can(invoice, {"type": "APPROVE", "reason": "x"}, actor=Principal("u-boss"))
    options = {o.event: o for o in service.allowed_events(invoice, actor=Principal("u-boss"))}
    assert options["APPROVE"].allowed


def test_can_and_allowed_events_judge_for_the_actor_given(service: WorkflowService) -> None:
    invoice = pending(service)
    approve = {"type": "APPROVE", "reason": "x"}
    assert service.can(invoice, approve, actor=ALICE)
    assert not service.can(invoice, approve, actor=CLERK) and not service.can(invoice, approve)
    with pytest.raises(ReservedEventFieldError):
        service.can(invoice, {**approve, "actor": FORGED}, actor=CLERK)
    by_clerk = {o.event: o for o in service.allowed_events(invoice, actor=CLERK)}
    assert not by_clerk["APPROVE"].allowed
    assert "only an approver may approve" in (by_clerk["APPROVE"].reason or "")


# -- internal events -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "event",
    [
        "xstate.after.60000.invoice.pending",
        {"type": "xstate.after.60000.invoice.pending"},
        "xstate.init",
        "xstate.done.state.invoice.pending",
        "orderflow.backfill",
        "orderflow.legacy_status",
    ],
)
def test_internal_events_are_refused_at_every_outside_door_and_nothing_is_written(
    service: WorkflowService, database: Database, event: Any
) -> None:
    invoice = pending(service)
    before = stored(database)
    with pytest.raises(UnknownEventError, match="internal event"):
        service.send(invoice, event, actor=CLERK)
    with pytest.raises(UnknownEventError, match="internal event"):
        service.send(invoice, event, actor=CLERK, dry_run=True)
    bulk = service.bulk_send([invoice], event, actor=CLERK)
    assert (bulk.succeeded, bulk.failed) == (0, 1)
    assert "internal event" in bulk.failures[0].reason
    assert not service.can(invoice, event, actor=CLERK)
    assert stored(database) == before
    assert service.snapshot(invoice).value == "pending"


def test_a_state_only_a_timer_reaches_is_no_target_of_transition(
    service: WorkflowService, database: Database
) -> None:
    invoice = pending(service)
    before = stored(database)
    result = service.transition(invoice, "expired", actor=CLERK)
    assert not result.success and "no event leads" in (result.reason or "")
    assert service.can_transition(invoice, "expired", actor=CLERK).allowed is False
    assert all(not o.event.startswith("xstate.") for o in service.allowed_events(invoice))
    assert stored(database) == before


def test_transition_params_naming_an_actor_are_refused(service: WorkflowService) -> None:
    invoice = pending(service)
    with pytest.raises(ReservedEventFieldError):
        service.transition(invoice, "approved", params={"reason": "x", "actor": FORGED})
    assert service.transition(invoice, "approved", params={"reason": "x"}, actor=ALICE).success


def test_the_timer_comes_in_through_the_internal_path(service: WorkflowService) -> None:
    invoice = pending(service)
    result = service.deliver(invoice, "xstate.after.60000.invoice.pending")
    assert result.success and result.to_state == "expired"


def test_an_scxml_machines_platform_events_are_internal_too(
    database: Database, tmp_path: Path
) -> None:
    from orderflow.io import scxml

    document = tmp_path / "door.scxml"
    document.write_text(
        '<scxml xmlns="http://www.w3.org/2005/07/scxml" version="1.0" name="door" '
        'datamodel="python" initial="closed">'
        '<state id="closed"><transition event="error.platform" target="open"/>'
        '<transition event="OPEN" target="open"/></state><final id="open"/></scxml>'
    )
    machine = scxml.load(document)
    service = WorkflowService(database.Session, {machine.id: machine})
    door = Invoice(id="DOOR-1", workflow_machine=machine.id)
    service.start(door)
    with pytest.raises(UnknownEventError, match="internal event"):
        service.send(door, "error.platform")
    assert service.send(door, "OPEN").success


# -- what a payload may hold ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("event", "message"),
    [
        (None, "not NoneType"),
        (42, "not int"),
        ([("type", "EDIT")], "not list"),
        ({"type": "EDIT", "amount": object()}, r"holds a object at \$\.amount"),
        ({"type": "EDIT", "amount": float("nan")}, "only finite numbers"),
        ({"type": "EDIT", "amount": Decimal("Infinity")}, "only finite numbers"),
        ({"type": "EDIT", "amount": {2: "x"}}, "not text"),
    ],
)
def test_an_event_that_is_not_json_is_refused_before_anything_runs(
    service: WorkflowService, database: Database, event: Any, message: str
) -> None:
    invoice = Invoice(id="INV-1", workflow_machine="invoice")
    service.start(invoice)
    before = stored(database)
    with pytest.raises(InvalidEventError, match=message):
        service.send(invoice, event, actor=CLERK)
    assert stored(database) == before


def test_a_payload_nested_too_deep_is_refused(service: WorkflowService) -> None:
    invoice = Invoice(id="INV-1", workflow_machine="invoice")
    service.start(invoice)
    deep: Any = "bottom"
    for _ in range(10_000):
        deep = [deep]
    with pytest.raises(InvalidEventError, match="nests deeper than"):
        service.send(invoice, {"type": "EDIT", "amount": deep})


# -- racing starts -------------------------------------------------------------------------------


def test_racing_starts_of_one_new_key_start_it_once_and_refuse_the_rest(
    database: Database,
) -> None:
    if database.kind != "postgresql":
        pytest.skip("SQLite serialises writers at BEGIN IMMEDIATE; the race needs PostgreSQL")
    service = WorkflowService(database.Session, {"invoice": invoice_machine()})
    barrier = threading.Barrier(4)
    results: list[Any] = []

    def start() -> None:
        invoice = Invoice(id="RACE-1", workflow_machine="invoice")
        barrier.wait()
        try:
            results.append(service.start(invoice, actor=CLERK))
        except Exception as exc:  # the test reports any raw error below
            results.append(exc)

    threads = [threading.Thread(target=start) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not [r for r in results if isinstance(r, Exception)], results
    assert sorted(r.success for r in results) == [False, False, False, True]
    assert {r.reason for r in results if not r.success} == {
        "the workflow of this record has already started"
    }
    with database.Session() as session:
        assert session.scalar(select(func.count()).select_from(TransitionLog)) == 1


# -- every shipped machine, walked with forged actors ---------------------------------------------

#: the people the order walks name, as principals whose permissions grant their roles
PRINCIPALS = {
    "ann": Principal("ann", "Ann", frozenset({"quotation.approve"})),
    "carl": Principal("carl", "Carl", frozenset({"sale.override.credit"})),
    "ada": Principal("ada", "Ada", frozenset({"sale.override.admin"})),
    "cleo": Principal("cleo", "Cleo", frozenset({"order.change"})),
    "nick": Principal("nick", "Nick"),
}
#: the context and outbox fields in which the order machines say who acted
WHO_FIELDS = ("approver", "by", "decided_by", "requested_by")


def who_values(value: Any) -> list[str]:
    found: list[str] = []
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            for key, sub in item.items():
                if key in WHO_FIELDS and isinstance(sub, str):
                    found.append(sub)
                stack.append(sub)
        elif isinstance(item, list):
            stack.extend(item)
    return found


class Walked(Base, WorkflowRecord):
    __tablename__ = "who_acts_walked"
    id: Mapped[int] = mapped_column(primary_key=True)


@pytest.mark.parametrize("name", ["quotation", "sale", "fulfilment", "order"])
def test_every_shipped_machine_takes_who_acts_from_the_principal_alone(
    database: Database, name: str
) -> None:
    walk = WALKS[name]
    ports = in_memory_ports(stock={"CHAIR": 10, "DESK": 2, "LAMP": 5, "TABLE": 20})
    service = order_service(database.Session, ports=ports, machines=(name,))
    record = Walked(workflow_machine=name)
    assert service.start(record, input=dict(walk.start_input))
    rng = random.Random(f"who-acts-{name}")
    checked = 0
    for _ in range(30):
        snapshot = service.snapshot(record)
        if snapshot.status != "active":
            break
        choices = []
        for event in walk.events(snapshot):
            named = event.pop("actor", None)
            principal = PRINCIPALS[named["id"]] if named else PRINCIPALS["cleo"]
            if event["type"].startswith("xstate."):
                with pytest.raises(UnknownEventError):
                    service.send(record, event, actor=principal)
                continue
            for dry_run in (True, False):
                with pytest.raises(ReservedEventFieldError):
                    service.send(record, {**event, "actor": FORGED}, actor=principal,
                                 dry_run=dry_run)  # fmt: skip
            if service.send(record, event, actor=principal, dry_run=True).success:
                choices.append((bool(named), event, principal))
        if not choices:
            break
        decided = [c for c in choices if c[0]]
        _, event, principal = rng.choice(decided if decided and rng.random() < 0.6 else choices)
        before = who_values(service.snapshot(record).to_json()["context"])
        result = service.send(record, event, actor=principal)
        assert result.success
        context = service.snapshot(record).to_json()["context"]
        written = list(who_values(context))
        for value in before:
            written.remove(value)
        with database.Session() as session:
            logs = session.scalars(
                select(TransitionLog).where(TransitionLog.id.in_(result.log_ids))
            ).all()
            outbox = session.scalars(
                select(OutboxEvent).where(OutboxEvent.transition_id.in_(result.log_ids))
            ).all()
        assert {log.actor_user for log in logs} == {principal.id}
        said = written + [v for row in outbox for v in who_values(row.payload)]
        assert set(said) <= {principal.id}, (event, said)
        assert "u-boss" not in repr(context) + repr([row.payload for row in outbox])
        checked += len(said)
    if name in ("quotation", "sale"):
        assert checked > 0, "the walk never reached a decision that records who made it"


def test_a_payload_model_names_nobody_unless_its_actor_field_is_set(
    service: WorkflowService,
) -> None:
    class ApproveEvent(BaseModel):
        type: Literal["APPROVE"] = "APPROVE"
        reason: str
        actor: dict[str, Any] | None = None

    invoice = pending(service)
    with pytest.raises(ReservedEventFieldError):
        service.send(invoice, ApproveEvent(reason="x", actor=FORGED), actor=CLERK)
    with pytest.raises(ReservedEventFieldError):
        service.send(invoice, ApproveEvent(reason="x", actor=None), actor=CLERK)
    assert service.send(invoice, ApproveEvent(reason="ok"), actor=ALICE).to_state == "approved"


def test_bulk_send_refuses_a_payload_naming_an_actor_once_before_any_record(
    service: WorkflowService, database: Database
) -> None:
    invoices = [pending(service, f"INV-{n}") for n in range(3)]
    before = [stored(database, f"INV-{n}") for n in range(3)]
    seen: list[Any] = []
    with pytest.raises(ReservedEventFieldError):
        service.bulk_send(invoices, {"type": "APPROVE", "actor": FORGED}, actor=CLERK,
                          progress=lambda done, result: seen.append(done))  # fmt: skip
    assert seen == [] and [stored(database, f"INV-{n}") for n in range(3)] == before
