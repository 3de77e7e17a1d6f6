"""Fixtures for the service tests: a database of every kind and a service for the ticket machine."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from orderflow.service import WorkflowService


def _shared() -> ModuleType:
    """tests/store/workflow_db.py, importable under one name from both test folders."""
    if "workflow_db" in sys.modules:
        return sys.modules["workflow_db"]
    path = Path(__file__).resolve().parents[1] / "store" / "workflow_db.py"
    spec = importlib.util.spec_from_file_location("workflow_db", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["workflow_db"] = module
    spec.loader.exec_module(module)
    return module


db = _shared()


@pytest.fixture(params=db.KINDS)
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[object]:
    """A fresh database with orderflow's schema and the test tables; one per test."""
    if request.param == "postgresql" and db.POSTGRES_URL is None:
        pytest.skip(db.NO_POSTGRES)
    with db.open_database(request.param, tmp_path) as database:
        yield database


@pytest.fixture
def postgres(tmp_path: Path) -> Iterator[object]:
    """A fresh PostgreSQL schema (skipped, with the reason, when no server is configured)."""
    if db.POSTGRES_URL is None:
        pytest.skip(db.NO_POSTGRES)
    with db.open_database("postgresql", tmp_path) as database:
        yield database


@pytest.fixture
def service(database: object) -> WorkflowService:
    return WorkflowService(
        database.Session,  # type: ignore[attr-defined]
        {"ticket": db.ticket_machine()},
        effects={"capture": db.capture},
    )
