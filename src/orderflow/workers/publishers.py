"""Two real publishers for the outbox relay: an HTTP webhook and RabbitMQ.

Both send the same JSON body (:meth:`OutboxMessage.to_json`) and carry the
event's stable id where consumers look for it (the ``X-Orderflow-Event-Id``
header; the AMQP ``message_id``), so a consumer can drop the duplicates an
at-least-once relay produces.

:class:`WebhookPublisher` signs the exact body bytes with HMAC-SHA256 under
a shared secret (``X-Orderflow-Signature: sha256=<hex>``); a receiver
recomputes it with :func:`webhook_signature` and compares with
``hmac.compare_digest``.  It retries a 5xx, 408, 425, 429 or network error a few
times at once, then reports it as retryable so the relay backs off; any
other 4xx is permanent (the receiver said the request is wrong; sending it
again will not help).

:class:`RabbitMQPublisher` (needs the ``amqp`` extra: ``pika``) publishes
persistent messages with publisher confirms on, so ``publish`` returns only
once the broker has taken responsibility for the message, and ``mandatory``
so a message no queue would receive is an error rather than lost.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from typing import Any

from orderflow.workers.relay import OutboxMessage, PublishError

SIGNATURE_HEADER = "X-Orderflow-Signature"
EVENT_ID_HEADER = "X-Orderflow-Event-Id"
RETRYABLE_STATUS = frozenset({408, 425, 429})


def message_body(message: OutboxMessage) -> bytes:
    return json.dumps(message.to_json(), separators=(",", ":"), sort_keys=True).encode()


def webhook_signature(secret: bytes | str, body: bytes) -> str:
    """The ``X-Orderflow-Signature`` value for ``body``: ``sha256=`` and the hex HMAC."""
    key = secret.encode() if isinstance(secret, str) else secret
    return "sha256=" + hmac.new(key, body, hashlib.sha256).hexdigest()


class WebhookPublisher:
    """POST each message as JSON to ``url``, signed (see the module doc)."""

    def __init__(
        self,
        url: str,
        *,
        secret: bytes | str,
        timeout: float = 10.0,
        tries: int = 3,
        retry_pause: float = 0.2,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"a webhook URL must be http:// or https://, not {url!r}")
        if not secret:
            raise ValueError("a webhook publisher needs a non-empty secret to sign with")
        self.url = url
        self.secret = secret
        self.timeout = timeout
        self.tries = max(1, tries)
        self.retry_pause = retry_pause
        self.headers = dict(headers or {})

    def publish(self, message: OutboxMessage) -> None:
        body = message_body(message)
        headers = {
            **self.headers,
            "Content-Type": "application/json",
            "User-Agent": "orderflow-relay",
            EVENT_ID_HEADER: message.event_id,
            "X-Orderflow-Event-Type": message.event_type,
            SIGNATURE_HEADER: webhook_signature(self.secret, body),
        }
        error: PublishError | None = None
        for attempt in range(self.tries):
            if attempt:
                time.sleep(self.retry_pause * 2 ** (attempt - 1))
            error = self._post(body, headers)
            if error is None:
                return
            if not error.retryable:
                raise error
        assert error is not None
        raise error

    def _post(self, body: bytes, headers: dict[str, str]) -> PublishError | None:
        """One POST: None when the receiver accepted it (2xx), else what went wrong."""
        request = urllib.request.Request(self.url, data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                response.read()
        except urllib.error.HTTPError as exc:
            retryable = exc.code >= 500 or exc.code in RETRYABLE_STATUS
            return PublishError(f"{self.url} answered {exc.code} {exc.reason}", retryable=retryable)
        except (urllib.error.URLError, OSError) as exc:  # refused, reset, timed out, DNS
            return PublishError(f"{self.url} unreachable: {exc}", retryable=True)
        return None


class RabbitMQPublisher:
    """Publish each message to an exchange of a RabbitMQ broker, confirmed and persistent.

    ``url`` is an AMQP URL (``amqp://guest:guest@127.0.0.1:5672/%2F``).  The
    routing key is ``routing_key`` when given, else ``<record type>.<event
    type>`` (for a topic exchange).  ``exchange=""`` with a queue name as
    ``routing_key`` sends straight to that queue.  The exchange is declared
    (durable) unless it is the default one.  The connection opens on first
    use and again after a failure.
    """

    def __init__(
        self,
        url: str,
        *,
        exchange: str = "orderflow.events",
        exchange_type: str = "topic",
        routing_key: str | None = None,
        mandatory: bool = True,
    ) -> None:
        self.url = url
        self.exchange = exchange
        self.exchange_type = exchange_type
        self.routing_key = routing_key
        self.mandatory = mandatory
        self._connection: Any = None
        self._channel: Any = None

    def publish(self, message: OutboxMessage) -> None:
        import pika  # type: ignore[import-untyped]  # the amqp extra; imported when used

        routing_key = self.routing_key or f"{message.record_type}.{message.event_type}"
        properties = pika.BasicProperties(
            content_type="application/json",
            delivery_mode=pika.DeliveryMode.Persistent,
            message_id=message.event_id,
            type=message.event_type,
            timestamp=int(message.created_at.timestamp()),
            headers={
                "record_type": message.record_type,
                "record_id": message.record_id,
                "sequence": message.sequence,
            },
        )
        try:
            channel = self._open(pika)
            channel.basic_publish(
                self.exchange, routing_key, message_body(message), properties,
                mandatory=self.mandatory,
            )  # fmt: skip
        except pika.exceptions.UnroutableError as exc:
            raise PublishError(
                f"no queue is bound to {self.exchange!r} for {routing_key!r}: {exc}"
            ) from exc
        except pika.exceptions.NackError as exc:
            raise PublishError(f"the broker refused the message: {exc}") from exc
        except pika.exceptions.AMQPError as exc:
            self.close()
            raise PublishError(f"RabbitMQ at {_safe(self.url)}: {exc!r}") from exc
        except OSError as exc:
            self.close()
            raise PublishError(f"RabbitMQ at {_safe(self.url)} unreachable: {exc}") from exc

    def _open(self, pika: Any) -> Any:
        if self._channel is not None and self._channel.is_open:
            return self._channel
        self.close()
        self._connection = pika.BlockingConnection(pika.URLParameters(self.url))
        channel = self._connection.channel()
        channel.confirm_delivery()
        if self.exchange:
            channel.exchange_declare(self.exchange, self.exchange_type, durable=True)
        self._channel = channel
        return channel

    def close(self) -> None:
        connection, self._connection, self._channel = self._connection, None, None
        if connection is not None and connection.is_open:
            with contextlib.suppress(Exception):  # closing a broken connection: nothing to add
                connection.close()


def _safe(url: str) -> str:
    """The URL without its password, for error messages."""
    head, sep, tail = url.rpartition("@")
    if not sep:
        return url
    scheme, _, credentials = head.partition("://")
    user = credentials.split(":", 1)[0]
    return f"{scheme}://{user}:***@{tail}"
