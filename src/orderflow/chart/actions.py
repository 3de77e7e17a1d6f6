"""Actions: what a definition says to do, and the records a transition returns.

A definition names actions (``"entry": ["notify"]``) or uses the built-ins
``assign``, ``raise``, ``emit``, ``log`` and ``cancel``, and the actor built-ins
``spawnChild``, ``stopChild``, ``sendTo``, ``sendParent``, ``forwardTo`` and
``enqueueActions`` (what they do to children is ``actors.py``'s and ``system.py``'s business).  Compiling turns each
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

from orderflow.chart.events import TypedEvent

#: Action types the engine itself understands; no implementation may take these names.
ACTOR_ACTION_TYPES = frozenset(
    {"spawnChild", "stopChild", "sendTo", "sendParent", "forwardTo", "enqueueActions"}
)
BUILTIN_ACTION_TYPES = (
    frozenset({"assign", "raise", "emit", "log", "cancel", "schedule", "start_actor", "stop_actor"})
    | ACTOR_ACTION_TYPES
)
_XSTATE_ALIASES = {f"xstate.{name}": name for name in BUILTIN_ACTION_TYPES}

# A value given to a built-in may be computed: callable(context, event, params).
Computed = Callable[[Any, Any, Any], Any]


@dataclass(frozen=True, slots=True)
class Action:
    """One thing for the caller to do, in the order the transition produced it.

    ``type`` is the action's name (``"notify"``) or a built-in record type
    (``"emit"``, ``"log"``, ``"schedule"``, ``"cancel"``, and for actors that are
    not machines ``"start_actor"`` / ``"stop_actor"``); ``params`` are its resolved
    parameters; ``event`` is the event that caused it, the
    :class:`~orderflow.chart.events.TypedEvent` the action's implementation receives
    (its JSON is ``event.data``).  ``actor`` is
    the path of the child machine that did it (ids joined by ``/``), empty for
    the machine itself.
    """

    type: str
    params: Any
    event: TypedEvent[Any]
    actor: str = ""

    def to_json(self) -> dict[str, Any]:
        data = {"type": self.type, "params": self.params, "event": dict(self.event.data)}
        if self.actor:
            data["actor"] = self.actor
        return data


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


@dataclass(frozen=True, slots=True)
class SpawnChild:
    """Start a child actor (XState's ``spawnChild``; an ``invoke`` compiles to one).

    ``src`` names an actor given to ``setup(actors=...)``: a machine (the child
    lives in the snapshot's ``children``) or a function (a promise actor: the
    caller runs it from a ``start_actor`` record).  ``input`` may be computed:
    ``callable(context, event, params)``.  ``sync_snapshot`` sends the parent an
    ``xstate.snapshot.<id>`` event with every snapshot of a machine child.
    """

    src: str
    id: str | Computed | None = None
    system_id: str | None = None
    input: Any = None
    sync_snapshot: bool = False


@dataclass(frozen=True, slots=True)
class StopChild:
    """Stop a child actor by id (XState's ``stopChild``); a missing child is no error."""

    id: str | Computed


@dataclass(frozen=True, slots=True)
class SendTo:
    """Send an event to a child (by id, or computed), or to an actor by its ``system_id``.

    ``event`` is ``None`` for XState's ``forwardTo``: the current event, as it is.
    """

    to: str | Computed | None
    event: Mapping[str, Any] | str | Computed | None
    system_id: str | None = None


@dataclass(frozen=True, slots=True)
class SendParent:
    """Send an event to the machine that started this one (XState's ``sendParent``)."""

    event: Mapping[str, Any] | str | Computed


@dataclass(frozen=True, slots=True)
class EnqueueActions:
    """Decide the actions at run time (XState's ``enqueueActions``).

    ``build(enqueue, context, event)`` calls ``enqueue(action)`` for each action
    to run, in order: a built-in (``assign(...)``, ``send_to(...)``, ...) or the
    name of an effect (``enqueue("notify", {"to": "ops"})``).
    """

    build: Callable[..., None]


Builtin = (
    Assign | Raise | Emit | Log | Cancel | Block | SpawnChild | StopChild | SendTo | SendParent
    | EnqueueActions
)  # fmt: skip


def spawn_child(
    src: str,
    *,
    id: str | Computed | None = None,
    system_id: str | None = None,
    input: Any = None,
    sync_snapshot: bool = False,
) -> SpawnChild:
    """Build a spawnChild action, as XState's ``spawnChild``."""
    return SpawnChild(src, id, system_id, input, sync_snapshot)


def stop_child(id: str | Computed) -> StopChild:
    """Build a stopChild action, as XState's ``stopChild``."""
    return StopChild(id)


def send_to(
    to: str | Computed | None,
    event: Mapping[str, Any] | str | Computed,
    *,
    system_id: str | None = None,
) -> SendTo:
    """Build a sendTo action: to a child id (``to``) or to an actor's ``system_id``."""
    return SendTo(to, event, system_id)


def send_parent(event: Mapping[str, Any] | str | Computed) -> SendParent:
    """Build a sendParent action, as XState's ``sendParent``."""
    return SendParent(event)


def forward_to(to: str | Computed | None = None, *, system_id: str | None = None) -> SendTo:
    """Build a forwardTo action: the current event, to a child or an actor's ``system_id``."""
    return SendTo(to, None, system_id)


def enqueue_actions(build: Callable[..., None]) -> EnqueueActions:
    """Build an enqueueActions action: ``build(enqueue, context, event)`` enqueues the actions."""
    return EnqueueActions(build)


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
    if kind in ACTOR_ACTION_TYPES:
        return _actor_builtin_from_json(kind, p)
    raise ValueError(f"'{kind}' is not a built-in action")


def _actor_builtin_from_json(kind: str, p: Mapping[str, Any]) -> Builtin:
    """spawnChild, stopChild, sendTo, sendParent, forwardTo from their JSON params.

    A key the action does not take is refused: a misspelt ``systemId`` would otherwise be
    dropped without a word.
    """
    unknown = sorted(str(key) for key in p if key not in _ACTOR_PARAMS.get(kind, p))
    if unknown:
        raise ValueError(
            f"a {kind} action takes params {', '.join(sorted(_ACTOR_PARAMS[kind] - {'delay'}))}; "
            f"not {', '.join(repr(key) for key in unknown)}"
        )
    if kind == "spawnChild":
        src = p.get("src")
        if not isinstance(src, str) or not src:
            raise ValueError("a spawnChild action needs params.src: the name of an actor")
        ident = p.get("id")
        if ident is not None and not _valid_child_id(ident):
            raise ValueError("params.id must be a non-empty string without '/'")
        system_id = p.get("systemId")
        if system_id is not None and not (isinstance(system_id, str) and system_id):
            raise ValueError("params.systemId must be a non-empty string")
        return SpawnChild(src, ident, system_id, p.get("input"), bool(p.get("syncSnapshot")))
    if kind == "stopChild":
        ident = p.get("id")
        if not isinstance(ident, str) or not ident:
            raise ValueError("a stopChild action needs params.id: the id of the child to stop")
        return StopChild(ident)
    if kind == "sendParent":
        event = p.get("event")
        if not isinstance(event, str | Mapping):
            raise ValueError("a sendParent action needs params.event: an event type or object")
        return SendParent(event)
    if kind == "enqueueActions":
        raise ValueError(
            "enqueueActions decides its actions in code: register enqueue_actions(build) "
            "under a name with setup(actions=...) and name it"
        )
    to, system_id = p.get("to"), p.get("systemId")
    if (to is None) == (system_id is None) or not all(
        v is None or (isinstance(v, str) and v) for v in (to, system_id)
    ):
        raise ValueError(f"a {kind} action needs exactly one of params.to (a child id) or "
                         "params.systemId (an actor's system id)")  # fmt: skip
    if kind == "forwardTo":
        return SendTo(to, None, system_id)
    event = p.get("event")
    if not isinstance(event, str | Mapping):
        raise ValueError("a sendTo action needs params.event: an event type or an event object")
    if "delay" in p:
        raise ValueError("sendTo with a delay is not supported; raise a delayed event and "
                         "send it when it arrives")  # fmt: skip
    return SendTo(to, event, system_id)


#: the params each actor built-in takes in JSON (sendTo's delay is refused with its own reason)
_ACTOR_PARAMS: dict[str, frozenset[str]] = {
    "spawnChild": frozenset({"src", "id", "systemId", "input", "inputFrom", "syncSnapshot"}),
    "stopChild": frozenset({"id"}),
    "sendParent": frozenset({"event"}),
    "sendTo": frozenset({"to", "systemId", "event", "delay"}),
    "forwardTo": frozenset({"to", "systemId"}),
}


def _valid_child_id(value: Any) -> bool:
    return isinstance(value, str) and bool(value) and "/" not in value


def builtin_name(kind: str) -> str | None:
    """The built-in action a type string names (``"xstate.raise"`` -> ``"raise"``), else None."""
    kind = _XSTATE_ALIASES.get(kind, kind)
    return kind if kind in BUILTIN_ACTION_TYPES and kind not in _RECORD_TYPES else None


#: record types the engine returns that no definition writes as an action
_RECORD_TYPES = frozenset({"schedule", "start_actor", "stop_actor"})
