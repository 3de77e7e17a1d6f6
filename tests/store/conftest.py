"""Fixtures for the store tests: a migrated database of every kind (PostgreSQL when configured)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from workflow_db import KINDS, NO_POSTGRES, POSTGRES_URL, Database, open_database


@pytest.fixture(params=KINDS)
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """A fresh database with orderflow's schema and the test tables; one per test."""
    if request.param == "postgresql" and POSTGRES_URL is None:
        pytest.skip(NO_POSTGRES)
    with open_database(request.param, tmp_path) as database:
        yield database


@pytest.fixture
def postgres(tmp_path: Path) -> Iterator[Database]:
    """A fresh PostgreSQL schema (skipped, with the reason, when no server is configured)."""
    if POSTGRES_URL is None:
        pytest.skip(NO_POSTGRES)
    with open_database("postgresql", tmp_path) as database:
        yield database
