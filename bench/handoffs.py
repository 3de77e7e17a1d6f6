"""Hand-offs per second: quotations accepted, each creating its sale order, with 1 and 4 processes.

    ORDERFLOW_TEST_POSTGRES_URL=postgresql+psycopg://postgres@127.0.0.1:5432/test \\
    .venv/bin/python bench/handoffs.py [--quotations 600]

``--quotations`` quotations are drafted and sent first (not timed).  Then 1
or 4 forked processes share them out and send each its ``ACCEPT`` through
an ``order_service`` whose finish hook is ``PhaseCoordinator.for_orders()``:
one transaction per quotation that locks it, moves it to ``approved``,
writes its log and outbox rows, inserts the ``SaleOrder``, starts the sale
machine (its own log row) and appends the two hand-off log rows.  A
hand-off here is that whole transaction.  Every run uses a fresh PostgreSQL
schema (a SQLite file when no URL is set).  Prints a markdown table.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import time

from scratch_database import Database
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from orderflow.service import PhaseCoordinator, WorkflowService, order_service
from orderflow.store import Quotation, SaleOrder

fork = multiprocessing.get_context("fork")
CHAIRS = {"type": "ADD_LINE", "sku": "CHAIR", "quantity": 2, "unit_price": "120.00"}


def _service(Session: sessionmaker[Session]) -> WorkflowService:
    return order_service(Session, finish_hooks=[PhaseCoordinator.for_orders()])


def _prepare(database: Database, quotations: int) -> list[int]:
    engine = database.engine()
    service = order_service(sessionmaker(engine, expire_on_commit=False))
    ids = []
    for n in range(quotations):
        quotation = Quotation(reference=f"Q-{n}", customer_id="C-1", workflow_machine="quotation")
        service.start(quotation, input={"customer_id": "C-1", "currency": "EUR"})
        service.send(quotation, CHAIRS)
        service.send(quotation, "SUBMIT")
        ids.append(quotation.id)
    engine.dispose()
    return ids


def _accept(database: Database, ids: list[int]) -> None:
    try:
        engine = database.engine()
        service = _service(sessionmaker(engine, expire_on_commit=False))
        for quotation_id in ids:
            assert service.send((Quotation, quotation_id), "ACCEPT").success
    finally:
        os._exit(0)


def bench_handoffs(url: str | None, quotations: int, workers: int) -> float:
    database = Database(url)
    try:
        ids = _prepare(database, quotations)
        shares = [ids[k::workers] for k in range(workers)]
        processes = [fork.Process(target=_accept, args=(database, share)) for share in shares]
        started = time.perf_counter()
        for process in processes:
            process.start()
        for process in processes:
            process.join()
        elapsed = time.perf_counter() - started
        engine = database.engine()
        with engine.connect() as connection:
            made = connection.scalar(select(func.count()).select_from(SaleOrder))
        engine.dispose()
        if made != quotations:
            raise SystemExit(f"expected {quotations} sale orders, found {made}")
        return quotations / elapsed
    finally:
        database.drop()


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quotations", type=int, default=600)
    parser.add_argument("--postgres", default=os.environ.get("ORDERFLOW_TEST_POSTGRES_URL"))
    args = parser.parse_args()
    engine = "PostgreSQL" if args.postgres else "SQLite file"
    print(f"| measure ({engine}, {args.quotations} quotations) | processes | per second |")
    print("|---|---:|---:|")
    for workers in (1, 4):
        rate = bench_handoffs(args.postgres, args.quotations, workers)
        print(f"| hand-offs (ACCEPT + sale order created and started) | {workers} | {rate:,.0f} |")


if __name__ == "__main__":
    main()
