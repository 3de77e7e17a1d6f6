"""Fixtures for the service tests: a database of every kind and a service for the ticket machine."""

from __future__ import annotations

import pytest

import workflow_db as db  # tests/workflow_db.py, beside the root conftest
from orderflow.service import WorkflowService


@pytest.fixture
def service(database: object) -> WorkflowService:
    return WorkflowService(
        database.Session,  # type: ignore[attr-defined]
        {"ticket": db.ticket_machine()},
        effects={"capture": db.capture},
    )
