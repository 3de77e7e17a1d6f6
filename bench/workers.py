"""Timer firings per second with 1 and 4 worker processes, and the relay's events per second.

    ORDERFLOW_TEST_POSTGRES_URL=postgresql+psycopg://postgres@127.0.0.1:5432/test \\
    ORDERFLOW_TEST_AMQP_URL=amqp://guest:guest@127.0.0.1:5672/%2F \\
    .venv/bin/python bench/workers.py [--timers 2000] [--events 2000]

Timers: ``--timers`` alarms are armed (one ``after`` timer each), then 1 or
4 forked processes run ``fire_due_timers`` (batch 50) until none is due;
each firing is a full service transition (lock, rehydrate, transition, log
row, outbox row, timer row marked fired).  Relay: ``--events`` outbox rows
over 20 records are published with ``relay_outbox`` (batch 100) to a
RabbitMQ exchange with confirms on (one confirm per message), then to an
HTTP webhook on 127.0.0.1 for comparison.  Every run uses a fresh
PostgreSQL schema (SQLite file when no URL is set).  Prints a markdown table.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import threading
import time
import uuid
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import sqlalchemy as sa
from scratch_database import Database
from sqlalchemy import MetaData, String
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker

import orderflow
from orderflow.chart import Action
from orderflow.service import WorkflowService
from orderflow.store import OutboxEvent, WorkflowRecord
from orderflow.store.base import utcnow
from orderflow.workers import RabbitMQPublisher, WebhookPublisher, fire_due_timers, relay_outbox

fork = multiprocessing.get_context("fork")


class BenchBase(DeclarativeBase):
    metadata = MetaData()


class Alarm(BenchBase, WorkflowRecord):
    __tablename__ = "bench_alarms"
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(50), default="")


ALARM: dict[str, Any] = {
    "id": "alarm",
    "initial": "armed",
    "states": {
        "armed": {
            "after": {
                "60000": {
                    "target": "rung",
                    "actions": [
                        {"type": "ring"},
                        {"type": "emit", "params": {"event": {"type": "alarm.rung"}}},
                    ],
                }
            }
        },
        "rung": {"type": "final"},
    },
}


def _service(Session: sessionmaker[Session]) -> WorkflowService:
    machine = orderflow.setup(actions={"ring": lambda *_: None}).create_machine(ALARM)

    def ring(session: Session, record: Any, action: Action) -> None:
        """An in-transaction effect that writes nothing: the bench measures the worker."""

    return WorkflowService(Session, {"alarm": machine}, effects={"ring": ring})


def _fire_all(database: Database, now: Any) -> None:
    try:
        engine = database.engine()
        Session = sessionmaker(engine, expire_on_commit=False)
        service = _service(Session)
        idle = 0
        while idle < 3:
            idle = (
                0
                if fire_due_timers(
                    service, Session, now=now, batch=50, models={"bench_alarms": Alarm}
                )
                else idle + 1
            )
    finally:
        os._exit(0)


def bench_timers(url: str | None, timers: int, workers: int) -> float:
    database = Database(url, BenchBase.metadata)
    try:
        engine = database.engine()
        Session = sessionmaker(engine, expire_on_commit=False)
        service = _service(Session)
        for i in range(1, timers + 1):
            service.start(Alarm(id=i), machine="alarm")
        engine.dispose()
        now = utcnow() + timedelta(minutes=2)
        processes = [fork.Process(target=_fire_all, args=(database, now)) for _ in range(workers)]
        started = time.perf_counter()
        for p in processes:
            p.start()
        for p in processes:
            p.join()
        elapsed = time.perf_counter() - started
        engine = database.engine()
        with engine.connect() as c:
            fired = c.execute(
                sa.text("SELECT count(*) FROM workflow_scheduled_events WHERE status = 'fired'")
            ).scalar_one()
        engine.dispose()
        assert fired == timers, f"{fired} of {timers} fired"
        return timers / elapsed
    finally:
        database.drop()


def bench_relay(url: str | None, events: int, publisher: Any) -> float:
    database = Database(url, BenchBase.metadata)
    try:
        engine = database.engine()
        Session = sessionmaker(engine, expire_on_commit=False)
        with Session() as session:
            sequence: dict[str, int] = {}
            for n in range(events):
                record = str(n % 20)
                sequence[record] = sequence.get(record, 0) + 1
                session.add(OutboxEvent(record_type="bench_alarms", record_id=record, sequence=sequence[record],
                                        event_type="alarm.rung", payload={"type": "alarm.rung", "n": n}))  # fmt: skip
            session.commit()
        started = time.perf_counter()
        published = 0
        while True:
            report = relay_outbox(Session, publisher, batch=100)
            if not report.published:
                break
            published += len(report.published)
        elapsed = time.perf_counter() - started
        engine.dispose()
        assert published == events
        return events / elapsed
    finally:
        database.drop()


def _webhook_server() -> tuple[ThreadingHTTPServer, str]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0"

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/hook"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timers", type=int, default=2000)
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--postgres", default=os.environ.get("ORDERFLOW_TEST_POSTGRES_URL"))
    parser.add_argument("--amqp", default=os.environ.get("ORDERFLOW_TEST_AMQP_URL"))
    args = parser.parse_args()
    engine_name = "PostgreSQL" if args.postgres else "SQLite file"
    rows: list[tuple[str, str, float]] = []
    for workers in (1, 4):
        rate = bench_timers(args.postgres, args.timers, workers)
        rows.append(
            (
                f"timer firings, {workers} worker process{'es' if workers > 1 else ''}",
                engine_name,
                rate,
            )
        )
    if args.amqp:
        exchange = f"orderflow.bench.{uuid.uuid4().hex[:8]}"
        import pika  # type: ignore[import-untyped]

        connection = pika.BlockingConnection(pika.URLParameters(args.amqp))
        channel = connection.channel()
        channel.exchange_declare(exchange, "topic", durable=True)
        channel.queue_declare(exchange, durable=True)
        channel.queue_bind(exchange, exchange, routing_key="#")
        publisher = RabbitMQPublisher(args.amqp, exchange=exchange)
        try:
            rows.append(
                (
                    "relay events, RabbitMQ (confirms, persistent)",
                    engine_name,
                    bench_relay(args.postgres, args.events, publisher),
                )
            )
        finally:
            publisher.close()
            channel.queue_delete(exchange)
            channel.exchange_delete(exchange)
            connection.close()
    server, url = _webhook_server()
    try:
        rows.append(
            (
                "relay events, HTTP webhook on 127.0.0.1",
                engine_name,
                bench_relay(args.postgres, args.events, WebhookPublisher(url, secret="bench")),
            )
        )
    finally:
        server.shutdown()
    print(f"\n{args.timers} timers, {args.events} outbox events\n")
    print("| measure | database | per second |")
    print("|---|---|---:|")
    for name, database, rate in rows:
        print(f"| {name} | {database} | {rate:,.0f} |")


if __name__ == "__main__":
    main()
