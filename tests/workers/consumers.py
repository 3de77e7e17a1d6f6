"""Real consumers for the publisher tests: an HTTP server on 127.0.0.1 in a thread, and outbox rows."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from orderflow.store import OutboxEvent
from workflow_db import Database


@dataclass
class Received:
    body: bytes
    headers: dict[str, str]

    @property
    def json(self) -> dict[str, Any]:
        return dict(json.loads(self.body))


@dataclass
class WebhookReceiver:
    """What the server received, and the status codes it will answer with next (then 200)."""

    url: str
    received: list[Received] = field(default_factory=list)
    answers: list[int] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


@contextmanager
def webhook_receiver() -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver("")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            with receiver.lock:
                code = receiver.answers.pop(0) if receiver.answers else 200
                if code == 200:
                    receiver.received.append(Received(body, dict(self.headers.items())))
            self.send_response(code)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/orders"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()


def add_events(database: Database, per_record: dict[str, int]) -> list[str]:
    """Outbox rows as the service writes them: ``per_record[record_id]`` events each, interleaved."""
    ids: list[str] = []
    with database.Session() as session:
        sequence = dict.fromkeys(per_record, 0)
        while any(sequence[r] < n for r, n in per_record.items()):
            for record_id, count in per_record.items():
                if sequence[record_id] < count:
                    sequence[record_id] += 1
                    row = OutboxEvent(
                        record_type="tickets", record_id=record_id, sequence=sequence[record_id],
                        event_type="ticket.changed", payload={"type": "ticket.changed", "n": sequence[record_id]},
                    )  # fmt: skip
                    session.add(row)
                    session.flush()
                    ids.append(row.event_id)
        session.commit()
    return ids


def first_seen_sequences(messages: list[dict[str, Any]]) -> dict[str, list[int]]:
    """Per record, the sequences a consumer keeps after dropping duplicates by event id."""
    seen: set[str] = set()
    kept: dict[str, list[int]] = {}
    for message in messages:
        if message["id"] in seen:
            continue
        seen.add(message["id"])
        kept.setdefault(message["record"]["id"], []).append(message["sequence"])
    return kept
