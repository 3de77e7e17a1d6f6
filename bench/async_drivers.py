"""Where the async CPU goes: one locked move per transaction through six client stacks.

    .venv/bin/python bench/async_drivers.py [--ops 300] [--rounds 3] [--postgres URL] [--only WORD ...]

PostgreSQL only.  Each transaction is the four statements of a persisted send: BEGIN,
``SELECT ... FOR UPDATE``, the one-statement move (a versioned update and a log insert
in one ``WITH``) and COMMIT, from 8 threads (sync stacks) or 8 tasks on one event loop
(async stacks), each worker on its own records.  Printed per stack: process CPU time
per transaction (``time.process_time``, the figure that matters on a loaded 2-core
machine) and throughput, medians over the rounds.

- ``sqlalchemy sync`` / ``sqlalchemy asyncio``: ``text()`` statements on an engine
  (the asyncio one through ``AsyncConnection.execute``, one greenlet switch per await);
- ``sqlalchemy asyncio run_sync``: the same statements inside ``run_sync``, as the
  async service runs its stages;
- ``exec_driver_sql``: the same stacks without ``text()`` (as ``service/statements.py``);
- ``sqlalchemy sync in asyncio.to_thread``: tasks handing each sync transaction to the
  default thread pool;
- ``psycopg sync`` / ``psycopg async``: raw psycopg 3 connections, one per worker;
- ``psycopg async pipeline``: BEGIN + SELECT in one pipeline sync, then the move and
  COMMIT in a second;
- ``asyncpg``: raw asyncpg connections, one per worker (when asyncpg is installed);
- ``sqlalchemy asyncio on asyncpg, exec_driver_sql``: SQLAlchemy's asyncio engine on
  ``postgresql+asyncpg`` (the same);
- ``sqlalchemy asyncio on asyncpg, orderflow's short way``: what the async service keeps
  of SQLAlchemy around a send (one greenlet per transaction, the pool, begin and commit)
  with its statements on the adapter's cursor (``orderflow.service.direct``);
- ``sqlalchemy sync, orderflow's short way``: the same for the sync service (its statements
  on psycopg's own cursor).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import inspect
import os
import statistics
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any

import psycopg
from sqlalchemy import create_engine, text
from sqlalchemy.ext.asyncio import create_async_engine

WORKERS = 8
RECORDS = 4
TABLE = "bench_async_drivers"
LOCK = f"SELECT id, version FROM {TABLE} WHERE id = %s FOR UPDATE"
MOVE = (
    f"WITH moved AS (UPDATE {TABLE} SET version = version + 1 WHERE id = %s AND version = %s"
    f" RETURNING id) INSERT INTO {TABLE}_log (record) SELECT id FROM moved"
)

#: the same in asyncpg's parameter style
DOLLAR_LOCK = LOCK.replace("%s", "$1")
DOLLAR_MOVE = MOVE.replace("%s", "$1", 1).replace("%s", "$2", 1)


def to_sqlalchemy(sql: str) -> Any:
    return text(sql.replace("%s", ":a", 1).replace("%s", ":b", 1))


def setup(dsn: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f"DROP TABLE IF EXISTS {TABLE}, {TABLE}_log")
        conn.execute(f"CREATE TABLE {TABLE} (id int PRIMARY KEY, version int NOT NULL)")
        conn.execute(f"CREATE TABLE {TABLE}_log (n bigserial PRIMARY KEY, record int)")
        conn.execute(
            f"INSERT INTO {TABLE} SELECT g, 0 FROM generate_series(1, {WORKERS * RECORDS}) g"
        )


def record_of(worker: int, i: int) -> int:
    return worker * RECORDS + i % RECORDS + 1


def threads(move: Callable[[int, int], None], ops: int) -> int:
    def work(worker: int) -> None:
        for i in range(ops):
            move(worker, record_of(worker, i))

    pool = [threading.Thread(target=work, args=(w,)) for w in range(WORKERS)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    return WORKERS * ops


async def tasks(move: Callable[[int, int], Awaitable[None]], ops: int) -> int:
    async def work(worker: int) -> None:
        for i in range(ops):
            await move(worker, record_of(worker, i))

    await asyncio.gather(*(work(w) for w in range(WORKERS)))
    return WORKERS * ops


def sqlalchemy_sync(url: str) -> Callable[[int, int], None]:
    engine = create_engine(url, pool_size=WORKERS)
    lock, move = to_sqlalchemy(LOCK), to_sqlalchemy(MOVE)

    def step(_worker: int, record: int) -> None:
        with engine.begin() as conn:
            version = conn.execute(lock, {"a": record}).one()[1]
            conn.execute(move, {"a": record, "b": version})

    return step


def sqlalchemy_driver_sql(url: str) -> Callable[[int, int], None]:
    engine = create_engine(url, pool_size=WORKERS)

    def step(_worker: int, record: int) -> None:
        with engine.begin() as conn:
            version = conn.exec_driver_sql(LOCK, (record,)).one()[1]
            conn.exec_driver_sql(MOVE, (record, version))

    return step


def sqlalchemy_async_driver_sql(url: str) -> Callable[[int, int], Awaitable[None]]:
    engine = create_async_engine(url, pool_size=WORKERS)

    async def step(_worker: int, record: int) -> None:
        async with engine.begin() as conn:
            version = (await conn.exec_driver_sql(LOCK, (record,))).one()[1]
            await conn.exec_driver_sql(MOVE, (record, version))

    return step


def on_threads(sync_step: Callable[[int, int], None]) -> Callable[[int, int], Awaitable[None]]:
    async def step(worker: int, record: int) -> None:
        await asyncio.to_thread(sync_step, worker, record)

    return step


def sqlalchemy_async(url: str) -> Callable[[int, int], Awaitable[None]]:
    engine = create_async_engine(url, pool_size=WORKERS)
    lock, move = to_sqlalchemy(LOCK), to_sqlalchemy(MOVE)

    async def step(_worker: int, record: int) -> None:
        async with engine.begin() as conn:
            version = (await conn.execute(lock, {"a": record})).one()[1]
            await conn.execute(move, {"a": record, "b": version})

    return step


def sqlalchemy_run_sync(url: str) -> Callable[[int, int], Awaitable[None]]:
    engine = create_async_engine(url, pool_size=WORKERS)
    lock, move = to_sqlalchemy(LOCK), to_sqlalchemy(MOVE)

    def body(conn: Any, record: int) -> None:
        version = conn.execute(lock, {"a": record}).one()[1]
        conn.execute(move, {"a": record, "b": version})

    async def step(_worker: int, record: int) -> None:
        async with engine.begin() as conn:
            await conn.run_sync(body, record)

    return step


def psycopg_sync(dsn: str, **options: Any) -> Callable[[int, int], None]:
    conns = [psycopg.connect(dsn, **options) for _ in range(WORKERS)]

    def step(worker: int, record: int) -> None:
        conn = conns[worker]
        with conn.transaction():
            version = conn.execute(LOCK, (record,)).fetchone()[1]  # type: ignore[index]
            conn.execute(MOVE, (record, version))

    return step


async def psycopg_async(dsn: str, **options: Any) -> Callable[[int, int], Awaitable[None]]:
    conns = [await psycopg.AsyncConnection.connect(dsn, **options) for _ in range(WORKERS)]

    async def step(worker: int, record: int) -> None:
        conn = conns[worker]
        async with conn.transaction():
            version = (await (await conn.execute(LOCK, (record,))).fetchone())[1]  # type: ignore[index]
            await conn.execute(MOVE, (record, version))

    return step


async def psycopg_async_pipeline(dsn: str) -> Callable[[int, int], Awaitable[None]]:
    conns = [await psycopg.AsyncConnection.connect(dsn, autocommit=True) for _ in range(WORKERS)]

    async def step(worker: int, record: int) -> None:
        conn = conns[worker]
        async with conn.pipeline() as pipe:
            await conn.execute("BEGIN")
            cursor = await conn.execute(LOCK, (record,))
            await pipe.sync()
            version = (await cursor.fetchone())[1]  # type: ignore[index]
            moved = await conn.execute(MOVE, (record, version))
            await conn.execute("COMMIT")
        assert moved.rowcount == 1

    return step


async def asyncpg_raw(dsn: str) -> Callable[[int, int], Awaitable[None]]:
    import asyncpg

    conns = [await asyncpg.connect(dsn) for _ in range(WORKERS)]
    lock, move = DOLLAR_LOCK, DOLLAR_MOVE

    async def step(worker: int, record: int) -> None:
        conn = conns[worker]
        async with conn.transaction():
            version = (await conn.fetchrow(lock, record))[1]  # type: ignore[index]
            await conn.execute(move, record, version)

    return step


def sqlalchemy_asyncpg_driver_sql(url: str) -> Callable[[int, int], Awaitable[None]]:
    engine = create_async_engine(url.replace("+psycopg", "+asyncpg", 1), pool_size=WORKERS)
    lock, move = DOLLAR_LOCK, DOLLAR_MOVE

    async def step(_worker: int, record: int) -> None:
        async with engine.begin() as conn:
            version = (await conn.exec_driver_sql(lock, (record,))).one()[1]
            await conn.exec_driver_sql(move, (record, version))

    return step


def short_way_transaction(engine: Any, lock: str, move: str, record: int) -> None:
    """One transaction on a connection of the sync ``engine``, its statements on the short way."""
    from orderflow.service.direct import direct_statements

    with engine.connect() as conn:
        conn.begin()
        direct = direct_statements(conn)
        assert direct is not None
        version = direct.run(lock, (record,)).fetchone()[1]  # type: ignore[index]
        direct.run(move, (record, version))
        conn.commit()


def sqlalchemy_sync_short_way(url: str) -> Callable[[int, int], None]:
    engine = create_engine(url, pool_size=WORKERS)

    def step(_worker: int, record: int) -> None:
        short_way_transaction(engine, LOCK, MOVE, record)

    return step


def sqlalchemy_asyncpg_short_way(url: str) -> Callable[[int, int], Awaitable[None]]:
    from sqlalchemy.util import greenlet_spawn

    engine = create_async_engine(url.replace("+psycopg", "+asyncpg", 1), pool_size=WORKERS)

    async def step(_worker: int, record: int) -> None:
        await greenlet_spawn(
            short_way_transaction, engine.sync_engine, DOLLAR_LOCK, DOLLAR_MOVE, record
        )

    return step


def timed(run: Callable[[], int]) -> tuple[float, float]:
    cpu, wall = time.process_time(), time.perf_counter()
    count = run()
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    return 1000 * cpu / count, count / wall


async def measure(
    url: str, ops: int, rounds: int, only: list[str] | None = None
) -> dict[str, list[tuple[float, float]]]:
    """Figures per stack; ``only`` keeps the stacks whose names contain one of its words (all
    of them at once hold more connections than a default server allows: 100)."""
    dsn = url.replace("postgresql+psycopg://", "postgresql://")
    setup(dsn)
    sync_makers: dict[str, Callable[[], Any]] = {
        "sqlalchemy sync": lambda: sqlalchemy_sync(url),
        "sqlalchemy sync, exec_driver_sql": lambda: sqlalchemy_driver_sql(url),
        "sqlalchemy sync, orderflow's short way": lambda: sqlalchemy_sync_short_way(url),
        "psycopg sync": lambda: psycopg_sync(dsn),
        "psycopg sync, prepare_threshold=0": lambda: psycopg_sync(dsn, prepare_threshold=0),
    }
    async_makers: dict[str, Callable[[], Any]] = {
        "sqlalchemy asyncio": lambda: sqlalchemy_async(url),
        "sqlalchemy asyncio run_sync": lambda: sqlalchemy_run_sync(url),
        "sqlalchemy asyncio, exec_driver_sql": lambda: sqlalchemy_async_driver_sql(url),
        "sqlalchemy sync in asyncio.to_thread": lambda: on_threads(sqlalchemy_driver_sql(url)),
        "psycopg async": lambda: psycopg_async(dsn),
        "psycopg async, prepare_threshold=0": lambda: psycopg_async(dsn, prepare_threshold=0),
        "psycopg async pipeline": lambda: psycopg_async_pipeline(dsn),
    }
    if importlib.util.find_spec("asyncpg") is not None:
        async_makers["asyncpg"] = lambda: asyncpg_raw(dsn)
        async_makers["sqlalchemy asyncio on asyncpg, exec_driver_sql"] = lambda: (
            sqlalchemy_asyncpg_driver_sql(url)
        )
        async_makers["sqlalchemy asyncio on asyncpg, orderflow's short way"] = lambda: (
            sqlalchemy_asyncpg_short_way(url)
        )

    def wanted(name: str) -> bool:
        return only is None or any(word in name for word in only)

    sync_stacks = {name: make() for name, make in sync_makers.items() if wanted(name)}
    async_stacks = {}
    for name, make in async_makers.items():
        if wanted(name):
            made = make()
            async_stacks[name] = (await made) if inspect.isawaitable(made) else made
    results: dict[str, list[tuple[float, float]]] = {}
    loop = asyncio.get_running_loop()
    for _ in range(rounds):
        for name, sync_step in sync_stacks.items():
            figures = await loop.run_in_executor(None, timed, lambda s=sync_step: threads(s, ops))
            results.setdefault(name, []).append(figures)
        for name, async_step in async_stacks.items():
            cpu, wall = time.process_time(), time.perf_counter()
            count = await tasks(async_step, ops)
            cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
            results.setdefault(name, []).append((1000 * cpu / count, count / wall))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--ops", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--postgres", default=os.environ.get("ORDERFLOW_TEST_POSTGRES_URL"))
    parser.add_argument(
        "--only", nargs="+", help="run only the stacks whose names contain one of these words"
    )
    args = parser.parse_args()
    if not args.postgres:
        raise SystemExit(
            "async_drivers.py needs PostgreSQL: --postgres URL or ORDERFLOW_TEST_POSTGRES_URL"
        )
    results = asyncio.run(measure(args.postgres, args.ops, args.rounds, args.only))
    print(f"{'stack':40} {'CPU ms/tx':>10} {'tx/s':>8}")
    for name, figures in results.items():
        cpu = statistics.median(f[0] for f in figures)
        rate = statistics.median(f[1] for f in figures)
        print(f"{name:40} {cpu:10.3f} {rate:8.0f}")
    print(f"load average: {os.getloadavg()}")


if __name__ == "__main__":
    main()
