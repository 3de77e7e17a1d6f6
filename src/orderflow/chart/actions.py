"""Actions: what a definition says to do, and the records a transition returns.

A definition names actions (``"entry": ["notify"]``) or uses the built-ins
``assign``, ``raise``, ``emit``, ``log`` and ``cancel``.  Compiling turns each
into an :class:`ActionSpec`.  Running a macrostep applies ``assign`` and
``raise`` inside the engine and returns everything else as :class:`Action`
records, in SCXML order, for the caller to execute: named effects, ``emit``,
``log``, and ``schedule`` / ``cancel`` for timers.  The core runs no effect.

The Python builders (:func:`assign`, :func:`raise_`, :func:`emit`, :func:`log`,
:func:`cancel`) give the same built-ins to configs written in Python and to
named actions registered with ``setup(actions=...)``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

#: Action types the engine itself understands; no implementation may take these names.
BUILTIN_ACTION_TYPES = frozenset({"assign", "raise", "emit", "log", "cancel", "schedule"})
_XSTATE_ALIASES = {f"xstate.{name}": name for name in BUILTIN_ACTION_TYPES}

# A value given to a built-in may be computed: callable(context, event, params).
Computed = Callable[[Any, Any, Any], Any]


@dataclass(frozen=True, slots=True)
class Action:
    """One thing for the caller to do, in the order the transition produced it.

    ``type`` is the action's name (``"notify"``) or a built-in record type
    (``"emit"``, ``"log"``, ``"schedule"``, ``"cancel"``); ``params`` are its
    resolved parameters; ``event`` is the event that caused it (plain JSON).
    """

    type: str
    params: Any
    event: Mapping[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {"type": self.type, "params": self.params, "event": dict(self.event)}


@dataclass(frozen=True, slots=True)
class Assign:
    """Update the context: a mapping of keys to values (each value may be computed) or one callable.

    A callable receives ``(context, event, params)`` and returns a mapping of
    the keys to change (or a whole new context).
    """

    update: Mapping[str, Any] | Computed


@dataclass(frozen=True, slots=True)
class Raise:
    """Put an event on the internal queue (or, with ``delay``, schedule it as a timer)."""

    event: Mapping[str, Any] | str | Computed
    delay: float | str | None = None
    id: str | None = None


@dataclass(frozen=True, slots=True)
class Emit:
    """A domain event for the caller to publish (for example through the outbox)."""

    event: Mapping[str, Any] | str | Computed


@dataclass(frozen=True, slots=True)
class Log:
    """A message for the caller's log."""

    message: str | Computed | None = None


@dataclass(frozen=True, slots=True)
class Cancel:
    """Cancel a pending timer by id."""

    id: str


@dataclass(frozen=True, slots=True)
class Block:
    """A block of executable content compiled from a document (SCXML's ``<onentry>``, a transition's body).

    ``run(run, event)`` gets the macrostep's working state
    (:class:`~orderflow.chart.execution.Run`) and the current event, so what it
    raises, schedules and assigns lands in the right queue at the right time.  A
    block handles its own errors (SCXML raises ``error.execution`` and stops the
    block); the core only calls it, in document order.  ``label`` names it in traces.
    """

    run: Callable[[Any, Any], None]
    label: str = "block"


@dataclass(frozen=True, slots=True)
class Evaluated:
    """A value a document computes with the macrostep's working state (SCXML's ``<donedata>``).

    Like a :class:`Block`, ``evaluate(run, event)`` handles its own errors.
    """

    evaluate: Callable[[Any, Any], Any]


Builtin = Assign | Raise | Emit | Log | Cancel | Block


def assign(update: Mapping[str, Any] | Computed) -> Assign:
    """Build an assign action, as XState's ``assign``."""
    return Assign(update)


def raise_(
    event: Mapping[str, Any] | str | Computed,
    *,
    delay: float | str | None = None,
    id: str | None = None,
) -> Raise:
    """Build a raise action (``raise`` is a Python keyword, hence the underscore)."""
    return Raise(event, delay, id)


def emit(event: Mapping[str, Any] | str | Computed) -> Emit:
    """Build an emit action: a domain event returned to the caller."""
    return Emit(event)


def log(message: str | Computed | None = None) -> Log:
    """Build a log action."""
    return Log(message)


def cancel(id: str) -> Cancel:
    """Build a cancel action for a delayed raise or an ``after`` timer."""
    return Cancel(id)


@dataclass(frozen=True, slots=True)
class ActionSpec:
    """A compiled action: a built-in to apply, or a named effect to return.

    ``name`` is what the definition wrote (``"notify"``, ``"assign"``);
    ``builtin`` is set for engine-applied actions; ``impl`` is the caller-side
    implementation of a named effect (``None`` when none was given).
    """

    name: str
    params: Any = None
    builtin: Builtin | None = None
    impl: Callable[..., Any] | None = None


#: the longest delay a timer may have: 100 years of milliseconds (a due time must stay a date)
MAX_DELAY_MS = 100 * 365.25 * 24 * 60 * 60 * 1000


def valid_delay(value: Any) -> bool:
    """Is ``value`` a delay a timer can have: a finite number of milliseconds, 0 to 100 years?"""
    return (
        not isinstance(value, bool)
        and isinstance(value, int | float)
        and 0 <= value <= MAX_DELAY_MS  # NaN fails both comparisons
    )


def builtin_from_json(kind: str, params: Any) -> Builtin:
    """The built-in action a JSON definition describes with ``{"type": kind, "params": params}``.

    Raises ``ValueError`` with a user-facing sentence when the params do not fit.
    """
    kind = _XSTATE_ALIASES.get(kind, kind)
    p = params if isinstance(params, Mapping) else {}
    if kind == "assign":
        if not isinstance(params, Mapping):
            raise ValueError("an assign action needs params: a mapping of context keys to values")
        return Assign(dict(params))
    if kind == "raise":
        event = p.get("event")
        if not isinstance(event, str | Mapping):
            raise ValueError("a raise action needs params.event: an event type or an event object")
        delay = p.get("delay")
        if delay is not None and not (isinstance(delay, str) or valid_delay(delay)):
            raise ValueError(
                "params.delay must be a delay name or a finite number of milliseconds from 0 "
                "to 100 years"
            )
        return Raise(event, delay, p.get("id"))
    if kind == "emit":
        event = p.get("event")
        if not isinstance(event, str | Mapping):
            raise ValueError("an emit action needs params.event: an event type or an event object")
        return Emit(event)
    if kind == "log":
        message = p.get("message") if isinstance(params, Mapping) else params
        return Log(None if message is None else str(message))
    if kind == "cancel":
        ident = p.get("id")
        if not isinstance(ident, str):
            raise ValueError("a cancel action needs params.id: the id of the timer to cancel")
        return Cancel(ident)
    raise ValueError(f"'{kind}' is not a built-in action")


def builtin_name(kind: str) -> str | None:
    """The built-in action a type string names (``"xstate.raise"`` -> ``"raise"``), else None."""
    kind = _XSTATE_ALIASES.get(kind, kind)
    return kind if kind in BUILTIN_ACTION_TYPES and kind != "schedule" else None
