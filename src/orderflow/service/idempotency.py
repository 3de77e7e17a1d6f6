"""Idempotency keys: the first answer given under a key is the answer to every retry.

A key is kept on the first log row its call wrote, with a fingerprint of
what was asked (:func:`request_digest`); a retry with the same key and the
same request is answered from that row (``idempotent=True``, nothing run
again), and the same key with a different request is refused
(:class:`~orderflow.errors.IdempotencyKeyReusedError`).  Keys are per record.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection, Table, select
from sqlalchemy.orm import Session

from orderflow.errors import IdempotencyKeyReusedError
from orderflow.service.results import TransitionResult
from orderflow.store import TransitionLog

_LOG: Table = TransitionLog.__table__  # type: ignore[assignment]


def request_digest(request: Mapping[str, Any] | None) -> str:
    """A fingerprint of what a caller asked for, kept with its idempotency key's log row.

    Canonical JSON (sorted keys; decimals, dates and the like as text), so a
    retry whose payload lists the same fields in another order, or spells
    ``Decimal("10")`` for ``"10"``, is the same request.
    """
    try:
        text = json.dumps(request or {}, sort_keys=True, separators=(",", ":"), default=str)
    except TypeError:  # keys of mixed types cannot be sorted: the payload's own order, then
        text = json.dumps(request or {}, separators=(",", ":"), default=str)
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def earlier_answer(
    where: Session | Connection, record_type: str, record_id: str, key: str, digest: str | None
) -> TransitionResult | None:
    """The first answer given under ``key`` for this record, or None; another request under it raises."""
    log = where.execute(
        select(_LOG.c.id, _LOG.c.event, _LOG.c.metadata.label("details")).where(
            _LOG.c.record_type == record_type,
            _LOG.c.record_id == record_id,
            _LOG.c.idempotency_key == key,
        )
    ).one_or_none()
    if log is None:
        return None
    return answer_kept(record_type, record_id, key, digest, log.id, log.event, log.details)


def answer_kept(
    record_type: str,
    record_id: str,
    key: str,
    digest: str | None,
    log_id: int,
    event: str,
    details: Mapping[str, Any],
) -> TransitionResult:
    """The answer a log row keeps under ``key`` (read by any driver); another request raises."""
    first = details.get("request")  # None on rows written before requests were kept
    if digest is not None and first is not None and first != digest:
        raise IdempotencyKeyReusedError(record_type, record_id, key, event)
    result = TransitionResult.from_json(details["result"])
    return dataclasses.replace(result.replayed(), log_ids=(log_id,))
