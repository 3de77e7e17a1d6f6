"""The service layer: ``WorkflowService`` moves persisted records with the pure core.

    from orderflow.service import WorkflowService, Actor

See ``workflow.py`` for the transaction each call runs, ``target_states.py``
for the ``transition(record, to_state)`` view, and ``definition_versions.py``
for snapshots written by older definitions, ``ports.py`` for the
database-backed ports, ``overrides.py`` for who may decide an override,
``order_machines.py`` for a service of the shipped order machines, and
``coordinator.py`` for the hand-offs from one phase's machine to the next.
"""

from orderflow.service.coordinator import HANDOFF_EVENT, Handoff, PhaseCoordinator
from orderflow.service.definition_versions import DefinitionMigrations, SnapshotMigration
from orderflow.service.order_machines import order_service
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
    Actor,
    BulkFailure,
    BulkResult,
    EventOption,
    TransitionAttempt,
    TransitionOption,
    TransitionResult,
)
from orderflow.service.workflow import (
    LEGACY_EVENT,
    EffectHandler,
    FinishedRecord,
    FinishHook,
    WorkflowService,
)

__all__ = [
    "HANDOFF_EVENT",
    "LEGACY_EVENT",
    "Actor",
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
    "SnapshotMigration",
    "TransactionScope",
    "TransitionAttempt",
    "TransitionOption",
    "TransitionResult",
    "WorkflowService",
    "database_ports",
    "order_service",
    "sale_override_rules",
]
