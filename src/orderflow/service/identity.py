"""Who acts, and what may come in through an outside door.

Identity is never data a caller writes.  The service receives the
authenticated :class:`~orderflow.service.results.Actor` (id, label,
permissions) as an argument and writes it into every event it runs, under
the reserved field ``actor``:

    {"type": "APPROVE", "reason": "...",
     "actor": {"id": "u-7", "label": "Ada", "permissions": [...], "roles": [...]}}

Guards and actions read who acts from there and nowhere else, so the log
row's actor, what a machine writes about who acted and the events it emits
agree by construction.  An event from outside that carries ``actor`` itself
is refused (:class:`~orderflow.errors.ReservedEventFieldError`) before
anything runs.  An event with no authenticated actor (a timer, a hand-off
without one) carries ``actor: None``.

**Roles are not self-asserted.**  What machines call roles comes from the
actor's permissions through a :class:`RoleMapping` the service is given
(for the shipped machines, :attr:`Policies.role_grants
<orderflow.orders.policies.Policies.role_grants>`): a token carrying the
permission is what makes a sales approver.

**Internal events stay inside.**  Event types in the reserved namespaces
(``xstate.*`` and ``orderflow.*``, and an SCXML machine's ``done.*`` and
``error.*``) are raised by the machine itself, its timers and the service;
an outside door (``send``, ``bulk_send``, ``transition``, the API, the
CLI) refuses them as unknown events.  The pure core still takes them, as
XState's ``transition`` does.

**Untyped payloads are JSON.**  An event type without a payload model may
carry JSON values, plus ``Decimal``, ``datetime``/``date``/``time`` and
``UUID``, which are written as text (as a context is); anything else, a
non-finite number, a non-text key or nesting deeper than
:data:`MAX_PAYLOAD_DEPTH` is an :class:`~orderflow.errors.InvalidEventError`
before anything runs, never a failure halfway through a write.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any
from uuid import UUID

from pydantic import BaseModel

from orderflow.chart import Machine
from orderflow.errors import InvalidEventError, ReservedEventFieldError, UnknownEventError
from orderflow.service.results import Principal

#: the event field the service writes who acts into
ACTOR_FIELD = "actor"
#: event fields only the service writes; a payload from outside that carries one is refused
RESERVED_FIELDS = frozenset({ACTOR_FIELD})
#: event type namespaces raised only inside (by the machine, its timers, the service)
INTERNAL_NAMESPACES = ("xstate", "orderflow")
#: namespaces SCXML reserves for platform events, internal for SCXML machines only
SCXML_INTERNAL_NAMESPACES = ("done", "error")
#: how deeply an untyped payload may nest its objects and lists
MAX_PAYLOAD_DEPTH = 64

EventLike = str | Mapping[str, Any] | BaseModel


class RoleMapping:
    """Which roles an actor holds, decided by its permissions (never by what an event says).

    ``grants`` maps each role to the permissions that grant it (any one
    does): ``RoleMapping({"sales-approver": ["quotation.approve"]})``.  Or
    pass a function ``actor -> roles`` for rules of your own.
    """

    def __init__(
        self,
        grants: Mapping[str, Iterable[str]] | Callable[[Principal], Iterable[str]] | None = None,
    ) -> None:
        self._table: dict[str, frozenset[str]] | None = None
        if callable(grants):
            self._roles_of: Callable[[Principal], Iterable[str]] = grants
        else:
            table = {role: frozenset(permissions) for role, permissions in (grants or {}).items()}
            self._table = table
            self._roles_of = lambda actor: [r for r, p in table.items() if p & actor.permissions]

    def roles_of(self, actor: Principal) -> tuple[str, ...]:
        return tuple(sorted(set(self._roles_of(actor))))

    def describe(self, role: str) -> str:
        """How one gets ``role``, for a refusal a person can act on."""
        if self._table is None:
            return f"the '{role}' role"
        granting = sorted(self._table.get(role, ()))
        if not granting:
            return f"the '{role}' role, which no permission grants"
        names = " or ".join(f"'{p}'" for p in granting)
        noun = "permission" if len(granting) == 1 else "permissions"
        return f"the '{role}' role, which the {noun} {names} grants"


def acting_user(actor: Principal | None, roles: RoleMapping) -> dict[str, Any] | None:
    """``actor`` as every event carries it: id, label, permissions, and the roles they grant."""
    if actor is None:
        return None
    return {
        "id": actor.id,
        "label": actor.label,
        "permissions": sorted(actor.permissions),
        "roles": list(roles.roles_of(actor)),
    }


def is_internal_event(machine: Machine, event_type: str) -> bool:
    """Is ``event_type`` in a namespace only the machine, its timers and the service may raise?"""
    namespace = event_type.split(".", 1)[0]
    if namespace in INTERNAL_NAMESPACES:
        return True
    return machine.scxml and namespace in SCXML_INTERNAL_NAMESPACES


def plain_event(event: Any) -> dict[str, Any]:
    """``event`` (a type string, a mapping or a pydantic model) as a new dict; anything else is refused."""
    if type(event) is dict:  # the common case first: no ABC checks
        return dict(event)
    if isinstance(event, str):
        return {"type": event}
    if isinstance(event, BaseModel):
        return event.model_dump(mode="json")
    if isinstance(event, Mapping):
        return dict(event)
    raise InvalidEventError(
        f"an event must be a type string or an object with a 'type', not {type(event).__name__}"
    )


def outside_event(event: Any) -> dict[str, Any]:
    """An event from an outside door as a dict, refused if it carries a reserved field.

    A payload model instance whose ``actor`` field was left unset names nobody.
    """
    data = plain_event(event)
    if isinstance(event, BaseModel):
        for field in RESERVED_FIELDS - event.model_fields_set:
            data.pop(field, None)
    for field in RESERVED_FIELDS:
        if field in data:
            raise ReservedEventFieldError(_type_of(data), field)
    return data


def refuse_internal(machine: Machine, event_type: Any) -> None:
    """Raise :class:`UnknownEventError` for an internal event type sent from outside."""
    if isinstance(event_type, str) and is_internal_event(machine, event_type):
        raise UnknownEventError(machine.id, event_type, internal=True)


def with_actor(machine: Machine, data: Mapping[str, Any], acting: Any) -> dict[str, Any]:
    """``data`` with who acts written into it, whatever it said before.

    An event type whose payload model has no ``actor`` field and drops or
    forbids unknown fields gets none (its guards could not read it anyway).
    """
    model = machine.implementations.events.get(str(data.get("type")))
    if (
        model is not None
        and ACTOR_FIELD not in model.model_fields
        and model.model_config.get("extra") != "allow"
    ):
        return {k: v for k, v in data.items() if k != ACTOR_FIELD}
    return {**data, ACTOR_FIELD: acting}


def as_machine_reads(machine: Machine, data: Mapping[str, Any], acting: Any) -> dict[str, Any]:
    """``data`` as the machine reads it: who acts written in, the payload validated and JSON.

    What the guards read is what the log keeps: an event without a payload
    model is made plain JSON first, one with a model is its model's values.
    """
    event = with_actor(machine, data, acting)
    if machine.implementations.events.get(str(event.get("type"))) is None:
        return dict(machine.event(json_payload(event)).data)  # plain JSON in, the same out
    return json_payload(machine.event(event).data)


def json_payload(data: Mapping[str, Any]) -> dict[str, Any]:
    """An untyped event as plain JSON (see the module doc), or :class:`InvalidEventError`."""
    if type(data) is dict and all(
        type(key) is str and type(value) in _PLAIN_SCALARS for key, value in data.items()
    ):
        return dict(data)  # flat text, whole numbers, booleans and nulls are JSON as they are
    event_type = _type_of(data)
    root: dict[str, Any] = {}
    # (value, container, key, depth, path): converted without recursion, so depth is ours to bound
    stack: list[tuple[Any, Any, Any, int, str]] = [
        (value, root, key, 1, f"$.{key}") for key, value in data.items()
    ]
    for key in data:
        if not isinstance(key, str):
            raise InvalidEventError(
                f"the payload of '{event_type}' has a key {key!r} that is not text", event_type
            )
    while stack:
        value, into, key, depth, path = stack.pop()
        if depth > MAX_PAYLOAD_DEPTH:
            raise InvalidEventError(
                f"the payload of '{event_type}' nests deeper than {MAX_PAYLOAD_DEPTH} levels "
                f"at {path}",
                event_type,
            )
        if isinstance(value, Mapping):
            child: Any = {}
            for sub_key, sub in value.items():
                if not isinstance(sub_key, str):
                    raise InvalidEventError(
                        f"the payload of '{event_type}' has a key {sub_key!r} at {path} that is "
                        f"not text",
                        event_type,
                    )
                stack.append((sub, child, sub_key, depth + 1, f"{path}.{sub_key}"))
        elif isinstance(value, list | tuple):
            child = [None] * len(value)
            stack.extend(
                (sub, child, index, depth + 1, f"{path}[{index}]")
                for index, sub in enumerate(value)
            )
        else:
            child = _scalar(value, path, event_type)
        into[key] = child
    return root


#: the exact types a payload value keeps unchanged, with nothing to check (a float must be finite)
_PLAIN_SCALARS = frozenset({str, int, bool, type(None)})


def _scalar(value: Any, path: str, event_type: str | None) -> Any:
    if value is None or isinstance(value, str | bool | int):
        return value
    if isinstance(value, float | Decimal):
        if not (value.is_finite() if isinstance(value, Decimal) else math.isfinite(value)):
            raise InvalidEventError(
                f"the payload of '{event_type}' holds {value} at {path}; only finite numbers "
                f"are JSON",
                event_type,
            )
        return value if isinstance(value, float) else str(value)
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, UUID):
        return str(value)
    raise InvalidEventError(
        f"the payload of '{event_type}' holds a {type(value).__name__} at {path}; an event "
        f"without a payload model may hold JSON values, Decimal, datetime, date, time and UUID",
        event_type,
    )


def _type_of(data: Mapping[str, Any]) -> str | None:
    event_type = data.get("type")
    return event_type if isinstance(event_type, str) else None
