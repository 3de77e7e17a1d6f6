"""Fixtures for the worker tests: databases (shared with tests/store), an alarm machine, consumers.

The alarm machine has one ``after`` timer: ``armed`` rings after a minute
(its ``ring`` effect writes a ``Capture`` row, so a test can count firings
by their side effect, not only by log rows) unless the context is muted;
``REARM`` arms the same timer id again.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest


def _shared() -> ModuleType:
    """tests/store/workflow_db.py, importable under one name from every test folder."""
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
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    """A fresh database with orderflow's schema and the test tables; one per test."""
    if request.param == "postgresql" and db.POSTGRES_URL is None:
        pytest.skip(db.NO_POSTGRES)
    with db.open_database(request.param, tmp_path) as database:
        yield database


@pytest.fixture
def postgres(tmp_path: Path) -> Iterator[Any]:
    """A fresh PostgreSQL schema (skipped, with the reason, when no server is configured)."""
    if db.POSTGRES_URL is None:
        pytest.skip(db.NO_POSTGRES)
    with db.open_database("postgresql", tmp_path) as database:
        yield database


@pytest.fixture(params=["sqlite-file", "postgresql"])
def shared_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    """A database several processes can open (a SQLite file, or PostgreSQL when configured)."""
    if request.param == "postgresql" and db.POSTGRES_URL is None:
        pytest.skip(db.NO_POSTGRES)
    with db.open_database(request.param, tmp_path) as database:
        yield database


def later(minutes: float = 2) -> datetime:
    """A moment after every alarm armed now is due."""
    from orderflow.store.base import utcnow

    return utcnow() + timedelta(minutes=minutes)
