"""orderflow: order workflows as hierarchical statecharts, in the style of XState v5.

    import orderflow

    machine = orderflow.create_machine({"initial": "idle", "states": {"idle": {"on": {"GO": "busy"}}, "busy": {}}})
    snapshot, actions = machine.initial_transition()
    snapshot, actions = machine.transition(snapshot, "GO")
    snapshot.value  # "busy"

See ``docs/architecture.md`` for the layers and where each thing lives.
"""

from orderflow import errors
from orderflow.chart import (
    Action,
    DefinitionWarning,
    Explanation,
    GuardCheck,
    Machine,
    Setup,
    Snapshot,
    Timer,
    TypedEvent,
    and_,
    assign,
    cancel,
    create_machine,
    emit,
    log,
    not_,
    or_,
    raise_,
    setup,
    state_in,
)
from orderflow.runtime import Actor, SimulatedClock, create_actor, wait_for, wait_for_async

__version__ = "0.1.0"

__all__ = [
    "Action",
    "Actor",
    "DefinitionWarning",
    "Explanation",
    "GuardCheck",
    "Machine",
    "Setup",
    "SimulatedClock",
    "Snapshot",
    "Timer",
    "TypedEvent",
    "and_",
    "assign",
    "cancel",
    "create_actor",
    "create_machine",
    "emit",
    "errors",
    "log",
    "not_",
    "or_",
    "raise_",
    "setup",
    "state_in",
    "wait_for",
    "wait_for_async",
]
