"""orderflow's statechart core: definitions, the compiled tree, the step algorithm, snapshots.

Pure: no I/O, no clock, no database.  ``machine.transition(snapshot, event)``
returns the next snapshot and the actions for the caller to run.

Modules: ``definition`` (parse, validate, index), ``nodes`` (the compiled
tree), ``algorithm`` (SCXML's steps), ``snapshot`` (values, JSON, restore),
``guards`` and ``actions`` (what definitions name), ``events`` (the
:class:`TypedEvent` implementations receive), ``implementations``
(what the names resolve to), ``machine`` (the public object).
"""

from orderflow.chart.actions import Action, assign, cancel, emit, log, raise_
from orderflow.chart.events import TypedEvent
from orderflow.chart.guards import and_, not_, or_, state_in
from orderflow.chart.machine import (
    DefinitionWarning,
    Explanation,
    GuardCheck,
    Machine,
    Refusal,
    Setup,
    Step,
    create_machine,
    setup,
)
from orderflow.chart.snapshot import Snapshot, Timer, with_due

__all__ = [
    "Action",
    "DefinitionWarning",
    "Explanation",
    "GuardCheck",
    "Machine",
    "Refusal",
    "Setup",
    "Snapshot",
    "Step",
    "Timer",
    "TypedEvent",
    "and_",
    "assign",
    "cancel",
    "create_machine",
    "emit",
    "log",
    "not_",
    "or_",
    "raise_",
    "setup",
    "state_in",
    "with_due",
]
