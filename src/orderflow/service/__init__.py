"""The service layer: ``WorkflowService`` moves persisted records with the pure core.

    from orderflow.service import WorkflowService, Principal

See ``workflow.py`` for the transaction each call runs, ``target_states.py``
for the ``transition(record, to_state)`` view, and ``definition_versions.py``
for snapshots written by older definitions, ``ports.py`` for the
database-backed ports, ``overrides.py`` for who may decide an override,
``order_machines.py`` for a service of the shipped order machines, and
``coordinator.py`` for the hand-offs from one phase's machine to the next,
and ``backfill.py`` for records that only have a legacy status.
"""

from orderflow.service.async_workflow import AsyncWorkflowService
from orderflow.service.backfill import (
    BackfillFailure,
    BackfillReport,
    StatusMapping,
    StatusTarget,
    backfill,
)
from orderflow.service.coordinator import HANDOFF_EVENT, Handoff, PhaseCoordinator
from orderflow.service.definition_versions import DefinitionMigrations, SnapshotMigration
from orderflow.service.order_machines import ORDER_RECORDS, order_record_model, order_service
from orderflow.service.overrides import OverrideKind, OverrideRules, sale_override_rules
from orderflow.service.ports import (
    DatabaseCredit,
    DatabaseInventory,
    DatabaseNotifications,
    DatabasePayments,
    DatabasePorts,
    TransactionScope,
    database_ports,
)
from orderflow.service.results import (
    REFUSAL_KINDS,
    BulkFailure,
    BulkResult,
    EventOption,
    Principal,
    Refusal,
    TransitionAttempt,
    TransitionOption,
    TransitionResult,
)
from orderflow.service.workflow import (
    BACKFILL_EVENT,
    LEGACY_EVENT,
    EffectHandler,
    FinishedRecord,
    FinishHook,
    WorkflowService,
)

__all__ = [
    "BACKFILL_EVENT",
    "HANDOFF_EVENT",
    "LEGACY_EVENT",
    "ORDER_RECORDS",
    "REFUSAL_KINDS",
    "AsyncWorkflowService",
    "BackfillFailure",
    "BackfillReport",
    "BulkFailure",
    "BulkResult",
    "DatabaseCredit",
    "DatabaseInventory",
    "DatabaseNotifications",
    "DatabasePayments",
    "DatabasePorts",
    "DefinitionMigrations",
    "EffectHandler",
    "EventOption",
    "FinishHook",
    "FinishedRecord",
    "Handoff",
    "OverrideKind",
    "OverrideRules",
    "PhaseCoordinator",
    "Principal",
    "Refusal",
    "SnapshotMigration",
    "StatusMapping",
    "StatusTarget",
    "TransactionScope",
    "TransitionAttempt",
    "TransitionOption",
    "TransitionResult",
    "WorkflowService",
    "backfill",
    "database_ports",
    "order_record_model",
    "order_service",
    "sale_override_rules",
]
