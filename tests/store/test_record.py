"""WorkflowRecord, rehydrate and persist: a snapshot in two columns and back, validated on the way in."""

from __future__ import annotations

import uuid
from typing import Any, ClassVar

import pytest
import sqlalchemy as sa
from sqlalchemy import String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from orderflow.errors import InvalidRecordKeyError, InvalidSnapshotError, RecordNotFoundError
from orderflow.store import (
    Fulfillment,
    Quotation,
    SaleOrder,
    WorkflowRecord,
    legacy_status,
    persist,
    primary_key_value,
    record_identity,
    rehydrate,
    state_columns,
)
from workflow_db import Database, Ticket, ticket_machine


def test_persist_splits_state_and_context_and_rehydrate_restores_it(database: Database) -> None:
    machine = ticket_machine()
    snapshot, _ = machine.initial_transition()
    snapshot, _ = machine.transition(snapshot, {"type": "PAY", "amount": 12})
    with database.Session.begin() as session:
        ticket = Ticket(title="x")
        persist(snapshot, ticket)
        session.add(ticket)
    assert ticket.workflow_state is not None
    assert ticket.workflow_state["value"] == "paid" and "context" not in ticket.workflow_state
    assert (ticket.workflow_context, ticket.workflow_machine) == ({"paid": 1}, "ticket")
    assert (ticket.workflow_version, ticket.status) == (1, "PAID")
    with database.Session() as session:
        loaded = session.get(Ticket, ticket.id)
        assert loaded is not None
        assert rehydrate(machine, loaded) == snapshot


@pytest.mark.parametrize(
    ("tamper", "path"),
    [
        (lambda s: {**s, "value": "vanished"}, "$.value"),
        (lambda s: {**s, "value": {"open": "deeper"}}, "$.value"),
        (lambda s: {**s, "value": 7}, "$.value"),
        (lambda s: {**s, "status": "done"}, "$.status"),
        (lambda s: {**s, "version": "0"}, "$.version"),
        (lambda s: {**s, "machine": "other"}, "$.machine"),
        (lambda s: {**s, "context": {"smuggled": True}}, "$.workflow_state.context"),
        (lambda s: ["not", "an", "object"], "$.workflow_state"),
        (lambda s: None, "$.workflow_state"),
    ],
)
def test_a_tampered_workflow_state_is_refused_with_its_json_path(tamper: Any, path: str) -> None:
    machine = ticket_machine()
    snapshot, _ = machine.initial_transition()
    ticket = Ticket(id=1)
    persist(snapshot, ticket)
    ticket.workflow_state = tamper(dict(ticket.workflow_state or {}))
    with pytest.raises(InvalidSnapshotError) as caught:
        rehydrate(machine, ticket)
    assert caught.value.path.startswith(path)


def test_legacy_status_takes_the_most_specific_mapping() -> None:
    class Nested(Ticket):
        __workflow_status__: ClassVar[dict[str, str]] = {"sale": "OPEN", "sale.paid": "PAID"}

    machine = ticket_machine(
        {
            "id": "n",
            "initial": "sale",
            "states": {
                "sale": {"initial": "paid", "states": {"paid": {"on": {"X": "due"}}, "due": {}}}
            },
        }
    )
    snapshot, _ = machine.initial_transition()
    assert legacy_status(Nested, snapshot) == "PAID"
    assert state_columns(snapshot, Nested)["status"] == "PAID"


def test_a_status_mapping_set_anew_is_read_again_not_served_from_before() -> None:
    class Remapped(Ticket):
        __workflow_status__: ClassVar[dict[str, str]] = {"sale": "OPEN"}

    machine = ticket_machine(
        {"id": "r", "initial": "sale", "states": {"sale": {"on": {"X": "done"}}, "done": {}}}
    )
    snapshot, _ = machine.initial_transition()
    assert legacy_status(Remapped, snapshot) == "OPEN"
    Remapped.__workflow_status__ = {"sale": "SELLING"}
    assert legacy_status(Remapped, snapshot) == "SELLING"
    assert legacy_status(Ticket, snapshot) is None  # another model, the same configuration


def test_without_a_mapping_the_status_is_the_dotted_state() -> None:
    machine = ticket_machine(
        {
            "id": "n",
            "initial": "sale",
            "states": {"sale": {"initial": "paid", "states": {"paid": {}}}},
        }
    )
    snapshot, _ = machine.initial_transition()
    assert legacy_status(Quotation, snapshot) == "sale.paid"


def test_the_example_records_link_quotation_sale_and_fulfilment(database: Database) -> None:
    with database.Session.begin() as session:
        quotation = Quotation(reference="Q-1", customer_id="C-1")
        session.add(quotation)
        session.flush()
        sale = SaleOrder(reference="S-1", customer_id="C-1", quotation_id=quotation.id)
        session.add(sale)
        session.flush()
        session.add(Fulfillment(reference="F-1", sale_order_id=sale.id))
    with pytest.raises(Exception, match=r"(?i)unique"), database.Session.begin() as session:
        session.add(SaleOrder(reference="S-2", customer_id="C-1", quotation_id=quotation.id))


