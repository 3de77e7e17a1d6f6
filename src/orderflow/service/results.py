"""What the service answers with: typed results, never bare booleans or dicts.

A :class:`TransitionResult` is also what the transition log keeps (in its
first row's metadata), so replaying an idempotency key returns the very
same answer with ``idempotent=True``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any


@dataclass(frozen=True)
class Principal:
    """Who is asking: an id for the log, a label for people, and the permissions they hold."""

    id: str
    label: str | None = None
    permissions: frozenset[str] = frozenset()

    def can(self, permission: str) -> bool:
        return permission in self.permissions


#: the kinds of :class:`Refusal`, each a reason an event moved nothing and wrote nothing
NOT_STARTED = "not_started"  # the record's workflow has not started (call start first)
ALREADY_STARTED = "already_started"  # start/adopt on a record whose workflow runs already
UNHANDLED = "unhandled"  # no active state takes the event (or it selects a do-nothing transition)
GUARDED = "guarded"  # guards refused it; ``reason`` has each guard's own reason
INACTIVE = "inactive"  # the workflow is done or in error and takes no more events
FORBIDDEN = "forbidden"  # who acts may not send this event (the service's permission rules)
DISABLED = "disabled"  # ``workflow_enabled`` is off and the call is not a legacy status update
NO_PATH = "no_path"  # ``transition(to_state)``: no single allowed event leads there
NOT_FOUND = "not_found"  # an override request or kind the record does not have
REFUSAL_KINDS = (
    NOT_STARTED, ALREADY_STARTED, UNHANDLED, GUARDED, INACTIVE, FORBIDDEN, DISABLED, NO_PATH,
    NOT_FOUND,
)  # fmt: skip


@dataclass(frozen=True)
class Refusal:
    """Why a call moved nothing: ``kind`` (one of :data:`REFUSAL_KINDS`) and a sentence.

    The API maps ``kind`` to an error code (``forbidden`` to FORBIDDEN,
    ``not_found`` to NOT_FOUND) without reading the record again; the others
    stay results with ``success=False``.
    """

    kind: str
    reason: str

    def __str__(self) -> str:
        return self.reason


@dataclass(frozen=True)
class TransitionResult:
    """The outcome of one ``send`` or ``transition``.

    ``success`` is false when the event was refused (no active state takes
    it, a guard blocked it, the workflow is done or disabled); ``reason``
    then says why and nothing was written, and ``refusal`` is the same as a
    typed :class:`Refusal` (its ``kind`` says which reason).  ``effects`` are the named
    effects run (or, in a dry run, that would run), ``emitted`` the domain
    events written to the outbox, ``scheduled`` and ``cancelled`` the timer
    ids.  ``version`` is the record's ``workflow_version`` afterwards.
    ``error`` is the machine's error when the call left it in error: an actor's
    error event that no transition takes fails the machine, as in XState (a
    guard or an effect that raises rolls back instead, and writes nothing).
    """

    success: bool
    record_type: str
    record_id: str
    event: str | None
    from_state: Any
    to_state: Any
    effects: tuple[str, ...] = ()
    emitted: tuple[Mapping[str, Any], ...] = ()
    scheduled: tuple[str, ...] = ()
    cancelled: tuple[str, ...] = ()
    reason: str | None = None
    idempotent: bool = False
    dry_run: bool = False
    version: int | None = None
    status: str | None = None
    steps: int = 0
    log_ids: tuple[int, ...] = ()
    refusal: Refusal | None = None
    error: Mapping[str, Any] | None = None

    @classmethod
    def refused(
        cls, refusal: Refusal, record_type: str, record_id: str, state: Any = None, **more: Any
    ) -> TransitionResult:
        """The answer to a call that moved nothing, for ``refusal``."""
        return cls(
            False, record_type, record_id, None, state, state, reason=refusal.reason,
            refusal=refusal, **more,
        )  # fmt: skip

    def __bool__(self) -> bool:
        return self.success

    def to_json(self) -> dict[str, Any]:
        # Shallow: the states are already plain JSON values (snapshot.to_json()), and a deep
        # ``asdict`` copy of them was a measurable share of every persisted send.
        data = {name: getattr(self, name) for name in _RESULT_FIELDS}
        for key in ("effects", "emitted", "scheduled", "cancelled", "log_ids"):
            data[key] = [dict(item) if isinstance(item, Mapping) else item for item in data[key]]
        if self.refusal is not None:
            data["refusal"] = {"kind": self.refusal.kind, "reason": self.refusal.reason}
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> TransitionResult:
        fields = dict(data)
        for key in ("effects", "emitted", "scheduled", "cancelled", "log_ids"):
            fields[key] = tuple(fields.get(key) or ())
        refusal = fields.get("refusal")
        fields["refusal"] = None if refusal is None else Refusal(**refusal)
        return cls(**fields)

    def replayed(self) -> TransitionResult:
        return replace(self, idempotent=True)


_RESULT_FIELDS = tuple(f.name for f in fields(TransitionResult))


@dataclass(frozen=True)
class EventOption:
    """One event the record's active states listen to, and whether it would move the record now."""

    event: str
    allowed: bool
    reason: str | None = None
    targets: tuple[str, ...] = ()
    needs_payload: bool = False


@dataclass(frozen=True)
class TransitionOption:
    """A transition of the definition, as a target-state workflow would list it."""

    event: str
    source: str
    targets: tuple[str, ...] | None
    guard: str | None


@dataclass(frozen=True)
class TransitionAttempt:
    """Whether ``to_state`` can be reached from the record's state in one event, and by which."""

    allowed: bool
    to_state: str
    from_state: Any
    event: str | None = None
    reason: str | None = None
    candidates: tuple[str, ...] = field(default=())

    def __bool__(self) -> bool:
        return self.allowed


@dataclass(frozen=True)
class BulkFailure:
    record_id: str
    reason: str


@dataclass(frozen=True)
class BulkResult:
    """``bulk_send``'s tally: one transaction per record, failures with their reasons."""

    succeeded: int
    failed: int
    failures: tuple[BulkFailure, ...]
    results: tuple[TransitionResult, ...]
