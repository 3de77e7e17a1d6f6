"""SCXML's ``<invoke>`` and ``<send>`` between sessions, on the runtime's one child mechanism.

The pure core asks for three things as records (``orderflow.io.scxml``
compiles them from a document):

- ``scxml.invoke`` ``{"id", "src", "content", "data", ...}``: start a child;
- ``scxml.cancel_invoke`` ``{"id"}``: stop it (its invoking state was exited);
- ``scxml.send`` ``{"target", "event", "delay", "id"}``: deliver an event to the
  parent (``#_parent``) or a child (``#_<invoke id>``).

Every :class:`~orderflow.runtime.actor.Actor` performs them through its
:class:`Sessions`: an invoked session is a child actor kept in the actor's
:class:`~orderflow.runtime.children.Children` beside its function actors,
started after the macrostep that asked for it and stopped like any other
child.  The runtime does not read documents: the actor is given a ``spawn``
function that turns an invoke's parameters into the child's machine and
input.  Children share the parent's clock and its inspection hook; every
event between sessions goes through the clock (with no delay), so each
session processes it after its current macrostep, in the order it was sent.
When a child finishes, its parent receives ``done.invoke.<id>`` with the
child's output.  A cancelled child is stopped, so it sends nothing more.

The actor's persisted snapshot carries each running session's persisted
snapshot (and the invoke that started it) under ``children``, and an actor
restored from it starts them again.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from orderflow.chart import Action, Machine
from orderflow.runtime.children import Session

INVOKE, CANCEL_INVOKE, SEND = "scxml.invoke", "scxml.cancel_invoke", "scxml.send"
RECORDS = frozenset((INVOKE, CANCEL_INVOKE, SEND))

#: how deep sessions may invoke sessions (a document that invokes itself stops here)
MAX_DEPTH = 32

#: turns an invoke's parameters into the child's machine and its input
Spawn = Callable[[Mapping[str, Any]], tuple[Machine, Any]]


class Sessions:
    """One actor's side of SCXML sessions: its invocations, its delayed sends to other sessions."""

    def __init__(self, actor: Any, saved: Mapping[str, Any]) -> None:
        self.actor = actor
        self._pending: list[Mapping[str, Any]] = []
        self._outbound: dict[str, Any] = {}  # send id -> clock handle, for <cancel>
        self._saved = dict(saved)

    # -- the records ------------------------------------------------------------------------------

    def perform(self, action: Action) -> None:
        """Perform one ``scxml.*`` record of the actor's macrostep."""
        params = action.params
        if action.type == INVOKE:
            self._pending.append(params)  # SCXML starts invocations once the macrostep settled
        elif action.type == CANCEL_INVOKE:
            self._pending = [p for p in self._pending if p["id"] != params["id"]]
            self.actor.children.stop(("", params["id"]))
        else:
            self._route(params)

    def after_macrostep(self) -> None:
        pending, self._pending = self._pending, []
        for params in pending:
            self._start(params, None)

    def cancel_send(self, ident: str) -> None:
        """A ``<cancel>`` may name a delayed send to another session."""
        handle = self._outbound.pop(ident, None)
        if handle is not None:
            self.actor.clock.cancel(handle)

    # -- life cycle --------------------------------------------------------------------------------

    def restore(self) -> None:
        """Start again the sessions a persisted snapshot carried."""
        saved, self._saved = self._saved, {}
        for item in saved.values():
            self._start(item["invoke"], item.get("snapshot"))

    def stop(self) -> None:
        for handle in self._outbound.values():
            self.actor.clock.cancel(handle)
        self._outbound.clear()
        self._pending.clear()

    def running(self) -> dict[str, Any]:
        """The invoked sessions running now: their actors by invoke id."""
        return {ident: session.actor for ident, session in self.actor.children.sessions()}

    def persisted(self) -> dict[str, Any]:
        return {
            ident: {"invoke": dict(session.invoke), "snapshot": session.actor.get_persisted_snapshot()}
            for ident, session in self.actor.children.sessions()
        }

    # -- children --------------------------------------------------------------------------------

    def _start(self, params: Mapping[str, Any], snapshot: Mapping[str, Any] | None) -> None:
        actor, ident = self.actor, params["id"]
        if actor.spawn is None:
            self._post(actor, _error(f"no spawn function to invoke {ident!r}", ident), 0.0)
            return
        if actor.depth >= MAX_DEPTH:
            self._post(actor, _error(f"{ident!r} would nest sessions {MAX_DEPTH} deep", ident), 0.0)
            return
        try:
            machine, input = actor.spawn(params)
        except Exception as exc:  # the child cannot be loaded: SCXML 6.4.3's error.execution
            self._post(actor, _error(f"cannot invoke {ident!r}: {exc}", ident), 0.0)
            return
        session = Session(actor.session_child(machine, snapshot, input, ident), params)
        actor.children.start(("", ident), session)
        session.actor.subscribe(lambda s: self._child_changed(session, s))
        session.actor.start()

    def _child_changed(self, session: Session, snapshot: Any) -> None:
        child = session.actor
        key = ("", child.invokeid)
        if snapshot.status != "done" or child.cancelled or not self.actor.children.is_current(key, session):
            return  # it stays the parent's child, finished, until its invoking state is left
        done = {"type": f"done.invoke.{child.invokeid}", "kind": "external",
                "invokeid": child.invokeid, "data": snapshot.output}  # fmt: skip
        self._post_from_child(child, done, 0.0)
        child.stop()  # a finished session sends nothing more, delayed sends included (SCXML 6.2)

    # -- routing ---------------------------------------------------------------------------------

    def _route(self, params: Mapping[str, Any]) -> None:
        target: str = params["target"]
        event = dict(params["event"])
        delay = float(params.get("delay") or 0.0)
        actor = self.actor
        if target == "#_parent":
            if actor.parent is not None:
                actor.parent.sessions._post_from_child(actor, event, delay, params.get("id"))
            return
        session = next((s for i, s in actor.children.sessions() if f"#_{i}" == target), None)
        if session is not None:
            self._post(session.actor, event, delay, params.get("id"))

    def _post_from_child(
        self, child: Any, event: dict[str, Any], delay: float, ident: str | None = None
    ) -> None:
        event["invokeid"] = child.invokeid
        # Already on its way when the invocation is cancelled, it still arrives: a cancelled
        # child is stopped, so it sends nothing more (its delayed sends are cancelled too).
        self._later(lambda: self.actor.deliver(event), delay, ident, child.sessions)

    def _post(
        self, target: Any, event: dict[str, Any], delay: float, ident: str | None = None
    ) -> None:
        self._later(lambda: target.deliver(event), delay, ident, self)

    def _later(
        self, deliver: Callable[[], None], delay: float, ident: str | None, owner: Sessions
    ) -> None:
        def fire() -> None:
            if ident is not None:
                owner._outbound.pop(ident, None)
            deliver()

        handle = self.actor.clock.call_later(delay, fire)
        if ident is not None and delay > 0:
            owner._outbound[ident] = handle


def _error(message: str, ident: str) -> dict[str, Any]:
    return {
        "type": "error.execution",
        "kind": "platform",
        "invokeid": ident,
        "data": {"message": message},
    }
