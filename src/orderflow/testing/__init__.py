"""Testing helpers for statecharts: random machines, paths through a machine, coverage plans.

- ``charts``: hypothesis strategies.  ``machine_configs()`` draws random, valid XState v5
  JSON configs (data guards only, so XState itself can run the very same config);
  ``event_sequences(config)`` draws events from ``config_alphabet(config)``.
- ``paths``: ``explore`` (the reachable snapshots), ``shortest_paths``, ``simple_paths``
  and ``coverage_plan`` (event sequences that fire every transition), on the pure core;
  a machine with child machines is explored with them (``ChildEvent``, ``send``).
- ``strategies``: ``events(machine, snapshot)`` draws events the snapshot accepts (payloads
  from the event models); ``enabled_sequences(machine)`` draws whole legal walks.
- ``rules``: ``machine_rules(machine, invariants=[...], persist_each_step=...)`` builds a
  hypothesis ``RuleBasedStateMachine`` that walks the machine and checks invariants.
- ``assertions``: ``assert_state``, ``assert_path``, ``assert_can``, ``assert_cannot``.
- ``plugin``: the pytest plugin (entry point ``orderflow``): ``simulated_clock`` and
  ``actor_factory`` fixtures.  Not imported here, so importing ``orderflow.testing`` does
  not need pytest.

This is the ``testing`` layer of DESIGN.md: it imports hypothesis and the core.
"""

from orderflow.testing.assertions import assert_can, assert_cannot, assert_path, assert_state
from orderflow.testing.charts import (
    DOTTED_EVENT_TYPES,
    EVENT_TYPES,
    MACHINE_ID,
    UNHANDLED_EVENT,
    config_alphabet,
    event_sequences,
    machine_configs,
)
from orderflow.testing.paths import (
    ChildEvent,
    CoveragePlan,
    Path,
    PathStep,
    StateGraph,
    coverage_plan,
    explore,
    replay,
    send,
    shortest_paths,
    simple_paths,
)
from orderflow.testing.rules import MachineRules, WalkFailure, machine_rules
from orderflow.testing.strategies import enabled_sequences, events

__all__ = [
    "DOTTED_EVENT_TYPES",
    "EVENT_TYPES",
    "MACHINE_ID",
    "UNHANDLED_EVENT",
    "ChildEvent",
    "CoveragePlan",
    "MachineRules",
    "Path",
    "PathStep",
    "StateGraph",
    "WalkFailure",
    "assert_can",
    "assert_cannot",
    "assert_path",
    "assert_state",
    "config_alphabet",
    "coverage_plan",
    "enabled_sequences",
    "event_sequences",
    "events",
    "explore",
    "machine_configs",
    "machine_rules",
    "replay",
    "send",
    "shortest_paths",
    "simple_paths",
]
