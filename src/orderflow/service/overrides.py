"""Override requests: who may decide them, and their rows in ``workflow_override_requests``.

A machine opens and decides overrides in its own context (the sale keeps
``overrides``: kind, id, status, reason, requested_by, decided_by, note) and
its guards check the acting user's *role*.  The service adds what a pure
machine cannot know:

- **permissions**: deciding an override of a kind needs a permission of the
  service's :class:`~orderflow.service.Actor`; its name is configuration
  (:class:`OverrideKind`).  An actor without it is refused before the
  machine sees the event: the result says why, nothing is written, and
  nothing is logged.  An actor with it reaches the machine carrying the
  role its guard expects.
- **rows**: after each send, the requests the context opened become
  :class:`~orderflow.store.OverrideRequest` rows, and the ones whose status
  changed get who decided and when, in the same transaction.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session

from orderflow.orders.policies import Policies
from orderflow.service.results import Actor
from orderflow.store import OverrideRequest


@dataclass(frozen=True)
class OverrideKind:
    """One kind of override: the events that request and decide it, and who may decide."""

    kind: str
    request_event: str
    decision_events: tuple[str, ...]
    #: what the service's Actor must hold to send a decision event (configuration)
    permission: str
    #: the role the machine's guard checks, given to an actor holding ``permission``
    role: str


@dataclass(frozen=True)
class OverrideRules:
    """The override kinds of one machine, and where its context keeps the requests."""

    machine: str
    kinds: tuple[OverrideKind, ...]
    context_field: str = "overrides"

    def deciding(self, event_type: str) -> OverrideKind | None:
        return next((k for k in self.kinds if event_type in k.decision_events), None)

    def requesting(self, event_type: str) -> OverrideKind | None:
        return next((k for k in self.kinds if k.request_event == event_type), None)

    def kind(self, name: str) -> OverrideKind:
        for kind in self.kinds:
            if kind.kind == name:
                return kind
        raise KeyError(f"{self.machine} has no override kind '{name}' (it has {self.kind_names})")

    @property
    def kind_names(self) -> list[str]:
        return [k.kind for k in self.kinds]

    def acting_user(self, actor: Actor) -> dict[str, Any]:
        """``actor`` as the machine's events carry it (``ActingUser``), with the roles it earns."""
        roles = sorted({k.role for k in self.kinds if actor.can(k.permission)})
        return {"id": actor.id, "roles": roles, "permissions": sorted(actor.permissions)}


def sale_override_rules(
    policies: Policies | None = None,
    *,
    credit_permission: str = "sale.override.credit",
    admin_permission: str = "sale.override.admin",
) -> OverrideRules:
    """The sale machine's credit and admin overrides (``machines/sale.json``)."""
    policies = policies or Policies()
    return OverrideRules(
        machine="sale",
        kinds=(
            OverrideKind(
                "credit", "REQUEST_CREDIT_OVERRIDE",
                ("CREDIT_OVERRIDE_APPROVED", "CREDIT_OVERRIDE_REJECTED"),
                credit_permission, policies.credit_approver_role,
            ),
            OverrideKind(
                "admin", "REQUEST_ADMIN_OVERRIDE",
                ("ADMIN_OVERRIDE_APPROVED", "ADMIN_OVERRIDE_REJECTED"),
                admin_permission, policies.admin_role,
            ),
        ),
    )  # fmt: skip


def prepare_event(
    rules: OverrideRules, event: Mapping[str, Any], actor: Actor | None
) -> tuple[dict[str, Any] | None, str | None]:
    """The event with the acting user filled in, or ``(None, reason)`` when ``actor`` may not send it."""
    event_type = str(event.get("type"))
    deciding = rules.deciding(event_type)
    if deciding is None and rules.requesting(event_type) is None:
        return dict(event), None
    named = event.get("actor")
    named_id = named.get("id") if isinstance(named, Mapping) else None
    if deciding is not None:
        if actor is None:
            return None, (
                f"deciding a {deciding.kind} override needs an actor with the "
                f"'{deciding.permission}' permission"
            )
        if not actor.can(deciding.permission):
            return None, (
                f"{actor.label or actor.id} may not decide {deciding.kind} overrides: "
                f"that needs the '{deciding.permission}' permission"
            )
    if actor is None:
        return dict(event), None
    if named_id is not None and named_id != actor.id:
        return None, f"the event names actor '{named_id}', but '{actor.id}' is sending it"
    return {**event, "actor": rules.acting_user(actor)}, None


def record_overrides(
    session: Session,
    rules: OverrideRules,
    record_type: str,
    record_id: str,
    before: Any,
    after: Any,
    actor: Actor | None,
    now: datetime,
) -> None:
    """Insert the requests ``after`` opened, and settle the ones whose status changed since ``before``."""
    earlier = {entry["id"]: entry for entry in _requests(before, rules.context_field)}
    for entry in _requests(after, rules.context_field):
        prior = earlier.get(entry["id"])
        if prior is None:
            session.add(
                OverrideRequest(
                    record_type=record_type, record_id=record_id, request_key=str(entry["id"]),
                    kind=str(entry["kind"]), reason=str(entry.get("reason") or ""),
                    requested_by=str(entry.get("requested_by") or _id(actor) or ""),
                    status=str(entry.get("status") or "open"), note=str(entry.get("note") or ""),
                    created_at=now,
                    **_decision(entry, actor, now),
                )
            )  # fmt: skip
        elif prior.get("status") != entry.get("status"):
            session.execute(
                update(OverrideRequest)
                .where(
                    OverrideRequest.record_type == record_type,
                    OverrideRequest.record_id == record_id,
                    OverrideRequest.request_key == str(entry["id"]),
                )
                .values(
                    status=str(entry["status"]), note=str(entry.get("note") or ""),
                    **_decision(entry, actor, now),
                )
                .execution_options(synchronize_session=False)
            )  # fmt: skip


def _requests(context: Any, field: str) -> Sequence[Mapping[str, Any]]:
    if not isinstance(context, Mapping):
        return ()
    found = context.get(field) or ()
    return [entry for entry in found if isinstance(entry, Mapping) and "id" in entry]


def _decision(entry: Mapping[str, Any], actor: Actor | None, now: datetime) -> dict[str, Any]:
    """Who settled a request and when; a withdrawn request was settled by whoever sent the event."""
    if entry.get("status") in (None, "open"):
        return {}
    return {"decided_by": entry.get("decided_by") or _id(actor), "decided_at": now}


def _id(actor: Actor | None) -> str | None:
    return None if actor is None else actor.id
