"""Testing helpers for statecharts: random machines, paths through a machine, coverage plans.

- ``charts``: hypothesis strategies.  ``machine_configs()`` draws random, valid XState v5
  JSON configs (data guards only, so XState itself can run the very same config);
  ``event_sequences(config)`` draws events from ``config_alphabet(config)``.
- ``paths``: ``explore`` (the reachable snapshots), ``shortest_paths``, ``simple_paths``
  and ``coverage_plan`` (event sequences that fire every transition), on the pure core.

This is the ``testing`` layer of DESIGN.md: it imports hypothesis and the core.
"""

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
    CoveragePlan,
    Path,
    PathStep,
    StateGraph,
    coverage_plan,
    explore,
    replay,
    shortest_paths,
    simple_paths,
)

__all__ = [
    "DOTTED_EVENT_TYPES",
    "EVENT_TYPES",
    "MACHINE_ID",
    "UNHANDLED_EVENT",
    "CoveragePlan",
    "Path",
    "PathStep",
    "StateGraph",
    "config_alphabet",
    "coverage_plan",
    "event_sequences",
    "explore",
    "machine_configs",
    "replay",
    "shortest_paths",
    "simple_paths",
]
