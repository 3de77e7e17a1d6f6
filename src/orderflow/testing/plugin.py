"""orderflow's pytest plugin: fixtures for a simulated clock and for actors that run on it.

Installed as the ``pytest11`` entry point ``orderflow``, so a project that
installs orderflow gets these fixtures with no ``conftest.py``:

    def test_invoice_reminder(actor_factory, simulated_clock):
        actor = actor_factory(machine)
        simulated_clock.advance(1000)
        assert actor.get_snapshot().matches("cart")

``actor_factory`` starts every actor it makes on ``simulated_clock`` and stops
each one when the test ends, so no timer outlives its test.

For persisted workflows:

- ``orderflow_engine``: an in-memory SQLite database with orderflow's schema
  (the shipped migrations applied), fresh for each test;
- ``orderflow_postgres_engine``: the same on the PostgreSQL server that
  ``ORDERFLOW_TEST_POSTGRES_URL`` names, in a schema of its own that is
  dropped after the test (skipped, saying why, when the variable is unset);
- ``orderflow_ports`` and ``orderflow_service``: the shipped order machines
  on fresh in-memory ports, behind a ``WorkflowService`` on
  ``orderflow_engine``.  Create your own tables on ``orderflow_engine``
  before the service moves their rows.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Protocol

import pytest
import sqlalchemy
from sqlalchemy import Engine
from sqlalchemy.orm import sessionmaker

from orderflow.chart import Machine, Snapshot
from orderflow.orders import InMemoryPorts, in_memory_ports
from orderflow.runtime import Actor, SimulatedClock, create_actor
from orderflow.service import WorkflowService, order_service
from orderflow.store import create_engine, upgrade

#: the environment variable naming the PostgreSQL server for ``orderflow_postgres_engine``
POSTGRES_URL_VARIABLE = "ORDERFLOW_TEST_POSTGRES_URL"


class ActorFactory(Protocol):
    """What the ``actor_factory`` fixture is: a started actor of ``machine`` on the test's clock."""

    def __call__(
        self,
        machine: Machine,
        snapshot: Snapshot | Mapping[str, Any] | None = None,
        *,
        input: Any = None,
        implementations: Mapping[str, Callable[..., Any]] | None = None,
        start: bool = True,
    ) -> Actor: ...


@pytest.fixture
def simulated_clock() -> SimulatedClock:
    """A fresh :class:`orderflow.runtime.SimulatedClock` at time 0; move it with ``advance(ms)``."""
    return SimulatedClock()


@pytest.fixture
def actor_factory(simulated_clock: SimulatedClock) -> Iterator[ActorFactory]:
    """Make actors of a machine on ``simulated_clock``, started unless ``start=False``; all stopped at teardown."""
    made: list[Actor] = []

    def make(
        machine: Machine,
        snapshot: Snapshot | Mapping[str, Any] | None = None,
        *,
        input: Any = None,
        implementations: Mapping[str, Callable[..., Any]] | None = None,
        start: bool = True,
    ) -> Actor:
        actor = create_actor(
            machine, snapshot, clock=simulated_clock, implementations=implementations, input=input
        )
        made.append(actor)
        return actor.start() if start else actor

    yield make
    for actor in made:
        actor.stop()


@pytest.fixture
def orderflow_engine() -> Iterator[Engine]:
    """An in-memory SQLite database with orderflow's schema, fresh for each test."""
    engine = create_engine("sqlite://")
    upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def orderflow_postgres_engine() -> Iterator[Engine]:
    """A PostgreSQL schema of its own with orderflow's tables, dropped after the test.

    Skipped when ``ORDERFLOW_TEST_POSTGRES_URL`` is not set.
    """
    url = os.environ.get(POSTGRES_URL_VARIABLE)
    if not url:
        pytest.skip(f"{POSTGRES_URL_VARIABLE} is not set; this test needs a PostgreSQL server")
    schema = f"orderflow_{uuid.uuid4().hex[:12]}"
    admin = sqlalchemy.create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    engine = create_engine(url, connect_args={"options": f"-csearch_path={schema}"})
    try:
        upgrade(engine)
        yield engine
    finally:
        engine.dispose()
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        admin.dispose()


@pytest.fixture
def orderflow_ports() -> InMemoryPorts:
    """Fresh in-memory ports for the order machines (stock, credit, payments, notifications)."""
    return in_memory_ports()


@pytest.fixture
def orderflow_service(orderflow_engine: Engine, orderflow_ports: InMemoryPorts) -> WorkflowService:
    """A ``WorkflowService`` for the shipped order machines on ``orderflow_ports`` and ``orderflow_engine``."""
    return order_service(
        sessionmaker(orderflow_engine, expire_on_commit=False), ports=orderflow_ports
    )
