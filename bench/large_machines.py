"""Large machines: how compile time and per-event cost grow with the size of a definition.

    .venv/bin/python bench/large_machines.py [--rounds 5] [--quick]

Two shapes, each at several sizes, so the growth curve shows:

- **flat**: N atomic siblings under the root, each with ``NEXT`` to the next one.
  Rows: compiling (``create_machine``), and one ``NEXT`` event, a plan replay once the
  pair was seen (so the first event is timed separately, on a fresh machine).
- **parallel**: N regions of two states each (``a`` --GO--> ``b``).  Rows: compiling,
  entering the initial configuration (2N+1 states), and the first ``GO`` (N transitions
  in one microstep: selection, conflict removal, exit and entry sets over the whole
  configuration).

Every cell is the median [min-max] of ``--rounds`` fresh measurements.  The last column
is the ratio to the previous size's median divided by the size ratio: about 1 is linear
growth, about 2 quadratic.  The goals (issue 20): 30,000 flat states compile in under
2 s, one event across 2,000 regions takes under 50 ms.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import time
from collections.abc import Callable
from typing import Any

import orderflow


def flat(size: int) -> dict[str, Any]:
    return {
        "id": "flat",
        "initial": "s0",
        "states": {f"s{i}": {"on": {"NEXT": f"s{(i + 1) % size}"}} for i in range(size)},
    }


def regions(size: int) -> dict[str, Any]:
    return {
        "id": "regions",
        "type": "parallel",
        "states": {
            f"r{i}": {"initial": "a", "states": {"a": {"on": {"GO": "b"}}, "b": {}}}
            for i in range(size)
        },
    }


def _timed(prepare: Callable[[], Any], measure: Callable[[Any], Any], rounds: int) -> list[float]:
    samples = []
    for _ in range(rounds):
        state = prepare()
        gc.collect()
        started = time.perf_counter()
        measure(state)
        samples.append(time.perf_counter() - started)
    return samples


def _rows(size: int, rounds: int) -> list[tuple[str, int, list[float]]]:
    flat_config, parallel_config = flat(size), regions(size)

    def flat_started() -> tuple[orderflow.Machine, orderflow.Snapshot]:
        machine = orderflow.create_machine(flat_config)
        return machine, machine.initial_transition()[0]

    def parallel_machine() -> orderflow.Machine:
        return orderflow.create_machine(parallel_config)

    def parallel_started() -> tuple[orderflow.Machine, orderflow.Snapshot]:
        machine = parallel_machine()
        return machine, machine.initial_transition()[0]

    return [
        ("flat: compile", size, _timed(lambda: flat_config, orderflow.create_machine, rounds)),
        (
            "flat: first NEXT (the whole algorithm)",
            size,
            _timed(flat_started, lambda ms: ms[0].transition(ms[1], "NEXT"), rounds),
        ),
        (
            "parallel: compile",
            size,
            _timed(lambda: parallel_config, orderflow.create_machine, rounds),
        ),
        (
            "parallel: enter the initial configuration",
            size,
            _timed(parallel_machine, lambda m: m.initial_transition(), rounds),
        ),
        (
            "parallel: first GO (N transitions)",
            size,
            _timed(parallel_started, lambda ms: ms[0].transition(ms[1], "GO"), rounds),
        ),
    ]


def _cell(samples: list[float]) -> str:
    def ms(seconds: float) -> str:
        return f"{seconds * 1000:.3g}"

    return f"{ms(statistics.median(samples))} [{ms(min(samples))}-{ms(max(samples))}]"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="small sizes only (a smoke run)")
    args = parser.parse_args()
    sizes = {
        "flat": [1_000, 3_000, 10_000, 30_000] if not args.quick else [100, 300],
        "parallel": [250, 500, 1_000, 2_000] if not args.quick else [50, 100],
    }
    by_row: dict[str, list[tuple[int, list[float]]]] = {}
    for shape, shape_sizes in sizes.items():
        for size in shape_sizes:
            for name, n, samples in _rows(size, args.rounds):
                if name.startswith(shape):
                    by_row.setdefault(name, []).append((n, samples))
    print("| row | N | ms, median [min-max] | growth vs previous N (1 = linear) |")
    print("|---|---:|---:|---:|")
    for name, points in by_row.items():
        previous: tuple[int, float] | None = None
        for n, samples in points:
            median = statistics.median(samples)
            growth = f"{(median / previous[1]) / (n / previous[0]):.2f}" if previous else "-"
            print(f"| {name} | {n:,} | {_cell(samples)} | {growth} |")
            previous = (n, median)


if __name__ == "__main__":
    main()
