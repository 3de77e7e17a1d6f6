"""SCXML executable content, compiled once at load and run inside the core's microstep.

Each ``<onentry>``, ``<onexit>``, transition body or ``<finalize>`` becomes a
:class:`~orderflow.chart.actions.Block`: the core calls it in document order
with the macrostep's working state, so ``<raise>`` lands on the internal
queue, ``<send>`` with a delay becomes a timer in the snapshot, ``<log>`` an
action for the caller.  When an element fails, the block raises
``error.execution`` (or ``error.communication`` for an undeliverable
``<send>``) on the internal queue and stops, as SCXML section 4.1 says.

Every expression is compiled (and checked by the restricted evaluator) here,
at load time.
"""

from __future__ import annotations

import ast
import json
import re
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.etree.ElementTree import Element

from orderflow.chart.actions import Action, Block, valid_delay
from orderflow.chart.events import TypedEvent
from orderflow.chart.execution import Run
from orderflow.chart.snapshot import Timer
from orderflow.errors import ScxmlError, UnsafeExpressionError
from orderflow.io.expressions import Expression, ExpressionFailed, Location, Script
from orderflow.io.scxml.datamodel import (
    SCXML_PROCESSOR,
    SCXML_PROCESSOR_ALIASES,
    Names,
    session_of,
    working,
)

Step = Callable[["Context"], None]

#: the action type a runtime performs to deliver an event to another session (parent, child)
SEND_ACTION = "scxml.send"


class ContentError(Exception):
    """An element failed; ``sendid`` is carried into the error event when a ``<send>`` failed."""

    def __init__(self, message: str, sendid: str | None = None) -> None:
        super().__init__(message)
        self.sendid = sendid


class SendFailed(ContentError):
    """A ``<send>`` could not be delivered: ``error.communication`` rather than ``error.execution``."""


@dataclass
class Context:
    """One run of one block: the macrostep, the event, and the names expressions see."""

    run: Run
    event: TypedEvent[Any]
    names: Names
    document: Document

    def evaluate(self, expression: Expression) -> Any:
        return expression.evaluate(self.names)


@dataclass
class Document:
    """What every block of one document shares: its name, where it came from, trust."""

    name: str
    base: Path | None
    trusted: bool

    def names(self, run: Run, event: TypedEvent[Any]) -> Names:
        return Names(working(run), self.name, event.data, run.config)


def names_for_condition(
    document: Document, context: Any, event: TypedEvent[Any], configuration: Any
) -> Names:
    return Names(context, document.name, event.data, configuration)


def raise_error(
    run: Run, name: str, message: str, event: TypedEvent[Any], sendid: str | None = None
) -> None:
    """Put a platform error event (``error.execution``, ``error.communication``) on the internal queue."""
    data: dict[str, Any] = {"type": name, "kind": "platform", "data": {"message": message}}
    if sendid is not None:
        data["sendid"] = sendid
    run.queue.append(TypedEvent.internal(data))


def block(document: Document, steps: Sequence[Step], label: str) -> Block:
    """The block that runs ``steps`` in order; the first failure raises its error event and stops."""

    def run_block(run: Run, event: TypedEvent[Any]) -> None:
        context = Context(run, event, document.names(run, event), document)
        for step in steps:
            try:
                step(context)
            except SendFailed as exc:
                raise_error(
                    run, "error.communication", str(exc), event, getattr(exc, "sendid", None)
                )
                return
            except ContentError as exc:
                raise_error(run, "error.execution", str(exc), event, exc.sendid)
                return
            except Exception as exc:  # any failure of the content is error.execution (SCXML 4.1)
                raise_error(run, "error.execution", f"{type(exc).__name__}: {exc}", event)
                return

    return Block(run_block, label)


# -- compiling elements ------------------------------------------------------------------------


def local(tag: str) -> str:
    """An element's tag without its namespace."""
    return tag.rsplit("}", 1)[-1]


