"""Fixtures for the API tests: a migrated SQLite file database and the order service on it.

A file database, because the app reads and writes from worker threads
(and, in the browser test, from uvicorn's thread) like a real server does.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from api_support import flow_service

from orderflow.service import WorkflowService
from workflow_db import Database, open_database


@pytest.fixture
def api_db(tmp_path: Path) -> Iterator[Database]:
    with open_database("sqlite-file", tmp_path) as database:
        yield database


@pytest.fixture
def service(api_db: Database) -> WorkflowService:
    return flow_service(api_db.Session)
