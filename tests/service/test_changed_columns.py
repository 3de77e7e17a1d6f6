"""A send writes only the workflow columns whose JSON changed (the snapshot always).

Skipping an unchanged context is only right if "unchanged" means the same
JSON document: ``1``, ``1.0`` and ``true`` compare equal in Python but are
three different documents.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import event

import orderflow
from orderflow.service import WorkflowService
from orderflow.service.pipeline import same_json
from workflow_db import Database, Ticket

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3)
    ),
    max_leaves=12,
)


def text_of(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


@given(json_values, json_values)
def test_same_json_is_equality_of_the_documents(a: Any, b: Any) -> None:
    assert same_json(a, b) == (text_of(a) == text_of(b))


@given(json_values)
def test_a_document_is_the_same_as_its_copy(a: Any) -> None:
    assert same_json(a, json.loads(json.dumps(a)))


def test_numbers_and_booleans_that_python_calls_equal_are_different_documents() -> None:
    assert not same_json({"n": 1}, {"n": 1.0})
    assert not same_json({"n": 1}, {"n": True})
    assert not same_json([0.0], [-0.0])
    assert same_json({"a": [1, {"b": None}]}, {"a": [1, {"b": None}]})


def test_a_send_writes_the_context_only_when_it_changed(database: Database) -> None:
    machine = orderflow.create_machine(
        {
            "id": "counter",
            "initial": "idle",
            "context": {"count": 1},
            "states": {
                "idle": {
                    "on": {
                        "POKE": "idle",
                        "FLOAT": {"actions": [{"type": "assign", "params": {"count": 1.0}}]},
                    }
                }
            },
        }
    )
    service = WorkflowService(database.Session, {"counter": machine})
    ticket = Ticket(workflow_machine="counter")
    service.start(ticket)
    updates: list[str] = []

    def seen(conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: Any) -> None:
        if "UPDATE tickets" in statement:  # on PostgreSQL inside the log insert's WITH
            updates.append(statement)

    event.listen(database.engine, "before_cursor_execute", seen)
    try:
        service.send(ticket, "POKE")
        service.send(ticket, "FLOAT")
    finally:
        event.remove(database.engine, "before_cursor_execute", seen)

    assert "workflow_context" not in updates[0] and "workflow_state" in updates[0]
    assert "workflow_context" in updates[1]
    context = service.snapshot(ticket).context
    assert type(context["count"]) is float
