"""What a caller asks the service to do, as data: start, adopt, send, move to a state, decide.

A command knows three things about itself, and nothing about databases:

- its **fingerprint**, the request an idempotency key is kept with;
- how to **choose** the event to run, given the record's machine and
  snapshot (or a :class:`~orderflow.service.results.Refusal` when there is
  none to run);
- whether it **starts** a workflow (``starting``) or is a legacy status
  update when the workflow is switched off (``legacy_to``).

The pipeline (:mod:`orderflow.service.pipeline`) runs any command the same way.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypedDict

from orderflow.chart import Machine, Snapshot
from orderflow.chart.machine import INIT_EVENT
from orderflow.errors import ConfigurationError
from orderflow.service.identity import (
    ACTOR_FIELD,
    as_machine_reads,
    json_payload,
    refuse_internal,
)
from orderflow.service.overrides import OverrideRules
from orderflow.service.results import (
    ALREADY_STARTED,
    NO_PATH,
    NOT_FOUND,
    NOT_STARTED,
    Principal,
    Refusal,
)
from orderflow.service.rows import RecordRef
from orderflow.service.target_states import find_event

#: the log event of a record put into its workflow at a given state by ``adopt`` (a backfill)
BACKFILL_EVENT = "orderflow.backfill"


class CallOptions(TypedDict, total=False):
    """Who acts and how the call is logged: every writing call takes these."""

    actor: Principal | str | None
    note: str


class SendOptions(CallOptions, total=False):
    """``send``'s options: an idempotency key, a dry run, the caller's own version check."""

    idempotency_key: str | None
    dry_run: bool
    expected_version: int | None


def not_started() -> Refusal:
    return Refusal(NOT_STARTED, "the workflow of this record has not started; call start() first")


def already_started() -> Refusal:
    return Refusal(ALREADY_STARTED, "the workflow of this record has already started")


@dataclass(frozen=True)
class Command:
    """A call on one record; subclasses say which event it runs."""

    record: RecordRef
    principal: Principal | None = None
    note: str = ""
    idempotency_key: str | None = None
    dry_run: bool = False
    expected_version: int | None = None
    #: the machine a start or adopt puts the record in (None: the record's own)
    starting: Machine | None = None
    #: the legacy status update this call is when the workflow is switched off
    legacy_to: str | None = None
    #: the child machine the event is for (child ids joined by "/"); None: the record's machine
    to: str | None = None

    def fingerprint(self, machine: Machine, acting: Any) -> Mapping[str, Any]:
        """What was asked, as the idempotency key's log row keeps it (see ``request_digest``)."""
        raise NotImplementedError

    def choose(self, machine: Machine, snapshot: Snapshot | None, acting: Any) -> Any:
        """The event to run (a mapping), or the :class:`Refusal` that there is none."""
        raise NotImplementedError


@dataclass(frozen=True)
class Start(Command):
    """Enter the initial state of ``starting`` with ``input``."""

    input: Any = None

    def fingerprint(self, machine: Machine, acting: Any) -> Mapping[str, Any]:
        return {"start": machine.id, "input": self.input}

    def choose(self, machine: Machine, snapshot: Snapshot | None, acting: Any) -> Any:
        if snapshot is not None:
            return already_started()
        return {"type": INIT_EVENT, "input": self.input}


@dataclass(frozen=True)
class Adopt(Command):
    """Put a record with only a legacy status into its workflow at ``state`` (a backfill)."""

    state: Any = None
    context: Any = None
    legacy_status: str | None = None

    def fingerprint(self, machine: Machine, acting: Any) -> Mapping[str, Any]:
        return {"adopt": machine.id, "state": self.state, "context": self.context}

    def choose(self, machine: Machine, snapshot: Snapshot | None, acting: Any) -> Any:
        if snapshot is not None:
            return already_started()
        return {
            "type": BACKFILL_EVENT, "state": self.state, "context": self.context,
            "legacy_status": self.legacy_status,
        }  # fmt: skip