class _KeyBase(DeclarativeBase):
    pass


class _TextKeyed(_KeyBase, WorkflowRecord):
    __tablename__ = "text_keyed"
    code: Mapped[str] = mapped_column(String(20), primary_key=True)


class _UuidKeyed(_KeyBase, WorkflowRecord):
    __tablename__ = "uuid_keyed"
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)


class _BigKeyed(_KeyBase, WorkflowRecord):
    __tablename__ = "big_keyed"
    id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True)


class _SmallKeyed(_KeyBase, WorkflowRecord):
    __tablename__ = "small_keyed"
    id: Mapped[int] = mapped_column(sa.SmallInteger, primary_key=True)


ONE_UUID = uuid.UUID("12345678-1234-5678-1234-567812345678")


@pytest.mark.parametrize(
    ("model", "key", "value"),
    [
        (Ticket, 12, 12),
        (Ticket, "12", 12),
        (Ticket, " 7", 7),
        (_TextKeyed, "Q-1", "Q-1"),
        (_TextKeyed, 42, "42"),
        (_UuidKeyed, ONE_UUID, ONE_UUID),
        (_UuidKeyed, str(ONE_UUID), ONE_UUID),
        (Ticket, 2**31 - 1, 2**31 - 1),
        (Ticket, str(-(2**31)), -(2**31)),
        (_BigKeyed, "9223372036854775807", 2**63 - 1),
        (_SmallKeyed, 32767, 32767),
        (Ticket, "-0", 0),
        (Ticket, "0" * 5000 + "5", 5),
    ],
)
def test_a_key_that_spells_the_primary_key_type_is_converted(
    model: type[Any], key: Any, value: Any
) -> None:
    converted = primary_key_value(model, key)
    assert converted == value and type(converted) is type(value)
    assert record_identity((model, key)) == (model, value)


@pytest.mark.parametrize(
    ("model", "key"),
    [
        (Ticket, "abc"),
        (Ticket, 3.5),
        (Ticket, None),
        (Ticket, True),
        (Ticket, [1]),
        (Ticket, ""),
        (_TextKeyed, None),
        (_UuidKeyed, "not-a-uuid"),
        (_UuidKeyed, 5),
        (Ticket, "99999999999999999999999"),
        (Ticket, 2**31),
        (Ticket, -(2**31) - 1),
        (_BigKeyed, 2**63),
        (_SmallKeyed, "40000"),
        (Ticket, "²"),
        (Ticket, "+-5"),
        (Ticket, "1_000"),
        (Ticket, "9" * 5000),
        (_BigKeyed, "-" + "9" * 41),
    ],
)
def test_a_key_the_primary_key_cannot_hold_is_refused_before_any_query(
    model: type[Any], key: Any
) -> None:
    with pytest.raises(InvalidRecordKeyError, match="cannot name a") as caught:
        record_identity((model, key))
    assert isinstance(caught.value, RecordNotFoundError)


def test_a_reference_that_is_not_a_model_and_key_pair_is_a_programming_error() -> None:
    with pytest.raises(TypeError, match=r"\(Model, primary key\)"):
        record_identity((Ticket, 1, 2))
    with pytest.raises(TypeError, match="not a mapped"):
        record_identity((dict, 1))


def test_an_instance_whose_key_the_column_cannot_hold_is_refused_before_any_query() -> None:
    for key in ("abc", 2**40):
        with pytest.raises(InvalidRecordKeyError, match="cannot name a"):
            record_identity(Ticket(id=key))
    assert record_identity(Ticket(id="12")) == (Ticket, 12)


def test_an_integer_out_of_range_is_refused_with_the_range_the_column_holds() -> None:
    with pytest.raises(InvalidRecordKeyError, match="holds integers from -32768 to 32767"):
        primary_key_value(_SmallKeyed, 2**15)
    with pytest.raises(InvalidRecordKeyError, match=r"'9{57}\.\.\.' cannot name a tickets"):
        primary_key_value(Ticket, "9" * 5000)


@pytest.mark.parametrize(("model", "bits"), [(Ticket, 32), (_BigKeyed, 64), (_SmallKeyed, 16)])
def test_the_widest_keys_a_column_holds_reach_the_database_and_one_more_is_refused(
    database: Database, model: type[Any], bits: int
) -> None:
    if model is not Ticket:  # the test tables have tickets; the other two are this module's
        _KeyBase.metadata.create_all(database.engine, tables=[model.__table__])
    low, high = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    with database.Session.begin() as session:
        session.add_all([model(id=low), model(id=high)])
    with database.Session() as session:
        for key in (str(low), str(high)):
            assert session.get(model, primary_key_value(model, key)) is not None
        assert session.get(model, primary_key_value(model, "0")) is None
    for key in (str(low - 1), str(high + 1), low - 1, high + 1):
        with pytest.raises(InvalidRecordKeyError, match=f"integers from {low} to {high}"):
            record_identity((model, key))
