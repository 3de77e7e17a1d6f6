"""Every exception orderflow raises on purpose, in one tree, each with a stable ``code``.

    OrderflowError                       WORKFLOW_ERROR
    ├── DefinitionError                  DEFINITION_ERROR        a machine definition is wrong (carries every problem, with JSON paths)
    ├── MissingImplementationError       MISSING_IMPLEMENTATION  a named guard, action or delay has no implementation
    ├── InvalidEventError                INVALID_EVENT           an event is malformed or its payload fails its model
    │   ├── UnknownEventError            UNKNOWN_EVENT           no state of the machine ever handles this event type, or the type is internal
    │   ├── ReservedEventFieldError      INVALID_EVENT (shared)  an event from outside carries a field only the service may write (``actor``)
    │   └── InvalidInputError            INVALID_INPUT           a machine's input does not make a context (its context function raised or the result fails the model)
    ├── InvalidSnapshotError             INVALID_SNAPSHOT        a persisted snapshot does not fit the machine
    ├── InfiniteLoopError                INFINITE_LOOP           a macrostep never settles (eventless or raised-event loop)
    ├── UnsafeExpressionError            UNSAFE_EXPRESSION       an expression from a document is outside the sandbox
    ├── ScxmlError                       SCXML_ERROR             an SCXML document is malformed or uses what orderflow cannot run
    │   └── UnsafeDocumentError          UNSAFE_DOCUMENT         an XML document declares entities or reaches outside (refused)
    ├── UnknownMachineError              UNKNOWN_MACHINE         no machine by that name: not shipped, or not in this service (also a KeyError)
    ├── UnknownStateError                UNKNOWN_STATE           a machine has no state by that path or id (also a KeyError)
    ├── ActorInputError                  INVALID_ACTOR_INPUT     a function actor's input is not JSON (its id, src and the JSON path say where; also a TypeError)
    ├── ActorOutputError                 INVALID_ACTOR_OUTPUT    a settled function actor's output or error is not JSON, so its parent's snapshot cannot be written (also a TypeError)
    ├── ActorNotRunningError             ACTOR_NOT_RUNNING       an in-memory actor was sent an event before start or after stop
    ├── WaitForError                     WAIT_FOR_FAILED         ``wait_for``: the actor finished, failed or stopped without satisfying the predicate
    │   └── WaitForTimeoutError          WAIT_FOR_TIMEOUT        ``wait_for``: the timeout passed first
    ├── ConfigurationError               CONFIGURATION_ERROR     a service built or called with settings that cannot work (also a ValueError)
    ├── RecordNotFoundError              NOT_FOUND               the service was asked to move a record that is not in the database
    │   └── InvalidRecordKeyError        NOT_FOUND (shared)      the key given cannot name a record ("abc" for an integer id)
    ├── NotAWorkflowRecordError          NOT_A_WORKFLOW_RECORD   a model does not mix in orderflow.store.WorkflowRecord (also a TypeError)
    ├── WrongDriverError                 WRONG_DRIVER            an async session given to the sync service, or the reverse (also a TypeError)
    ├── NotFinishedError                 NOT_FINISHED            finish hooks asked for a record whose machine has not finished (also a ValueError)
    ├── IdempotencyKeyReusedError        IDEMPOTENCY_KEY_REUSED  an idempotency key already used for the record came with another request
    ├── StaleRecordError                 STALE_RECORD            a record changed under a write (optimistic workflow_version check)
    ├── TransitionFailedError            TRANSITION_FAILED       a guard or assignment raised while a persisted record moved
    ├── EffectError                      EFFECT_FAILED           an in-transaction effect raised; the whole transition rolled back
    ├── HandoffError                     HANDOFF_ERROR           a finished snapshot does not hand over to the next phase (also a ValueError)
    ├── PaymentError                     PAYMENT_FAILED          a payment provider refused a capture or a refund (raised by a port)
    ├── InventoryError                   INVENTORY_FAILED        a warehouse refused a reservation change (raised by a port)
    ├── PublishError                     PUBLISH_FAILED          a publisher could not deliver an outbox message (``retryable`` or not)
    ├── ExportError                      EXPORT_ERROR            a machine cannot be drawn or written in the asked format
    │   └── RendererNotFoundError        RENDERER_NOT_FOUND      the program a format needs (Graphviz's dot for SVG) is not installed
    └── ApiError                         BAD_REQUEST             a request the API refuses (an instance may carry another code)
        ├── AuthenticationError          UNAUTHENTICATED         no actor could be established from the request's credentials
        └── PermissionDeniedError        FORBIDDEN               the actor is known but may not do this

Each exception carries the thing it is about (JSON path, state id, event
type) as attributes, and its message is a sentence a user can act on.

``code`` is a class attribute, stable across releases: the API sends it as
GraphQL's ``extensions.code``, and a caller can switch on it instead of on
class names.  Two subclasses share their parent's code on purpose, because
the API has always reported them that way: a :class:`ReservedEventFieldError`
is an ``INVALID_EVENT`` and an :class:`InvalidRecordKeyError` a ``NOT_FOUND``.
The errors that also derive from a built-in (``ValueError``, ``TypeError``,
``KeyError``) replace a bare built-in the service used to raise, so an
``except ValueError`` written against it still catches them.

Exceptions raised *by user code* inside a guard or an assignment are not
wrapped here: the core records them in the snapshot (``status == "error"``)
instead of raising, so a caller never sees a half-applied transition.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any


class OrderflowError(Exception):
    """Base of every error orderflow raises on purpose; ``code`` names its kind for machines."""

    code: str = "WORKFLOW_ERROR"


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a definition, at a JSON path such as ``$.states.a.on.GO[0].target``."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


class DefinitionError(OrderflowError):
    """A machine definition is invalid; ``problems`` lists every problem found, not just the first."""

    code = "DEFINITION_ERROR"

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = tuple(problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        count = len(self.problems)
        noun = "problem" if count == 1 else "problems"
        super().__init__(f"The machine definition has {count} {noun}:\n{lines}")


class MissingImplementationError(OrderflowError):
    """A definition names a guard, action or delay that no implementation was given for."""

    code = "MISSING_IMPLEMENTATION"

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

    code = "INVALID_EVENT"

    def __init__(self, message: str, event_type: str | None = None) -> None:
        self.event_type = event_type
        super().__init__(message)


class InvalidSnapshotError(OrderflowError):
    """A persisted snapshot does not describe a legal configuration of this machine."""

    code = "INVALID_SNAPSHOT"

    def __init__(self, message: str, path: str = "$") -> None:
        self.path = path
        super().__init__(f"{path}: {message}")


class InfiniteLoopError(OrderflowError):
    """A macrostep took more microsteps than the bound; ``states`` are the ones it kept entering."""

    code = "INFINITE_LOOP"

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

    code = "UNSAFE_EXPRESSION"

    def __init__(self, expression: str, reason: str) -> None:
        self.expression = expression
        self.reason = reason
        super().__init__(f"Refusing expression {expression!r}: {reason}.")


class ScxmlError(OrderflowError):
    """An SCXML document cannot be loaded: ``element`` names the element at fault when known."""

    code = "SCXML_ERROR"

    def __init__(self, message: str, element: str | None = None) -> None:
        self.element = element
        where = f"<{element}>: " if element else ""
        super().__init__(f"{where}{message}")


class UnsafeDocumentError(ScxmlError):
    """An XML document uses entity declarations or external references, which are never expanded."""

    code = "UNSAFE_DOCUMENT"

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

    code = "UNKNOWN_EVENT"

    def __init__(
        self,
        machine_id: str,
        event_type: str,
        *,
        internal: bool = False,
        known: Iterable[str] = (),
    ) -> None:
        self.machine_id = machine_id
        self.internal = internal
        if internal:
            message = (
                f"Machine '{machine_id}' takes no event '{event_type}' from outside: it is an "
                f"internal event, raised only by the machine itself, its timers and the service."
            )
        else:
            close = difflib.get_close_matches(event_type, list(known), n=3, cutoff=0.6)
            hint = f"did you mean {' or '.join(repr(c) for c in close)}?" if close else (
                "check the event name against machine.events."
            )  # fmt: skip
            message = (
                f"Machine '{machine_id}' has no transition for event '{event_type}' in any state; "
                f"{hint}"
            )
        super().__init__(message, event_type)


class ReservedEventFieldError(InvalidEventError):
    """An event from outside carries a field the service reserves for itself (who acts: ``actor``).

    The service writes the authenticated actor into every event; a caller
    names who acts with the ``actor=`` argument, never in the payload.
    """

    code = "INVALID_EVENT"  # its parent's, on purpose: what the API has always answered

    def __init__(self, event_type: str | None, field: str) -> None:
        self.field = field
        super().__init__(
            f"The payload of '{event_type}' carries the reserved field '{field}'; the service "
            f"fills it from the authenticated actor. Remove it from the payload and pass "
            f"actor=... to the service instead.",
            event_type,
        )


class InvalidInputError(InvalidEventError):
    """A machine's input does not give it a context.

    The input travels in the ``xstate.init`` event, so this is an invalid event
    of that type: the named context function raised, or what it (or the input
    merged over the configured context) returned does not fit the context model.
    Nothing was started; the cause is chained.
    """

    code = "INVALID_INPUT"

    def __init__(self, machine_id: str, reason: str, function: str | None = None) -> None:
        self.machine_id = machine_id
        self.function = function
        made_by = f"context function '{function}'" if function else "the input"
        super().__init__(
            f"Machine '{machine_id}' cannot start with this input: {made_by} {reason}",
            "xstate.init",
        )


class RecordNotFoundError(OrderflowError):
    """The record to move is not in the database (deleted, or never flushed)."""

    code = "NOT_FOUND"

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

    code = "NOT_FOUND"  # its parent's, on purpose: no such record can exist (the API's answer)

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

    code = "IDEMPOTENCY_KEY_REUSED"

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

    code = "STALE_RECORD"

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

    code = "TRANSITION_FAILED"

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

    code = "EFFECT_FAILED"

    def __init__(
        self,
        record_type: str,
        record_id: str,
        event_type: str,
        effect: str,
        original: BaseException,
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


class UnknownMachineError(OrderflowError, KeyError):
    """No machine is called ``name``: orderflow ships none, or the service at hand has none.

    ``known`` are the names that would have worked.  A ``KeyError`` (and so a
    ``LookupError``) too, for callers that look machines up like a mapping;
    unlike ``KeyError`` its ``str()`` is the plain sentence, not its repr.
    """

    code = "UNKNOWN_MACHINE"

    def __init__(self, name: str, known: Iterable[str], *, holder: str = "orderflow ships") -> None:
        self.name = name
        self.known = tuple(known)
        self.message = f"{holder} no machine named '{name}'; choose one of {list(self.known)}"
        super().__init__(self.message)

    def __str__(self) -> str:
        return self.message


class UnknownStateError(OrderflowError, KeyError):
    """``machine`` has no state ``state`` (a dotted path or a state id); its ``str()`` is the sentence."""

    code = "UNKNOWN_STATE"

    def __init__(self, machine: str, state: str) -> None:
        self.machine = machine
        self.state = state
        self.message = (
            f"machine '{machine}' has no state '{state}': give a dotted path ('sale.paid') "
            "or a state id ('#order.sale.paid')"
        )
        super().__init__(self.message)

    def __str__(self) -> str:
        return self.message


class HandoffError(OrderflowError, ValueError):
    """The snapshot did not finish in the state that hands over to the next phase."""

    code = "HANDOFF_ERROR"


class PaymentError(OrderflowError):
    """A payment provider refused a capture or a refund."""

    code = "PAYMENT_FAILED"


class InventoryError(OrderflowError):
    """A warehouse refused a reservation change (for example one it does not know)."""

    code = "INVENTORY_FAILED"


class PublishError(OrderflowError):
    """A publisher could not deliver a message; ``retryable`` says whether trying again may help."""

    code = "PUBLISH_FAILED"

    def __init__(self, message: str, *, retryable: bool = True) -> None:
        super().__init__(message)
        self.retryable = retryable


class _ActorNotJson(TypeError):
    """The message of :class:`ActorInputError` and :class:`ActorOutputError`: a value of a
    function actor that its parent's snapshot stores is not JSON (``path`` says where)."""

    #: what of the actor is not JSON, and what to do instead, for the message
    what = ""
    advice = ""

    def __init__(self, actor_id: str, src: str, path: str, found: object) -> None:
        self.actor_id, self.src, self.path = actor_id, src, path
        super().__init__(
            f"The {self.what} of actor '{actor_id}' (src '{src}') is not JSON at {path}: {found}. "
            f"{self.advice} (None, bool, int, finite float, str, list, dict with str keys)."
        )


