"""Workers: durable timers, durable invocations and the outbox relay, safe with many processes.

    from orderflow.workers import TimerWorker, InvocationWorker, OutboxRelay, WebhookPublisher

``timers.py`` fires due ``ScheduledEvent`` rows through the service (exactly
once in effect); ``invocations.py`` runs the function actors records started
(``Invocation`` rows) and delivers each result through the service exactly
once, by the rules of ``invocation_rules.py`` (shared with the Django worker); ``relay.py`` publishes ``OutboxEvent`` rows at least once,
in order per record, through a pluggable :class:`Publisher`;
``publishers.py`` holds the HTTP webhook and RabbitMQ publishers;
``async_workers.py`` runs them for an ``AsyncWorkflowService``.
"""

from orderflow.workers.async_workers import (
    AsyncInvocationWorker,
    AsyncOutboxRelay,
    AsyncTimerWorker,
    fire_due_timers_async,
    relay_outbox_async,
    run_due_invocations_async,
)
from orderflow.workers.invocations import (
    InvocationOptions,
    InvocationPolicy,
    InvocationRun,
    InvocationWorker,
    invocation_idempotency_key,
    run_due_invocations,
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
    "AsyncInvocationWorker",
    "AsyncOutboxRelay",
    "AsyncTimerWorker",
    "InvocationOptions",
    "InvocationPolicy",
    "InvocationRun",
    "InvocationWorker",
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
    "invocation_idempotency_key",
    "message_body",
    "relay_outbox",
    "relay_outbox_async",
    "run_due_invocations",
    "run_due_invocations_async",
    "timer_idempotency_key",
    "webhook_signature",
    "workflow_models",
]
