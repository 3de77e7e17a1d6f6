"""The service layer: ``WorkflowService`` moves persisted records with the pure core.

    from orderflow.service import WorkflowService, Actor

See ``workflow.py`` for the transaction each call runs, ``target_states.py``
for the ``transition(record, to_state)`` view, and ``definition_versions.py``
for snapshots written by older definitions.
"""

from orderflow.service.definition_versions import DefinitionMigrations, SnapshotMigration
from orderflow.service.results import (
    Actor,
    BulkFailure,
    BulkResult,
    EventOption,
    TransitionAttempt,
    TransitionOption,
    TransitionResult,
)
from orderflow.service.workflow import LEGACY_EVENT, EffectHandler, WorkflowService

__all__ = [
    "LEGACY_EVENT",
    "Actor",
    "BulkFailure",
    "BulkResult",
    "DefinitionMigrations",
    "EffectHandler",
    "EventOption",
    "SnapshotMigration",
    "TransitionAttempt",
    "TransitionOption",
    "TransitionResult",
    "WorkflowService",
]
