"""Writing a machine as SCXML that :func:`orderflow.io.scxml.load` reads back to the same behaviour.

A machine loaded from SCXML is written as the document it came from.  A JSON
(XState-convention) machine is written as SCXML's structure — ``<state>``,
``<parallel>``, ``<final>``, ``<history>``, ``<transition>``, ``<onentry>``,
``<onexit>``, ``<datamodel>`` — inside one top-level ``<state>`` that is the
machine's root, with the root element marked ``orderflow:conventions="xstate"``
so ``load`` compiles it under XState's conventions again.  What SCXML cannot
say is written in the orderflow namespace (:data:`ORDERFLOW_NS`):

- a named guard or a guard combinator: ``orderflow:guard`` with its JSON;
- a named action, and the built-ins other than a plain ``<raise>``:
  ``<orderflow:action type="..." params="JSON"/>``;
- ``reenter``, ``after`` delays, outputs, tags, meta, descriptions and each
  state's key: attributes ``orderflow:reenter``, ``orderflow:after``,
  ``orderflow:output``, ``orderflow:tags``, ``orderflow:meta``,
  ``orderflow:description``, ``orderflow:key``.

A state's ``invoke`` is SCXML's ``<invoke>``: ``type`` :data:`ACTOR_TYPE` (an
actor named in ``setup(actors=...)``), ``id`` and ``src``; a static input is
its ``<content>`` (the input's JSON); ``inputFrom``, ``systemId`` and
``onSnapshot`` are ``orderflow:`` attributes.  The invocation's onDone, onError
and onSnapshot stay transitions of its state on ``xstate.done.actor.<id>``,
``xstate.error.actor.<id>`` and ``xstate.snapshot.<id>``, in document order.
An input computed by a Python function with no name raises
:class:`~orderflow.errors.ExportError`.

Names stay names: the implementations are given again when loading,
``load(text, setup=orderflow.setup(guards=..., actions=...))``, exactly as for the JSON.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Mapping
from typing import Any
from xml.etree.ElementTree import Element, SubElement, indent, register_namespace, tostring

from orderflow.chart.actions import (
    ACTOR_ACTION_TYPES,
    BUILTIN_ACTION_TYPES,
    ActionSpec,
    Assign,
    Block,
    Cancel,
    Emit,
    Log,
    Raise,
    builtin_from_json,
)
from orderflow.chart.definition import AFTER_PREFIX
from orderflow.chart.guards import (
    AndGuard,
    Condition,
    Guard,
    NamedGuard,
    NotGuard,
    OrGuard,
    StateInGuard,
)
from orderflow.chart.machine import Machine
from orderflow.chart.nodes import FINAL, HISTORY, PARALLEL, Invocation, StateNode, Transition
from orderflow.errors import ExportError, ScxmlError
from orderflow.io.scxml.invoke import DocumentHooks

SCXML_NS = "http://www.w3.org/2005/07/scxml"
ORDERFLOW_NS = "https://orderflow.dev/scxml"
#: the ``type`` of an ``<invoke>`` that starts an actor given to ``setup(actors=...)``
ACTOR_TYPE = f"{ORDERFLOW_NS}/actor"

register_namespace("", SCXML_NS)
register_namespace("orderflow", ORDERFLOW_NS)


def dump(machine: Machine) -> str:
    """The machine as an SCXML document (see the module docstring)."""
    if isinstance(machine.hooks, DocumentHooks):
        return machine.hooks.source
    return _XStateWriter(machine).document()


def _s(tag: str) -> str:
    return f"{{{SCXML_NS}}}{tag}"


def _o(name: str) -> str:
    return f"{{{ORDERFLOW_NS}}}{name}"


def _json(value: Any, where: str) -> str:
    if callable(value):
        raise ScxmlError(
            f"{where} is Python code ({getattr(value, '__name__', value)!r}); only definitions "
            f"whose guards, actions and values are data can be written as SCXML"
        )
    try:
        return json.dumps(value, sort_keys=True)
    except TypeError as exc:
        raise ScxmlError(f"{where} is not JSON: {exc}") from exc


class _XStateWriter:
    def __init__(self, machine: Machine) -> None:
        self.machine = machine

    def document(self) -> str:
        machine = self.machine
        config = machine.config
        root = Element(_s("scxml"), {"version": "1.0", "datamodel": "null"})
        root.set("name", machine.id)
        root.set("initial", machine.root.id)
        root.set(_o("conventions"), "xstate")
        if config.get("version") is not None:
            root.set(_o("version"), str(config["version"]))
        if "output" in config:
            root.set(_o("output"), _json(config["output"], "the machine's output"))
        context = config.get("context")
        if context is not None:
            if isinstance(context, str):
                raise ScxmlError(
                    f"the machine's context is made from its input by the context function "
                    f"'{context}', which an SCXML datamodel cannot name"
                )
            if not isinstance(context, Mapping):
                raise ScxmlError("the machine's context is not a JSON object")
            datamodel = SubElement(root, _s("datamodel"))
            for key, value in context.items():
                SubElement(datamodel, _s("data"), {"id": str(key), "expr": _json(value, key)})
        self._state(root, machine.root)
        indent(root)
        return tostring(root, encoding="unicode", xml_declaration=True) + "\n"

    def _state(self, parent: Element, node: StateNode) -> None:
        if node.type == HISTORY:
            element = SubElement(
                parent, _s("history"), {"id": node.id, "type": node.history or "shallow"}
            )
            element.set(_o("key"), node.key)
            if node.history_default is not None:
                transition = SubElement(element, _s("transition"))
                transition.set("target", " ".join(t.id for t in node.history_default.targets or ()))
            return
        tag = {PARALLEL: "parallel", FINAL: "final"}.get(node.type, "state")
        element = SubElement(parent, _s(tag), {"id": node.id})
        element.set(_o("key"), node.key)
        if node.parent is None:
            element.set(_o("root"), "true")
        if node.has_output and node.parent is not None:
            element.set(_o("output"), _json(node.output, f"the output of {node.id}"))
        if node.tags:
            element.set(_o("tags"), _json(list(node.tags), "tags"))
        if node.meta is not None:
            element.set(_o("meta"), _json(node.meta, "meta"))
        if node.description is not None:
            element.set(_o("description"), node.description)
        if node.initial is not None and node.initial.targets:
            if node.initial.actions:
                initial = SubElement(element, _s("initial"))
                transition = SubElement(
                    initial, _s("transition"), {"target": node.initial.targets[0].id}
                )
                self._actions(transition, node.initial.actions, f"the initial actions of {node.id}")
            else:
                element.set("initial", node.initial.targets[0].id)
        if node.entry:
            self._actions(SubElement(element, _s("onentry")), node.entry, f"the entry of {node.id}")
        if node.exit:
            self._actions(SubElement(element, _s("onexit")), node.exit, f"the exit of {node.id}")
        for invocation in node.invoke:
            _invoke(element, invocation, node)
        for descriptor, transitions in node.on.items():
            for t in transitions:
                self._transition(element, t, descriptor)
        for t in node.always:
            self._transition(element, t, None)
        for child in node.children:
            self._state(element, child)

    def _transition(self, parent: Element, t: Transition, descriptor: str | None) -> None:
        element = SubElement(parent, _s("transition"))
        if descriptor is not None:
            element.set("event", descriptor)
            if t.delay is not None and descriptor.startswith(AFTER_PREFIX):
                element.set(_o("after"), str(t.delay))
        if t.targets is not None:
            element.set("target", " ".join(n.id for n in t.targets))
        if t.guard is not None:
            element.set(_o("guard"), _json(guard_json(t.guard), f"the guard of {t.path}"))
        if t.reenter:
            element.set(_o("reenter"), "true")
        self._actions(element, t.actions, f"the actions of {t.path}")

    def _actions(self, parent: Element, specs: tuple[ActionSpec, ...], where: str) -> None:
        for spec in specs:
            builtin = spec.builtin
            if (
                isinstance(builtin, Raise)
                and isinstance(builtin.event, str)
                and builtin.delay is None
                and builtin.id is None
            ):
                SubElement(parent, _s("raise"), {"event": builtin.event})
                continue
            action = action_json(spec, where)
            attributes = {"type": action["type"]}
            if "params" in action:
                attributes["params"] = _json(action["params"], where)
            SubElement(parent, _o("action"), attributes)


def _invoke(parent: Element, invocation: Invocation, node: StateNode) -> None:
    """``<invoke type=ACTOR_TYPE id src>`` with the input as ``<content>`` or ``orderflow:inputFrom``."""
    element = SubElement(
        parent, _s("invoke"), {"type": ACTOR_TYPE, "id": invocation.id, "src": invocation.src}
    )
    value = invocation.input
    if callable(value):
        name = getattr(value, "name", "")
        if not name:
            raise ExportError(
                f"the input of '{invocation.id}' invoked by {node.id} is computed by a Python "
                "function with no name; register it with setup(inputs=...) and name it with "
                "inputFrom",
                "scxml",
            )
        element.set(_o("inputFrom"), name)
    elif value is not None:
        content = SubElement(element, _s("content"))
        content.text = _json(value, f"the input of '{invocation.id}' invoked by {node.id}")
    if invocation.system_id is not None:
        element.set(_o("systemId"), invocation.system_id)
    if invocation.sync_snapshot:
        element.set(_o("onSnapshot"), "true")


def action_json(spec: ActionSpec, where: str) -> dict[str, Any]:
    """An action as the JSON a definition writes (``{"type": ..., "params": ...}``)."""
    builtin = spec.builtin
    if builtin is None or spec.name not in BUILTIN_ACTION_TYPES:  # a named action
        if callable(spec.params):
            raise ScxmlError(f"{where}: the params of '{spec.name}' are Python code")
        if spec.params is None:
            return {"type": spec.name}
        return {"type": spec.name, "params": spec.params}
    if isinstance(builtin, Block):
        raise ScxmlError(f"{where}: executable content from another document cannot be rewritten")
    if isinstance(builtin, Assign):
        if callable(builtin.update):
            raise ScxmlError(
                f"{where}: an assign computed by Python code cannot be written as SCXML"
            )
        return {"type": "assign", "params": dict(builtin.update)}
    if isinstance(builtin, Raise):
        params: dict[str, Any] = {"event": builtin.event}
        if builtin.delay is not None:
            params["delay"] = builtin.delay
        if builtin.id is not None:
            params["id"] = builtin.id
        return {"type": "raise", "params": params}
    if isinstance(builtin, Emit):
        return {"type": "emit", "params": {"event": builtin.event}}
    if isinstance(builtin, Log):
        return {"type": "log", "params": {"message": builtin.message}}
    if isinstance(builtin, Cancel):
        return {"type": "cancel", "params": {"id": builtin.id}}
    if spec.name in ACTOR_ACTION_TYPES and _written_as(spec):  # spawnChild, sendTo, ...
        return {"type": spec.name, "params": spec.params}
    raise ScxmlError(f"{where}: unknown action {spec.name!r}")


def _written_as(spec: ActionSpec) -> bool:
    """Does the JSON of ``spec`` (its name and params) give back the same built-in?"""
    try:
        return builtin_from_json(spec.name, spec.params) == spec.builtin
    except ValueError:
        return False


def guard_json(guard: Guard) -> Any:
    """A compiled guard back as the JSON a definition writes."""
    if isinstance(guard, NamedGuard):
        return guard.name if guard.params is None else {"type": guard.name, "params": guard.params}
    if isinstance(guard, StateInGuard):
        if len(guard.nodes) == 1 and guard.label.startswith("#"):
            return {"type": "stateIn", "state": guard.label}
        state: Any = guard.label
        with contextlib.suppress(ValueError):  # a state value was labelled with its JSON
            state = json.loads(state)
        return {"type": "stateIn", "state": state}
    if isinstance(guard, AndGuard | OrGuard):
        kind = "and" if isinstance(guard, AndGuard) else "or"
        return {"type": kind, "guards": [guard_json(g) for g in guard.guards]}
    if isinstance(guard, NotGuard):
        return {"type": "not", "guards": [guard_json(guard.guard)]}
    if isinstance(guard, Condition):
        raise ScxmlError(f"the condition {guard.label!r} belongs to another document")
    raise ScxmlError(f"unknown guard {guard!r}")
