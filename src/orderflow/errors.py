"""Every exception orderflow raises on purpose, in one tree.

    OrderflowError
    ├── DefinitionError            a machine definition is wrong (carries every problem, with JSON paths)
    ├── MissingImplementationError a named guard, action or delay has no implementation
    ├── InvalidEventError          an event is malformed or its payload fails its model
    │   ├── UnknownEventError      no state of the machine ever handles this event type, or the type is internal
    │   └── ReservedEventFieldError an event from outside carries a field only the service may write (``actor``)
    ├── InvalidSnapshotError       a persisted snapshot does not fit the machine
    ├── InfiniteLoopError          a macrostep never settles (eventless or raised-event loop)
    ├── UnsafeExpressionError      an expression from a document is outside the sandbox
    ├── ScxmlError                 an SCXML document is malformed or uses what orderflow cannot run
    │   └── UnsafeDocumentError    an XML document declares entities or reaches outside (refused)
    ├── RecordNotFoundError        the service was asked to move a record that is not in the database
    │   └── InvalidRecordKeyError  the key given cannot name a record ("abc" for an integer id)
    ├── IdempotencyKeyReusedError  an idempotency key already used for the record came with another request
    ├── StaleRecordError           a record changed under a write (optimistic workflow_version check)
    ├── TransitionFailedError      a guard or assignment raised while a persisted record moved
    ├── EffectError               an in-transaction effect raised; the whole transition rolled back
    └── ExportError                a machine cannot be drawn or written in the asked format
        └── RendererNotFoundError  the program a format needs (Graphviz's dot for SVG) is not installed

Each exception carries the thing it is about (JSON path, state id, event
type) as attributes, and its message is a sentence a user can act on.
Exceptions raised *by user code* inside a guard or an assignment are not
wrapped here: the core records them in the snapshot (``status == "error"``)
instead of raising, so a caller never sees a half-applied transition.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


class OrderflowError(Exception):
    """Base of every error orderflow raises on purpose."""


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a definition, at a JSON path such as ``$.states.a.on.GO[0].target``."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


class DefinitionError(OrderflowError):
    """A machine definition is invalid; ``problems`` lists every problem found, not just the first."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = tuple(problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        count = len(self.problems)
        noun = "problem" if count == 1 else "problems"
        super().__init__(f"The machine definition has {count} {noun}:\n{lines}")


class MissingImplementationError(OrderflowError):
    """A definition names a guard, action or delay that no implementation was given for."""

    def __init__(self, kind: str, name: str, state_id: str | None = None) -> None:
        self.kind = kind
        self.name = name
        self.state_id = state_id
        where = f" (used in state '{state_id}')" if state_id else ""
        super().__init__(
            f"No implementation for {kind} '{name}'{where}; pass it to "
            f"orderflow.setup({kind}s={{'{name}': ...}})."
        )


class InvalidEventError(OrderflowError):
    """An event is not a type string or a mapping with a string ``type``, or its payload fails its model."""

    def __init__(self, message: str, event_type: str | None = None) -> None:
        self.event_type = event_type
        super().__init__(message)


class InvalidSnapshotError(OrderflowError):
    """A persisted snapshot does not describe a legal configuration of this machine."""

    def __init__(self, message: str, path: str = "$") -> None:
        self.path = path
        super().__init__(f"{path}: {message}")


class InfiniteLoopError(OrderflowError):
    """A macrostep took more microsteps than the bound; ``states`` are the ones it kept entering."""

    def __init__(self, limit: int, states: Sequence[str], event_type: str) -> None:
        self.limit = limit
        self.states = tuple(states)
        self.event_type = event_type
        super().__init__(
            f"The machine did not settle after {limit} microsteps while processing "
            f"'{event_type}'; it keeps cycling through {', '.join(self.states) or 'the same states'}. "
            f"Check the eventless (always) transitions and raised events of those states."
        )


class UnsafeExpressionError(OrderflowError):
    """An expression in a document uses something the restricted evaluator does not allow."""

    def __init__(self, expression: str, reason: str) -> None:
        self.expression = expression
        self.reason = reason
        super().__init__(f"Refusing expression {expression!r}: {reason}.")


class ScxmlError(OrderflowError):
    """An SCXML document cannot be loaded: ``element`` names the element at fault when known."""

    def __init__(self, message: str, element: str | None = None) -> None:
        self.element = element
        where = f"<{element}>: " if element else ""
        super().__init__(f"{where}{message}")