class ContentCompiler:
    """Turns executable content elements into steps, checking every expression as it goes."""

    def __init__(self, document: Document) -> None:
        self.document = document
        self.trusted = document.trusted

    def expression(self, source: str | None, where: str) -> Expression | None:
        """``source`` compiled (and, unless trusted, checked); ``where`` names its element."""
        if source is None:
            return None
        try:
            return Expression(source, trusted=self.trusted)
        except UnsafeExpressionError as exc:
            raise UnsafeExpressionError(source, f"{exc.reason} (in <{where}>)") from None

    def block(self, parent: Element, label: str) -> Block:
        return block(self.document, self.steps(parent), label)

    def steps(self, parent: Element) -> list[Step]:
        return [self.step(child) for child in parent if isinstance(child.tag, str)]

    def step(self, element: Element) -> Step:
        tag = local(element.tag)
        compile_step = getattr(self, f"_compile_{tag}", None)
        if compile_step is None:
            return _ignore  # SCXML 4.1: unknown elements in other namespaces are ignored
        step: Step = compile_step(element)
        return step

    def _compile_raise(self, element: Element) -> Step:
        name = _required(element, "event")

        def run(context: Context) -> None:
            context.run.queue.append(TypedEvent.internal({"type": name, "kind": "internal"}))

        return run

    def _compile_log(self, element: Element) -> Step:
        label = element.get("label")
        expr = self.expression(element.get("expr"), "log")

        def run(context: Context) -> None:
            value = context.evaluate(expr) if expr is not None else None
            message = f"{label}: {value!r}" if label else repr(value)
            context.run.actions.append(
                Action("log", {"message": message, "label": label}, context.event)
            )

        return run

    def _compile_assign(self, element: Element) -> Step:
        location = Location(_required(element, "location"))
        value = self.value_of(element, "assign")

        def run(context: Context) -> None:
            root = location.name
            if root is None or root not in context.names:
                raise ContentError(f"cannot assign to {location.source!r}: it is not declared")
            location.assign(context.names, value(context))

        return run

    def _compile_script(self, element: Element) -> Step:
        if element.get("src") is not None:
            raise ScxmlError("<script src> is not supported: put the script inline", "script")
        script = Script(element.text or "", trusted=self.trusted)

        def run(context: Context) -> None:
            script.run(context.names)

        return run

    def _compile_if(self, element: Element) -> Step:
        branches: list[tuple[Expression | None, list[Step]]] = []
        current: list[Step] = []
        branches.append((self.expression(_required(element, "cond"), "if"), current))
        for child in element:
            if not isinstance(child.tag, str):
                continue
            tag = local(child.tag)
            if tag == "elseif":
                current = []
                branches.append((self.expression(_required(child, "cond"), "elseif"), current))
            elif tag == "else":
                current = []
                branches.append((None, current))
            else:
                current.append(self.step(child))

        def run(context: Context) -> None:
            for cond, steps in branches:
                if cond is None or _truth(context, cond):
                    for step in steps:
                        step(context)
                    return

        return run

    def _compile_foreach(self, element: Element) -> Step:
        array = self.expression(_required(element, "array"), "foreach")
        assert array is not None
        item = Location(_required(element, "item"))
        index_source = element.get("index")
        index = Location(index_source) if index_source is not None else None
        body = self.steps(element)

        def run(context: Context) -> None:
            collection = context.evaluate(array)
            if not isinstance(collection, list | tuple | dict | str):
                raise ContentError(f"foreach needs a list to iterate over, not {collection!r}")
            _check_variable(item)
            if index is not None:
                _check_variable(index)
            for position, value in enumerate(list(collection)):
                item.assign(context.names, value)
                if index is not None:
                    index.assign(context.names, position)
                for step in body:
                    step(context)

        return run

    def _compile_cancel(self, element: Element) -> Step:
        sendid = element.get("sendid")
        sendidexpr = self.expression(element.get("sendidexpr"), "cancel")

        def run(context: Context) -> None:
            ident = sendid if sendidexpr is None else str(context.evaluate(sendidexpr))
            if ident is None:
                return
            timers = context.run.timers
            if ident in timers:
                del timers[ident]
            context.run.actions.append(Action("cancel", {"id": ident}, context.event))

        return run

    def _compile_send(self, element: Element) -> Step:
        return SendCompiler(self).compile(element)

    # -- values ------------------------------------------------------------------------------

    def value_of(self, element: Element, where: str) -> Callable[[Context], Any]:
        """The value of an ``expr`` attribute, or of inline content (``<assign>``, ``<data>``)."""
        expr = self.expression(element.get("expr"), where)
        if expr is not None:
            return lambda context: context.evaluate(expr)
        constant = inline_value(element)
        return lambda context: constant

    def data_of(self, element: Element) -> Callable[[Context], Any]:
        """``namelist`` and ``<param>`` as a dict, or ``<content>`` (SCXML 5.10 ``_event.data``)."""
        namelist = (element.get("namelist") or "").split()
        params = [
            (
                _required(p, "name"),
                self.expression(p.get("expr"), "param"),
                Expression(_location_source(p), trusted=self.trusted)
                if p.get("location")
                else None,
            )
            for p in element
            if isinstance(p.tag, str) and local(p.tag) == "param"
        ]
        content_element = next(
            (c for c in element if isinstance(c.tag, str) and local(c.tag) == "content"), None
        )
        content_expr = (
            self.expression(content_element.get("expr"), "content")
            if content_element is not None
            else None
        )
        content_value = (
            inline_value(content_element)
            if content_element is not None and content_expr is None
            else None
        )

        def compute(context: Context) -> Any:
            if content_element is not None:
                return context.evaluate(content_expr) if content_expr is not None else content_value
            if not namelist and not params:
                return None
            data: dict[str, Any] = {}
            for name in namelist:
                if name not in context.names:
                    raise ContentError(f"namelist names {name!r}, which is not declared")
                data[name] = context.names[name]
            for name, expr, location in params:
                if expr is not None:
                    data[name] = context.evaluate(expr)
                elif location is not None:
                    data[name] = context.evaluate(location)
            return data

        return compute


