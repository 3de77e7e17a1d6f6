"""Guards: named predicates, ``stateIn``, and their ``and`` / ``or`` / ``not`` combinations.

A named guard is implemented by a callable ``(context, event, params)``
returning ``bool`` or ``(bool, reason)``; the reason is what
``machine.explain`` reports when the guard blocks a transition.  The
combinators are plain data so a definition stays JSON; the builders below
produce that data for configs written in Python.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from orderflow.errors import MissingImplementationError

GuardImpl = Callable[[Any, Any, Any], "bool | tuple[bool, str | None]"]

#: JSON spellings of the combinators (XState's serialised names are accepted too).
COMBINATORS = {
    "and": "and", "xstate.and": "and",
    "or": "or", "xstate.or": "or",
    "not": "not", "xstate.not": "not",
    "stateIn": "stateIn", "xstate.stateIn": "stateIn",
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class NamedGuard:
    name: str
    params: Any
    impl: GuardImpl | None
    state_id: str

    def evaluate(
        self, context: Any, event: Any, configuration: Collection[object]
    ) -> tuple[bool, str | None]:
        if self.impl is None:
            raise MissingImplementationError("guard", self.name, self.state_id)
        result = self.impl(context, event, self.params)
        if isinstance(result, tuple):
            passed, reason = result
            return bool(passed), None if passed else (reason or f"guard '{self.name}' is false")
        return bool(result), None if result else f"guard '{self.name}' is false"


@dataclass(frozen=True, slots=True)
class StateInGuard:
    """True when every one of ``nodes`` is active (the compiled form of a state id or value)."""

    nodes: tuple[object, ...]
    label: str

    def evaluate(
        self, context: Any, event: Any, configuration: Collection[object]
    ) -> tuple[bool, str | None]:
        if all(node in configuration for node in self.nodes):
            return True, None
        return False, f"not in state {self.label}"


@dataclass(frozen=True, slots=True)
class AndGuard:
    guards: tuple[Guard, ...]

    def evaluate(
        self, context: Any, event: Any, configuration: Collection[object]
    ) -> tuple[bool, str | None]:
        for guard in self.guards:
            passed, reason = guard.evaluate(context, event, configuration)
            if not passed:
                return False, reason
        return True, None


@dataclass(frozen=True, slots=True)
class OrGuard:
    guards: tuple[Guard, ...]

    def evaluate(
        self, context: Any, event: Any, configuration: Collection[object]
    ) -> tuple[bool, str | None]:
        reasons = []
        for guard in self.guards:
            passed, reason = guard.evaluate(context, event, configuration)
            if passed:
                return True, None
            reasons.append(reason or "false")
        return False, " and ".join(reasons) or "no alternative holds"


@dataclass(frozen=True, slots=True)
class NotGuard:
    guard: Guard

    def evaluate(
        self, context: Any, event: Any, configuration: Collection[object]
    ) -> tuple[bool, str | None]:
        passed, _ = self.guard.evaluate(context, event, configuration)
        return (False, f"not({describe(self.guard)}) is false") if passed else (True, None)


@dataclass(frozen=True, slots=True)
class Condition:
    """A condition compiled by a format (an SCXML ``cond``): ``test(context, event, configuration)``.

    Unlike a named guard it sees the configuration (SCXML's ``In()``); ``label``
    is the source text, for explanations.  Under SCXML's conventions a condition
    that raises is false and raises ``error.execution``.
    """

    label: str
    test: Callable[[Any, Any, Collection[object]], bool]

    def evaluate(
        self, context: Any, event: Any, configuration: Collection[object]
    ) -> tuple[bool, str | None]:
        if self.test(context, event, configuration):
            return True, None
        return False, f"{self.label} is false"


Guard = NamedGuard | StateInGuard | AndGuard | OrGuard | NotGuard | Condition


def describe(guard: Guard) -> str:
    """A short human-readable form of a guard, for explanations and diagrams."""
    if isinstance(guard, NamedGuard):
        return guard.name
    if isinstance(guard, Condition):
        return guard.label
    if isinstance(guard, StateInGuard):
        return f"stateIn({guard.label})"
    if isinstance(guard, AndGuard):
        return " && ".join(describe(g) for g in guard.guards)
    if isinstance(guard, OrGuard):
        return " || ".join(describe(g) for g in guard.guards)
    return f"!({describe(guard.guard)})"


def reads_data(guard: Guard) -> bool:
    """Whether a guard's answer can depend on context or event data (anything but ``stateIn``)."""
    if isinstance(guard, StateInGuard):
        return False
    if isinstance(guard, AndGuard | OrGuard):
        return any(reads_data(g) for g in guard.guards)
    if isinstance(guard, NotGuard):
        return reads_data(guard.guard)
    return True


# Builders: plain data, so a config built in Python is still JSON.


def and_(guards: Sequence[Any]) -> dict[str, Any]:
    """All of ``guards`` must hold."""
    return {"type": "and", "guards": list(guards)}


def or_(guards: Sequence[Any]) -> dict[str, Any]:
    """At least one of ``guards`` must hold."""
    return {"type": "or", "guards": list(guards)}


def not_(guard: Any) -> dict[str, Any]:
    """``guard`` must not hold."""
    return {"type": "not", "guards": [guard]}


def state_in(state: str | Mapping[str, Any]) -> dict[str, Any]:
    """The given state (``"#id"``, a dotted path from the root, or a state value) must be active."""
    return {"type": "stateIn", "state": state}
