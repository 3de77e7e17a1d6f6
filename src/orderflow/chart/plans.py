"""Reusing a macrostep's result when only the configuration could have decided it.

Many events are decided by the definition alone: no named guard reads the
context, no assignment runs, no value is computed by user code.  For those,
the whole macrostep (next configuration, history, timers, status, output and
the actions, with the causing events) depends only on the snapshot's
configuration, history, pending timer ids and the event type.  The machine
keeps such results in a bounded table keyed by exactly those, and a repeat
replays the result instead of running the algorithm again.

A macrostep that touched anything data-dependent is marked not replayable
by the algorithm as it runs, and is never stored.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from orderflow.chart.actions import Action
from orderflow.chart.nodes import StateNode
from orderflow.chart.snapshot import Snapshot, Timer

PlanKey = tuple[frozenset[StateNode], tuple[Any, ...], tuple[str, ...], str]
MAX_PLANS = 4096


def plan_key(snapshot: Snapshot, event_type: str) -> PlanKey:
    history = tuple(snapshot.history.items()) if snapshot.history else ()
    timers = tuple(t.id for t in snapshot.timers) if snapshot.timers else ()
    return (snapshot.configuration, history, timers, event_type)


@dataclass(slots=True)
class MacrostepPlan:
    """What a replayable macrostep did, ready to apply to another snapshot with the same key."""

    unchanged: bool
    configuration: frozenset[StateNode]
    status: str
    output: Any
    history: Mapping[str, tuple[str, ...]]
    #: the resulting timers, each either carried over from the input (by id) or new
    timers: tuple[str | Timer, ...]
    #: (type, params, causing event); ``None`` for the event stands for the external event
    actions: tuple[tuple[str, Any, Mapping[str, Any] | None], ...]
    #: what the external event did (taken, the timer it consumed, the guards that refused)
    outcome: tuple[bool, str | None, tuple[Any, ...]] = (True, None, ())
    #: the last snapshot this plan produced, and the input it came from: snapshots are
    #: immutable, so the same input (by identity) may be answered with the same result
    last: tuple[Snapshot, Snapshot] | None = None

    @staticmethod
    def record(
        before: Snapshot,
        after: Snapshot,
        actions: list[Action],
        external: Mapping[str, Any],
        outcome: tuple[bool, str | None, tuple[Any, ...]] = (True, None, ()),
    ) -> MacrostepPlan:
        carried = {t.id: t for t in before.timers}
        timers = tuple(t.id if carried.get(t.id) is t else t for t in after.timers)
        return MacrostepPlan(
            unchanged=after is before,
            configuration=after.configuration,
            status=after.status,
            output=after.output,
            history=after.history,
            timers=timers,
            actions=tuple(
                (a.type, a.params, None if a.event is external else a.event) for a in actions
            ),
            outcome=outcome,
        )

    def replay(
        self, snapshot: Snapshot, external: Mapping[str, Any], make_snapshot: Any
    ) -> tuple[Snapshot, list[Action]]:
        actions = [
            Action(kind, params, external if ev is None else ev)
            for kind, params, ev in self.actions
        ]
        if self.unchanged:
            return snapshot, actions
        last = self.last
        if last is not None:
            source, result = last
            if (
                source.context is snapshot.context
                and source.timers is snapshot.timers
                and source.output is snapshot.output
            ):
                return result, actions
        if self.timers:
            carried = {t.id: t for t in snapshot.timers}
            timers = tuple(carried[t] if isinstance(t, str) else t for t in self.timers)
        else:
            timers = ()
        result = make_snapshot(
            configuration=self.configuration,
            status=self.status,
            context=snapshot.context,
            output=self.output,
            history=self.history,
            timers=timers,
        )
        self.last = (snapshot, result)
        return result, actions
