"""The webhook publisher against a real HTTP server, the RabbitMQ publisher against the real broker,
and the relay killed between publishing and marking: the consumer still sees every event, in order.
"""

from __future__ import annotations

import hmac
import json
import multiprocessing
import os
import signal
import socket
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from consumers import add_events, first_seen_sequences, webhook_receiver
from processes import child_sessions
from sqlalchemy import select

from orderflow.store import OutboxEvent
from orderflow.workers import (
    EVENT_ID_HEADER,
    SIGNATURE_HEADER,
    OutboxMessage,
    PublishError,
    RabbitMQPublisher,
    WebhookPublisher,
    relay_outbox,
    webhook_signature,
)
from workflow_db import Database

AMQP_URL = os.environ.get("ORDERFLOW_TEST_AMQP_URL")
NO_AMQP = "ORDERFLOW_TEST_AMQP_URL is not set; the RabbitMQ publisher tests need a broker"
SECRET = "s3cret"
fork = multiprocessing.get_context("fork")


def _message(sequence: int = 1, record_id: str = "7") -> OutboxMessage:
    return OutboxMessage(
        str(uuid.uuid4()), "ticket.paid", "tickets", record_id, sequence,
        {"type": "ticket.paid", "amount": 20}, datetime(2024, 5, 1, 12, tzinfo=UTC),
    )  # fmt: skip


def test_the_webhook_posts_signed_json_with_the_event_id() -> None:
    message = _message()
    with webhook_receiver() as receiver:
        WebhookPublisher(receiver.url, secret=SECRET).publish(message)

    (received,) = receiver.received
    assert received.json == message.to_json()
    assert received.headers[EVENT_ID_HEADER] == message.event_id
    assert received.headers["Content-Type"] == "application/json"
    expected = webhook_signature(SECRET, received.body)
    assert hmac.compare_digest(received.headers[SIGNATURE_HEADER], expected)
    assert expected.startswith("sha256=") and len(expected) == len("sha256=") + 64


def test_the_webhook_retries_a_5xx_and_then_succeeds() -> None:
    with webhook_receiver() as receiver:
        receiver.answers = [503, 500]
        WebhookPublisher(receiver.url, secret=SECRET, tries=3, retry_pause=0.01).publish(_message())
    assert len(receiver.received) == 1


def test_the_webhook_reports_a_5xx_that_persists_as_retryable() -> None:
    with webhook_receiver() as receiver:
        receiver.answers = [502, 502]
        with pytest.raises(PublishError, match="502") as raised:
            WebhookPublisher(receiver.url, secret=SECRET, tries=2, retry_pause=0.01).publish(
                _message()
            )
    assert raised.value.retryable


def test_the_webhook_does_not_retry_a_4xx() -> None:
    with webhook_receiver() as receiver:
        receiver.answers = [422, 200]
        with pytest.raises(PublishError, match="422") as raised:
            WebhookPublisher(receiver.url, secret=SECRET, tries=3, retry_pause=0.01).publish(
                _message()
            )
        assert receiver.answers == [200]  # asked once only
    assert not raised.value.retryable


def test_an_unreachable_webhook_is_retryable() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # nobody listens here once the socket closes
    publisher = WebhookPublisher(
        f"http://127.0.0.1:{port}/x", secret=SECRET, tries=2, retry_pause=0.01, timeout=2
    )
    with pytest.raises(PublishError, match="unreachable") as raised:
        publisher.publish(_message())
    assert raised.value.retryable


def test_a_webhook_needs_a_secret_and_an_http_url() -> None:
    with pytest.raises(ValueError, match="secret"):
        WebhookPublisher("http://127.0.0.1/x", secret="")
    with pytest.raises(ValueError, match="http"):
        WebhookPublisher("file:///etc/passwd", secret=SECRET)


class DieAfter:
    """Publish through ``inner``, then SIGKILL this process after the ``nth`` message: published, not marked."""

    def __init__(self, inner: Any, nth: int) -> None:
        self.inner, self.nth, self.sent = inner, nth, 0

    def publish(self, message: OutboxMessage) -> None:
        self.inner.publish(message)
        self.sent += 1
        if self.sent == self.nth:
            os.kill(os.getpid(), signal.SIGKILL)


def _doomed_relay(database: Database, publisher: Any) -> None:
    try:
        relay_outbox(child_sessions(database), publisher, batch=50)
    finally:
        os._exit(0)


def _kill_relay_then_finish(database: Database, publisher: Any, nth: int) -> None:
    process = fork.Process(target=_doomed_relay, args=(database, DieAfter(publisher, nth)))
    process.start()
    process.join(timeout=60)
    assert process.exitcode == -signal.SIGKILL
    with database.Session() as session:
        statuses = set(session.execute(select(OutboxEvent.status)).scalars())
    assert statuses == {"pending"}  # it published, then died before marking anything
    while relay_outbox(database.Session, publisher, batch=50).published:
        pass