class ActorInputError(_ActorNotJson, OrderflowError):
    """A function actor's ``input`` is not JSON; the transition that would start it applies nothing.

    A function actor's input is kept in its parent's snapshot (and a durable
    invocation's row), so it must be JSON: ``None``, a bool, an int, a finite
    float, a string, a list or a mapping with string keys.  ``path`` is the
    JSON path of the first value that is not (``$.input.items[2]``).
    """

    code = "INVALID_ACTOR_INPUT"
    what = "input"
    advice = "A function actor's input is stored with its parent's snapshot; give it JSON values"


class ActorOutputError(_ActorNotJson, OrderflowError):
    """A settled function actor's ``output`` (or ``error``) is not JSON: its parent's snapshot
    cannot be written (``to_json``).

    A function actor that answered stays in ``snapshot.children`` with its output or error
    until its state is left, as in XState, and is persisted with it.  In memory the result
    may be any Python value; written, it must be JSON so that restoring gives it back
    unchanged.  ``path`` is the JSON path of the first value that is not (``$.output.at``).
    """

    code = "INVALID_ACTOR_OUTPUT"
    what = "result"
    advice = (
        "A settled function actor is persisted with its parent's snapshot: leave the state "
        "that invoked it before writing the snapshot, or return JSON values"
    )


