"""Reading an SCXML document into a :class:`~orderflow.chart.machine.Machine`.

The document is parsed with ``defusedxml`` (no entity expansion, no external
references) and compiled onto the core under SCXML's conventions: states,
transitions and history become the core's definition (the same compiler JSON
machines go through), executable content becomes blocks (``content.py``),
``<invoke>`` becomes the hooks of ``invoke.py``.  Every expression is checked
by the restricted evaluator while compiling, so an unsafe document fails here,
before anything runs.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.etree.ElementTree import Element, tostring

import defusedxml.ElementTree as SafeElementTree
from defusedxml import (
    DefusedXmlException,
    DTDForbidden,
    EntitiesForbidden,
    ExternalReferenceForbidden,
)

from orderflow.chart.actions import Block, Evaluated
from orderflow.chart.conventions import SCXML, Conventions
from orderflow.chart.definition import MAX_STATE_DEPTH
from orderflow.chart.events import TypedEvent
from orderflow.chart.execution import Run
from orderflow.chart.guards import Condition
from orderflow.chart.machine import Machine, Setup
from orderflow.errors import ScxmlError, UnsafeDocumentError
from orderflow.io.expressions import Expression, Location
from orderflow.io.scxml.content import (
    ContentCompiler,
    Context,
    Document,
    block,
    local,
    raise_error,
    text_value,
)
from orderflow.io.scxml.datamodel import SESSION_KEY, Names, session_of, working
from orderflow.io.scxml.invoke import DocumentHooks, InvokeSpec
from orderflow.io.scxml.xstate_document import is_xstate_document, load_xstate_document

STATE_TAGS = frozenset({"state", "parallel", "final", "history"})
#: how deeply a document's elements may nest (states, and the executable content inside them)
MAX_ELEMENT_DEPTH = 150


def parse_document(text: str) -> Element:
    """Parse XML text safely: DTD entities and external references are refused."""
    try:
        root: Element = SafeElementTree.fromstring(text, forbid_dtd=False)
    except EntitiesForbidden as exc:
        raise UnsafeDocumentError(f"it declares the entity {exc.name!r}") from exc
    except ExternalReferenceForbidden as exc:
        raise UnsafeDocumentError(f"it refers to the external resource {exc.sysid!r}") from exc
    except DTDForbidden as exc:
        raise UnsafeDocumentError("it has a DOCTYPE") from exc
    except DefusedXmlException as exc:
        raise UnsafeDocumentError(str(exc)) from exc
    except SafeElementTree.ParseError as exc:
        raise ScxmlError(f"the document is not well-formed XML: {exc}") from exc
    _check_depth(root)
    return root


def _check_depth(root: Element) -> None:
    """Refuse elements nested past :data:`MAX_ELEMENT_DEPTH`, or states past the core's limit,
    walked without recursion (loading and compiling recurse, and must not overflow)."""
    pending: list[tuple[Element, int, int]] = [(root, 0, 0)]
    while pending:
        element, depth, states = pending.pop()
        tag = local(element.tag) if isinstance(element.tag, str) else ""
        where = element.get("id")
        if depth > MAX_ELEMENT_DEPTH:
            raise ScxmlError(
                f"elements nest deeper than {MAX_ELEMENT_DEPTH} levels"
                + (f" (inside '{where}')" if where else ""),
                tag,
            )
        if tag in STATE_TAGS:
            states += 1
            if states > MAX_STATE_DEPTH:
                raise ScxmlError(
                    f"states nest deeper than {MAX_STATE_DEPTH} levels at state '{where}'", tag
                )
        pending.extend((child, depth + 1, states) for child in element)


def read_file(source: str | Path) -> tuple[str, Path]:
    """The text of the document at path ``source``, and the directory ``src`` references resolve against."""
    if not isinstance(source, str | Path):
        raise ScxmlError(f"load() takes a file's path, not {type(source).__name__}")
    if isinstance(source, str) and source.lstrip("\ufeff \t\r\n").startswith("<"):
        raise ScxmlError("load() takes a file's path; for the document's text use loads(text)")
    path = Path(source)
    try:
        return path.read_text(encoding="utf-8-sig"), path.resolve().parent
    except (OSError, ValueError) as exc:  # ValueError: a path with a NUL in it
        reason = getattr(exc, "strerror", None) or str(exc)
        raise ScxmlError(f"cannot read {str(path)[:200]!r}: {reason}") from exc


def load_document(
    text: str,
    *,
    base: Path | None = None,
    trusted: bool = False,
    setup: Setup | None = None,
) -> Machine:
    root = parse_document(text)
    if local(root.tag) != "scxml":
        raise ScxmlError(f"the root element must be <scxml>, not <{local(root.tag)}>")
    if is_xstate_document(root):  # written by dump() from a JSON machine
        return load_xstate_document(root, setup or Setup())
    return _DocumentCompiler(root, text, base, trusted).machine(setup or Setup())


@dataclass
class _Data:
    """One ``<data>``: its id and how its value is computed."""

    id: str
    value: Any  # Expression | constant


class _DocumentCompiler:
    def __init__(self, root: Element, text: str, base: Path | None, trusted: bool) -> None:
        self.root = root
        name = root.get("name")
        self.document = Document(name=name or "scxml", base=base, trusted=trusted)
        self.content = ContentCompiler(self.document)
        self.hooks = DocumentHooks(self.document, text)
        self.late = root.get("binding", "early") == "late"
        self.datamodel_kind = root.get("datamodel", "python")
        self.declared: list[str] = []
        self.data_by_state: dict[str, list[_Data]] = {}
        self.generated = 0
        self.machine_id = name or "scxml"
        self.ids: set[str] = set()

    def machine(self, setup: Setup) -> Machine:
        config = self._root_config()
        conventions = Conventions(
            SCXML.name, SCXML.done_state_prefix, SCXML.done_data_key, scxml=True, hooks=self.hooks
        )
        return setup.create_machine(config, conventions=conventions, _stacklevel=5)

    # -- the tree ---------------------------------------------------------------------------

    def _root_config(self) -> dict[str, Any]:
        root = self.root
        self.ids = {self._state_id(e) for e in _states_below(root)}
        states = self._children(root)
        if not states:
            raise ScxmlError("the document has no states", "scxml")
        top_data = self._data_of(root, self.machine_id)
        scripts = [c for c in root if isinstance(c.tag, str) and local(c.tag) == "script"]
        config: dict[str, Any] = {
            "id": self.machine_id,
            "states": states,
            "initial": self._initial(root, states),
            "context": self._initial_datamodel,
        }
        init_steps = self.content.steps(_wrap(scripts))
        config["entry"] = [
            Block(self._initialize(top_data, init_steps), "initialize the datamodel")
        ]
        return config

    def _children(self, parent: Element) -> dict[str, Any]:
        states: dict[str, Any] = {}
        for child in parent:
            if not isinstance(child.tag, str) or local(child.tag) not in STATE_TAGS:
                continue
            key, config = self._state(child)
            states[key] = config
        return states

    def _state_id(self, element: Element) -> str:
        ident = element.get("id")
        if ident is None:
            self.generated += 1
            ident = f"_state{self.generated}"
            element.set("id", ident)
        return ident

    def _state(self, element: Element) -> tuple[str, dict[str, Any]]:
        tag = local(element.tag)
        ident = self._state_id(element)
        key = ident.replace(".", "_").replace("#", "_") or "_"
        config: dict[str, Any] = {"id": ident}
        if tag == "history":
            config["type"] = "history"
            config["history"] = element.get("type", "shallow")
            transition = _first(element, "transition")
            if transition is not None:
                config["target"] = {
                    "target": self._targets(transition),
                    "actions": [self.content.block(transition, f"history default of {ident}")],
                }
            return key, config
        children = self._children(element)
        data = self._data_of(element, ident)
        if tag == "parallel":
            config["type"] = "parallel"
        elif tag == "final":
            config["type"] = "final"
            donedata = _first(element, "donedata")
            if donedata is not None:
                config["output"] = self._donedata(donedata)
        elif children:
            config["type"] = "compound"
            config["initial"] = self._initial(element, children)
        if children:
            config["states"] = children
        entry: list[Any] = []
        if self.late and data:
            entry.append(Block(self._bind_late(ident, data), f"bind the data of {ident}"))
        exit_: list[Any] = []
        for child in element:
            if not isinstance(child.tag, str):
                continue
            child_tag = local(child.tag)
            if child_tag == "onentry":
                entry.append(self.content.block(child, f"onentry of {ident}"))
            elif child_tag == "onexit":
                exit_.append(self.content.block(child, f"onexit of {ident}"))
        invokes = [c for c in element if isinstance(c.tag, str) and local(c.tag) == "invoke"]
        if invokes:
            self.hooks.invokes[ident] = [
                self._invoke(ident, index, invoke) for index, invoke in enumerate(invokes)
            ]
            entry.append(self.hooks.entered_block(ident))
            exit_.append(self.hooks.exit_block(ident))
        if entry:
            config["entry"] = entry
        if exit_:
            config["exit"] = exit_
        if tag != "final":
            transitions = [
                self._transition(t)
                for t in element
                if isinstance(t.tag, str) and local(t.tag) == "transition"
            ]
            if transitions:
                config["transitions"] = transitions
        return key, config

    def _initial(self, element: Element, children: Mapping[str, Any]) -> Any:
        attribute = element.get("initial")
        if attribute is not None:
            return {"target": [f"#{i}" for i in attribute.split()]}
        initial = _first(element, "initial")
        if initial is not None:
            transition = _first(initial, "transition")
            if transition is None:
                raise ScxmlError("<initial> needs a <transition>", "initial")
            return {
                "target": self._targets(transition),
                "actions": [self.content.block(transition, "initial transition")],
            }
        first = next(iter(children.values()))
        return {"target": [f"#{first['id']}"]}

    def _targets(self, transition: Element) -> list[str] | None:
        target = transition.get("target")
        if target is None or not target.split():
            return None
        return [f"#{t}" for t in target.split()]

    def _transition(self, element: Element) -> dict[str, Any]:
        config: dict[str, Any] = {}
        event = element.get("event")
        if event is not None:
            config["event"] = event
        targets = self._targets(element)
        if targets is not None:
            config["target"] = targets
        cond = element.get("cond")
        if cond is not None and cond.strip():
            config["guard"] = self._condition(cond)
        if targets is not None:
            missing = [t[1:] for t in targets if t[1:] not in self.ids]
            if (
                missing
            ):  # never taken; selecting it raises error.execution (see docs/conformance.md)
                config["guard"] = _never(
                    f"the target {missing[0]!r} is not a state of the document"
                )
                config["target"] = [t for t in targets if t[1:] in self.ids] or None
                if config["target"] is None:
                    del config["target"]
        config["reenter"] = element.get("type", "external") != "internal"
        steps = self.content.steps(element)
        if steps:
            config["actions"] = [block(self.document, steps, "transition")]
        return config

    def _condition(self, source: str) -> Condition:
        expression = Expression(source, trusted=self.document.trusted)
        document = self.document

        def test(context: Any, event: TypedEvent[Any], configuration: Any) -> bool:
            names = Names(context, document.name, event.data, configuration)
            return bool(expression.evaluate(names))

        return Condition(source.strip(), test)

    def _donedata(self, element: Element) -> Evaluated:
        compute = self.content.data_of(element)
        document = self.document

        def evaluate(run: Run, event: TypedEvent[Any]) -> Any:
            context = Context(run, event, document.names(run, event), document)
            try:
                return compute(context)
            except Exception as exc:
                raise_error(run, "error.execution", f"{type(exc).__name__}: {exc}", event)
                return None

        return Evaluated(evaluate)

    def _invoke(self, state_id: str, index: int, element: Element) -> InvokeSpec:
        expression = self.content.expression
        content_element = _first(element, "content")
        content: str | None = None
        contentexpr = None
        if content_element is not None:
            contentexpr = expression(content_element.get("expr"), "content")
            inner = [c for c in content_element if isinstance(c.tag, str)]
            if inner:
                content = tostring(inner[0], encoding="unicode")
            elif contentexpr is None and (content_element.text or "").strip():
                content = (content_element.text or "").strip()
        finalize = _first(element, "finalize")
        idlocation = element.get("idlocation")
        return InvokeSpec(
            state_id=state_id,
            index=index,
            id=element.get("id"),
            idlocation=Location(idlocation) if idlocation else None,
            type=element.get("type"),
            typeexpr=expression(element.get("typeexpr"), "invoke"),
            src=element.get("src"),
            srcexpr=expression(element.get("srcexpr"), "invoke"),
            content=content,
            contentexpr=contentexpr,
            data=self.content.data_of(_without(element, "content")),
            autoforward=element.get("autoforward", "false") == "true",
            finalize=self.content.block(finalize, f"finalize of {state_id}")
            if finalize is not None
            else None,
        )

    # -- the datamodel ------------------------------------------------------------------------

    def _data_of(self, element: Element, state_id: str) -> list[_Data]:
        found: list[_Data] = []
        for datamodel in element:
            if not isinstance(datamodel.tag, str) or local(datamodel.tag) != "datamodel":
                continue
            for data in datamodel:
                if not isinstance(data.tag, str) or local(data.tag) != "data":
                    continue
                ident = data.get("id")
                if not ident:
                    raise ScxmlError("<data> needs an id", "data")
                self.declared.append(ident)
                found.append(_Data(ident, self._data_value(data)))
        self.data_by_state[state_id] = found
        return found

    def _data_value(self, data: Element) -> Any:
        expr = data.get("expr")
        if expr is not None:
            return Expression(expr, trusted=self.document.trusted)
        src = data.get("src")
        if src is not None:
            return _read_data_source(src, self.document.base, self.document.trusted)
        children = [c for c in data if isinstance(c.tag, str)]
        if children:
            return children[0]
        return text_value(data.text or "")

    def _initial_datamodel(self, input: Any) -> dict[str, Any]:
        """The context before the initial macrostep: every variable declared, none bound yet."""
        given = dict(input) if isinstance(input, Mapping) else {}
        session_input = given.pop(SESSION_KEY, None) or {}
        datamodel: dict[str, Any] = dict.fromkeys(self.declared)
        provided = [k for k in given if k in datamodel]
        for key in provided:
            datamodel[key] = given[key]
        datamodel[SESSION_KEY] = {
            "sessionid": session_input.get("sessionid") or uuid.uuid4().hex,
            "parent": bool(session_input.get("parent")),
            "given": provided,
            "bound": [],
            "invoked": {},
        }
        return datamodel

    def _initialize(self, top: list[_Data], scripts: list[Any]) -> Any:
        everything = [d for ds in self.data_by_state.values() for d in ds]
        to_bind = top if self.late else everything

        def initialize(run: Run, event: TypedEvent[Any]) -> None:
            self._bind(run, event, to_bind)
            if scripts:
                block(self.document, scripts, "top-level script").run(run, event)

        return initialize

    def _bind_late(self, state_id: str, data: list[_Data]) -> Any:
        def bind(run: Run, event: TypedEvent[Any]) -> None:
            session = session_of(working(run))
            if state_id in session["bound"]:
                return
            session["bound"].append(state_id)
            self._bind(run, event, data)

        return bind

    def _bind(self, run: Run, event: TypedEvent[Any], data: list[_Data]) -> None:
        datamodel = working(run)
        given = session_of(datamodel)["given"]
        names = self.document.names(run, event)
        for item in data:
            if item.id in given:
                continue
            value = item.value
            if isinstance(value, Expression):
                try:
                    value = value.evaluate(names)
                except Exception as exc:  # SCXML 5.3: the variable stays unbound
                    raise_error(run, "error.execution", f"{type(exc).__name__}: {exc}", event)
                    continue
            datamodel[item.id] = value


def _never(reason: str) -> Condition:
    def test(context: Any, event: Any, configuration: Any) -> bool:
        raise ScxmlError(reason, "transition")

    return Condition(f"never ({reason})", test)


def _read_data_source(src: str, base: Path | None, trusted: bool) -> Any:
    """``<data src>``: a file beside the document (an untrusted one may not leave its directory)."""
    path_text = src[len("file:") :] if src.startswith("file:") else src
    if base is None:
        raise ScxmlError(f"cannot read {src!r}: the document was not loaded from a file", "data")
    path = (base / path_text).resolve()
    if not trusted and base.resolve() not in path.parents:
        raise ScxmlError(f"{src!r} is outside the document's directory", "data")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise ScxmlError(f"cannot read {src!r}: {exc.strerror}", "data") from exc
    if text.lstrip().startswith("<"):
        return parse_document(text)
    return text_value(text)


def _states_below(element: Element) -> list[Element]:
    """The state elements of this document, in document order (not those of inline children)."""
    found = []
    for child in element:
        if isinstance(child.tag, str) and local(child.tag) in STATE_TAGS:
            found.append(child)
            found.extend(_states_below(child))
    return found


def _first(element: Element, tag: str) -> Element | None:
    return next((c for c in element if isinstance(c.tag, str) and local(c.tag) == tag), None)


def _wrap(children: list[Element]) -> Element:
    holder = Element("holder")
    holder.extend(children)
    return holder


def _without(element: Element, tag: str) -> Element:
    copy = Element(element.tag, element.attrib)
    copy.extend(c for c in element if not (isinstance(c.tag, str) and local(c.tag) == tag))
    return copy
