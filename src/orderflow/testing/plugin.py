"""orderflow's pytest plugin: fixtures for a simulated clock and for actors that run on it.

Installed as the ``pytest11`` entry point ``orderflow``, so a project that
installs orderflow gets these fixtures with no ``conftest.py``:

    def test_invoice_reminder(actor_factory, simulated_clock):
        actor = actor_factory(machine)
        simulated_clock.advance(1000)
        assert actor.get_snapshot().matches("cart")

``actor_factory`` starts every actor it makes on ``simulated_clock`` and stops
each one when the test ends, so no timer outlives its test.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any, Protocol

import pytest

from orderflow.chart import Machine, Snapshot
from orderflow.runtime import Actor, SimulatedClock, create_actor


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
