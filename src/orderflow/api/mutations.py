"""What the API writes: events and override decisions, always as an authenticated actor.

Each function makes one service call (one transaction) and reads its typed
refusal: ``forbidden`` (the service's permission rules refused who acts)
raises :class:`PermissionDeniedError`, an override request or kind the
record does not have is an :class:`ApiError` (``NOT_FOUND`` / ``BAD_REQUEST``),
and nothing was written.  Refusals that belong to the machine (a guard, a
state that does not take the event) stay results with ``success=False`` and
a reason, exactly as the service returns them.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator, Mapping
from typing import Any

from orderflow.api.errors import ApiError, AuthenticationError, PermissionDeniedError
from orderflow.api.limits import json_depth
from orderflow.api.queries import RecordRef
from orderflow.errors import ConfigurationError
from orderflow.service import Principal, TransitionResult, WorkflowService
from orderflow.service.identity import MAX_PAYLOAD_DEPTH
from orderflow.service.results import FORBIDDEN, NOT_FOUND


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
    """``service.send`` as ``actor``; a refusal by the service's permission rules is an error."""
    result = service.send(
        ref, event, actor=actor, note=note, idempotency_key=idempotency_key, dry_run=dry_run,
        expected_version=expected_version,
    )  # fmt: skip
    return _answer(result, ref)


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
    if not reason.strip():
        raise ApiError("an override request needs a reason")
    with _overrides_of(service, ref):
        result = service.request_override(
            ref, kind, reason, actor=actor, note=note, idempotency_key=idempotency_key
        )
    if result.refusal is not None and result.refusal.kind == NOT_FOUND:
        raise ApiError(result.refusal.reason)
    return _answer(result, ref)


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
    """Approve or reject the record's override request ``request_id``, as ``actor``: one transaction."""
    with _overrides_of(service, ref):
        result = service.decide_override(
            ref, request_id, approve=approve, actor=actor, note=note,
            idempotency_key=idempotency_key,
        )  # fmt: skip
    if result.refusal is not None and result.refusal.kind == NOT_FOUND:
        model, key = ref
        raise ApiError(
            f"there is no override request '{request_id}' on {model.__tablename__} {str(key)!r}",
            "NOT_FOUND",
        )
    return _answer(result, ref)


def _answer(result: TransitionResult, ref: RecordRef) -> TransitionResult:
    """The service's answer, with a refusal by its permission rules raised as FORBIDDEN."""
    if result.refusal is not None and result.refusal.kind == FORBIDDEN:
        raise PermissionDeniedError(result.refusal.reason)
    return result


@contextlib.contextmanager
def _overrides_of(service: WorkflowService, ref: RecordRef) -> Iterator[None]:
    """A record whose machine has no override rules is the caller's mistake, said as such."""
    try:
        yield
    except ConfigurationError as exc:
        if exc.setting != "overrides":
            raise
        model, key = ref
        raise ApiError(
            f"{model.__tablename__} {str(key)!r} runs a machine without overrides; "
            f"machines with overrides: {', '.join(sorted(service.overrides)) or 'none'}"
        ) from exc
