"""Fixtures for the service tests: a database of every kind and a service for the ticket machine.

``service`` is the contract under test, once per driver: the sync
``WorkflowService`` and the ``AsyncWorkflowService`` (awaited for the test
by ``workflow_db.Awaiting``), on every database kind the async driver
supports (an in-memory SQLite database is the sync driver's only).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

import workflow_db as db  # tests/workflow_db.py, beside the root conftest
from orderflow.service import WorkflowService

DRIVERS = ("sync", "async")


@pytest.fixture(params=DRIVERS)
def service(request: pytest.FixtureRequest, database: db.Database) -> Iterator[Any]:
    machines = {"ticket": db.ticket_machine()}
    if request.param == "sync":
        yield WorkflowService(database.Session, machines, effects={"capture": db.capture})
        return
    if database.kind == "sqlite-memory":
        pytest.skip("the async driver needs a SQLite file (in-memory SQLite is one connection)")
    with db.awaiting_service(database, machines, effects={"capture": db.capture}) as awaiting:
        yield awaiting
