"""Actors that invoke child actors and route events between them (SCXML's ``<invoke>`` and ``<send>``).

The pure core asks for three things as actions (``orderflow.io.scxml`` compiles
them from a document):

- ``scxml.invoke`` ``{"id", "src", "content", "data", ...}``: start a child;
- ``scxml.cancel_invoke`` ``{"id"}``: stop it (its invoking state was exited);
- ``scxml.send`` ``{"target", "event", "delay", "id"}``: deliver an event to the
  parent (``#_parent``) or a child (``#_<invoke id>``).

A :class:`SessionActor` performs them.  The runtime does not read documents:
it is given a ``spawn`` function that turns an invoke's parameters into the
child's machine and input.  Children share the parent's clock; every event
between sessions goes through the clock (with no delay), so each session
processes it after its current macrostep, in the order it was sent.  When a
child finishes, its parent receives ``done.invoke.<id>`` with the child's
output.  A cancelled child is stopped, so it sends nothing more.

``get_persisted_snapshot()`` includes each running child's persisted snapshot
(and the invoke that started it), and ``create_session(machine, snapshot=...)``
restores the children with it.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Mapping
from typing import Any

from orderflow.chart import Action, Machine, Snapshot
from orderflow.runtime.actor import RUNNING, Actor, EffectCall, EventLike, Inspector

INVOKE, CANCEL_INVOKE, SEND = "scxml.invoke", "scxml.cancel_invoke", "scxml.send"

#: how deep sessions may invoke sessions (a document that invokes itself stops here)
MAX_DEPTH = 32

#: turns an invoke's parameters into the child's machine and its input
Spawn = Callable[[Mapping[str, Any]], tuple[Machine, Any]]


class SessionActor(Actor):
    """An :class:`Actor` whose machine may invoke child machines (see the module docstring)."""

    def __init__(
        self,
        machine: Machine,
        snapshot: Snapshot | Mapping[str, Any] | None = None,
        clock: Any = None,
        implementations: Mapping[str, Callable[..., Any]] | None = None,
        *,
        input: Any = None,
        inspect: Inspector | None = None,
        spawn: Spawn | None = None,
        parent: SessionActor | None = None,
        invokeid: str | None = None,
    ) -> None:
        children_data: Mapping[str, Any] = {}
        if isinstance(snapshot, Mapping) and "children" in snapshot:
            children_data = snapshot["children"] or {}
            snapshot = {k: v for k, v in snapshot.items() if k != "children"}
        super().__init__(machine, snapshot, clock, implementations, input=input, inspect=inspect)
        self.spawn = spawn
        self.parent = parent
        self.invokeid = invokeid
        self.depth: int = parent.depth + 1 if parent is not None else 0
        self.children: dict[str, SessionActor] = {}
        #: set when the parent cancelled this session's invocation
        self.cancelled = False
        self._invocations: dict[str, Mapping[str, Any]] = {}
        self._pending: list[Mapping[str, Any]] = []
        self._outbound: dict[str, Any] = {}
        self._restore_children = dict(children_data)

    # -- life cycle -------------------------------------------------------------------------

    def start(self) -> SessionActor:
        restoring = self._snapshot is not None
        super().start()
        if restoring:
            for saved in self._restore_children.values():
                self._start_child(saved["invoke"], saved.get("snapshot"))
            self._restore_children = {}
        return self

    def stop(self) -> None:
        for child in list(self.children.values()):
            child.stop()
        self.children.clear()
        for handle in self._outbound.values():
            self.clock.cancel(handle)
        self._outbound.clear()
        super().stop()

    def get_persisted_snapshot(self) -> dict[str, Any]:
        """The snapshot as JSON, with every running child's own persisted snapshot under ``children``."""
        data = super().get_persisted_snapshot()
        data["children"] = {
            ident: {
                "invoke": dict(self._invocations[ident]),
                "snapshot": child.get_persisted_snapshot(),
            }
            for ident, child in self.children.items()
        }
        return data

    # -- what the machine asks for ------------------------------------------------------------

    def _macrostep(self, event: EventLike | None) -> Generator[EffectCall, Any, None]:
        yield from super()._macrostep(event)
        pending, self._pending = self._pending, []
        for params in pending:
            self._start_child(params, None)

    def _effect(self, action: Action) -> Callable[..., Any]:
        if action.type == INVOKE:
            return lambda context, event, params: self._pending.append(params)
        if action.type == CANCEL_INVOKE:
            return lambda context, event, params: self._cancel_child(params["id"])
        if action.type == SEND:
            return lambda context, event, params: self._route(params)
        return super()._effect(action)

    def _apply_timers(self, snapshot: Snapshot, actions: list[Action]) -> Snapshot:
        for action in actions:  # a <cancel> may name a delayed send to another session
            if action.type == "cancel" and action.params["id"] in self._outbound:
                self.clock.cancel(self._outbound.pop(action.params["id"]))
        return super()._apply_timers(snapshot, actions)

    # -- children -----------------------------------------------------------------------------

    def _start_child(self, params: Mapping[str, Any], snapshot: Mapping[str, Any] | None) -> None:
        ident = params["id"]
        if self.spawn is None:
            self._post(self, _error(f"no spawn function to invoke {ident!r}", ident), 0.0)
            return
        if self.depth >= MAX_DEPTH:
            self._post(self, _error(f"{ident!r} would nest sessions {MAX_DEPTH} deep", ident), 0.0)
            return
        try:
            machine, input = self.spawn(params)
        except Exception as exc:  # the child cannot be loaded: SCXML 6.4.3's error.execution
            self._post(self, _error(f"cannot invoke {ident!r}: {exc}", ident), 0.0)
            return
        child = SessionActor(
            machine,
            snapshot,
            self.clock,
            input=input,
            spawn=self.spawn,
            parent=self,
            invokeid=ident,
        )
        self.children[ident] = child
        self._invocations[ident] = params
        child.subscribe(lambda s: self._child_changed(child, s))
        child.start()

    def _cancel_child(self, ident: str) -> None:
        self._pending = [p for p in self._pending if p["id"] != ident]
        child = self.children.pop(ident, None)
        self._invocations.pop(ident, None)
        if child is not None:
            child.cancelled = True
            child.stop()

    def _child_changed(self, child: SessionActor, snapshot: Snapshot) -> None:
        ident = child.invokeid
        assert ident is not None
        if snapshot.status != "done" or self.children.get(ident) is not child or child.cancelled:
            return
        done = {
            "type": f"done.invoke.{ident}",
            "kind": "external",
            "invokeid": ident,
            "data": snapshot.output,
        }
        self._post_from_child(child, done, 0.0)
        child.stop()  # a finished session sends nothing more, delayed sends included (SCXML 6.2)

    # -- routing --------------------------------------------------------------------------------

    def _route(self, params: Mapping[str, Any]) -> None:
        target: str = params["target"]
        event = dict(params["event"])
        delay = float(params.get("delay") or 0.0)
        if target == "#_parent":
            if self.parent is not None:
                self.parent._post_from_child(self, event, delay, params.get("id"))
            return
        child = self.children.get(target[2:]) if target.startswith("#_") else None
        if child is not None:
            self._post(child, event, delay, params.get("id"))

    def _post_from_child(
        self, child: SessionActor, event: dict[str, Any], delay: float, ident: str | None = None
    ) -> None:
        event["invokeid"] = child.invokeid

        # Already on its way when the invocation is cancelled, it still arrives: a cancelled
        # child is stopped, so it sends nothing more (its delayed sends are cancelled too).
        self._later(lambda: self._deliver(event), delay, ident, child)

    def _post(
        self, target: SessionActor, event: dict[str, Any], delay: float, ident: str | None = None
    ) -> None:
        self._later(lambda: target._deliver(event), delay, ident, self)

    def _later(
        self, deliver: Callable[[], None], delay: float, ident: str | None, owner: SessionActor
    ) -> None:
        def fire() -> None:
            if ident is not None:
                owner._outbound.pop(ident, None)
            deliver()

        handle = self.clock.call_later(delay, fire)
        if ident is not None and delay > 0:
            owner._outbound[ident] = handle

    def _deliver(self, event: Mapping[str, Any]) -> None:
        if (
            self.status == RUNNING
            and self._snapshot is not None
            and self._snapshot.status == "active"
        ):
            self.send(dict(event))


def _error(message: str, ident: str) -> dict[str, Any]:
    return {
        "type": "error.execution",
        "kind": "platform",
        "invokeid": ident,
        "data": {"message": message},
    }


def create_session(
    machine: Machine,
    snapshot: Snapshot | Mapping[str, Any] | None = None,
    clock: Any = None,
    *,
    spawn: Spawn | None = None,
    input: Any = None,
    inspect: Inspector | None = None,
) -> SessionActor:
    """A :class:`SessionActor` for ``machine`` (from its start or a persisted snapshot); call ``start()``."""
    return SessionActor(machine, snapshot, clock, input=input, inspect=inspect, spawn=spawn)