@dataclass(frozen=True)
class Send(Command):
    """Run ``event`` (already plain); ``internal`` lets internal event types in (timers, hand-offs)."""

    event: Mapping[str, Any] = field(default_factory=dict)
    internal: bool = False

    def fingerprint(self, machine: Machine, acting: Any) -> Mapping[str, Any]:
        # the event as the machine reads it (its payload model's values), so "10" and
        # Decimal("10") for a number field are one request; who acts is not part of it
        event = as_machine_reads(machine, self.event, acting)
        sent = {k: v for k, v in event.items() if k != ACTOR_FIELD}
        return {"send": sent} if not self.to else {"send": sent, "to": self.to}

    def choose(self, machine: Machine, snapshot: Snapshot | None, acting: Any) -> Any:
        if not self.internal:
            refuse_internal(machine, self.event.get("type"))
        if snapshot is None:
            return not_started()
        return self.event


@dataclass(frozen=True)
class MoveTo(Command):
    """Move the record into ``legacy_to`` by the one event that leads there, with ``params``."""

    params: Mapping[str, Any] = field(default_factory=dict)

    def fingerprint(self, machine: Machine, acting: Any) -> Mapping[str, Any]:
        return {"transition": self.legacy_to, "params": json_payload(self.params)}

    def choose(self, machine: Machine, snapshot: Snapshot | None, acting: Any) -> Any:
        if snapshot is None:
            return not_started()
        assert self.legacy_to is not None
        attempt = find_event(machine, snapshot, self.legacy_to, dict(self.params), acting)
        if not attempt.allowed or attempt.event is None:
            return Refusal(NO_PATH, attempt.reason or f"nothing leads to '{self.legacy_to}'")
        return {**self.params, "type": attempt.event}


@dataclass(frozen=True)
class RequestOverride(Command):
    """Ask for an override of ``kind`` with ``reason``: the machine's request event for it."""

    overrides: Mapping[str, OverrideRules] = field(default_factory=dict)
    kind: str = ""
    reason: str = ""

    def fingerprint(self, machine: Machine, acting: Any) -> Mapping[str, Any]:
        return {"request_override": self.kind, "reason": self.reason}

    def choose(self, machine: Machine, snapshot: Snapshot | None, acting: Any) -> Any:
        rules = own_rules(self.overrides, machine)
        if snapshot is None:
            return not_started()
        if self.kind not in rules.kind_names:
            return Refusal(
                NOT_FOUND,
                f"machine '{machine.id}' has no override kind '{self.kind}'; it has "
                f"{', '.join(rules.kind_names)}",
            )
        return {"type": rules.kind(self.kind).request_event, "reason": self.reason}


@dataclass(frozen=True)
class Decide(Command):
    """Approve or reject the open override request ``request_id`` (its id in the context)."""

    overrides: Mapping[str, OverrideRules] = field(default_factory=dict)
    request_id: str = ""
    approve: bool = False

    def fingerprint(self, machine: Machine, acting: Any) -> Mapping[str, Any]:
        return {"decide": self.request_id, "approve": self.approve, "note": self.note}

    def choose(self, machine: Machine, snapshot: Snapshot | None, acting: Any) -> Any:
        rules = own_rules(self.overrides, machine)
        if snapshot is None:
            return not_started()
        context = snapshot.to_json()["context"]
        requests = context.get(rules.context_field) if isinstance(context, Mapping) else None
        kind = next(
            (
                entry.get("kind")
                for entry in requests or ()
                if isinstance(entry, Mapping) and entry.get("id") == self.request_id
            ),
            None,
        )
        if kind not in rules.kind_names:
            return Refusal(
                NOT_FOUND, f"there is no override request '{self.request_id}' on this record"
            )
        decision = rules.kind(str(kind)).decision_events[0 if self.approve else 1]
        return {"type": decision, "request_id": self.request_id, "note": self.note}


def own_rules(overrides: Mapping[str, OverrideRules], machine: Machine) -> OverrideRules:
    """The override rules of the record's machine; a machine without any is a configuration error."""
    rules = overrides.get(machine.id)
    if rules is None:
        raise ConfigurationError(
            f"this service has no override rules for machine '{machine.id}'", setting="overrides"
        )
    return rules
