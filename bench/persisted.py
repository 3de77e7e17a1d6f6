"""Persisted transitions per second: orderflow's WorkflowService against the bare SQL floor.

    .venv/bin/python bench/persisted.py [--ops 200] [--rounds 7] [--postgres postgresql+psycopg://...]

For each engine (SQLite file in WAL mode; PostgreSQL when a URL is given or
ORDERFLOW_TEST_POSTGRES_URL is set) and 1 and 8 worker processes, it
measures

- **floor**: the bare SQLAlchemy Core work of one transition, with the same
  locking the service uses: begin, select the row (``FOR UPDATE`` on
  PostgreSQL, ``BEGIN IMMEDIATE`` on SQLite), update it, insert a log row,
  commit;
- **prepared floor**: the same work with its three statements built once,
  with bound parameters (the fastest way to write it in Core; the plain
  floor builds them inline, as most Core code does);
- **orderflow**: ``WorkflowService.send`` of a two-state toggle (lock,
  rehydrate, pure transition, versioned update, log row with the full
  result in its metadata, commit).

Each worker moves its own records, so the numbers are throughput, not
contention on one row.  The kinds take turns inside the same warm
processes: a round is ``--ops`` transitions per worker of one kind, every
worker starting at a barrier, then the same of the next kind (the order
rotates every round so drift on a shared machine falls on all).  A round's
throughput is all workers' transitions over the span from the first start
to the last end.  The table gives the median of the rounds and, for the
costs, the median and the range of the per-round ratios (a floor's
throughput over orderflow's).
"""

from __future__ import annotations

import argparse
import os
import statistics
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, ClassVar

import sqlalchemy as sa
from _rounds import measure as measure_rounds
from _rounds import run_rounds
from scratch_database import Database
from sqlalchemy import MetaData, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, sessionmaker

import orderflow
from orderflow.service import WorkflowService
from orderflow.store import TransitionLog

RECORDS_PER_WORKER = 16
WARM_UP = 30
TOGGLE = {
    "id": "toggle",
    "version": "1",
    "initial": "off",
    "context": {"flips": 0},
    "states": {
        "off": {
            "on": {
                "FLIP": {"target": "on", "actions": [{"type": "assign", "params": {"flips": 1}}]}
            }
        },
        "on": {"on": {"FLIP": "off"}},
    },
}
KINDS = ("floor", "prepared", "orderflow")


class BenchBase(DeclarativeBase):
    metadata = MetaData()


class Switch(BenchBase, orderflow.store.WorkflowRecord):
    __tablename__ = "bench_switches"
    __workflow_status__: ClassVar[dict[str, str]] = {"off": "OFF", "on": "ON"}

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(20), default="")


def floor_transition(engine: sa.Engine) -> Callable[[int], None]:
    """One transition in bare SQLAlchemy Core: locked select, versioned update, log insert."""
    table = Switch.__table__
    log = TransitionLog.__table__
    postgres = engine.dialect.name == "postgresql"

    def move(record: int) -> None:
        with engine.begin() as connection:
            query = sa.select(table.c.workflow_state, table.c.workflow_version).where(
                table.c.id == record
            )
            if postgres:
                query = query.with_for_update()
            state, version = connection.execute(query).one()
            new = "on" if state["value"] == "off" else "off"
            connection.execute(
                sa.update(table)
                .where(table.c.id == record, table.c.workflow_version == version)
                .values(
                    workflow_state={**state, "value": new},
                    workflow_version=version + 1,
                    status=new.upper(),
                )
            )
            connection.execute(
                sa.insert(log).values(
                    record_type="bench_switches", record_id=str(record), machine="toggle",
                    machine_version="1", event="FLIP", from_state=state["value"], to_state=new,
                    record_version=version + 1, note="", metadata={"event": {"type": "FLIP"}},
                    created_at=datetime.now(UTC),
                )
            )  # fmt: skip

    return move


def prepared_transition(engine: sa.Engine) -> Callable[[int], None]:
    """The floor's work with its statements built once, bound parameters only."""
    step = prepared_step(engine.dialect.name == "postgresql")

    def move(record: int) -> None:
        with engine.begin() as connection:
            step(connection, record)

    return move


