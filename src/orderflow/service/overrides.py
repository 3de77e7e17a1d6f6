"""Override requests: who may decide them, and their rows in ``workflow_override_requests``.

A machine opens and decides overrides in its own context (the sale keeps
``overrides``: kind, id, status, reason, requested_by, decided_by, note) and
its guards check the acting user's *role*.  The service adds what a pure
machine cannot know:

- **who may decide**: deciding an override of a kind needs the role its
  :class:`OverrideKind` names, which the service's role mapping grants from
  the :class:`~orderflow.service.Actor`'s permissions (for the sale,
  ``Policies.role_grants``).  An actor without it is refused before the
  machine sees the event: the result says why, nothing is written, and
  nothing is logged.  The machine's guard checks the same role again, from
  the ``actor`` the service wrote into the event.
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
from orderflow.service.identity import RoleMapping
from orderflow.service.results import Principal
from orderflow.store import OverrideRequest


@dataclass(frozen=True)
class OverrideKind:
    """One kind of override: the events that request and decide it, and the role that decides."""

    kind: str
    request_event: str
    decision_events: tuple[str, ...]
    #: the role the machine's guard checks; the service's role mapping grants it from permissions
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


def sale_override_rules(policies: Policies | None = None) -> OverrideRules:
    """The sale machine's credit and admin overrides (``machines/sale.json``).

    Who decides each is the role ``policies`` names for it; which
    permissions grant that role is ``Policies.role_grants``.
    """
    policies = policies or Policies()
    return OverrideRules(
        machine="sale",
        kinds=(
            OverrideKind(
                "credit", "REQUEST_CREDIT_OVERRIDE",
                ("CREDIT_OVERRIDE_APPROVED", "CREDIT_OVERRIDE_REJECTED"),
                policies.credit_approver_role,
            ),
            OverrideKind(
                "admin", "REQUEST_ADMIN_OVERRIDE",
                ("ADMIN_OVERRIDE_APPROVED", "ADMIN_OVERRIDE_REJECTED"),
                policies.admin_role,
            ),
        ),
    )  # fmt: skip


def override_refusal(
    rules: OverrideRules, event_type: str, actor: Principal | None, roles: RoleMapping
) -> str | None:
    """Why ``actor`` may not send ``event_type`` (a decision it lacks the role for), or None."""
    deciding = rules.deciding(event_type)
    if deciding is None:
        return None
    if actor is None:
        return (
            f"deciding a {deciding.kind} override needs an authenticated actor with "
            f"{roles.describe(deciding.role)}"
        )
    if deciding.role not in roles.roles_of(actor):
        return (
            f"{actor.label or actor.id} may not decide {deciding.kind} overrides: that needs "
            f"{roles.describe(deciding.role)}"
        )
    return None


def record_overrides(
    session: Session,
    rules: OverrideRules,
    record_type: str,
    record_id: str,
    before: Any,
    after: Any,
    actor: Principal | None,
    now: datetime,
) -> None:
    """Insert the requests ``after`` opened, and settle the ones whose status changed since ``before``."""
    opened, settled = override_changes(rules, before, after, actor, now)
    for fields in opened:
        session.add(OverrideRequest(record_type=record_type, record_id=record_id, **fields))
    for request_key, fields in settled:
        session.execute(
            update(OverrideRequest)
            .where(
                OverrideRequest.record_type == record_type,
                OverrideRequest.record_id == record_id,
                OverrideRequest.request_key == request_key,
            )
            .values(**fields)
            .execution_options(synchronize_session=False)
        )


def override_changes(
    rules: OverrideRules, before: Any, after: Any, actor: Principal | None, now: datetime
) -> tuple[list[dict[str, Any]], list[tuple[str, dict[str, Any]]]]:
    """The request rows a move opened (their columns), and those it settled (key, new columns).

    Any driver writes them: the columns are the ``workflow_override_requests`` table's.
    """
    earlier = {entry["id"]: entry for entry in _requests(before, rules.context_field)}
    opened: list[dict[str, Any]] = []
    settled: list[tuple[str, dict[str, Any]]] = []
    for entry in _requests(after, rules.context_field):
        prior = earlier.get(entry["id"])
        if prior is None:
            opened.append(
                {
                    "request_key": str(entry["id"]), "kind": str(entry["kind"]),
                    "reason": str(entry.get("reason") or ""),
                    "requested_by": str(entry.get("requested_by") or _id(actor) or ""),
                    "status": str(entry.get("status") or "open"),
                    "note": str(entry.get("note") or ""), "created_at": now,
                    **_decision(entry, actor, now),
                }
            )  # fmt: skip
        elif prior.get("status") != entry.get("status"):
            settled.append(
                (
                    str(entry["id"]),
                    {
                        "status": str(entry["status"]), "note": str(entry.get("note") or ""),
                        **_decision(entry, actor, now),
                    },
                )
            )  # fmt: skip
    return opened, settled


def _requests(context: Any, field: str) -> Sequence[Mapping[str, Any]]:
    if not isinstance(context, Mapping):
        return ()
    found = context.get(field) or ()
    return [entry for entry in found if isinstance(entry, Mapping) and "id" in entry]


def _decision(entry: Mapping[str, Any], actor: Principal | None, now: datetime) -> dict[str, Any]:
    """Who settled a request and when; a withdrawn request was settled by whoever sent the event."""
    if entry.get("status") in (None, "open"):
        return {}
    return {"decided_by": entry.get("decided_by") or _id(actor), "decided_at": now}


def _id(actor: Principal | None) -> str | None:
    return None if actor is None else actor.id