class SendCompiler:
    """``<send>`` (SCXML 6.2): where the event goes decides which queue or action it becomes."""

    def __init__(self, content: ContentCompiler) -> None:
        self.content = content

    def compile(self, element: Element) -> Step:
        c = self.content
        event = element.get("event")
        eventexpr = c.expression(element.get("eventexpr"), "send")
        target = element.get("target")
        targetexpr = c.expression(element.get("targetexpr"), "send")
        kind = element.get("type")
        typeexpr = c.expression(element.get("typeexpr"), "send")
        sendid = element.get("id")
        idlocation = Location(element.get("idlocation", "")) if element.get("idlocation") else None
        delay = element.get("delay")
        delayexpr = c.expression(element.get("delayexpr"), "send")
        data = c.data_of(element)

        def run(context: Context) -> None:
            session = session_of(context.names.datamodel)
            ident = sendid
            if ident is None:
                session["sendcount"] = session.get("sendcount", 0) + 1
                ident = f"send.{session['sendcount']}"
                if idlocation is not None:
                    idlocation.assign(context.names, ident)
            try:
                name = event if eventexpr is None else str(context.evaluate(eventexpr))
                to = target if targetexpr is None else str(context.evaluate(targetexpr))
                processor = kind if typeexpr is None else str(context.evaluate(typeexpr))
                wait = delay if delayexpr is None else context.evaluate(delayexpr)
                payload = data(context)
            except ExpressionFailed as exc:
                raise ContentError(str(exc), ident) from exc
            except ContentError as exc:
                raise ContentError(str(exc), ident) from exc
            if processor is not None and processor not in SCXML_PROCESSOR_ALIASES:
                raise ContentError(f"the event I/O processor {processor!r} is not supported", ident)
            if name is None:
                raise ContentError("a send needs an event", ident)
            milliseconds = parse_delay(wait) if wait not in (None, "") else 0.0
            if milliseconds is None:
                raise ContentError(f"{wait!r} is not a delay", ident)
            sessionid = session["sessionid"]
            message: dict[str, Any] = {
                "type": name,
                "kind": "external",
                "sendid": ident if (sendid is not None or idlocation is not None) else None,
                "origin": f"#_scxml_{sessionid}",
                "origintype": SCXML_PROCESSOR,
                "data": payload,
            }
            deliver(context, to, message, milliseconds, ident, session)

        return run


