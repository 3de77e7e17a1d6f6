"""Fixtures for the service tests: a database of every kind and a service for the ticket machine.

``service`` is the contract under test, once per driver and database it runs
on: the sync ``WorkflowService`` on every kind of database, and the
``AsyncWorkflowService`` (awaited for the test by ``workflow_db.Awaiting``) on
a SQLite file (aiosqlite) and on PostgreSQL through each of its async drivers
(psycopg 3's ``AsyncConnection`` and asyncpg).  An in-memory SQLite database is
one connection, which the async driver cannot share between tasks.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

import workflow_db as db  # tests/workflow_db.py, beside the root conftest
from orderflow.service import WorkflowService

#: (driver, database kind) pairs the contract suite runs on
CONTRACT = (
    *(("sync", kind) for kind in db.KINDS),
    ("async", "sqlite-file"),
    *((f"async-{driver}", "postgresql") for driver in db.ASYNC_POSTGRES_DRIVERS),
)


@pytest.hookimpl(tryfirst=True)
def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """A test that takes this ``service`` runs once per (driver, database) pair of the contract.

    Added as a ``parametrize`` mark (before the marks are read), which takes the place of
    the ``database`` fixture's own params for that test.
    """
    if "service_driver" in metafunc.fixturenames:  # this file's service, not a module's own
        metafunc.definition.add_marker(
            pytest.mark.parametrize(
                ("service_driver", "database"),
                [pytest.param(driver, kind, id=f"{kind}-{driver}") for driver, kind in CONTRACT],
                indirect=True,
            )
        )


@pytest.fixture
def service_driver(request: pytest.FixtureRequest) -> str:
    """The driver ``service`` runs on: ``sync``, ``async`` or ``async-<postgres driver>``."""
    return str(request.param)


@pytest.fixture
def service(service_driver: str, database: db.Database) -> Iterator[Any]:
    machines = {"ticket": db.ticket_machine()}
    if service_driver == "sync":
        yield WorkflowService(database.Session, machines, effects={"capture": db.capture})
        return
    postgres_driver = service_driver.removeprefix("async").removeprefix("-") or "psycopg"
    with db.awaiting_service(
        database, machines, postgres_driver, effects={"capture": db.capture}
    ) as awaiting:
        yield awaiting
