"""Reading back a document :func:`orderflow.io.scxml.dump` wrote from a JSON machine.

The root element says ``orderflow:conventions="xstate"``; its one top-level
state is the machine's root.  The document becomes the XState JSON config
again and is compiled under XState's conventions, with the implementations
``load`` was given (``setup=orderflow.setup(guards=..., actions=...)``).
"""

from __future__ import annotations

import json
from typing import Any
from xml.etree.ElementTree import Element

from orderflow.chart.definition import (
    AFTER_PREFIX,
    DONE_ACTOR_PREFIX,
    ERROR_ACTOR_PREFIX,
    SNAPSHOT_PREFIX,
)
from orderflow.chart.machine import Machine, Setup
from orderflow.errors import ScxmlError
from orderflow.io.scxml.content import local
from orderflow.io.scxml.dump import ACTOR_TYPE, ORDERFLOW_NS

STATE_TAGS = frozenset({"state", "parallel", "final", "history"})


def _o(name: str) -> str:
    return f"{{{ORDERFLOW_NS}}}{name}"


def is_xstate_document(root: Element) -> bool:
    return root.get(_o("conventions")) == "xstate"


def load_xstate_document(root: Element, setup: Setup) -> Machine:
    states = [c for c in root if isinstance(c.tag, str) and local(c.tag) in STATE_TAGS]
    if len(states) != 1 or states[0].get(_o("root")) != "true":
        raise ScxmlError("an orderflow:conventions='xstate' document has one root state", "scxml")
    config = _state(states[0])
    config.pop("id", None)
    config["id"] = root.get("name") or states[0].get("id")
    if root.get(_o("version")) is not None:
        config["version"] = root.get(_o("version"))
    if root.get(_o("output")) is not None:
        config["output"] = json.loads(root.get(_o("output"), "null"))
    context = {}
    for datamodel in root:
        if isinstance(datamodel.tag, str) and local(datamodel.tag) == "datamodel":
            for data in datamodel:
                if isinstance(data.tag, str) and local(data.tag) == "data":
                    context[data.get("id", "")] = json.loads(data.get("expr", "null"))
    if context:
        config["context"] = context
    return setup.create_machine(config, _stacklevel=4)


def _state(element: Element) -> dict[str, Any]:
    tag = local(element.tag)
    config: dict[str, Any] = {"id": element.get("id")}
    if tag == "history":
        config["type"] = "history"
        config["history"] = element.get("type", "shallow")
        for child in element:
            if isinstance(child.tag, str) and local(child.tag) == "transition":
                config["target"] = [f"#{t}" for t in child.get("target", "").split()]
        return config
    children: dict[str, Any] = {}
    invoke: list[dict[str, Any]] = []
    on: dict[str, list[Any]] = {}
    after: dict[str, list[Any]] = {}
    always: list[Any] = []
    if tag == "parallel":
        config["type"] = "parallel"
    elif tag == "final":
        config["type"] = "final"
    if element.get("initial") is not None:
        config["initial"] = _key_of(element, element.get("initial", ""))
    for attribute, key in (("output", "output"), ("tags", "tags"), ("meta", "meta")):
        if element.get(_o(attribute)) is not None:
            config[key] = json.loads(element.get(_o(attribute), "null"))
    if element.get(_o("description")) is not None:
        config["description"] = element.get(_o("description"))
    for child in element:
        if not isinstance(child.tag, str):
            continue
        child_tag = local(child.tag)
        if child_tag in STATE_TAGS:
            children[child.get(_o("key")) or child.get("id") or ""] = _state(child)
        elif child_tag == "initial":
            initial = next(c for c in child if isinstance(c.tag, str))
            config["initial"] = {
                "target": _key_of(element, initial.get("target", "")),
                "actions": _actions(initial),
            }
        elif child_tag in ("onentry", "onexit"):
            config["entry" if child_tag == "onentry" else "exit"] = _actions(child)
        elif child_tag == "invoke":
            invoke.append(_invoke(child))
        elif child_tag == "transition":
            transition = _transition(child)
            descriptor = child.get("event")
            delay = child.get(_o("after"))
            if descriptor is None:
                always.append(transition)
            elif delay is not None and descriptor.startswith(AFTER_PREFIX):
                after.setdefault(_delay_key(delay), []).append(transition)
            else:
                on.setdefault(descriptor, []).append(transition)
    if children:
        config["states"] = children
    if invoke:
        config["invoke"] = [_answers(entry, on) for entry in invoke]
    if on:
        config["on"] = on
    if after:
        config["after"] = after
    if always:
        config["always"] = always
    return config


