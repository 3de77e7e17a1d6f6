"""Who acts, from Django's auth: the authenticated user as the service's :class:`Principal`.

    result = service.send(order, {"type": "APPROVE"}, actor=principal_for(request.user))

The principal's permissions are the user's Django permissions
(``user.get_all_permissions()``: ``"shop.approve_order"``, from the user's
own and their groups'; every permission for an active superuser, none for
an anonymous or inactive user).  The service's ``roles`` mapping (role -> the permissions granting it) turns them
into the roles the machines' guards read (``event["actor"]["roles"]``):

    DjangoWorkflowService(machines, roles={"approver": ["shop.approve_order"]})
"""

from __future__ import annotations

from typing import Any

from orderflow.service.results import Principal


def principal_for(user: Any) -> Principal | None:
    """The principal for a Django user (``None`` for an anonymous one: nobody is acting)."""
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    label = (user.get_full_name() or "").strip() or user.get_username()
    permissions = user.get_all_permissions() if user.is_active else set()
    return Principal(str(user.pk), label, frozenset(permissions))