def _assert_every_event_in_order(
    database: Database, messages: list[dict[str, Any]], ids: list[str], nth: int
) -> None:
    assert len(messages) == len(ids) + nth  # the dead relay's messages came again
    assert {m["id"] for m in messages} == set(ids)
    assert first_seen_sequences(messages) == {
        "a": list(range(1, 9)),
        "b": list(range(1, 7)),
        "c": [1, 2, 3],
    }
    for record in "abc":  # each delivery run is itself in order per record
        runs = [m["sequence"] for m in messages if m["record"]["id"] == record]
        restarts = [i for i in range(1, len(runs)) if runs[i] <= runs[i - 1]]
        assert len(restarts) <= 1
    with database.Session() as session:
        assert set(session.execute(select(OutboxEvent.status)).scalars()) == {"published"}


def test_a_relay_killed_between_publish_and_mark_republishes_over_http(
    shared_database: Database,
) -> None:
    ids = add_events(shared_database, {"a": 8, "b": 6, "c": 3})
    with webhook_receiver() as receiver:
        _kill_relay_then_finish(
            shared_database, WebhookPublisher(receiver.url, secret=SECRET), nth=5
        )
    _assert_every_event_in_order(shared_database, [r.json for r in receiver.received], ids, nth=5)


@pytest.fixture
def amqp_queue() -> Any:
    """A fresh exchange and a queue bound to it on the broker; deleted afterwards."""
    if AMQP_URL is None:
        pytest.skip(NO_AMQP)
    import pika  # type: ignore[import-untyped]

    name = f"orderflow.test.{uuid.uuid4().hex[:10]}"
    connection = pika.BlockingConnection(pika.URLParameters(AMQP_URL))
    channel = connection.channel()
    channel.exchange_declare(name, "topic", durable=True)
    channel.queue_declare(name, durable=True)
    channel.queue_bind(name, name, routing_key="#")
    try:
        yield name, channel
    finally:
        channel.queue_delete(name)
        channel.exchange_delete(name)
        connection.close()


def _drain(channel: Any, queue: str, expected: int, timeout: float = 10) -> list[tuple[Any, bytes]]:
    got: list[tuple[Any, bytes]] = []
    deadline = time.monotonic() + timeout
    while len(got) < expected and time.monotonic() < deadline:
        method, properties, body = channel.basic_get(queue, auto_ack=True)
        if method is None:
            time.sleep(0.02)
            continue
        got.append((properties, body))
    return got


def test_rabbitmq_publishes_persistent_confirmed_messages_with_the_event_id(
    amqp_queue: Any,
) -> None:
    exchange, channel = amqp_queue
    publisher = RabbitMQPublisher(AMQP_URL or "", exchange=exchange)
    message = _message()
    try:
        publisher.publish(message)
    finally:
        publisher.close()

    ((properties, body),) = _drain(channel, exchange, 1)
    assert properties.message_id == message.event_id
    assert properties.delivery_mode == 2
    assert properties.content_type == "application/json"
    assert properties.headers["record_id"] == "7" and properties.headers["sequence"] == 1
    assert json.loads(body) == message.to_json()


def test_rabbitmq_reports_a_message_no_queue_receives_as_retryable() -> None:
    if AMQP_URL is None:
        pytest.skip(NO_AMQP)
    publisher = RabbitMQPublisher(
        AMQP_URL, exchange=f"orderflow.test.unbound.{uuid.uuid4().hex[:8]}"
    )
    try:
        with pytest.raises(PublishError, match="no queue is bound") as raised:
            publisher.publish(_message())
    finally:
        publisher.close()
    assert raised.value.retryable


def test_rabbitmq_unreachable_is_retryable() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    publisher = RabbitMQPublisher(f"amqp://guest:guest@127.0.0.1:{port}/%2F?connection_attempts=1")
    with pytest.raises(PublishError) as raised:
        publisher.publish(_message())
    assert raised.value.retryable and "guest:***@" in str(raised.value)


def test_a_relay_killed_between_publish_and_mark_republishes_to_rabbitmq(
    shared_database: Database, amqp_queue: Any
) -> None:
    exchange, channel = amqp_queue
    ids = add_events(shared_database, {"a": 8, "b": 6, "c": 3})
    publisher = RabbitMQPublisher(AMQP_URL or "", exchange=exchange)
    try:
        _kill_relay_then_finish(shared_database, publisher, nth=5)
    finally:
        publisher.close()
    messages = [json.loads(body) for _, body in _drain(channel, exchange, len(ids) + 5)]
    _assert_every_event_in_order(shared_database, messages, ids, nth=5)