class UnsafeDocumentError(ScxmlError):
    """An XML document uses entity declarations or external references, which are never expanded."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(
            f"Refusing the XML document: {reason}. orderflow parses documents without expanding "
            f"entities or fetching external resources; remove the DOCTYPE's entity declarations."
        )


class UnknownEventError(InvalidEventError):
    """No state of the machine handles this event type, so no snapshot of it could ever take it.

    Raised too for an internal event type (``xstate.*``, ``orderflow.*``, an
    SCXML machine's ``done.*``/``error.*``) sent through an outside door:
    only the machine itself, its timers and the service raise those
    (``internal`` is then true).
    """

    def __init__(self, machine_id: str, event_type: str, *, internal: bool = False) -> None:
        self.machine_id = machine_id
        self.internal = internal
        if internal:
            message = (
                f"Machine '{machine_id}' takes no event '{event_type}' from outside: it is an "
                f"internal event, raised only by the machine itself, its timers and the service."
            )
        else:
            message = (
                f"Machine '{machine_id}' has no transition for event '{event_type}' in any state; "
                f"check the event name against machine.events."
            )
        super().__init__(message, event_type)


class ReservedEventFieldError(InvalidEventError):
    """An event from outside carries a field the service reserves for itself (who acts: ``actor``).

    The service writes the authenticated actor into every event; a caller
    names who acts with the ``actor=`` argument, never in the payload.
    """

    def __init__(self, event_type: str | None, field: str) -> None:
        self.field = field
        super().__init__(
            f"The payload of '{event_type}' carries the reserved field '{field}'; the service "
            f"fills it from the authenticated actor. Remove it from the payload and pass "
            f"actor=... to the service instead.",
            event_type,
        )


class RecordNotFoundError(OrderflowError):
    """The record to move is not in the database (deleted, or never flushed)."""

    def __init__(self, record_type: str, record_id: str, message: str | None = None) -> None:
        self.record_type = record_type
        self.record_id = record_id
        super().__init__(
            message or f"There is no {record_type} with id {record_id!r} in the database."
        )


class InvalidRecordKeyError(RecordNotFoundError):
    """A record was named by a key its primary key column cannot hold (``"abc"`` for an integer id).

    A kind of :class:`RecordNotFoundError` (no such record can exist), said
    before any query runs, the same way on every engine.
    """

    def __init__(self, record_type: str, record_id: str, expected: str) -> None:
        self.expected = expected
        super().__init__(
            record_type,
            record_id,
            f"{record_id!r} cannot name a {record_type} record: its primary key holds {expected}.",
        )


class IdempotencyKeyReusedError(OrderflowError):
    """An idempotency key already used for this record came with a different request.

    A retry sends the same request with the same key and gets the first
    answer back; a new request needs a new key.  Nothing was written.
    """

    def __init__(self, record_type: str, record_id: str, key: str, first_event: str) -> None:
        self.record_type = record_type
        self.record_id = record_id
        self.key = key
        super().__init__(
            f"idempotency key {key!r} was used for {record_type} {record_id!r} with a different "
            f"request (its step was {first_event!r}); nothing was written. A retry must repeat "
            f"the request exactly; a new request needs a new key."
        )


class StaleRecordError(OrderflowError):
    """The record's ``workflow_version`` is not the one the write expected: someone moved it first.

    Nothing was written; read the record again and decide whether to retry.
    """

    def __init__(self, record_type: str, record_id: str, expected: int, found: int | None) -> None:
        self.record_type = record_type
        self.record_id = record_id
        self.expected = expected
        self.found = found
        now = "was deleted" if found is None else f"is at version {found}"
        super().__init__(
            f"{record_type} {record_id!r} {now}, not at the expected workflow version {expected}; "
            f"another transition got there first. Nothing was written; reload it and retry."
        )


class TransitionFailedError(OrderflowError):
    """A guard or an assignment raised while processing ``event_type``; nothing was written.

    ``error`` is the core's description (``snapshot.error``): the exception's type and message.
    """

    def __init__(self, record_type: str, record_id: str, event_type: str, error: object) -> None:
        self.record_type = record_type
        self.record_id = record_id
        self.event_type = event_type
        self.error = error
        super().__init__(
            f"Processing '{event_type}' for {record_type} {record_id!r} failed inside the machine "
            f"({error}); nothing was written."
        )


class EffectError(OrderflowError):
    """Effect ``effect`` raised while ``event_type`` moved a record; the transaction rolled back.

    The effect's own exception is ``__cause__`` (and ``original``).
    """

    def __init__(
        self, record_type: str, record_id: str, event_type: str, effect: str, original: BaseException
    ) -> None:
        self.record_type = record_type
        self.record_id = record_id
        self.event_type = event_type
        self.effect = effect
        self.original = original
        super().__init__(
            f"Effect '{effect}' failed while '{event_type}' moved {record_type} {record_id!r}: "
            f"{type(original).__name__}: {original}. Nothing was written."
        )


class ExportError(OrderflowError):
    """A machine cannot be exported in ``format``: the message says what stands in the way."""

    def __init__(self, message: str, format: str) -> None:
        self.format = format
        super().__init__(message)


class RendererNotFoundError(ExportError):
    """The program that renders ``format`` (``program``) is not on the PATH."""

    def __init__(self, program: str, format: str, hint: str) -> None:
        self.program = program
        super().__init__(
            f"Exporting {format} needs the '{program}' program, which is not on the PATH; {hint}",
            format,
        )
