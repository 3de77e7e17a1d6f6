"""What the API writes: events and override decisions, always as an authenticated actor.

Each function checks, before the service is called, what the service would
otherwise answer with a bare ``success=False``: that there is an actor, and
that the service's permission rules (:meth:`WorkflowService.permission_refusal
<orderflow.service.WorkflowService.permission_refusal>`, the very rule the service runs)
let that actor send this event.  A
refusal there raises :class:`PermissionDeniedError` and nothing is written.
The service checks again inside its transaction, so the two cannot drift
apart in a way that lets a write through.  Refusals that belong to the
machine (a guard, a state that does not take the event) stay results with
``success=False`` and a reason, exactly as the service returns them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from orderflow.api.errors import ApiError, AuthenticationError, PermissionDeniedError
from orderflow.api.limits import json_depth
from orderflow.api.queries import RecordRef
from orderflow.service import Principal, TransitionResult, WorkflowService
from orderflow.service.identity import MAX_PAYLOAD_DEPTH
from orderflow.service.overrides import OverrideRules


def require_actor(actor: Principal | None, why: str | None = None) -> Principal:
    """``actor``, or :class:`AuthenticationError` (with ``why`` a token was refused, if one was)."""
    if actor is None:
        raise AuthenticationError(
            why or "this needs an authenticated actor: send 'Authorization: Bearer <token>'"
        )
    return actor


def event_from(event_type: str, payload: Any) -> dict[str, Any]:
    """The event ``{"type": event_type, **payload}``; ``payload`` is a JSON object or its text."""
    if not event_type.strip():
        raise ApiError("the event type must not be empty", "INVALID_EVENT")
    if isinstance(payload, str):
        if json_depth(payload) > MAX_PAYLOAD_DEPTH:
            raise ApiError(
                f"the payload of '{event_type}' nests deeper than {MAX_PAYLOAD_DEPTH} levels",
                "INVALID_EVENT",
            )
        try:
            payload = json.loads(payload) if payload.strip() else {}
        except json.JSONDecodeError as exc:
            raise ApiError(
                f"the payload of '{event_type}' is not valid JSON: {exc.msg} at line "
                f"{exc.lineno} column {exc.colno}",
                "INVALID_EVENT",
            ) from None
    if payload is None:
        payload = {}
    if not isinstance(payload, Mapping):
        raise ApiError(
            f"the payload of '{event_type}' must be a JSON object, not {type(payload).__name__}",
            "INVALID_EVENT",
        )
    if "type" in payload and payload["type"] != event_type:
        raise ApiError(
            f"the payload names event type {payload['type']!r} but the event is '{event_type}'",
            "INVALID_EVENT",
        )
    return {**payload, "type": event_type}


def send_event(
    service: WorkflowService,
    ref: RecordRef,
    event: Mapping[str, Any],
    actor: Principal,
    *,
    note: str = "",
    idempotency_key: str | None = None,
    dry_run: bool = False,
    expected_version: int | None = None,
) -> TransitionResult:
    """``service.send`` as ``actor``, after the permission check (see the module doc)."""
    _permitted(service, ref, event, actor)
    return service.send(
        ref, event, actor=actor, note=note, idempotency_key=idempotency_key, dry_run=dry_run,
        expected_version=expected_version,
    )  # fmt: skip


def request_override(
    service: WorkflowService,
    ref: RecordRef,
    kind: str,
    reason: str,
    actor: Principal,
    *,
    note: str = "",
    idempotency_key: str | None = None,
) -> TransitionResult:
    """Ask for an override of ``kind`` on the record, as ``actor``."""
    rules = _override_rules(service, ref)
    if kind not in rules.kind_names:
        raise ApiError(
            f"machine '{rules.machine}' has no override kind '{kind}'; it has "
            f"{', '.join(rules.kind_names)}"
        )
    if not reason.strip():
        raise ApiError("an override request needs a reason")
    _permitted(service, ref, {"type": rules.kind(kind).request_event}, actor)
    return service.request_override(
        ref, kind, reason, actor=actor, note=note, idempotency_key=idempotency_key
    )


def decide_override(
    service: WorkflowService,
    ref: RecordRef,
    request_id: str,
    actor: Principal,
    *,
    approve: bool,
    note: str = "",
    idempotency_key: str | None = None,
) -> TransitionResult:
    """Approve or reject the record's override request ``request_id``, as ``actor``."""
    rules = _override_rules(service, ref)
    request = next((r for r in service.override_requests(ref) if r.request_key == request_id), None)
    if request is None or request.kind not in rules.kind_names:
        model, key = ref
        raise ApiError(
            f"there is no override request '{request_id}' on {model.__tablename__} {str(key)!r}",
            "NOT_FOUND",
        )
    kind = rules.kind(request.kind)
    decision = kind.decision_events[0 if approve else 1]
    _permitted(service, ref, {"type": decision}, actor)
    return service.decide_override(
        ref, request_id, approve=approve, actor=actor, note=note, idempotency_key=idempotency_key
    )


def _permitted(
    service: WorkflowService, ref: RecordRef, event: Mapping[str, Any], actor: Principal
) -> None:
    snapshot = service.snapshot(ref)
    assert snapshot.machine is not None
    refusal = service.permission_refusal(snapshot.machine.id, str(event.get("type")), actor)
    if refusal is not None:
        raise PermissionDeniedError(refusal)


def _rules(service: WorkflowService, ref: RecordRef) -> OverrideRules | None:
    snapshot = service.snapshot(ref)
    assert snapshot.machine is not None
    return service.overrides.get(snapshot.machine.id)


def _override_rules(service: WorkflowService, ref: RecordRef) -> OverrideRules:
    rules = _rules(service, ref)
    if rules is None:
        model, key = ref
        raise ApiError(
            f"{model.__tablename__} {str(key)!r} runs a machine without overrides; "
            f"machines with overrides: {', '.join(sorted(service.overrides)) or 'none'}"
        )
    return rules
