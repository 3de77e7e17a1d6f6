"""A traffic light with a pedestrian crossing: compound states, an `after` timer, a guard.

Run it with `python examples/traffic_light.py`.
"""

from __future__ import annotations

from typing import Any

import orderflow

LIGHT = {
    "id": "light",
    "initial": "green",
    "context": {"cycles": 0},
    "states": {
        "green": {"after": {"30000": "yellow"}, "on": {"PEDESTRIAN": "yellow"}},
        "yellow": {"after": {"3000": "red"}},
        "red": {
            "initial": "walk",
            "entry": [{"type": "count_cycle"}],
            "states": {
                "walk": {"on": {"COUNTDOWN": "wait"}},
                "wait": {"on": {"TIMEOUT": "stop"}},
                "stop": {"type": "final"},
            },
            "onDone": [{"target": "green", "guard": "under_limit"}, {"target": "off"}],
        },
        "off": {"type": "final", "output": {"reason": "maintenance"}},
    },
}


def under_limit(context: dict[str, Any], event: Any, params: Any) -> bool:
    return bool(context["cycles"] < 2)


machine = orderflow.setup(
    guards={"under_limit": under_limit},
    actions={
        "count_cycle": orderflow.assign(lambda ctx, ev, params: {"cycles": ctx["cycles"] + 1})
    },
).create_machine(LIGHT)


def main() -> orderflow.Snapshot:
    snapshot, actions = machine.initial_transition()
    print(f"start: {snapshot.value}  actions: {[a.type for a in actions]}")
    script = [
        "xstate.after.30000.light.green", "xstate.after.3000.light.yellow", "COUNTDOWN", "TIMEOUT",
        "PEDESTRIAN", "xstate.after.3000.light.yellow", "COUNTDOWN", "TIMEOUT",
    ]  # fmt: skip
    for event in script:
        snapshot, actions = machine.transition(snapshot, event)
        print(
            f"{event:>34} -> {snapshot.value!s:<22} cycles={snapshot.context['cycles']} actions={[a.type for a in actions]}"
        )
    print(f"status: {snapshot.status}, output: {snapshot.output}")
    return snapshot


if __name__ == "__main__":
    main()