#: the events an invoked actor answers with, and the invoke key whose transitions handle each
_ANSWERS = (
    (DONE_ACTOR_PREFIX, "onDone"),
    (ERROR_ACTOR_PREFIX, "onError"),
    (SNAPSHOT_PREFIX, "onSnapshot"),
)


def _invoke(element: Element) -> dict[str, Any]:
    """An ``<invoke>`` :func:`~orderflow.io.scxml.dump` wrote, as an XState invoke entry."""
    if element.get("type") != ACTOR_TYPE or not element.get("id") or not element.get("src"):
        raise ScxmlError(
            f"an orderflow:conventions='xstate' document invokes actors with "
            f"type='{ACTOR_TYPE}', an id and a src",
            "invoke",
        )
    entry: dict[str, Any] = {"id": element.get("id"), "src": element.get("src")}
    for child in element:
        if not isinstance(child.tag, str):
            continue
        if local(child.tag) != "content":
            raise ScxmlError(f"<{local(child.tag)}> is not read inside <invoke> here", "invoke")
        try:
            entry["input"] = json.loads(child.text or "")
        except ValueError as exc:
            raise ScxmlError(
                f"the <content> of '{entry['id']}' is not JSON: {exc}", "invoke"
            ) from exc
    for attribute in ("inputFrom", "systemId"):
        if element.get(_o(attribute)) is not None:
            entry[attribute] = element.get(_o(attribute))
    if element.get(_o("onSnapshot")) == "true":
        entry["onSnapshot"] = []
    return entry


def _answers(entry: dict[str, Any], on: dict[str, list[Any]]) -> dict[str, Any]:
    """The invocation's onDone / onError / onSnapshot, taken out of the state's ``on``."""
    for prefix, key in _ANSWERS:
        transitions = on.pop(prefix + entry["id"], None)
        if transitions is not None:
            entry[key] = transitions
    return entry


def _key_of(element: Element, ident: str) -> str:
    for child in element:
        if isinstance(child.tag, str) and child.get("id") == ident:
            return child.get(_o("key")) or ident
    raise ScxmlError(f"the initial state {ident!r} is not a child of {element.get('id')!r}")


def _delay_key(delay: str) -> str:
    try:
        number = float(delay)
    except ValueError:
        return delay
    return str(int(number)) if number.is_integer() else repr(number)


def _transition(element: Element) -> dict[str, Any]:
    transition: dict[str, Any] = {}
    target = element.get("target")
    if target is not None:
        transition["target"] = [f"#{t}" for t in target.split()]
    if element.get(_o("guard")) is not None:
        transition["guard"] = json.loads(element.get(_o("guard"), "null"))
    if element.get(_o("reenter")) == "true":
        transition["reenter"] = True
    actions = _actions(element)
    if actions:
        transition["actions"] = actions
    return transition


def _actions(element: Element) -> list[Any]:
    actions: list[Any] = []
    for child in element:
        if not isinstance(child.tag, str):
            continue
        tag = local(child.tag)
        if tag == "raise":
            actions.append({"type": "raise", "params": {"event": child.get("event")}})
        elif tag == "action" and child.tag == _o("action"):
            action: dict[str, Any] = {"type": child.get("type")}
            if child.get("params") is not None:
                action["params"] = json.loads(child.get("params", "null"))
            actions.append(action)
        else:
            raise ScxmlError(
                f"<{tag}> is not an action of an orderflow:conventions='xstate' document"
            )
    return actions
