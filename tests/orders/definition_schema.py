"""The JSON Schema the shipped definitions must fit, and a validator for the part of JSON Schema it uses.

The schema describes XState v5 machine configs as orderflow reads them
(states, ``on``, ``always``, ``after``, ``invoke``, guards with params and the
``and``/``or``/``not``/``stateIn`` combinators, actions as names or
``{"type", "params"}``, history and final states).  It is stricter than the
core on purpose: no unknown keys anywhere, so a typo in a definition fails
here with its JSON path even where the core would let it pass.

The validator covers exactly the keywords the schema uses (``type``,
``properties``, ``additionalProperties``, ``required``, ``enum``,
``minLength``, ``minimum``, ``items``, ``anyOf``, ``$ref``), so the tests need
no third-party package.
"""

from __future__ import annotations

from typing import Any

NAME = {"type": "string", "minLength": 1}

SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$ref": "#/$defs/machine",
    "$defs": {
        "machine": {
            "type": "object",
            "required": ["id", "version", "initial", "states"],
            "properties": {
                "id": NAME,
                "version": {"anyOf": [{"type": "integer", "minimum": 1}, NAME]},
                "description": {"type": "string"},
                "initial": NAME,
                "context": {"type": "object"},
                "states": {"$ref": "#/$defs/states"},
                "on": {"$ref": "#/$defs/on"},
                "entry": {"$ref": "#/$defs/actions"},
                "exit": {"$ref": "#/$defs/actions"},
                "output": {},
            },
            "additionalProperties": False,
        },
        "states": {"type": "object", "additionalProperties": {"$ref": "#/$defs/state"}},
        "state": {
            "type": "object",
            "properties": {
                "id": NAME,
                "type": {"enum": ["atomic", "compound", "parallel", "final", "history"]},
                "history": {"enum": ["shallow", "deep"]},
                "target": NAME,
                "initial": NAME,
                "states": {"$ref": "#/$defs/states"},
                "on": {"$ref": "#/$defs/on"},
                "always": {"$ref": "#/$defs/transitions"},
                "after": {"$ref": "#/$defs/on"},
                "onDone": {"$ref": "#/$defs/transitions"},
                "invoke": {
                    "anyOf": [
                        {"$ref": "#/$defs/invoke"},
                        {"type": "array", "items": {"$ref": "#/$defs/invoke"}},
                    ]
                },
                "entry": {"$ref": "#/$defs/actions"},
                "exit": {"$ref": "#/$defs/actions"},
                "tags": {"type": "array", "items": NAME},
                "description": {"type": "string"},
                "meta": {"type": "object"},
                "output": {},
            },
            "additionalProperties": False,
        },
        "on": {"type": "object", "additionalProperties": {"$ref": "#/$defs/transitions"}},
        "invoke": {
            "type": "object",
            "required": ["src"],
            "properties": {
                "id": NAME,
                "src": NAME,
                "systemId": NAME,
                "input": {},
                "inputFrom": NAME,
                "onDone": {"$ref": "#/$defs/transitions"},
                "onError": {"$ref": "#/$defs/transitions"},
                "onSnapshot": {"$ref": "#/$defs/transitions"},
            },
            "additionalProperties": False,
        },
        "transitions": {
            "anyOf": [
                {"$ref": "#/$defs/transition"},
                {"type": "array", "items": {"$ref": "#/$defs/transition"}},
            ]
        },
        "transition": {
            "anyOf": [
                NAME,
                {
                    "type": "object",
                    "properties": {
                        "target": {"anyOf": [NAME, {"type": "array", "items": NAME}]},
                        "guard": {"$ref": "#/$defs/guard"},
                        "actions": {"$ref": "#/$defs/actions"},
                        "reenter": {"type": "boolean"},
                        "description": {"type": "string"},
                        "meta": {"type": "object"},
                    },
                    "additionalProperties": False,
                },
            ]
        },
        "guard": {
            "anyOf": [
                NAME,
                {
                    "type": "object",
                    "required": ["type", "guards"],
                    "properties": {
                        "type": {"enum": ["and", "or", "not"]},
                        "guards": {"type": "array", "items": {"$ref": "#/$defs/guard"}},
                    },
                    "additionalProperties": False,
                },
                {
                    "type": "object",
                    "required": ["type", "state"],
                    "properties": {"type": {"enum": ["stateIn"]}, "state": {}},
                    "additionalProperties": False,
                },
                {
                    "type": "object",
                    "required": ["type"],
                    "properties": {"type": NAME, "params": {"type": "object"}},
                    "additionalProperties": False,
                },
            ]
        },
        "actions": {
            "anyOf": [
                {"$ref": "#/$defs/action"},
                {"type": "array", "items": {"$ref": "#/$defs/action"}},
            ]
        },
        "action": {
            "anyOf": [
                NAME,
                {
                    "type": "object",
                    "required": ["type"],
                    "properties": {"type": NAME, "params": {}},
                    "additionalProperties": False,
                },
            ]
        },
    },
}

_TYPES: dict[str, Any] = {
    "object": dict,
    "array": list,
    "string": str,
    "boolean": bool,
    "integer": int,
}


def validate(instance: Any, schema: dict[str, Any] | None = None, path: str = "$") -> list[str]:
    """Every place ``instance`` does not fit ``schema`` (default :data:`SCHEMA`), as ``path: problem``."""
    return _check(instance, SCHEMA if schema is None else schema, path)


def _check(instance: Any, schema: dict[str, Any], path: str) -> list[str]:
    if "$ref" in schema:
        name = schema["$ref"].removeprefix("#/$defs/")
        return _check(instance, SCHEMA["$defs"][name], path)
    if "anyOf" in schema:
        attempts = [_check(instance, option, path) for option in schema["anyOf"]]
        if any(not problems for problems in attempts):
            return []
        # The alternative of the right type explains best; among those, the one with fewest problems.
        wrong_type = f"{path}: expected "
        fitting = [a for a in attempts if not a[0].startswith(wrong_type)] or attempts
        return min(fitting, key=len)
    expected = schema.get("type")
    if expected is not None:
        python_type = _TYPES[expected]
        is_bool = isinstance(instance, bool)
        if not isinstance(instance, python_type) or (expected == "integer" and is_bool):
            return [f"{path}: expected {expected}, got {type(instance).__name__}"]
    problems: list[str] = []
    if "enum" in schema and instance not in schema["enum"]:
        problems.append(f"{path}: {instance!r} is not one of {schema['enum']}")
    if "minLength" in schema and isinstance(instance, str) and len(instance) < schema["minLength"]:
        problems.append(f"{path}: shorter than {schema['minLength']}")
    if "minimum" in schema and isinstance(instance, int) and instance < schema["minimum"]:
        problems.append(f"{path}: below {schema['minimum']}")
    if isinstance(instance, list) and "items" in schema:
        for index, item in enumerate(instance):
            problems += _check(item, schema["items"], f"{path}[{index}]")
    if isinstance(instance, dict):
        properties = schema.get("properties", {})
        for key in schema.get("required", ()):
            if key not in instance:
                problems.append(f"{path}: '{key}' is required")
        extra = schema.get("additionalProperties", True)
        for key, value in instance.items():
            if key in properties:
                problems += _check(value, properties[key], f"{path}.{key}")
            elif extra is False:
                problems.append(f"{path}.{key}: unknown key")
            elif isinstance(extra, dict):
                problems += _check(value, extra, f"{path}.{key}")
    return problems
