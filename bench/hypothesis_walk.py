"""Hypothesis examples per second of a 50-step random walk on the shared reference chart.

    .venv/bin/python bench/hypothesis_walk.py [examples]

The chart is ../shared/bench/spec.py's "sale" (built by bench/peer_orderflow.py).
Two ways to walk it, each with and without a persisted round trip per step
(``json.dumps(snapshot.to_json())`` then ``machine.resolve_snapshot``):

- ``machine_rules``: the rule-based state machine of ``orderflow.testing.rules``
  (``stateful_step_count=50``; an invariant on every snapshot);
- ``enabled_sequences``: ``@given`` a 50-event legal walk, replayed in the test body.

Only the generate phase runs (no failure, so nothing to shrink), with no example
database, so the figure is hypothesis plus orderflow, nothing else.  Prints a
markdown table.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

import peer_orderflow
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.stateful import run_state_machine_as_test

import orderflow
from orderflow.testing import enabled_sequences, machine_rules

STEPS = 50
machine = peer_orderflow.machine


def bench_settings(examples: int) -> settings:
    return settings(
        max_examples=examples,
        database=None,
        deadline=None,
        phases=[Phase.generate],
        stateful_step_count=STEPS,
        suppress_health_check=list(HealthCheck),
    )


def known_state(snapshot: orderflow.Snapshot) -> bool:
    return snapshot.status == "active"


def rule_based(examples: int, persist: bool) -> tuple[int, int]:
    walked = {"examples": 0, "steps": 0}

    def counted(snapshot: orderflow.Snapshot) -> bool:
        walked["steps"] += 1
        return known_state(snapshot)

    rules = machine_rules(machine, [counted], persist_each_step=persist)
    original_init = rules.__init__

    def init(self: Any) -> None:
        walked["examples"] += 1
        walked["steps"] -= 1  # the invariant also runs on the initial snapshot
        original_init(self)

    rules.__init__ = init  # type: ignore[method-assign]
    run_state_machine_as_test(rules, settings=bench_settings(examples))
    return walked["examples"], walked["steps"]


def strategy_based(examples: int, persist: bool) -> tuple[int, int]:
    walked = {"examples": 0, "steps": 0}

    @bench_settings(examples)
    @given(enabled_sequences(machine, min_size=STEPS, max_size=STEPS))
    def walk(events: list[dict[str, Any]]) -> None:
        walked["examples"] += 1
        snapshot, _ = machine.initial_transition()
        for event in events:
            snapshot, _ = machine.transition(snapshot, event)
            if persist:
                restored = machine.resolve_snapshot(json.loads(json.dumps(snapshot.to_json())))
                assert restored == snapshot
                snapshot = restored
            walked["steps"] += 1

    walk()
    return walked["examples"], walked["steps"]


def pure_walk(examples: int, persist: bool) -> tuple[int, int]:
    """The floor: the same number of transitions with no hypothesis at all (a fixed script)."""
    script = _script()
    steps = 0
    for _ in range(examples):
        snapshot, _ = machine.initial_transition()
        for event in script:
            snapshot, _ = machine.transition(snapshot, event)
            if persist:
                snapshot = machine.resolve_snapshot(json.loads(json.dumps(snapshot.to_json())))
            steps += 1
    return examples, steps


def _script() -> list[str]:
    loop = ["SELECT_CARD", "AUTHORIZE", "CAPTURE", "CLEAR", "RESET",
            "SELECT_CREDIT", "CREDIT_OK", "ADMIN_OK", "CLEAR", "RESET"]  # fmt: skip
    return (loop * (STEPS // len(loop) + 1))[:STEPS]


def measure(run: Callable[[int, bool], tuple[int, int]], examples: int, persist: bool) -> str:
    run(min(examples, 20), persist)  # warm up imports and caches
    start = time.perf_counter()
    done, steps = run(examples, persist)
    elapsed = time.perf_counter() - start
    return (
        f"{done / elapsed:,.0f} | {steps / done:.1f} | {elapsed / steps * 1e6:,.0f} µs"
        if done and steps
        else "n/a | n/a | n/a"
    )


def main() -> None:
    examples = int(sys.argv[1]) if len(sys.argv) > 1 else 300
    print(f"{STEPS}-step random walks on the reference chart, {examples} examples each\n")
    print("| walk | persisted round trip per step | examples/s | steps/example | time per step |")
    print("|---|---|---:|---:|---:|")
    for name, run in (
        ("`machine_rules` (rule-based)", rule_based),
        ("`enabled_sequences` + replay", strategy_based),
        ("fixed script, no hypothesis (floor)", pure_walk),
    ):
        for persist in (False, True):
            print(f"| {name} | {'yes' if persist else 'no'} | {measure(run, examples, persist)} |")


if __name__ == "__main__":
    main()
