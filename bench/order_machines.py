"""The shipped order machines on the pure core: µs per event along their real paths.

    .venv/bin/python bench/order_machines.py [--rounds 7] [--loops 300] [--profile]

Each shipped machine (``orderflow.orders.load_machine``, bound to the in-memory ports)
walks its happy path and its override, backorder and return paths
(``orderflow.orders.walks.PATHS``, which the order tests walk too): the start with a
typical record's input, then the events a record meets, with the payloads the service
would pass (the acting principal included, as the service puts it into the event; a
function actor's answer as the done event the invocation worker delivers).
Only the core runs: ``machine.transition``, no database, no effect handlers.  The walk is
checked before timing (every event taken, the path ends where it should).

A cell is the median [min-max] over ``--rounds`` of the mean µs per event of ``--loops``
walks (the initial transition counted as one event).  ``--profile`` prints where the
time goes (cProfile, by own time) over all paths.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import pstats
import statistics
import time
from collections.abc import Mapping
from typing import Any

from orderflow import Machine, Snapshot
from orderflow.orders import load_machine
from orderflow.orders.walks import PATHS, Event

_MACHINES: dict[str, Machine] = {}


def load(name: str) -> Machine:
    """The shipped machine, bound to the in-memory ports (one per name: plans are per machine)."""
    if name not in _MACHINES:
        _MACHINES[name] = load_machine(name)
    return _MACHINES[name]


def walk(machine: Machine, start: Mapping[str, Any], events: list[Event]) -> Snapshot:
    snapshot, _ = machine.initial_transition(input=dict(start))
    for event in events:
        snapshot, _ = machine.transition(snapshot, event)
    return snapshot


def check(name: str, path: str) -> None:
    found = PATHS[name, path]
    machine = load(name)
    snapshot, _ = machine.initial_transition(input=dict(found.start_input))
    for event in found.events:
        step = machine.step(snapshot, event)
        if not step.taken:
            raise SystemExit(f"{name} / {path}: {event['type']} was not taken: {step.refusal}")
        snapshot = step.snapshot
    if not snapshot.matches(found.ends_in):
        raise SystemExit(f"{name} / {path}: ended in {snapshot.value}, not {found.ends_in}")


def measure(name: str, path: str, loops: int) -> float:
    """Mean µs per event over ``loops`` walks (the initial transition counts as an event)."""
    found = PATHS[name, path]
    machine = load(name)
    gc.collect()
    began = time.perf_counter()
    for _ in range(loops):
        walk(machine, found.start_input, found.events)
    return (time.perf_counter() - began) / (loops * (len(found.events) + 1)) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--loops", type=int, default=300)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    for name, path in PATHS:
        check(name, path)
        measure(name, path, max(1, args.loops // 10))  # warm-up: plans recorded
    print("| machine | path | events | µs/event, median [min-max] |")
    print("|---|---|---:|---:|")
    for name, path in PATHS:
        samples = [measure(name, path, args.loops) for _ in range(args.rounds)]
        print(
            f"| {name} | {path} | {len(PATHS[name, path].events) + 1} | "
            f"{statistics.median(samples):.1f} [{min(samples):.1f}-{max(samples):.1f}] |"
        )
    if args.profile:
        profiler = cProfile.Profile()
        profiler.enable()
        for name, path in PATHS:
            found = PATHS[name, path]
            for _ in range(args.loops):
                walk(load(name), found.start_input, found.events)
        profiler.disable()
        pstats.Stats(profiler).sort_stats("tottime").print_stats(20)


if __name__ == "__main__":
    main()
