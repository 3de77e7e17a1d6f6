"""Machines every export test draws: the shipped ones and random ones."""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

from orderflow.chart import Machine, Snapshot
from orderflow.errors import InfiniteLoopError
from orderflow.orders import load_machine
from orderflow.orders.loading import MACHINE_NAMES

sys.path.insert(0, str(Path(__file__).parent))

SHIPPED = MACHINE_NAMES


def shipped(name: str) -> Machine:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return load_machine(name)


def started(machine: Machine) -> Snapshot | None:
    """The machine's initial snapshot, or None when it never settles.

    ``machine_configs()`` can draw a wildcard (``*``) transition that catches the
    machine's own ``xstate.done.state.*`` event and re-enters the finished state,
    forever; that is the core's InfiniteLoopError, not an export problem.
    """
    try:
        snapshot, _ = machine.initial_transition()
    except InfiniteLoopError:
        return None
    return snapshot
