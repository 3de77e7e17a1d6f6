"""The async driver against the sync one: persisted sends per second, 8 tasks against 8 threads.

    .venv/bin/python bench/async_service.py [--ops 150] [--rounds 5] [--postgres postgresql+psycopg://...]
        [--async-driver psycopg|asyncpg ...] [--sqlite]

One process, one database (PostgreSQL when a URL is given or
ORDERFLOW_TEST_POSTGRES_URL is set, else a SQLite file).  A round runs
``--ops`` sends of the toggle machine per worker:

- **sync, 8 threads**: ``WorkflowService.send`` from 8 threads, each on its own records;
- **async, 8 tasks**: ``AsyncWorkflowService.send`` from 8 tasks on one event loop;
- **sync floor** and **async floor**: the prepared floor of ``persisted.py`` (a locked
  read, a versioned update and a log insert, statements built once) on the same engines,
  from 8 threads on the sync engine and from 8 tasks on the async one (each transaction an
  ``AsyncConnection`` running the statements in ``run_sync``, as the async service does).

On PostgreSQL the async kinds run on each ``--async-driver`` given (a row each):
``psycopg`` (psycopg 3's ``AsyncConnection``, the default) and ``asyncpg`` (when
installed; ``pip install asyncpg``).  The sync kinds always run on psycopg 3.

The kinds take turns round by round (the order rotates); the table gives the median
throughput of each and the median and range of the per-round ratios: async over sync
(the goal), the async floor over the sync floor (what SQLAlchemy's asyncio layer and the
async driver allow at best), and each service over its own floor.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any

from persisted import RECORDS_PER_WORKER, TOGGLE, BenchBase, Switch, prepared_step
from scratch_database import Database
from sqlalchemy import make_url
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlalchemy.orm import sessionmaker

import orderflow
from orderflow.service import AsyncWorkflowService, WorkflowService
from orderflow.store import create_async_engine

WORKERS = 8


def ids_of(worker: int) -> list[int]:
    return [worker * RECORDS_PER_WORKER + i + 1 for i in range(RECORDS_PER_WORKER)]


def threads_round(move: Callable[[int], None], ops: int) -> float:
    """Throughput of ``move`` from 8 threads, each on its own records."""

    def work(worker: int) -> None:
        ids = ids_of(worker)
        for i in range(ops):
            move(ids[i % len(ids)])

    threads = [threading.Thread(target=work, args=(w,)) for w in range(WORKERS)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return WORKERS * ops / (time.perf_counter() - started)


async def tasks_round(move: Callable[[int], Awaitable[None]], ops: int) -> float:
    """Throughput of ``move`` from 8 tasks on one event loop, each on its own records."""

    async def work(worker: int) -> None:
        ids = ids_of(worker)
        for i in range(ops):
            await move(ids[i % len(ids)])

    started = time.perf_counter()
    await asyncio.gather(*(work(w) for w in range(WORKERS)))
    return WORKERS * ops / (time.perf_counter() - started)


def sync_send(service: WorkflowService) -> Callable[[int], None]:
    def move(record: int) -> None:
        assert service.send((Switch, record), "FLIP").success

    return move


def async_send(service: AsyncWorkflowService) -> Callable[[int], Awaitable[None]]:
    async def move(record: int) -> None:
        assert (await service.send((Switch, record), "FLIP")).success

    return move


def sync_floor(engine: Any) -> Callable[[int], None]:
    step = prepared_step(engine.dialect.name == "postgresql")

    def move(record: int) -> None:
        with engine.begin() as connection:
            step(connection, record)

    return move


def async_floor(engine: Any) -> Callable[[int], Awaitable[None]]:
    step = prepared_step(engine.dialect.name == "postgresql")

    async def move(record: int) -> None:
        async with engine.begin() as connection:
            await connection.run_sync(step, record)

    return move


KINDS = ("sync", "async", "sync floor", "async floor")


def async_engine_options(database: Database, driver: str) -> tuple[str, dict[str, Any]]:
    """The async engine's URL for ``driver`` and its options (the bench's schema, the pool)."""
    assert database.url is not None
    if database.schema is None:
        return database.url, {}
    url = make_url(database.url).set(drivername=f"postgresql+{driver}").render_as_string(False)
    if driver == "asyncpg":
        return url, {
            "connect_args": {"server_settings": {"search_path": database.schema}},
            "pool_size": WORKERS,
        }
    return url, {
        "connect_args": {"options": f"-csearch_path={database.schema}"}, "pool_size": WORKERS,
    }  # fmt: skip


def measure(url: str | None, ops: int, rounds: int, driver: str = "psycopg") -> str:
    database = Database(url, BenchBase.metadata)
    machine = orderflow.create_machine(TOGGLE)
    engine = database.engine()
    engine.pool.dispose()
    sync_engine = orderflow.store.create_engine(
        database.url or "",
        **({} if database.schema is None else {
            "connect_args": {"options": f"-csearch_path={database.schema}"}, "pool_size": WORKERS,
        }),
    )  # fmt: skip
    sync = WorkflowService(sessionmaker(sync_engine, expire_on_commit=False), {"toggle": machine})
    for i in range(WORKERS * RECORDS_PER_WORKER):
        sync.start(Switch(id=i + 1, workflow_machine="toggle"))
    loop = asyncio.new_event_loop()
    url_for_async, options = async_engine_options(database, driver)
    async_engine = create_async_engine(url_for_async, **options)
    asynchronous = AsyncWorkflowService(
        async_sessionmaker(async_engine, expire_on_commit=False), {"toggle": machine}
    )
    try:
        moves = {
            "sync": sync_send(sync),
            "async": async_send(asynchronous),
            "sync floor": sync_floor(sync_engine),
            "async floor": async_floor(async_engine),
        }

        def run(kind: str, n: int) -> float:
            if kind.startswith("async"):
                return loop.run_until_complete(tasks_round(moves[kind], n))  # type: ignore[arg-type]
            return threads_round(moves[kind], n)  # type: ignore[arg-type]

        for kind in KINDS:
            run(kind, 20)
        tps: dict[str, list[float]] = {kind: [] for kind in KINDS}
        for round_ in range(rounds):
            turn = round_ % len(KINDS)
            for kind in KINDS[turn:] + KINDS[:turn]:
                tps[kind].append(run(kind, ops))
        name = "SQLite file (WAL)" if database.schema is None else f"PostgreSQL, async on {driver}"
        cells = [f"{statistics.median(tps[kind]):,.0f}" for kind in KINDS]
        for top, bottom in (
            ("async", "sync"), ("async floor", "sync floor"), ("sync", "sync floor"),
            ("async", "async floor"),
        ):  # fmt: skip
            ratios = [a / b for a, b in zip(tps[top], tps[bottom], strict=True)]
            cells.append(
                f"{statistics.median(ratios):.2f}x ({min(ratios):.2f}x-{max(ratios):.2f}x)"
            )
        return f"| {name} | " + " | ".join(cells) + " |"
    finally:
        loop.run_until_complete(async_engine.dispose())
        loop.close()
        sync_engine.dispose()
        engine.dispose()
        database.drop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--ops", type=int, default=150, help="sends per worker and round")
    parser.add_argument("--rounds", type=int, default=5, help="rounds of each kind")
    parser.add_argument("--postgres", default=os.environ.get("ORDERFLOW_TEST_POSTGRES_URL"))
    parser.add_argument("--sqlite", action="store_true", help="measure a SQLite file as well")
    parser.add_argument(
        "--async-driver", action="append", choices=("psycopg", "asyncpg"),
        help="the async kinds' PostgreSQL driver (repeat for a row each; default psycopg)",
    )  # fmt: skip
    args = parser.parse_args()
    rows = [
        "| engine | sync, 8 threads (tx/s) | async, 8 tasks (tx/s) | sync floor (tx/s) "
        "| async floor (tx/s) | async / sync | async floor / sync floor | sync / sync floor "
        "| async / async floor |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    if args.postgres:
        for driver in args.async_driver or ["psycopg"]:
            rows.append(measure(args.postgres, args.ops, args.rounds, driver))
    if args.sqlite or not args.postgres:
        rows.append(measure(None, args.ops, args.rounds))
    print("\n".join(rows))


if __name__ == "__main__":
    main()
