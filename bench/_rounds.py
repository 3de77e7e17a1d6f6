"""The round and barrier loop the persisted benchmarks share (``persisted.py``, ``django_driver.py``).

Each worker process warms every kind of move up, then runs ``rounds`` turns of ``ops`` moves of
each kind, every worker starting a turn at a barrier, the order of the kinds rotating each round.
A round's throughput of a kind is all workers' moves over the span from the first start to the
last end.  A worker that fails says so on the queue and breaks the barrier, so the parent stops
waiting and raises.
"""

from __future__ import annotations

import multiprocessing
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from typing import Any

Move = Callable[[int], None]


def run_rounds(
    moves: Mapping[str, Move],
    ids: list[int],
    ops: int,
    rounds: int,
    barrier: Any,
    out: Any,
    warm_up: int,
) -> None:
    """Warm each move up, then the rounds, reporting (round, kind, start, end) for each turn."""
    kinds = list(moves)
    try:
        for move in moves.values():
            for i in range(warm_up):
                move(ids[i % len(ids)])
        for round_ in range(rounds):
            turn = round_ % len(kinds)
            for kind in kinds[turn:] + kinds[:turn]:
                move = moves[kind]
                barrier.wait()
                started = time.perf_counter()
                for i in range(ops):
                    move(ids[i % len(ids)])
                out.put((round_, kind, started, time.perf_counter()))
    except BaseException:
        out.put(("failed", traceback.format_exc(), 0.0, 0.0))
        barrier.abort()
        raise


def measure(
    worker: Callable[..., None],
    args: Sequence[Any],
    kinds: Sequence[str],
    workers: int,
    ops: int,
    rounds: int,
    records_per_worker: int,
    timeout: float = 600,
) -> dict[str, list[float]]:
    """Throughput per round of each kind with ``workers`` processes of
    ``worker(*args, ids, ops, rounds, barrier, out)``."""
    context = multiprocessing.get_context("fork")
    barrier, out = context.Barrier(workers), context.Queue()
    ids = [
        [w * records_per_worker + i + 1 for i in range(records_per_worker)] for w in range(workers)
    ]
    processes = [
        context.Process(target=worker, args=(*args, ids[w], ops, rounds, barrier, out))
        for w in range(workers)
    ]
    for process in processes:
        process.start()
    spans: dict[tuple[int, str], list[tuple[float, float]]] = {}
    for _ in range(workers * rounds * len(kinds)):
        round_, kind, started, ended = out.get(timeout=timeout)
        if round_ == "failed":
            raise RuntimeError(f"a worker process failed:\n{kind}")
        spans.setdefault((round_, kind), []).append((started, ended))
    for process in processes:
        process.join()
        if process.exitcode != 0:
            raise RuntimeError("a worker process failed")
    throughput: dict[str, list[float]] = {kind: [] for kind in kinds}
    for round_ in range(rounds):
        for kind in kinds:
            span = spans[round_, kind]
            elapsed = max(end for _, end in span) - min(start for start, _ in span)
            throughput[kind].append(workers * ops / elapsed)
    return throughput
