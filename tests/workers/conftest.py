"""Fixtures for the worker tests: databases (shared with tests/store), an alarm machine, consumers.

The alarm machine has one ``after`` timer: ``armed`` rings after a minute
(its ``ring`` effect writes a ``Capture`` row, so a test can count firings
by their side effect, not only by log rows) unless the context is muted;
``REARM`` arms the same timer id again.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import workflow_db as db  # tests/workflow_db.py, beside the root conftest


@pytest.fixture(params=["sqlite-file", "postgresql"])
def shared_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    """A database several processes can open (a SQLite file, or PostgreSQL when configured)."""
    if request.param == "postgresql" and db.POSTGRES_URL is None:
        pytest.skip(db.NO_POSTGRES)
    with db.open_database(request.param, tmp_path) as database:
        yield database
