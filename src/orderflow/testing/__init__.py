"""Testing helpers for statecharts: hypothesis strategies for machine configs and event sequences.

``machine_configs()`` draws random, valid XState v5 JSON configs (data
guards only, so XState itself can run the very same config);
``event_sequences(config)`` draws events from ``config_alphabet(config)``.
This is the ``testing`` layer of DESIGN.md: it imports hypothesis and the
core, nothing else.
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

__all__ = [
    "DOTTED_EVENT_TYPES",
    "EVENT_TYPES",
    "MACHINE_ID",
    "UNHANDLED_EVENT",
    "config_alphabet",
    "event_sequences",
    "machine_configs",
]
