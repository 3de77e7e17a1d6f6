"""The GraphQL API and the inspector serve a service and a table of the user's own.

``create_app(service=..., records=[Model])``: a help desk table with camelCase
column names and no legacy status, moved by its own machine, read and moved
over HTTP beside nothing of the order machines.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

import orderflow
from orderflow.api import create_app, issue_token
from orderflow.service import Principal, WorkflowService
from orderflow.store import WorkflowRecord
from orderflow.store.record import NullableJSONDocument
from workflow_db import open_database

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    from starlette.testclient import TestClient

SECRET = "own-table-api-" + "t0k3" * 8
AGENT = Principal("u-3", "Ada Agent")


class DeskBase(DeclarativeBase):
    pass


class DeskCase(DeskBase, WorkflowRecord):
    __tablename__ = "desk_cases"

    id: Mapped[int] = mapped_column(primary_key=True)
    subject: Mapped[str] = mapped_column(String(80), default="")
    workflow_machine: Mapped[str | None] = mapped_column("workflowMachine", default=None)
    workflow_state: Mapped[dict[str, Any] | None] = mapped_column(
        "workflowState", NullableJSONDocument, default=None
    )
    workflow_context: Mapped[Any] = mapped_column(
        "workflowContext", NullableJSONDocument, default=None, nullable=True
    )
    workflow_version: Mapped[int] = mapped_column("workflowVersion", default=0)
    status = None  # type: ignore[assignment]


DESK = orderflow.create_machine(
    {
        "id": "desk",
        "initial": "new",
        "states": {
            "new": {"on": {"ASSIGN": "open"}},
            "open": {"on": {"SOLVE": "solved"}},
            "solved": {"type": "final"},
        },
    }
)


@pytest.fixture
def desk(tmp_path: Path) -> Iterator[tuple[WorkflowService, TestClient]]:
    with open_database("sqlite-file", tmp_path) as database:
        DeskBase.metadata.create_all(database.engine)
        service = WorkflowService(database.Session, {"desk": DESK})
        app = create_app(service=service, records=[DeskCase], secret=SECRET)
        client = TestClient(app, follow_redirects=False)
        client.headers["Authorization"] = f"Bearer {issue_token(SECRET, AGENT)}"
        yield service, client


def graphql(client: TestClient, query: str, variables: dict[str, Any]) -> Any:
    response = client.post("/graphql", json={"query": query, "variables": variables})
    assert response.status_code == 200, response.text
    return response.json()


def test_the_api_reads_and_moves_a_record_of_ones_own_table(
    desk: tuple[WorkflowService, TestClient],
) -> None:
    service, client = desk
    case = DeskCase(subject="printer", workflow_machine="desk")
    assert service.start(case, actor=AGENT).success
    read = graphql(
        client,
        'query($id: ID!) { workflow(recordType: "desk_cases", recordId: $id) { value version } }',
        {"id": str(case.id)},
    )
    assert read.get("errors") is None, read
    assert read["data"]["workflow"]["version"] == 1
    moved = graphql(
        client,
        'mutation($id: ID!) { sendEvent(recordType: "desk_cases", recordId: $id, '
        'event: "ASSIGN") { success toState } }',
        {"id": str(case.id)},
    )
    assert moved.get("errors") is None, moved
    assert moved["data"]["sendEvent"] == {"success": True, "toState": "open"}
    assert service.snapshot(case).value == "open"
    page = client.get(f"/records/desk_cases/{case.id}")
    assert page.status_code == 200 and "SOLVE" in page.text
    index = client.get("/")
    assert index.status_code == 200 and f"/records/desk_cases/{case.id}" in index.text
