"""The implementations a definition's names refer to, passed in explicitly.

``orderflow.setup(guards=..., actions=..., delays=..., actors=..., inputs=..., context=..., events=...)``
(in ``machine.py``) gathers them into :class:`Implementations`; compiling a
definition resolves every name against that table.  There is no global registry:
a machine only knows what its own ``setup`` was given.  An implementation
may be a callable or a dotted path ``"package.module:attribute"``, resolved
(imported) when the machine is created.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from orderflow.chart.actions import BUILTIN_ACTION_TYPES
from orderflow.errors import Problem

DEFAULT_MAX_MICROSTEPS = 1000


@dataclass(frozen=True)
class Implementations:
    """What a machine's names resolve to.  ``given`` is False when ``setup`` received none at all."""

    guards: Mapping[str, Any] = field(default_factory=dict)
    actions: Mapping[str, Any] = field(default_factory=dict)
    delays: Mapping[str, Any] = field(default_factory=dict)
    #: named functions ``input -> context``: a definition's ``"context": "name"``
    contexts: Mapping[str, Any] = field(default_factory=dict)
    context: type[BaseModel] | None = None
    events: Mapping[str, type[BaseModel]] = field(default_factory=dict)
    max_microsteps: int = DEFAULT_MAX_MICROSTEPS
    #: actor logic by name: a machine (a child machine) or a function (a promise actor)
    actors: Mapping[str, Any] = field(default_factory=dict)
    #: named functions ``(context, event) -> input`` for the actors a definition starts
    inputs: Mapping[str, Any] = field(default_factory=dict)

    @property
    def given(self) -> bool:
        """Whether any implementation was given (then every name a definition uses must exist)."""
        return bool(
            self.guards
            or self.actions
            or self.delays
            or self.actors
            or self.inputs
            or self.contexts
        )


def resolve_dotted(value: Any) -> Any:
    """Import ``"package.module:attribute"``; return anything else unchanged."""
    if not isinstance(value, str) or ":" not in value:
        return value
    module_name, _, attribute = value.partition(":")
    module = importlib.import_module(module_name)
    target: Any = module
    for part in attribute.split("."):
        target = getattr(target, part)
    return target


def resolve_table(
    kind: str, table: Mapping[str, Any] | None, problems: list[Problem]
) -> dict[str, Any]:
    resolved: dict[str, Any] = {}
    for name, value in (table or {}).items():
        path = f"setup.{kind}s.{name}"
        if not isinstance(name, str) or not name:
            problems.append(Problem(path, f"{kind} names must be non-empty strings"))
            continue
        if kind == "action" and name in BUILTIN_ACTION_TYPES:
            problems.append(Problem(path, f"'{name}' is a built-in action and cannot be redefined"))
            continue
        try:
            resolved[name] = resolve_dotted(value)
        except (ImportError, AttributeError) as exc:
            problems.append(Problem(path, f"cannot import {value!r}: {exc}"))
    return resolved


def call_function_actor(function: Any, value: Any, signal: Any) -> Any:
    """Call a function actor on its input; one that takes a ``signal`` keyword gets ``signal``.

    ``signal`` (a :class:`threading.Event`) is set when the actor is stopped or times
    out: XState's ``AbortSignal``.  A thread cannot be killed, so a long plain function
    polls ``signal.is_set()`` and returns; one without a ``signal`` parameter is called
    as ``function(input)``.  For an ``async def`` this returns its coroutine.
    """
    if _takes_signal(function):
        return function(value, signal=signal)
    return function(value)


def _takes_signal(function: Any) -> bool:
    try:
        parameter = inspect.signature(function).parameters.get("signal")
    except (TypeError, ValueError):  # a builtin without a signature
        return False
    return parameter is not None and parameter.kind in (
        inspect.Parameter.POSITIONAL_OR_KEYWORD,
        inspect.Parameter.KEYWORD_ONLY,
    )
