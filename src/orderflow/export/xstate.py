"""A normalised XState v5 JSON config from the neutral diagram model.

The config loads back with ``orderflow.create_machine`` (given the same
implementations) to a machine that behaves the same: every target is an
absolute ``#id`` reference, every transition an object in a list, guards and
actions keep their names and parameters, and the keys of a state come in the
order the compiler numbers transitions (``on``, ``onDone``, ``after``,
``always``), so document order, which decides conflicts, is unchanged.
What JSON cannot hold (an action built in Python around a function, a
context that is not JSON) raises :class:`~orderflow.errors.ExportError`.
"""

from __future__ import annotations

import json
from typing import Any

from orderflow.errors import ExportError
from orderflow.export.model import (
    Diagram,
    DiagramAction,
    DiagramGuard,
    DiagramState,
    DiagramTransition,
)


def render(diagram: Diagram) -> dict[str, Any]:
    """The machine as a plain-JSON XState v5 config."""
    by_source: dict[str, list[DiagramTransition]] = {}
    for t in diagram.transitions:
        by_source.setdefault(t.source, []).append(t)
    config: dict[str, Any] = {"id": diagram.machine_id}
    if diagram.version is not None:
        config["version"] = diagram.version
    if diagram.has_context:
        config["context"] = _json(diagram.context, "$.context")
    config.update(_state(diagram.root, by_source, "$"))
    return config


def render_json(diagram: Diagram) -> str:
    """:func:`render` as indented JSON text."""
    return json.dumps(render(diagram), indent=2) + "\n"


def _state(
    state: DiagramState, by_source: dict[str, list[DiagramTransition]], path: str
) -> dict[str, Any]:
    out: dict[str, Any] = {"id": state.id} if state.parent is not None else {}
    out["type"] = state.kind
    if state.kind == "history":
        out["history"] = state.history or "shallow"
        if state.history_default:
            out["target"] = _targets(state.history_default)
        return out
    if state.kind == "compound" and state.initial is not None:
        initial_key = next(c.key for c in state.children if c.id == state.initial)
        if state.initial_actions:
            out["initial"] = {
                "target": initial_key,
                "actions": _actions(state.initial_actions, f"{path}.initial.actions"),
            }
        else:
            out["initial"] = initial_key
    if state.entry:
        out["entry"] = _actions(state.entry, f"{path}.entry")
    if state.exit:
        out["exit"] = _actions(state.exit, f"{path}.exit")
    if state.tags:
        out["tags"] = list(state.tags)
    if state.description is not None:
        out["description"] = state.description
    if state.meta is not None:
        out["meta"] = _json(state.meta, f"{path}.meta")
    if state.has_output:
        out["output"] = _json(state.output, f"{path}.output")
    on: dict[str, list[dict[str, Any]]] = {}
    done: list[dict[str, Any]] = []
    after: dict[str, list[dict[str, Any]]] = {}
    always: list[dict[str, Any]] = []
    invoked = _invocations(state, path)
    for t in by_source.get(state.id, ()):
        where = f"{path}.{t.kind}"
        written = _transition(t, where)
        handler = _invocation_handler(t, invoked)
        if handler is not None:  # an invocation's onDone / onError / onSnapshot
            entry, key = handler
            entry.setdefault(key, []).append(written)
        elif t.kind == "always":
            always.append(written)
        elif t.kind == "done":
            done.append(written)
        elif t.kind == "after":
            after.setdefault(_delay_key(t.delay), []).append(written)
        else:
            assert t.descriptor is not None
            on.setdefault(t.descriptor, []).append(written)
    if on:
        out["on"] = on
    if done:
        out["onDone"] = done
    if after:
        out["after"] = after
    if always:
        out["always"] = always
    if invoked:
        out["invoke"] = list(invoked.values())
    if state.children:
        out["states"] = {
            child.key: _state(child, by_source, f"{path}.states.{child.key}")
            for child in state.children
        }
    return out


#: the events an invocation answers with, and the invoke key that handles each
_INVOCATION_EVENTS = (
    ("xstate.done.actor.", "onDone"),
    ("xstate.error.actor.", "onError"),
    ("xstate.snapshot.", "onSnapshot"),
)


def _invocations(state: DiagramState, path: str) -> dict[str, dict[str, Any]]:
    """The state's ``invoke`` entries by id (their handlers are added as transitions come)."""
    entries: dict[str, dict[str, Any]] = {}
    for index, invocation in enumerate(state.invocations):
        where = f"{path}.invoke[{index}]"
        if not invocation.portable:
            raise ExportError(
                f"{where}: the input of '{invocation.id}' is computed by a Python function with "
                "no name; register it with setup(inputs=...) and name it with inputFrom",
                "xstate",
            )
        entry: dict[str, Any] = {"id": invocation.id, "src": invocation.src}
        if invocation.input_from is not None:
            entry["inputFrom"] = invocation.input_from
        elif invocation.input is not None:
            entry["input"] = _json(invocation.input, f"{where}.input")
        if invocation.system_id is not None:
            entry["systemId"] = invocation.system_id
        if invocation.on_snapshot:
            entry["onSnapshot"] = []
        entries[invocation.id] = entry
    return entries


def _invocation_handler(
    t: DiagramTransition, invoked: dict[str, dict[str, Any]]
) -> tuple[dict[str, Any], str] | None:
    descriptor = t.descriptor or ""
    for prefix, key in _INVOCATION_EVENTS:
        if descriptor.startswith(prefix) and descriptor[len(prefix) :] in invoked:
            return invoked[descriptor[len(prefix) :]], key
    return None


def _transition(t: DiagramTransition, path: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if t.targets:
        out["target"] = _targets(t.targets)
    if t.guard_tree is not None:
        out["guard"] = _guard(t.guard_tree, f"{path}.guard")
    if t.action_specs:
        out["actions"] = _actions(t.action_specs, f"{path}.actions")
    if t.reenter:
        out["reenter"] = True
    return out


def _targets(ids: tuple[str, ...]) -> str | list[str]:
    refs = [f"#{state_id}" for state_id in ids]
    return refs[0] if len(refs) == 1 else refs


def _guard(guard: DiagramGuard, path: str) -> Any:
    if guard.kind == "named":
        if guard.params is None:
            return guard.name
        return {"type": guard.name, "params": _json(guard.params, f"{path}.params")}
    if guard.kind == "stateIn":
        checks = [{"type": "stateIn", "state": f"#{s}"} for s in guard.states]
        return checks[0] if len(checks) == 1 else {"type": "and", "guards": checks}
    return {"type": guard.kind, "guards": [_guard(g, path) for g in guard.guards]}


def _actions(actions: tuple[DiagramAction, ...], path: str) -> list[Any]:
    out: list[Any] = []
    for index, action in enumerate(actions):
        if not action.portable:
            raise ExportError(
                f"{path}[{index}]: action '{action.name}' was built in Python and has no JSON form; "
                f"register it by name with setup(actions=...) to export this machine.",
                "xstate",
            )
        if action.params is None:
            out.append(action.name)
        else:
            out.append({"type": action.name, "params": action.params})
    return out


def _delay_key(delay: float | str | None) -> str:
    if isinstance(delay, float):
        return str(int(delay)) if delay.is_integer() else repr(delay)
    return str(delay)


def _json(value: Any, path: str) -> Any:
    try:
        return json.loads(json.dumps(value))
    except (TypeError, ValueError) as exc:
        raise ExportError(f"{path} is not JSON ({exc}); it cannot be exported.", "xstate") from exc
