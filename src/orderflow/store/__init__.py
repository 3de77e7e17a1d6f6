"""Persistence: workflow records in SQL, the transition log, the outbox and durable timers.

    from orderflow.store import WorkflowRecord, rehydrate, persist, upgrade

A record keeps its snapshot in ``workflow_state`` (without the context) and
``workflow_context``; :func:`rehydrate` restores it through
``machine.resolve_snapshot`` and :func:`persist` writes one back.  The
service (``orderflow.service``) does both inside one locked transaction with
the log row, outbox rows and scheduled timers; this package only knows the
tables.
"""

from orderflow.store.base import Base, JSONDocument, UTCDateTime
from orderflow.store.domain import Fulfillment, Quotation, SaleOrder
from orderflow.store.engine import create_async_engine, create_engine
from orderflow.store.ports_tables import (
    CustomerCreditProfile,
    CustomerSalesAgg,
    PaymentLedgerEntry,
    StockLevel,
    StockReservation,
)
from orderflow.store.record import (
    WorkflowRecord,
    has_legacy_status,
    legacy_status,
    persist,
    primary_key_value,
    record_identity,
    rehydrate,
    snapshot_data,
    state_columns,
    status_for_state,
)
from orderflow.store.schema import MIGRATIONS, alembic_config, downgrade, upgrade
from orderflow.store.workflow_tables import (
    Invocation,
    OutboxEvent,
    OverrideRequest,
    ScheduledEvent,
    TransitionLog,
)

__all__ = [
    "MIGRATIONS",
    "Base",
    "CustomerCreditProfile",
    "CustomerSalesAgg",
    "Fulfillment",
    "Invocation",
    "JSONDocument",
    "OutboxEvent",
    "OverrideRequest",
    "PaymentLedgerEntry",
    "Quotation",
    "SaleOrder",
    "ScheduledEvent",
    "StockLevel",
    "StockReservation",
    "TransitionLog",
    "UTCDateTime",
    "WorkflowRecord",
    "alembic_config",
    "create_async_engine",
    "create_engine",
    "downgrade",
    "has_legacy_status",
    "legacy_status",
    "persist",
    "primary_key_value",
    "record_identity",
    "rehydrate",
    "snapshot_data",
    "state_columns",
    "status_for_state",
    "upgrade",
]
