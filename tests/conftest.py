"""Fixtures for every database test (store, service, workers): a migrated database of every kind.

PostgreSQL joins the kinds when ``ORDERFLOW_TEST_POSTGRES_URL`` is set; its tests skip, saying
so, when it is not.  The database helpers themselves are in ``workflow_db.py`` beside this file.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from workflow_db import KINDS, NO_POSTGRES, POSTGRES_URL, Database, open_database

# Django's settings are process-wide: the Django driver's suite runs in a process of its own
# (tests/test_django_driver_suite.py), never configured into this one
collect_ignore = ["django_driver"]


@pytest.fixture(params=KINDS)
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """A fresh database with orderflow's schema and the test tables; one per test."""
    if request.param == "postgresql" and POSTGRES_URL is None:
        pytest.skip(NO_POSTGRES)
    with open_database(request.param, tmp_path) as database:
        yield database


@pytest.fixture(params=["sqlite-file", "postgresql"])
def shared_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """A database several processes can open: a SQLite file, or PostgreSQL when configured."""
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