class ActorNotRunningError(OrderflowError):
    """An event was sent to an actor that was not started, or has been stopped."""

    code = "ACTOR_NOT_RUNNING"


class WaitForError(OrderflowError):
    """``wait_for`` gave up: the actor finished, failed or was stopped before the predicate held.

    ``snapshot`` is the actor's last snapshot (``None`` if it never started);
    when the actor failed, the effect's exception is chained as the cause.
    """

    code = "WAIT_FOR_FAILED"

    def __init__(self, message: str, snapshot: Any = None) -> None:
        self.snapshot = snapshot
        super().__init__(message)


class WaitForTimeoutError(WaitForError):
    """``wait_for``'s timeout (milliseconds on the actor's clock) passed before the predicate held."""

    code = "WAIT_FOR_TIMEOUT"

    def __init__(self, timeout_ms: float, snapshot: Any = None) -> None:
        self.timeout_ms = timeout_ms
        state = f" (the actor is in {snapshot.value!r})" if snapshot is not None else ""
        super().__init__(
            f"Timeout of {timeout_ms:g} ms passed before the actor satisfied the predicate{state}.",
            snapshot,
        )


class ConfigurationError(OrderflowError, ValueError):
    """A service was built or called with settings that cannot work; nothing was read or written.

    ``setting`` names the argument at fault (``machines``, ``overrides``,
    ``machine``) when there is one.  Machines keyed by something other than
    their id, override rules for a machine the service lacks, a call that
    must say which machine: the message says what to change.
    """

    code = "CONFIGURATION_ERROR"

    def __init__(self, problem: str, *, setting: str | None = None) -> None:
        self.problem = problem
        self.setting = setting
        super().__init__(f"{setting}: {problem}" if setting else problem)


