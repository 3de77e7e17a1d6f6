"""A send's own statements run as prepared driver SQL: same meaning, same events, same schema map.

:mod:`orderflow.service.statements` compiles the locked read, the versioned
update and the log insert once per dialect and runs them with
``exec_driver_sql``.  These tests hold it to what Core would have done: the
values written and read back (JSON of any shape, key types, timestamps),
the connection events a user's tracing listens to, and a
``schema_translate_map``, whose SQL only Core can render.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import (
    Column,
    Integer,
    MetaData,
    String,
    Table,
    bindparam,
    event,
    func,
    select,
    update,
)
from sqlalchemy.orm import sessionmaker

import orderflow
from orderflow.errors import StaleRecordError
from orderflow.service import WorkflowService
from orderflow.service.statements import Prepared, PreparedInsert
from orderflow.store import TransitionLog
from orderflow.store.base import JSONDocument, UTCDateTime
from workflow_db import Database, Ticket

#: text PostgreSQL can store (no NUL, no lone surrogate), in values and in keys alike
texts = st.text(st.characters(exclude_characters="\x00", exclude_categories=["Cs"]), max_size=6)
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**53), 2**53)
    | st.floats(allow_nan=False, allow_infinity=False)
    | texts,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(texts, inner, max_size=3),
    max_leaves=10,
)

metadata = MetaData()
notes = Table(
    "prepared_notes",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("label", String(40)),
    Column("document", JSONDocument),
    Column("at", UTCDateTime),
)
INSERT = PreparedInsert(
    notes.insert().values(
        label=bindparam("label"), document=bindparam("document"), at=bindparam("at")
    ),
    notes.c.id,
)
READ = Prepared(
    select(notes.c.label, notes.c.document, notes.c.at).where(notes.c.id == bindparam("key"))
)
WRITE = Prepared(
    update(notes).where(notes.c.id == bindparam("key")).values(document=bindparam("document"))
)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    first=json_values,
    second=json_values,
    label=st.text(st.characters(exclude_characters="\x00", exclude_categories=["Cs"]), max_size=40),
)
def test_prepared_statements_write_and_read_what_core_does(
    database: Database, first: Any, second: Any, label: str
) -> None:
    """Row ``a`` is written by Core, row ``b`` by the prepared statements; both read the same."""
    at = datetime(2026, 12, 4, 9, 30, 15, 123456, tzinfo=UTC)
    metadata.create_all(database.engine)
    values = {"label": label, "document": first, "at": at}
    with database.engine.begin() as connection:
        a = connection.execute(notes.insert().values(values)).inserted_primary_key[0]
        b = INSERT.inserted_key(connection, values)
        assert b == a + 1
        connection.execute(update(notes).where(notes.c.id == a).values(document=second))
        assert WRITE.execute(connection, {"key": b, "document": second}).rowcount == 1
        by_core = [tuple(connection.execute(READ.statement, {"key": key}).one()) for key in (a, b)]
        by_prepared = [READ.one_or_none(connection, {"key": key}) for key in (a, b)]
        assert by_core[0] == by_core[1] == by_prepared[0] == by_prepared[1]
        assert by_core[0][2] == at
        assert READ.one_or_none(connection, {"key": b + 1}) is None
        connection.execute(notes.delete())


def toggle() -> orderflow.Machine:
    return orderflow.create_machine(
        {
            "id": "toggle",
            "initial": "off",
            "context": {"flips": 0},
            "states": {
                "off": {
                    "on": {
                        "FLIP": {
                            "target": "on",
                            "actions": [{"type": "assign", "params": {"flips": 1}}],
                        }
                    }
                },
                "on": {"on": {"FLIP": "off"}},
            },
        }
    )


def statements_of_one_send(database: Database, session_factory: Any) -> list[str]:
    """The SQL the engine's cursor events saw while one toggle of a new ticket was sent."""
    service = WorkflowService(session_factory, {"toggle": toggle()})
    ticket = Ticket(workflow_machine="toggle")
    service.start(ticket)
    seen: list[str] = []

    def before(
        conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: Any
    ) -> None:
        seen.append(" ".join(statement.split()))

    event.listen(database.engine, "before_cursor_execute", before)
    try:
        assert service.send(ticket, "FLIP").success
    finally:
        event.remove(database.engine, "before_cursor_execute", before)
    assert service.snapshot(ticket).value == "on"
    return seen


def test_a_users_cursor_events_see_every_statement_of_a_send(database: Database) -> None:
    """Tracing (OpenTelemetry's SQLAlchemy instrumentation, say) listens to cursor events."""
    seen = [s.upper() for s in statements_of_one_send(database, database.Session)]
    assert any(s.startswith("SELECT") and "FROM TICKETS" in s for s in seen)
    assert any("UPDATE TICKETS" in s for s in seen)  # on PostgreSQL: in the log insert's WITH
    assert any("INSERT INTO WORKFLOW_TRANSITION_LOG" in s for s in seen)


def test_a_schema_translate_map_is_rendered_by_core(database: Database) -> None:
    """A map changes the SQL per connection, so those sends run the Core statements."""
    schema = "main" if database.kind.startswith("sqlite") else database.schema
    engine = database.engine.execution_options(schema_translate_map={None: schema})
    seen = statements_of_one_send(database, sessionmaker(engine))
    written = [s for s in seen if s.upper().startswith(("UPDATE", "INSERT", "WITH"))]
    assert written and all(f"{schema}." in s for s in written), written


def test_a_stale_move_writes_neither_the_row_nor_its_log_row(database: Database) -> None:
    """On PostgreSQL the update and the log row are one statement; a failed check writes neither."""
    service = WorkflowService(database.Session, {"toggle": toggle()})
    ticket = Ticket(workflow_machine="toggle")
    service.start(ticket)
    journal = service.journal
    entry = journal.entry(
        "tickets", str(ticket.id), machine="toggle", machine_version=None, event="FLIP",
        from_state="off", to_state="on", record_version=2, principal=None, note="",
        details={},
    )  # fmt: skip
    with database.engine.connect() as connection:
        before = connection.execute(select(func.count()).select_from(TransitionLog)).scalar_one()
        with pytest.raises(StaleRecordError) as raised:
            journal.move(connection, ticket, {"status": "ON"}, 7, [entry])
        assert (raised.value.expected, raised.value.found) == (7, 1)
        after = connection.execute(select(func.count()).select_from(TransitionLog)).scalar_one()
        assert after == before
        (ids,) = [journal.move(connection, ticket, {"status": "ON"}, 1, [entry])]
        connection.commit()
        row = connection.execute(select(TransitionLog).where(TransitionLog.id == ids[0])).one()
        assert row.record_version == 2 and row.to_state == "on"
    assert ticket.workflow_version == 2
