"""Snapshots: the whole state of one record, as a small immutable value that is JSON by construction.

A snapshot holds the XState state value, status, context, output, error,
history values, pending timers and its child actors (each machine child with its
own snapshot, each function actor with its status).  The configuration (the set of active
nodes) is derived from the value and kept alongside for speed; it is
never persisted.  :func:`restore` is the only way back from JSON, and it
checks everything against the machine before it returns.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from pydantic import BaseModel, ValidationError
from pydantic_core import to_jsonable_python

from orderflow.chart.actions import valid_delay
from orderflow.chart.definition import AFTER_PREFIX
from orderflow.chart.nodes import COMPOUND, FINAL, HISTORY, PARALLEL, StateNode
from orderflow.errors import ActorOutputError, InvalidSnapshotError

ACTIVE, DONE, ERROR = "active", "done", "error"
STATUSES = (ACTIVE, DONE, ERROR)


class Machine(Protocol):
    """What a snapshot needs of the machine that made it (``orderflow.chart.machine.Machine``)."""

    @property
    def id(self) -> str: ...
    @property
    def version(self) -> str: ...
    @property
    def root(self) -> StateNode: ...
    @property
    def nodes_by_id(self) -> Mapping[str, StateNode]: ...
    @property
    def schedules_raised_events(self) -> bool: ...
    @property
    def hooks(self) -> Any: ...
    @property
    def spawns(self) -> bool: ...
    @property
    def restored_values(self) -> dict[Any, tuple[frozenset[StateNode], bool]]: ...
    def can(self, snapshot: Snapshot, event: str | Mapping[str, Any]) -> bool: ...
    def validate_context(self, data: Any) -> Any: ...
    def make_snapshot(self, **fields: Any) -> Snapshot: ...
    def snapshot_at(
        self,
        configuration: frozenset[StateNode],
        status: str,
        context: Any,
        output: Any,
        history: Mapping[str, tuple[str, ...]],
        timers: tuple[Timer, ...],
    ) -> Snapshot: ...
    def actor_logic(self, src: str) -> Any: ...


class FrozenValue(dict[str, Any]):
    """A state value mapping that cannot be changed (values are shared between snapshots)."""

    def _refuse(self, *args: Any, **kwargs: Any) -> Any:
        raise TypeError("a snapshot's state value is immutable")

    __setitem__ = __delitem__ = __ior__ = clear = pop = popitem = setdefault = update = _refuse


@dataclass(frozen=True, slots=True)
class Timer:
    """A pending delayed event: ``event`` is due ``delay`` milliseconds after it was scheduled.

    ``due`` is the clock time (milliseconds) at which it fires.  The core has no clock and
    leaves it ``None``; whoever runs the timer (an actor, the timer worker) sets it, so a
    restored snapshot can resume the timer with its remaining time.
    """

    id: str
    event: Mapping[str, Any]
    delay: float
    due: float | None = None

    def to_json(self) -> dict[str, Any]:
        data = {"id": self.id, "event": dict(self.event), "delay": self.delay}
        if self.due is not None:
            data["due"] = self.due
        return data


def with_due(snapshot: Snapshot, armed: Iterable[str], now: float) -> Snapshot:
    """``snapshot`` with the timers ``armed`` now (ids) due at ``now`` + their delay (milliseconds).

    The one rule for due times, pure: the runtime actor and the service give
    it their clock's ``now``; timers not in ``armed`` keep the due they had.
    """
    ids = set(armed)
    if not ids:
        return snapshot
    timers = tuple(replace(t, due=now + t.delay) if t.id in ids else t for t in snapshot.timers)
    return replace(snapshot, timers=timers)


@dataclass(frozen=True, slots=True, eq=False)
class Child:
    """A child actor in its parent's snapshot: XState's ``snapshot.children[id]``, as data.

    A machine child carries its own ``snapshot`` (whose machine records its id and
    version); a function actor (a promise actor) carries its ``status`` and ``input``
    only: the caller runs it.  A function actor that answered stays here until the
    state that invoked it is left (or it is stopped), as in XState: ``done`` with its
    ``output``, or ``error`` with its ``error``, its input dropped (XState persists a
    settled promise actor so).  Compared by identity: two spawns of the same id are
    two children.
    """

    id: str
    src: str
    snapshot: Snapshot | None = None
    status: str = "active"
    input: Any = None
    system_id: str | None = None
    sync_snapshot: bool = False
    #: a function actor's result once it is done, its error once it failed
    output: Any = None
    error: Any = None

    @property
    def is_machine(self) -> bool:
        return self.snapshot is not None

    @property
    def current_status(self) -> str:
        return self.snapshot.status if self.snapshot is not None else self.status

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"src": self.src}
        if self.snapshot is not None:
            data["snapshot"] = self.snapshot.to_json()
        else:
            data["snapshot"] = self._function_json()
        if self.system_id is not None:
            data["systemId"] = self.system_id
        if self.sync_snapshot:
            data["syncSnapshot"] = True
        return data

    def _function_json(self) -> dict[str, Any]:
        """A function actor's snapshot as XState persists a promise actor's.

        Its output or error is written as it is, so that restoring gives the same value
        back: one that is not JSON is refused (:class:`ActorOutputError`), not converted.
        """
        if self.status == "active":
            return {"status": self.status, "input": to_jsonable_python(self.input)}
        key = "output" if self.status == "done" else "error"
        value = self.output if key == "output" else self.error
        problem = json_problem(value, f"$.{key}")
        if problem is not None:
            raise ActorOutputError(self.id, self.src, *problem)
        return {"status": self.status, key: value}

    def same_as(self, other: Child) -> bool:
        return (
            self.src == other.src
            and self.snapshot == other.snapshot
            and self.status == other.status
            and self.input == other.input
            and self.system_id == other.system_id
            and self.sync_snapshot == other.sync_snapshot
            and self.output == other.output
            and self.error == other.error
        )


class _NoChildren(Mapping[str, Child]):
    """The children of a snapshot that has none: one shared, immutable, hashable empty mapping
    (a plain default, so a snapshot of a machine without actors pays nothing for the field)."""

    __slots__ = ()

    def __getitem__(self, key: str) -> Child:
        raise KeyError(key)

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0

    def __hash__(self) -> int:
        return 0

    def __repr__(self) -> str:
        return "{}"


NO_CHILDREN: Mapping[str, Child] = _NoChildren()


@dataclass(frozen=True, slots=True, eq=False)
class Snapshot:
    """The state of one machine instance.  Compare with ``==``; persist with :meth:`to_json`."""

    value: Any
    status: str
    context: Any
    output: Any = None
    error: Any = None
    history: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    timers: tuple[Timer, ...] = ()
    #: the child actors by id (XState's ``snapshot.children``), in the order they started
    children: Mapping[str, Child] = NO_CHILDREN
    machine: Machine | None = field(default=None, repr=False)
    configuration: frozenset[StateNode] = field(default=frozenset(), repr=False)

    def matches(self, state: str | Mapping[str, Any]) -> bool:
        """XState's ``matches``: is ``state`` (a dotted path or a partial value) part of this snapshot's value?"""
        return matches_state(_to_value(state), self.value)

    def child_at(self, path: str) -> Child | None:
        """The entry of the child actor at ``path`` (child ids from this machine, joined by
        ``/``) in ``children``, or None when none runs there (a machine child's own
        snapshot is ``.snapshot``; a function actor has none)."""
        *parents, ident = path.split("/")
        current: Snapshot = self
        for parent in parents:
            entry = current.children.get(parent)
            if entry is None or entry.snapshot is None:
                return None
            current = entry.snapshot
        return current.children.get(ident)

    def can(self, event: str | Mapping[str, Any]) -> bool:
        """Would ``event`` cause a transition (a target or actions) from this snapshot?"""
        return self._machine().can(self, event)

    @property
    def tags(self) -> frozenset[str]:
        return frozenset(tag for node in self.configuration for tag in node.tags)

    def has_tag(self, tag: str) -> bool:
        return tag in self.tags

    def get_meta(self) -> dict[str, Any]:
        """XState's ``getMeta()``: the ``meta`` of each active state node that has one, by state id.

        The machine itself counts (under its id) when its config has ``meta``; the
        states come in document order.
        """
        return {
            node.id: node.meta
            for node in sorted(self.configuration, key=lambda node: node.order)
            if node.meta is not None
        }

    def to_json(self) -> dict[str, Any]:
        """A plain JSON-able dict that :meth:`Machine.resolve_snapshot` restores."""
        machine = self._machine()
        data = {
            "machine": machine.id,
            "version": machine.version,
            "value": _plain(self.value),
            "status": self.status,
            "context": context_to_json(self.context),
            "history": {key: list(ids) for key, ids in self.history.items()},
            "timers": [timer.to_json() for timer in self.timers],
            "output": to_jsonable_python(self.output),
            "error": self.error,
        }
        if self.children is not NO_CHILDREN and self.children:
            data["children"] = {key: child.to_json() for key, child in self.children.items()}
        return data

    def _machine(self) -> Machine:
        if self.machine is None:
            raise RuntimeError(
                "this snapshot was not made by a machine; use machine.resolve_snapshot(data)"
            )
        return self.machine

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Snapshot):
            return NotImplemented
        return (
            self.value == other.value
            and self.status == other.status
            and self.context == other.context
            and self.output == other.output
            and self.error == other.error
            and dict(self.history) == dict(other.history)
            and self.timers == other.timers
            and _same_children(self.children, other.children)
        )

    __hash__ = None  # type: ignore[assignment]


_SLOTS = ("value", "status", "context", "output", "error", "history", "timers", "children",
          "machine", "configuration")  # fmt: skip
_SETTERS = tuple(getattr(Snapshot, name).__set__ for name in _SLOTS)
_new = object.__new__


def new_snapshot(
    value: Any,
    status: str,
    context: Any,
    output: Any,
    error: Any,
    history: Mapping[str, tuple[str, ...]],
    timers: tuple[Timer, ...],
    children: Mapping[str, Child],
    machine: Machine | None,
    configuration: frozenset[StateNode],
) -> Snapshot:
    """``Snapshot(...)`` with every field given, about twice as fast (the hot path's constructor).

    A frozen dataclass sets each field through ``object.__setattr__``; this sets the slots
    directly.  It checks nothing: callers give what ``Snapshot(...)`` would be given.
    """
    snapshot = _new(Snapshot)
    s_value, s_status, s_context, s_output, s_error, s_history, s_timers, s_children, s_machine, \
        s_configuration = _SETTERS  # fmt: skip
    s_value(snapshot, value)
    s_status(snapshot, status)
    s_context(snapshot, context)
    s_output(snapshot, output)
    s_error(snapshot, error)
    s_history(snapshot, history)
    s_timers(snapshot, timers)
    s_children(snapshot, children)
    s_machine(snapshot, machine)
    s_configuration(snapshot, configuration)
    return snapshot


def _same_children(a: Mapping[str, Child], b: Mapping[str, Child]) -> bool:
    if a is b:
        return True
    return list(a) == list(b) and all(a[key].same_as(b[key]) for key in a)


def context_to_json(context: Any) -> Any:
    if isinstance(context, BaseModel):
        return context.model_dump(mode="json")
    return to_jsonable_python(context)


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _to_value(state: str | Mapping[str, Any]) -> Any:
    if isinstance(state, str):
        keys = state.split(".")
        value: Any = keys[-1]
        for key in reversed(keys[:-1]):
            value = {key: value}
        return value
    return state


def matches_state(parent: Any, child: Any) -> bool:
    """Whether the (partial) value ``parent`` is contained in the value ``child`` (XState's ``matchesState``)."""
    if isinstance(child, str):
        return isinstance(parent, str) and parent == child
    if isinstance(parent, str):
        return parent in child
    return all(key in child and matches_state(sub, child[key]) for key, sub in parent.items())


# -- value <-> configuration --------------------------------------------------------------


def state_value(root: StateNode, configuration: Iterable[StateNode]) -> Any:
    """The XState state value of a configuration (XState's ``getStateValue``)."""
    active = set(configuration)
    return _value_below(root, active)


def _value_below(node: StateNode, active: set[StateNode]) -> Any:
    children = [c for c in node.children if c in active]
    if not children:
        return FrozenValue()
    if node.type == COMPOUND and children[0].is_atomic:
        return children[0].key
    return FrozenValue({c.key: _value_below(c, active) for c in children})


def configuration_from_value(root: StateNode, value: Any) -> frozenset[StateNode]:
    """The configuration a complete state value names, or :class:`InvalidSnapshotError` saying why not."""
    active: set[StateNode] = {root}
    _parse_value(root, value, active, "$.value")
    return frozenset(active)


def _is_mapping(value: Any) -> bool:
    return type(value) is dict or isinstance(
        value, Mapping
    )  # the exact check first: it is much cheaper


def _parse_value(node: StateNode, value: Any, active: set[StateNode], path: str) -> None:
    if node.is_atomic:
        if value != {}:
            raise InvalidSnapshotError(
                f"'{node.id}' has no child states, but the value has {value!r}", path
            )
        return
    states = node.by_key
    if node.type == PARALLEL:
        if not _is_mapping(value) or set(value) != set(states):
            raise InvalidSnapshotError(
                f"parallel state '{node.id}' needs every region active: {sorted(states)}; got {value!r}",
                path,
            )
        for key, sub in value.items():
            active.add(states[key])
            _parse_value(states[key], sub, active, f"{path}.{key}")
        return
    if isinstance(value, str):
        child = states.get(value)
        if child is None:
            raise InvalidSnapshotError(f"'{node.id}' has no child state '{value}'", path)
        if not child.is_atomic:
            raise InvalidSnapshotError(
                f"'{child.id}' has child states; the value must say which are active", path
            )
        active.add(child)
        return
    if not _is_mapping(value) or len(value) != 1:
        raise InvalidSnapshotError(
            f"compound state '{node.id}' must have exactly one active child; got {value!r}", path
        )
    ((key, sub),) = value.items()
    child = states.get(key)
    if child is None:
        raise InvalidSnapshotError(f"'{node.id}' has no child state '{key}'", path)
    if child.is_atomic:
        raise InvalidSnapshotError(f"'{child.id}' is atomic; write it as the string '{key}'", path)
    active.add(child)
    _parse_value(child, sub, active, f"{path}.{key}")


def is_in_final_state(configuration: Iterable[StateNode], node: StateNode) -> bool:
    """SCXML's isInFinalState: a compound with an active final child, or a parallel whose regions all are."""
    active = configuration if isinstance(configuration, set | frozenset) else set(configuration)
    if node.type == COMPOUND:
        return any(c.type == FINAL and c in active for c in node.children)
    if node.type == PARALLEL:
        return all(is_in_final_state(active, c) for c in node.states)
    return node.type == FINAL


# -- restoring from JSON ----------------------------------------------------------------------

_KNOWN_KEYS = frozenset(
    {"machine", "version", "value", "status", "context", "history", "timers", "output", "error",
     "children"}
)  # fmt: skip
_CHILD_KEYS = frozenset({"src", "snapshot", "systemId", "syncSnapshot"})
#: what a function actor's persisted snapshot holds, by its status: its input while it
#: runs, then its output (done) or its error (error), as XState persists a promise actor
_FUNCTION_CHILD_KEYS = {"active": frozenset({"status", "input"}),
                        "done": frozenset({"status", "output"}),
                        "error": frozenset({"status", "error"})}  # fmt: skip
#: how deeply machine children may nest in a restored snapshot
MAX_CHILD_DEPTH = 16
_TIMER_KEYS = frozenset({"id", "event", "delay", "due"})
#: how deeply a restored context may nest (deeper ones cannot be written back as JSON)
MAX_CONTEXT_DEPTH = 64
#: the latest due time a timer may have: the end of year 9999, in milliseconds since 1970
MAX_DUE_MS = 253_402_300_799_999


def restore(machine: Machine, data: Any, _depth: int = 0) -> Snapshot:
    """Validate a persisted snapshot against ``machine`` and rebuild it; never returns one that lies.

    Machine children are restored by their own machines, recursively; an error inside
    one names its place (``$.children.<id>.snapshot...``).
    """
    if type(data) is dict and _depth == 0:
        quick = _restore_settled(machine, data)
        if quick is not None:
            return quick
    if not isinstance(data, Mapping):
        raise InvalidSnapshotError(
            f"a persisted snapshot must be a JSON object, not {type(data).__name__}"
        )
    unknown = set(data) - _KNOWN_KEYS
    if unknown:
        raise InvalidSnapshotError(f"unknown keys {sorted(unknown)}")
    for key in ("machine", "version"):  # without them, another machine's snapshot could pass
        if key not in data:
            raise InvalidSnapshotError(
                f"the snapshot does not say which machine {'version ' if key == 'version' else ''}"
                f"wrote it ('{key}'); restore only what snapshot.to_json() wrote",
                f"$.{key}",
            )
    if data["machine"] != machine.id:
        raise InvalidSnapshotError(
            f"this snapshot belongs to machine '{data['machine']}', not '{machine.id}'", "$.machine"
        )
    if str(data["version"]) != machine.version:
        raise InvalidSnapshotError(
            f"this snapshot was written by definition version '{data['version']}', and this machine is "
            f"version '{machine.version}'; register a migration for it",
            "$.version",
        )
    for key in ("value", "context"):
        if key not in data:
            raise InvalidSnapshotError(f"the snapshot has no '{key}'")
    configuration, final = _restore_value(machine, data["value"])
    status = data.get("status", DONE if final else ACTIVE)
    if status not in STATUSES:
        raise InvalidSnapshotError(
            f"status must be one of {list(STATUSES)}, not {status!r}", "$.status"
        )
    if final and status == ACTIVE:
        raise InvalidSnapshotError(
            "the value is a final state of the machine, so the status cannot be 'active'",
            "$.status",
        )
    if status == DONE and not final:
        raise InvalidSnapshotError(
            "the status is 'done' but the value is not a final state of the machine", "$.status"
        )
    _check_depth(data["context"], "$.context")
    try:
        context = machine.validate_context(data["context"])
    except (ValidationError, TypeError, ValueError) as exc:
        raise InvalidSnapshotError(
            f"the context does not fit the machine's context model: {exc}", "$.context"
        ) from exc
    if machine.hooks is not None:  # what a format keeps in the context (SCXML's session)
        machine.hooks.check_restored(context, configuration)
    history = _restore_history(machine, data.get("history") or {})
    timers = _restore_timers(machine, data.get("timers") or [], configuration)
    error = data.get("error")
    if error is not None and status != ERROR:
        raise InvalidSnapshotError(
            "only a snapshot with status 'error' can carry an error", "$.error"
        )
    if status == ERROR and not isinstance(error, Mapping):
        raise InvalidSnapshotError(
            "a snapshot with status 'error' must say what the error was", "$.error"
        )
    if data.get("output") is not None and status != DONE:
        raise InvalidSnapshotError("only a finished (done) snapshot can have an output", "$.output")
    fields: dict[str, Any] = {}
    children = data.get("children")
    if children is not None and not isinstance(children, Mapping):
        raise InvalidSnapshotError("children must map child ids to children", "$.children")
    if children:
        if status != ACTIVE:
            raise InvalidSnapshotError(
                "a machine that is done or in error has stopped its children", "$.children"
            )
        fields["children"] = _restore_children(machine, data["children"], configuration, _depth)
    return machine.make_snapshot(
        status=status,
        context=context,
        output=data.get("output"),
        error=error,
        history=history,
        timers=timers,
        configuration=configuration,
        **fields,
    )


def _restore_settled(machine: Machine, data: dict[str, Any]) -> Snapshot | None:
    """The common case of :func:`restore` checked in a few lookups, or ``None`` for the full route.

    An active snapshot with a state value restored before (so checked before), no
    history, timers, output, error or children, of this machine and version: only its
    context is left to check, as the full route checks it.
    """
    if not data.keys() <= _KNOWN_KEYS or machine.hooks is not None:
        return None
    get = data.get
    children = get("children")
    if children is not None and (type(children) is not dict or children):
        return None
    if (
        get("history") or get("timers") or get("output") is not None
        or get("error") is not None or get("status", ACTIVE) != ACTIVE
        or get("machine") != machine.id or get("version") != machine.version
        or "context" not in data
    ):  # fmt: skip
        return None
    value = data.get("value")
    key = value if type(value) is str else _value_key(value, 0)
    known = machine.restored_values.get(key) if key is not None else None
    if known is None or known[1]:  # a value not seen yet, or a final one (its status is done)
        return None
    context = data["context"]
    if type(context) is dict:
        for item in context.values():
            if type(item) not in _SCALARS:  # a flat context of scalars cannot nest too deeply
                _check_depth(context, "$.context")
                break
    else:
        _check_depth(context, "$.context")
    try:
        context = machine.validate_context(context)
    except (ValidationError, TypeError, ValueError) as exc:
        raise InvalidSnapshotError(
            f"the context does not fit the machine's context model: {exc}", "$.context"
        ) from exc
    return machine.snapshot_at(known[0], ACTIVE, context, None, {}, ())


def _restore_children(
    machine: Machine, data: Any, configuration: frozenset[StateNode], depth: int
) -> Mapping[str, Child]:
    """Children this configuration could have: its states' invocations, or spawned ones.

    A child of an active state's ``invoke`` must have that invocation's actor; any other
    child needs a machine that spawns children and an actor it knows.
    """
    if not isinstance(data, Mapping):
        raise InvalidSnapshotError("children must map child ids to children", "$.children")
    if depth >= MAX_CHILD_DEPTH:
        raise InvalidSnapshotError(
            f"children nest deeper than {MAX_CHILD_DEPTH} levels", "$.children"
        )
    invoked = {i.id: i for node in configuration for i in node.invoke}
    children: dict[str, Child] = {}
    system_ids: set[str] = set()
    for ident, item in data.items():
        path = f"$.children.{ident}"
        if not isinstance(ident, str) or not ident or "/" in ident:
            raise InvalidSnapshotError(
                "a child's id is a non-empty string without '/' (a path joins ids with '/')", path
            )
        if not isinstance(item, Mapping) or not isinstance(item.get("src"), str):
            raise InvalidSnapshotError("a child needs its actor's name ('src')", path)
        extra = set(item) - _CHILD_KEYS
        if extra:
            raise InvalidSnapshotError(f"a child has unknown fields {sorted(extra)}", path)
        src = item["src"]
        invocation = invoked.get(ident)
        if invocation is not None and invocation.src != src:
            raise InvalidSnapshotError(
                f"child '{ident}' is invoked with actor '{invocation.src}', not '{src}'",
                f"{path}.src",
            )
        if invocation is None and not machine.spawns:
            raise InvalidSnapshotError(
                f"'{ident}' is no invocation of an active state, and machine '{machine.id}' "
                "spawns no children",
                path,
            )
        logic = machine.actor_logic(src)
        if logic is None:
            raise InvalidSnapshotError(
                f"machine '{machine.id}' has no actor '{src}'", f"{path}.src"
            )
        system_id = item.get("systemId")
        if system_id is not None:
            if not isinstance(system_id, str) or not system_id or system_id in system_ids:
                raise InvalidSnapshotError(
                    "a child's systemId must be a string no other child has", f"{path}.systemId"
                )
            system_ids.add(system_id)
        sync = item.get("syncSnapshot", False)
        if not isinstance(sync, bool):
            raise InvalidSnapshotError("syncSnapshot must be true or false", f"{path}.syncSnapshot")
        if invocation is not None and system_id != invocation.system_id:
            raise InvalidSnapshotError(
                f"child '{ident}' is invoked with systemId {invocation.system_id!r}, "
                f"not {system_id!r}",
                f"{path}.systemId",
            )
        if invocation is not None and sync != invocation.sync_snapshot:
            raise InvalidSnapshotError(
                f"child '{ident}' is invoked with syncSnapshot {invocation.sync_snapshot}, "
                f"not {sync}",
                f"{path}.syncSnapshot",
            )
        state = item.get("snapshot")
        if not isinstance(state, Mapping):
            raise InvalidSnapshotError("a child needs its snapshot", f"{path}.snapshot")
        if hasattr(logic, "resolve_snapshot"):  # a machine: its own restore, recursively
            try:
                child_snapshot = restore(logic, state, depth + 1)
            except InvalidSnapshotError as exc:
                message = str(exc)[len(exc.path) + 2 :]
                raise InvalidSnapshotError(message, f"{path}.snapshot{exc.path[1:]}") from exc
            children[ident] = Child(ident, src, child_snapshot, system_id=system_id,
                                    sync_snapshot=sync)  # fmt: skip
            continue
        children[ident] = _function_child(ident, src, state, system_id, sync, path)
    return FrozenValue(children)


def _function_child(
    ident: str, src: str, state: Mapping[str, Any], system_id: str | None, sync: bool, path: str
) -> Child:
    """A function actor restored: running with its input, done with its output, or failed
    with its error."""
    child_status = state.get("status")
    allowed = _FUNCTION_CHILD_KEYS.get(child_status) if isinstance(child_status, str) else None
    if allowed is None or set(state) - allowed:
        raise InvalidSnapshotError(
            "a function actor's snapshot is its status with its input (active), "
            "its output (done) or its error (error)",
            f"{path}.snapshot",
        )
    for key in ("input", "output", "error"):
        _check_depth(state.get(key), f"{path}.snapshot.{key}")
    return Child(ident, src, None, str(child_status), state.get("input"), system_id, sync,
                 output=state.get("output"), error=state.get("error"))  # fmt: skip


def json_problem(value: Any, path: str) -> tuple[str, str] | None:
    """The JSON path and a description of the first value in ``value`` that is not JSON, if any.

    JSON is what a snapshot persists and gives back unchanged: None, a bool, an int, a finite
    float, a string, a list, a mapping with string keys.
    """
    if value is None or isinstance(value, bool | int | str):
        return None
    if isinstance(value, float):
        return None if math.isfinite(value) else (path, f"the number {value!r} is not finite")
    if isinstance(value, list):
        return next(
            (p for i, v in enumerate(value) if (p := json_problem(v, f"{path}[{i}]"))), None
        )
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                return path, f"the key {key!r} is not a string"
            if (found := json_problem(item, f"{path}.{key}")) is not None:
                return found
        return None
    return path, f"a {type(value).__name__} is not a JSON value"


def _restore_value(machine: Machine, value: Any) -> tuple[frozenset[StateNode], bool]:
    """The configuration a persisted value names, and whether the machine is in a final state.

    A value met before is not parsed again: the machine keeps, by a key made of the value's
    own strings, what a value that passed every check gave (bounded; others are parsed).
    """
    key = _value_key(value, 0)
    known = machine.restored_values.get(key) if key is not None else None
    if known is not None:
        return known
    configuration = configuration_from_value(machine.root, value)
    result = (configuration, is_in_final_state(configuration, machine.root))
    if key is not None and len(machine.restored_values) < 4096:
        machine.restored_values[key] = result
    return result


def _value_key(value: Any, depth: int) -> Any:
    """A hashable copy of a state value made of strings and dicts only, else ``None``."""
    if type(value) is str:
        return value
    if type(value) is not dict or depth > 32:
        return None
    items = []
    for key, child in value.items():
        child_key = _value_key(child, depth + 1)
        if type(key) is not str or child_key is None:
            return None
        items.append((key, child_key))
    return tuple(items)


def _restore_history(machine: Machine, data: Any) -> dict[str, tuple[str, ...]]:
    if not isinstance(data, Mapping):
        raise InvalidSnapshotError(
            "history must map history state ids to lists of state ids", "$.history"
        )
    history: dict[str, tuple[str, ...]] = {}
    for key, ids in data.items():
        path = f"$.history.{key}"
        node = machine.nodes_by_id.get(key)
        if node is None or node.type != HISTORY or node.parent is None:
            raise InvalidSnapshotError(f"'{key}' is not a history state of this machine", path)
        if not isinstance(ids, list) or not ids or not all(isinstance(i, str) for i in ids):
            raise InvalidSnapshotError(
                "a history value must be a non-empty list of state ids", path
            )
        parent = node.parent
        remembered = []
        for ident in ids:
            target = machine.nodes_by_id.get(ident)
            if target is None or not target.is_descendant_of(parent) or target.type == HISTORY:
                raise InvalidSnapshotError(f"'{ident}' is not a state inside '{parent.id}'", path)
            if node.history == "shallow" and target.parent is not parent:
                raise InvalidSnapshotError(
                    f"shallow history remembers children of '{parent.id}' only", path
                )
            if node.history == "deep" and not target.is_atomic:
                raise InvalidSnapshotError("deep history remembers atomic states only", path)
            remembered.append(target)
        _check_consistent(remembered, path)
        history[key] = tuple(ids)
    return history


def _check_consistent(nodes: list[StateNode], path: str) -> None:
    """Remembered states must be able to be active together."""
    for i, a in enumerate(nodes):
        for b in nodes[i + 1 :]:
            lca = next((x for x in a.ancestors if b.is_descendant_of(x)), None)
            if a is b or lca is None or lca.type != PARALLEL:
                raise InvalidSnapshotError(f"'{a.id}' and '{b.id}' cannot be active together", path)


_SCALARS = frozenset({str, int, float, bool, type(None)})


def _check_depth(value: Any, path: str) -> None:
    """Refuse a value nested deeper than :data:`MAX_CONTEXT_DEPTH`, without recursing into it."""
    pending = [(value, 0)]
    while pending:
        item, depth = pending.pop()
        if type(item) in _SCALARS:  # most of a context: no ABC check needed
            continue
        if isinstance(item, Mapping):
            children: Iterable[Any] = item.values()
        elif isinstance(item, list | tuple):
            children = item
        else:
            continue
        if depth >= MAX_CONTEXT_DEPTH:
            raise InvalidSnapshotError(f"nests deeper than {MAX_CONTEXT_DEPTH} levels", path)
        pending.extend((child, depth + 1) for child in children)


def _restore_timers(
    machine: Machine, data: Any, configuration: frozenset[StateNode]
) -> tuple[Timer, ...]:
    """Timers the machine could have scheduled, of the right shapes, with sane times.

    An ``after`` timer belongs to an active state and carries exactly that
    state's ``after`` event (and its delay, when the definition fixes it);
    any other timer needs a machine that raises events with a delay.
    """
    own_after = {d.event_type: d.delay for node in configuration for d in node.after}
    if not isinstance(data, list):
        raise InvalidSnapshotError("timers must be a list", "$.timers")
    timers = []
    seen = set()
    for index, item in enumerate(data):
        path = f"$.timers[{index}]"
        if (
            not isinstance(item, Mapping)
            or not isinstance(item.get("id"), str)
            or not isinstance(item.get("event"), Mapping)
            or not isinstance(item["event"].get("type"), str)
            or not isinstance(item.get("delay"), int | float)
            or isinstance(item.get("delay"), bool)
        ):
            raise InvalidSnapshotError(
                "a timer needs a string id, an event with a string type and a numeric delay", path
            )
        extra = set(item) - _TIMER_KEYS
        if extra:
            raise InvalidSnapshotError(f"a timer has unknown fields {sorted(extra)}", path)
        if not valid_delay(item["delay"]):
            raise InvalidSnapshotError(
                f"a timer's delay must be a finite number of milliseconds from 0 to 100 years, "
                f"not {item['delay']!r}",
                f"{path}.delay",
            )
        event_type = item["event"]["type"]
        if item["id"].startswith(AFTER_PREFIX) or event_type.startswith(AFTER_PREFIX):
            if item["id"] not in own_after:
                raise InvalidSnapshotError(
                    f"timer '{item['id']}' belongs to a state that is not active", path
                )
            if dict(item["event"]) != {"type": item["id"]}:
                raise InvalidSnapshotError(
                    f"timer '{item['id']}' must carry its own event {{'type': '{item['id']}'}}, "
                    f"not {dict(item['event'])!r}",
                    f"{path}.event",
                )
            fixed = own_after[item["id"]]
            if not isinstance(fixed, str) and float(item["delay"]) != fixed:
                raise InvalidSnapshotError(
                    f"timer '{item['id']}' is defined with a delay of {fixed:g} ms, not "
                    f"{item['delay']!r}",
                    f"{path}.delay",
                )
        elif not machine.schedules_raised_events:
            raise InvalidSnapshotError(
                f"timer '{item['id']}' is no 'after' timer of an active state, and machine "
                f"'{machine.id}' raises no event with a delay",
                path,
            )
        if item["id"] in seen:
            raise InvalidSnapshotError(f"two timers share the id '{item['id']}'", path)
        seen.add(item["id"])
        due = item.get("due")
        if due is not None and (
            isinstance(due, bool) or not isinstance(due, int | float) or not 0 <= due <= MAX_DUE_MS
        ):
            raise InvalidSnapshotError(
                "a timer's due time must be milliseconds since 1970 up to the year 9999, "
                f"not {due!r}",
                f"{path}.due",
            )
        timers.append(Timer(item["id"], dict(item["event"]), float(item["delay"]), due))
    return tuple(timers)
