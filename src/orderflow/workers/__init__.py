"""Workers: the durable timer worker and the outbox relay, safe with many processes on PostgreSQL.

    from orderflow.workers import TimerWorker, OutboxRelay, WebhookPublisher, RabbitMQPublisher

``timers.py`` fires due ``ScheduledEvent`` rows through the service (exactly
once in effect); ``relay.py`` publishes ``OutboxEvent`` rows at least once,
in order per record, through a pluggable :class:`Publisher`;
``publishers.py`` holds the HTTP webhook and RabbitMQ publishers;
``async_workers.py`` runs both for an ``AsyncWorkflowService``.
"""

from orderflow.workers.async_workers import (
    AsyncOutboxRelay,
    AsyncTimerWorker,
    fire_due_timers_async,
    relay_outbox_async,
)
from orderflow.workers.publishers import (
    EVENT_ID_HEADER,
    SIGNATURE_HEADER,
    RabbitMQPublisher,
    WebhookPublisher,
    message_body,
    webhook_signature,
)
from orderflow.workers.relay import (
    OutboxMessage,
    OutboxRelay,
    Publisher,
    PublishError,
    RelayReport,
    RetryPolicy,
    relay_outbox,
)
from orderflow.workers.timers import (
    TimerFiring,
    TimerWorker,
    fire_due_timers,
    timer_idempotency_key,
    workflow_models,
)

__all__ = [
    "EVENT_ID_HEADER",
    "SIGNATURE_HEADER",
    "AsyncOutboxRelay",
    "AsyncTimerWorker",
    "OutboxMessage",
    "OutboxRelay",
    "PublishError",
    "Publisher",
    "RabbitMQPublisher",
    "RelayReport",
    "RetryPolicy",
    "TimerFiring",
    "TimerWorker",
    "WebhookPublisher",
    "fire_due_timers",
    "fire_due_timers_async",
    "message_body",
    "relay_outbox",
    "relay_outbox_async",
    "timer_idempotency_key",
    "webhook_signature",
    "workflow_models",
]
