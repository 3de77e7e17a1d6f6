"""Persisted transitions per second: orderflow's WorkflowService against the bare SQL floor.

    .venv/bin/python bench/persisted.py [--ops 2000] [--postgres postgresql+psycopg://...]

For each engine (SQLite file in WAL mode; PostgreSQL when a URL is given or
ORDERFLOW_TEST_POSTGRES_URL is set) and 1 and 8 worker processes, it
measures

- **floor**: the bare SQLAlchemy Core work of one transition, with the same
  locking the service uses: begin, select the row (``FOR UPDATE`` on
  PostgreSQL, ``BEGIN IMMEDIATE`` on SQLite), update it, insert a log row,
  commit;
- **orderflow**: ``WorkflowService.send`` of a two-state toggle (rehydrate,
  pure transition, versioned update, log row with metadata, commit).

Each worker moves its own records, so the numbers are throughput, not
contention.  Prints a markdown table; the ratio is floor / orderflow.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import ClassVar

import sqlalchemy as sa
from sqlalchemy import MetaData, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, sessionmaker

import orderflow
from orderflow.service import WorkflowService
from orderflow.store import TransitionLog, create_engine, upgrade

RECORDS_PER_WORKER = 16
TOGGLE = {
    "id": "toggle",
    "version": "1",
    "initial": "off",
    "context": {"flips": 0},
    "states": {
        "off": {"on": {"FLIP": {"target": "on", "actions": [{"type": "assign", "params": {"flips": 1}}]}}},
        "on": {"on": {"FLIP": "off"}},
    },
}


class BenchBase(DeclarativeBase):
    metadata = MetaData()


class Switch(BenchBase, orderflow.store.WorkflowRecord):
    __tablename__ = "bench_switches"
    __workflow_status__: ClassVar[dict[str, str]] = {"off": "OFF", "on": "ON"}

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(20), default="")


def engine_for(url: str, schema: str | None) -> sa.Engine:
    if schema is None:
        return create_engine(url)
    return create_engine(url, connect_args={"options": f"-csearch_path={schema}"})


def floor_worker(url: str, schema: str | None, ids: list[int], ops: int) -> None:
    engine = engine_for(url, schema)
    table = Switch.__table__
    log = TransitionLog.__table__
    postgres = engine.dialect.name == "postgresql"
    for i in range(ops):
        record = ids[i % len(ids)]
        with engine.begin() as connection:
            query = sa.select(table.c.workflow_state, table.c.workflow_version).where(table.c.id == record)
            if postgres:
                query = query.with_for_update()
            state, version = connection.execute(query).one()
            new = "on" if state["value"] == "off" else "off"
            connection.execute(
                sa.update(table)
                .where(table.c.id == record, table.c.workflow_version == version)
                .values(workflow_state={**state, "value": new}, workflow_version=version + 1, status=new.upper())
            )
            connection.execute(
                sa.insert(log).values(
                    record_type="bench_switches", record_id=str(record), machine="toggle",
                    machine_version="1", event="FLIP", from_state=state["value"], to_state=new,
                    record_version=version + 1, note="", metadata={"event": {"type": "FLIP"}},
                    created_at=datetime.now(UTC),
                )
            )  # fmt: skip
    engine.dispose()


def orderflow_worker(url: str, schema: str | None, ids: list[int], ops: int) -> None:
    engine = engine_for(url, schema)
    service = WorkflowService(
        sessionmaker(engine, expire_on_commit=False), {"toggle": orderflow.create_machine(TOGGLE)}
    )
    for i in range(ops):
        result = service.send((Switch, ids[i % len(ids)]), "FLIP")
        assert result.success, result.reason
    engine.dispose()


def run(kind: Callable[..., None], url: str, schema: str | None, workers: int, ops: int) -> float:
    """Transitions per second of ``workers`` processes doing ``ops`` each."""
    ids = [[w * RECORDS_PER_WORKER + i + 1 for i in range(RECORDS_PER_WORKER)] for w in range(workers)]
    context = multiprocessing.get_context("fork")
    processes = [context.Process(target=kind, args=(url, schema, ids[w], ops)) for w in range(workers)]
    started = time.perf_counter()
    for process in processes:
        process.start()
    for process in processes:
        process.join()
        if process.exitcode != 0:
            raise RuntimeError(f"a {kind.__name__} process failed")
    return workers * ops / (time.perf_counter() - started)


def prepare(url: str, schema: str | None, records: int) -> None:
    engine = engine_for(url, schema)
    upgrade(engine)
    BenchBase.metadata.create_all(engine)
    service = WorkflowService(sessionmaker(engine), {"toggle": orderflow.create_machine(TOGGLE)})
    for i in range(records):
        service.start(Switch(id=i + 1, workflow_machine="toggle"))
    engine.dispose()


def measure(name: str, url: str, schema: str | None, ops: int) -> list[str]:
    prepare(url, schema, 8 * RECORDS_PER_WORKER)
    rows = []
    for workers in (1, 8):
        floor = run(floor_worker, url, schema, workers, ops)
        ours = run(orderflow_worker, url, schema, workers, ops)
        rows.append(f"| {name} | {workers} | {floor:,.0f} | {ours:,.0f} | {floor / ours:.2f}x |")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--ops", type=int, default=2000, help="transitions per worker and run")
    parser.add_argument("--postgres", default=os.environ.get("ORDERFLOW_TEST_POSTGRES_URL"))
    args = parser.parse_args()
    rows = ["| engine | workers | floor (tx/s) | orderflow (tx/s) | cost vs floor |", "|---|---|---|---|---|"]
    with tempfile.TemporaryDirectory() as folder:
        rows += measure("SQLite file (WAL)", f"sqlite:///{folder}/bench.db", None, args.ops)
    if args.postgres:
        schema = f"bench_{uuid.uuid4().hex[:8]}"
        admin = sa.create_engine(args.postgres, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.exec_driver_sql(f"CREATE SCHEMA {schema}")
        try:
            rows += measure("PostgreSQL", args.postgres, schema, args.ops)
        finally:
            with admin.connect() as connection:
                connection.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
    else:
        rows.append("| PostgreSQL | - | skipped: pass --postgres or set ORDERFLOW_TEST_POSTGRES_URL | | |")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