def prepared_step(postgres: bool) -> Callable[[sa.Connection, int], None]:
    """The prepared floor's three statements on a connection already in a transaction."""
    table = Switch.__table__
    read = sa.select(table.c.workflow_state, table.c.workflow_version).where(
        table.c.id == sa.bindparam("key")
    )
    if postgres:
        read = read.with_for_update()
    write = (
        sa.update(table)
        .where(table.c.id == sa.bindparam("key"), table.c.workflow_version == sa.bindparam("read"))
        .values(
            workflow_state=sa.bindparam("state"),
            workflow_version=sa.bindparam("version"),
            status=sa.bindparam("status"),
        )
    )
    log = sa.insert(TransitionLog.__table__)

    def step(connection: sa.Connection, record: int) -> None:
        state, version = connection.execute(read, {"key": record}).one()
        new = "on" if state["value"] == "off" else "off"
        connection.execute(
            write,
            {
                "key": record, "read": version, "state": {**state, "value": new},
                "version": version + 1, "status": new.upper(),
            },
        )  # fmt: skip
        connection.execute(
            log,
            {
                "record_type": "bench_switches", "record_id": str(record), "machine": "toggle",
                "machine_version": "1", "event": "FLIP", "from_state": state["value"],
                "to_state": new, "record_version": version + 1, "note": "",
                "metadata": {"event": {"type": "FLIP"}}, "created_at": datetime.now(UTC),
            },
        )  # fmt: skip

    return step


def orderflow_transition(engine: sa.Engine) -> Callable[[int], None]:
    service = WorkflowService(
        sessionmaker(engine, expire_on_commit=False), {"toggle": orderflow.create_machine(TOGGLE)}
    )

    def move(record: int) -> None:
        result = service.send((Switch, record), "FLIP")
        assert result.success, result.reason

    return move


def worker(
    database: Database, ids: list[int], ops: int, rounds: int, barrier: Any, out: Any
) -> None:
    """Warm the kinds up, then run ``rounds`` turns of each (``_rounds.run_rounds``)."""
    engine = database.engine()
    moves = {
        "floor": floor_transition(engine),
        "prepared": prepared_transition(engine),
        "orderflow": orderflow_transition(engine),
    }
    run_rounds({kind: moves[kind] for kind in KINDS}, ids, ops, rounds, barrier, out, WARM_UP)
    engine.dispose()


def measure(database: Database, workers: int, ops: int, rounds: int) -> dict[str, list[float]]:
    """Throughput per round of each kind with ``workers`` processes."""
    return measure_rounds(worker, (database,), KINDS, workers, ops, rounds, RECORDS_PER_WORKER)


def rows_for(name: str, url: str | None, ops: int, rounds: int) -> list[str]:
    database = Database(url, BenchBase.metadata)
    try:
        engine = database.engine()
        service = WorkflowService(
            sessionmaker(engine), {"toggle": orderflow.create_machine(TOGGLE)}
        )
        for i in range(8 * RECORDS_PER_WORKER):
            service.start(Switch(id=i + 1, workflow_machine="toggle"))
        engine.dispose()
        rows = []
        for workers in (1, 8):
            tps = measure(database, workers, ops, rounds)
            cells = [f"{statistics.median(tps[kind]):,.0f}" for kind in KINDS]
            for floor in ("floor", "prepared"):
                ratios = [f / o for f, o in zip(tps[floor], tps["orderflow"], strict=True)]
                cells.append(
                    f"{statistics.median(ratios):.2f}x ({min(ratios):.2f}x-{max(ratios):.2f}x)"
                )
            rows.append(f"| {name} | {workers} | " + " | ".join(cells) + " |")
        return rows
    finally:
        database.drop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--ops", type=int, default=200, help="transitions per worker, kind and round"
    )
    parser.add_argument("--rounds", type=int, default=7, help="rounds of each kind")
    parser.add_argument("--postgres", default=os.environ.get("ORDERFLOW_TEST_POSTGRES_URL"))
    args = parser.parse_args()
    rows = [
        "| engine | workers | floor (tx/s) | prepared floor (tx/s) | orderflow (tx/s) "
        "| cost vs floor (range) | cost vs prepared floor (range) |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    rows += rows_for("SQLite file (WAL)", None, args.ops, args.rounds)
    if args.postgres:
        rows += rows_for("PostgreSQL", args.postgres, args.ops, args.rounds)
    else:
        rows.append(
            "| PostgreSQL | - | skipped: pass --postgres or set ORDERFLOW_TEST_POSTGRES_URL | | | | |"
        )
    print("\n".join(rows))


if __name__ == "__main__":
    main()
