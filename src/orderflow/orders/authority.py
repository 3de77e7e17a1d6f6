"""Who may do what: the guards that read the acting user an event carries.

Every event a person decides carries ``actor`` (:class:`ActingUser`), so
these guards are pure functions of the event and the policies: the service
resolves the user, the machine checks the role.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from orderflow.orders.policies import Policies
from orderflow.orders.values import ActingUser

GuardResult = tuple[bool, str | None]

#: what ``role_allowed`` requires when a definition gives no ``params.permissions``
DEFAULT_PERMISSIONS = ("order.change",)


def acting_user(event: Any) -> ActingUser | None:
    actor = getattr(event, "actor", None)
    return actor if isinstance(actor, ActingUser) else None


def actor_has_role(policies: Policies, context: Any, event: Any, params: Any) -> GuardResult:
    """The event's actor has the role ``params.role`` names (a logical role, see :class:`Policies`)."""
    role = policies.role(_param(params, "role"))
    actor = acting_user(event)
    if actor is None:
        return False, f"the event names no actor; it needs one with the {role} role"
    if role not in actor.roles:
        return False, f"{actor.id} does not have the {role} role"
    return True, None


def role_allowed(policies: Policies, context: Any, event: Any, params: Any) -> GuardResult:
    """The event's actor holds every permission in ``params.permissions`` (default ``order.change``),
    either directly or through a role (``Policies.role_permissions``)."""
    required = tuple(
        params.get("permissions", DEFAULT_PERMISSIONS)
        if isinstance(params, Mapping)
        else DEFAULT_PERMISSIONS
    )
    actor = acting_user(event)
    if actor is None:
        return False, f"the event names no actor; it needs {', '.join(required)}"
    granted = set(actor.permissions)
    for role in actor.roles:
        granted.update(policies.role_permissions.get(role, ()))
    missing = [p for p in required if p not in granted]
    if missing:
        return False, f"{actor.id} lacks the permission {', '.join(missing)}"
    return True, None


def _param(params: Any, name: str) -> str:
    if not isinstance(params, Mapping) or not isinstance(params.get(name), str):
        raise ValueError(f"this guard needs params.{name} in the definition")
    value: str = params[name]
    return value