class NotFinishedError(OrderflowError, ValueError):
    """Finish hooks were asked to run again for a record whose machine has not finished."""

    code = "NOT_FINISHED"

    def __init__(
        self, record_type: str, record_id: str, machine_id: str, status: str, value: object
    ) -> None:
        self.record_type = record_type
        self.record_id = record_id
        self.machine_id = machine_id
        self.status = status
        self.value = value
        super().__init__(
            f"{record_type} {record_id!r} has not finished: its machine '{machine_id}' is "
            f"{status} in {value!r}. Finish hooks run only for a record whose machine is done."
        )


class NotAWorkflowRecordError(OrderflowError, TypeError):
    """A model the service was given does not mix in ``orderflow.store.WorkflowRecord``.

    ``where`` says what needed a workflow record (``"a hand-off's answer"``)
    when the model did not come straight from the caller.
    """

    code = "NOT_A_WORKFLOW_RECORD"

    def __init__(
        self, model: type[Any], *, where: str | None = None, base: str | None = None
    ) -> None:
        self.model = model
        self.where = where
        context = f" ({where})" if where else ""
        if base is not None:  # another ORM's driver names its own base class
            super().__init__(
                f"{model.__name__}{context} does not subclass {base}; "
                f"declare it as class {model.__name__}({base.rsplit('.', 1)[-1]}) to move it "
                "with the service."
            )
            return
        super().__init__(
            f"{model.__name__}{context} does not mix in orderflow.store.WorkflowRecord; "
            f"declare it as class {model.__name__}(Base, WorkflowRecord) to move it with the service."
        )


