"""``machine.provide(...)``: the same definition with some implementations swapped.

XState v5's ``machine.provide({guards, actions, actors, delays})`` merges new
implementations over the ones ``setup`` gave and returns a new machine; the
original is untouched.  orderflow does the same for every table of
:class:`~orderflow.chart.implementations.Implementations` (guards, actions,
delays, context functions, and any other table ``setup`` takes), and is
stricter in one way: a name that the definition does not use and ``setup``
did not give is refused, since providing it could change nothing (a typo).
The definition is compiled again against the merged tables, so every name is
checked exactly as ``setup(...).create_machine`` checks it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, Protocol

from orderflow.chart.actions import BUILTIN_ACTION_TYPES, ActionSpec, Raise, SpawnChild
from orderflow.chart.guards import AndGuard, Guard, NamedGuard, NotGuard, OrGuard
from orderflow.chart.implementations import Implementations, resolve_table
from orderflow.chart.nodes import StateNode
from orderflow.errors import DefinitionError, Problem

#: the tables of Implementations that are not name -> implementation maps of a definition
_NOT_PROVIDABLE = frozenset({"events"})


class Machine(Protocol):
    """What ``provide`` reads of a machine (``orderflow.chart.machine.Machine``)."""

    @property
    def implementations(self) -> Implementations: ...
    @property
    def nodes(self) -> tuple[StateNode, ...]: ...
    @property
    def config(self) -> Mapping[str, Any]: ...


def providable() -> tuple[str, ...]:
    """The keyword arguments ``provide`` takes: the name tables of ``Implementations``."""
    return tuple(
        f.name
        for f in dataclasses.fields(Implementations)
        if f.name not in _NOT_PROVIDABLE and _is_table(f.default_factory)
    )


def provided(machine: Machine, tables: Mapping[str, Mapping[str, Any] | None]) -> Implementations:
    """``machine``'s implementations with ``tables`` merged over them; DefinitionError if one cannot be."""
    kinds = providable()
    problems: list[Problem] = []
    merged: dict[str, dict[str, Any]] = {}
    used = names_used(machine)
    for kind, table in tables.items():
        if kind not in kinds:
            problems.append(Problem(
                f"provide.{kind}",
                f"provide() takes {', '.join(kinds)}; '{kind}' is none of them",
            ))  # fmt: skip
            continue
        if table is None:
            continue
        if not isinstance(table, Mapping):
            problems.append(Problem(f"provide.{kind}", f"{kind} must map names to implementations"))
            continue
        singular = kind[:-1] if kind.endswith("s") else kind
        resolved = resolve_table(singular, table, problems)
        current: Mapping[str, Any] = getattr(machine.implementations, kind)
        known = set(current) | used.get(kind, set())
        for name in resolved:
            if name not in known:
                problems.append(Problem(
                    f"provide.{kind}.{name}",
                    f"the machine uses no {singular} '{name}' and setup gave none; "
                    f"known {kind}: {sorted(known) or 'none'}",
                ))  # fmt: skip
        merged[kind] = {**current, **resolved}
    if problems:
        raise DefinitionError(problems)
    return dataclasses.replace(machine.implementations, **merged)  # type: ignore[arg-type]


def names_used(machine: Machine) -> dict[str, set[str]]:
    """The names the definition refers to, by the ``provide`` keyword that implements them."""
    guards: set[str] = set()
    actions: set[str] = set()
    delays: set[str] = set()
    actors: set[str] = set()
    for node in machine.nodes:
        transitions = [t for ts in node.on.values() for t in ts]
        transitions += [*node.always, *(t for t in (node.initial, node.history_default) if t)]
        for transition in transitions:
            if transition.guard is not None:
                guards.update(_guard_names(transition.guard))
            if isinstance(transition.delay, str):
                delays.add(transition.delay)
        specs: Iterable[ActionSpec] = (
            *node.entry, *node.exit, *(spec for t in transitions for spec in t.actions)
        )  # fmt: skip
        for spec in specs:
            if spec.name not in BUILTIN_ACTION_TYPES:  # a named action (maybe implemented by one)
                actions.add(spec.name)
            if isinstance(spec.builtin, Raise) and isinstance(spec.builtin.delay, str):
                delays.add(spec.builtin.delay)
            if isinstance(spec.builtin, SpawnChild):
                actors.add(spec.builtin.src)
        delays.update(d.delay for d in node.after if isinstance(d.delay, str))
        actors.update(invocation.src for invocation in node.invoke)
    context = machine.config.get("context")
    contexts = {context} if isinstance(context, str) else set()
    return {
        "guards": guards,
        "actions": actions,
        "delays": delays,
        "contexts": contexts,
        "actors": actors,
        "inputs": set(_values_of("inputFrom", machine.config)),
    }


def _values_of(key: str, config: Any) -> Iterator[str]:
    """Every string under ``key`` anywhere in ``config`` (names the compiler resolved away)."""
    pending = [config]
    while pending:
        item = pending.pop()
        if isinstance(item, Mapping):
            if isinstance(item.get(key), str):
                yield item[key]
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)


def _guard_names(guard: Guard) -> Iterator[str]:
    if isinstance(guard, NamedGuard):
        yield guard.name
    elif isinstance(guard, AndGuard | OrGuard):
        for inner in guard.guards:
            yield from _guard_names(inner)
    elif isinstance(guard, NotGuard):
        yield from _guard_names(guard.guard)


def _is_table(factory: Any) -> bool:
    return factory is dict
