"""``<invoke>``, ``<finalize>`` and autoforward: the SCXML hooks around each macrostep.

The core knows nothing of child sessions.  An invoking state gets two extra
blocks: one at the end of its entry that notes it was entered, one at the end
of its exit that cancels its invocations.  When the macrostep has settled,
:meth:`DocumentHooks.after_macrostep` starts the invocations of the states
entered and still active (SCXML's mainEventLoop), each as a
``scxml.invoke`` action for the runtime, which runs the child as a child
actor (``orderflow.runtime.sessions``).  The active invocations live in the
datamodel's session entry, so they persist with the snapshot.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from xml.etree import ElementTree

from orderflow.chart.actions import Action, Block
from orderflow.chart.events import TypedEvent
from orderflow.chart.execution import Run
from orderflow.errors import InvalidSnapshotError
from orderflow.io.expressions import Expression, ExpressionFailed, Location
from orderflow.io.scxml.content import (
    SEND_ACTION,
    Context,
    Document,
    invocations,
    raise_error,
)
from orderflow.io.scxml.datamodel import (
    INVOKE_TYPES,
    SESSION_KEY,
    extension,
    session_of,
    working,
)

INVOKE_ACTION = "scxml.invoke"
CANCEL_INVOKE_ACTION = "scxml.cancel_invoke"


@dataclass
class InvokeSpec:
    """One ``<invoke>``, compiled."""

    state_id: str
    index: int
    id: str | None
    idlocation: Location | None
    type: str | None
    typeexpr: Expression | None
    src: str | None
    srcexpr: Expression | None
    content: str | None
    contentexpr: Expression | None
    data: Callable[[Context], Any]
    autoforward: bool
    finalize: Block | None


@dataclass
class DocumentHooks:
    """The SCXML machine's hooks (``conventions.MacrostepHooks``) and the document it came from."""

    document: Document
    source: str
    invokes: dict[str, list[InvokeSpec]] = field(default_factory=dict)

    # -- blocks the compiler adds to invoking states -------------------------------------------

    def entered_block(self, state_id: str) -> Block:
        def note(run: Run, event: TypedEvent[Any]) -> None:
            extension(run).entered.append(state_id)

        return Block(note, f"invoke on entry of {state_id}")

    def exit_block(self, state_id: str) -> Block:
        def cancel(run: Run, event: TypedEvent[Any]) -> None:
            active = invocations(session_of(run.context))
            mine = [i for i, (sid, _) in active.items() if sid == state_id]
            if not mine:
                return
            session = session_of(working(run))
            for invokeid in mine:
                del invocations(session)[invokeid]
                run.actions.append(Action(CANCEL_INVOKE_ACTION, {"id": invokeid}, event))

        return Block(cancel, f"cancel the invocations of {state_id}")

    # -- MacrostepHooks ---------------------------------------------------------------------

    def check_restored(self, context: Any, configuration: Any) -> None:
        """The reserved session entry of a restored datamodel must be one this document wrote."""
        path = f"$.context.{SESSION_KEY}"
        session = context.get(SESSION_KEY) if isinstance(context, Mapping) else None
        if not isinstance(session, Mapping):
            raise InvalidSnapshotError("the SCXML session entry is missing or not an object", path)
        if session.get("parent"):  # a child's session before its parent has filled it in
            return
        if not isinstance(session.get("sessionid"), str) or not session["sessionid"]:
            raise InvalidSnapshotError("the session has no session id", f"{path}.sessionid")
        for key in ("given", "bound"):
            value = session.get(key, [])
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise InvalidSnapshotError(f"'{key}' must be a list of names", f"{path}.{key}")
        for key in ("sendcount", "invokecount"):
            count = session.get(key, 0)
            if isinstance(count, bool) or not isinstance(count, int) or count < 0:
                raise InvalidSnapshotError(f"'{key}' must be a count", f"{path}.{key}")
        invoked = session.get("invoked", {})
        if not isinstance(invoked, Mapping):
            raise InvalidSnapshotError("'invoked' must map invoke ids", f"{path}.invoked")
        active = {getattr(node, "id", None) for node in configuration}
        for invokeid, where in invoked.items():
            at = f"{path}.invoked.{invokeid}"
            if not (isinstance(where, list) and len(where) == 2 and isinstance(where[0], str)
                    and isinstance(where[1], int) and not isinstance(where[1], bool)):  # fmt: skip
                raise InvalidSnapshotError("an invocation is [state id, index]", at)
            state_id, index = where
            if state_id not in active:
                raise InvalidSnapshotError(f"the invoking state '{state_id}' is not active", at)
            if not 0 <= index < len(self.invokes.get(state_id, ())):
                raise InvalidSnapshotError(f"state '{state_id}' has no invoke {index}", at)

    def before_external(self, run: Run, event: TypedEvent[Any]) -> None:
        active = invocations(session_of(run.context)) if SESSION_KEY in run.context else {}
        if not active:
            return
        invokeid = event.data.get("invokeid")
        if invokeid is not None and invokeid in active:
            state_id, index = active[invokeid]
            finalize = self.invokes[state_id][index].finalize
            if finalize is not None:
                finalize.run(run, event)
        for ident, (state_id, index) in list(active.items()):
            if self.invokes[state_id][index].autoforward:
                forwarded = dict(event.data)
                run.actions.append(
                    Action(
                        SEND_ACTION,
                        {"target": f"#_{ident}", "event": forwarded, "delay": 0.0, "id": None},
                        event,
                    )
                )

    def after_macrostep(self, run: Run, event: TypedEvent[Any]) -> None:
        if run.extension is None or not run.extension.entered:
            return
        entered = list(dict.fromkeys(run.extension.entered))
        run.extension.entered.clear()
        nodes = run.machine.nodes_by_id
        for state_id in entered:
            if nodes[state_id] not in run.config:
                continue  # entered and left in the same macrostep: never invoked
            for spec in self.invokes.get(state_id, ()):
                self._start(run, event, spec)

    def condition_failed(self, run: Run, error: Exception, event: TypedEvent[Any]) -> None:
        raise_error(run, "error.execution", f"{type(error).__name__}: {error}", event)

    # -- starting one invocation ------------------------------------------------------------

    def _start(self, run: Run, event: TypedEvent[Any], spec: InvokeSpec) -> None:
        names = self.document.names(run, event)
        context = Context(run, event, names, self.document)
        session = session_of(names.datamodel)
        invokeid = spec.id
        if invokeid is None:
            session["invokecount"] = session.get("invokecount", 0) + 1
            invokeid = f"{spec.state_id}.{session['invokecount']}"
            if spec.idlocation is not None:
                try:
                    spec.idlocation.assign(names, invokeid)
                except Exception as exc:
                    raise_error(run, "error.execution", str(exc), event)
                    return
        try:
            kind = spec.type if spec.typeexpr is None else str(context.evaluate(spec.typeexpr))
            src = spec.src if spec.srcexpr is None else str(context.evaluate(spec.srcexpr))
            content = spec.content
            if spec.contentexpr is not None:
                content = _as_document(context.evaluate(spec.contentexpr))
            data = spec.data(context)
        except Exception as exc:  # SCXML 6.4: an invoke that cannot be evaluated raises an error
            raise_error(run, "error.execution", f"{type(exc).__name__}: {exc}", event)
            return
        if kind is not None and kind not in INVOKE_TYPES:
            raise_error(run, "error.execution", f"the invoke type {kind!r} is not supported", event)
            return
        invocations(session)[invokeid] = [spec.state_id, spec.index]
        base = self.document.base
        run.actions.append(
            Action(
                INVOKE_ACTION,
                {
                    "id": invokeid,
                    "src": src,
                    "content": content,
                    "data": data if isinstance(data, Mapping) else None,
                    "autoforward": spec.autoforward,
                    "base": str(base) if base is not None else None,
                    "trusted": self.document.trusted,
                },
                event,
            )
        )


def _as_document(value: Any) -> str:
    if isinstance(value, ElementTree.Element):
        return ElementTree.tostring(value, encoding="unicode")
    if isinstance(value, str):
        return value
    raise ExpressionFailed(f"invoke content must be an SCXML document, not {value!r}")