class WrongDriverError(OrderflowError, TypeError):
    """A session or session factory of the other kind: async for ``service``, sync for its async twin.

    ``given`` is the session or factory at fault; ``use`` names the service
    class that drives it (``AsyncWorkflowService`` for an ``AsyncSession``).
    """

    code = "WRONG_DRIVER"

    def __init__(self, service: str, given: object, use: str) -> None:
        self.service = service
        self.given = given
        self.use = use
        kind = type(given).__name__
        article = "an" if kind[:1].lower() in "aeiou" else "a"
        super().__init__(f"{service} cannot run on {article} {kind}; use {use} with it instead.")


class ExportError(OrderflowError):
    """A machine cannot be exported in ``format``: the message says what stands in the way."""

    code = "EXPORT_ERROR"

    def __init__(self, message: str, format: str) -> None:
        self.format = format
        super().__init__(message)


class RendererNotFoundError(ExportError):
    """The program that renders ``format`` (``program``) is not on the PATH."""

    code = "RENDERER_NOT_FOUND"

    def __init__(self, program: str, format: str, hint: str) -> None:
        self.program = program
        super().__init__(
            f"Exporting {format} needs the '{program}' program, which is not on the PATH; {hint}",
            format,
        )


class ApiError(OrderflowError):
    """A request the API refuses; ``code`` says which kind of refusal.

    The class's code is ``BAD_REQUEST``; an instance may carry another one
    (``ApiError("...", "INVALID_EVENT")``), and :func:`orderflow.api.errors.api_error`
    gives every other :class:`OrderflowError` its own code this way.
    GraphQL clients receive it as ``extensions.code``.
    """

    code = "BAD_REQUEST"

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code

    @property
    def extensions(self) -> dict[str, Any]:
        return {"code": self.code}


class AuthenticationError(ApiError):
    """No actor could be established: no credentials, or credentials that do not hold."""

    code = "UNAUTHENTICATED"


class PermissionDeniedError(ApiError):
    """The actor is known but may not do this; nothing was written."""

    code = "FORBIDDEN"