def deliver(
    context: Context,
    target: str | None,
    message: dict[str, Any],
    delay: float,
    ident: str,
    session: dict[str, Any],
) -> None:
    """Route a send: the own external queue (a timer), the internal queue, or another session."""
    run = context.run
    own = f"#_scxml_{session['sessionid']}"
    if target in (None, "", own):
        timer = Timer(ident, message, delay)
        run.timers[ident] = timer
        run.actions.append(Action("schedule", timer.to_json(), context.event))
        return
    if target == "#_internal":
        run.queue.append(TypedEvent.internal({**message, "kind": "internal"}))
        return
    if target == "#_parent":
        if not session.get("parent"):
            raise SendFailed("this session was not invoked, so it has no parent to send to", ident)
        ok = True
    elif target.startswith("#_scxml_"):
        ok = False
    elif target.startswith("#_"):
        ok = target[2:] in invocations(session)
    else:
        raise ContentError(f"the target {target!r} is not supported", ident)
    if not ok:
        raise SendFailed(f"no session {target!r} is reachable", ident)
    run.actions.append(
        Action(
            SEND_ACTION,
            {"target": target, "event": message, "delay": delay, "id": ident},
            context.event,
        )
    )


def invocations(session: dict[str, Any]) -> dict[str, Any]:
    """The session's active invocations: invoke id -> ``[state id, index of the invoke]``."""
    invoked: dict[str, Any] = session.setdefault("invoked", {})
    return invoked


_DELAY = re.compile(r"^\s*(\d*\.?\d+)\s*(ms|s|m|h|d)?\s*$")
_UNITS = {"ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0, "d": 86_400_000.0, None: 1.0}


def parse_delay(value: Any) -> float | None:
    """A CSS2 time (``"1s"``, ``".5s"``, ``"200ms"``) or a number of milliseconds; None unless it
    is a finite span from 0 to 100 years (NaN, infinity or a negative number is no delay)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        milliseconds = float(value)
    else:
        match = _DELAY.match(str(value))
        if match is None:
            return None
        milliseconds = float(match.group(1)) * _UNITS[match.group(2)]
    return milliseconds if valid_delay(milliseconds) else None


def inline_value(element: Element) -> Any:
    """The value of inline content: an XML child element, or text read as JSON, a literal or a string."""
    children = [c for c in element if isinstance(c.tag, str)]
    if children:
        return children[0]
    return text_value(element.text or "")


def text_value(text: str) -> Any:
    stripped = text.strip()
    if not stripped:
        return None
    try:
        return json.loads(stripped)
    except ValueError:
        pass
    try:
        with warnings.catch_warnings():  # text such as "1s" makes the tokenizer warn
            warnings.simplefilter("ignore", SyntaxWarning)
            return ast.literal_eval(stripped)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        pass
    return " ".join(stripped.split())  # SCXML B.2: whitespace-normalised text


def _location_source(param: Element) -> str:
    """A ``<param location>``, checked as a location (a name, attribute or item) at load time."""
    source = param.get("location", "")
    Location(source)
    return source


def _truth(context: Context, cond: Expression) -> bool:
    return bool(context.evaluate(cond))


def _check_variable(location: Location) -> None:
    if location.name is None or location.name != location.source.strip():
        raise ContentError(f"{location.source!r} is not a variable name")


def _required(element: Element, attribute: str) -> str:
    value = element.get(attribute)
    if value is None:
        raise ScxmlError(
            f"<{local(element.tag)}> needs the attribute {attribute!r}", local(element.tag)
        )
    return value


def _ignore(context: Context) -> None:
    return None
