"""The exception tree: one module, a stable ``code`` on every class, and the API keeping the cause."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

import orderflow.api
import orderflow.api.errors
import orderflow.orders
import orderflow.orders.handoff
import orderflow.orders.loading
import orderflow.orders.ports
import orderflow.runtime
import orderflow.runtime.actor
import orderflow.workers.relay
from orderflow import errors
from orderflow.api.errors import api_error
from orderflow.errors import (
    ActorInputError,
    ActorNotRunningError,
    ActorOutputError,
    ApiError,
    AuthenticationError,
    ConfigurationError,
    DefinitionError,
    EffectError,
    ExportError,
    HandoffError,
    IdempotencyKeyReusedError,
    InfiniteLoopError,
    InvalidEventError,
    InvalidInputError,
    InvalidRecordKeyError,
    InvalidSnapshotError,
    InventoryError,
    MissingImplementationError,
    NotAWorkflowRecordError,
    NotFinishedError,
    OrderflowError,
    PaymentError,
    PermissionDeniedError,
    Problem,
    PublishError,
    RecordNotFoundError,
    RendererNotFoundError,
    ReservedEventFieldError,
    ScxmlError,
    StaleRecordError,
    TransitionFailedError,
    UnknownEventError,
    UnknownMachineError,
    UnknownStateError,
    UnsafeDocumentError,
    UnsafeExpressionError,
    WaitForError,
    WaitForTimeoutError,
    WrongDriverError,
)
from orderflow.orders import load_machine

API_DOC = Path(__file__).resolve().parents[1] / "docs" / "api.md"

ERRORS = sorted(
    (
        cls
        for _, cls in inspect.getmembers(errors, inspect.isclass)
        if issubclass(cls, OrderflowError) and cls.__module__ == errors.__name__
    ),
    key=lambda cls: cls.__name__,
)

#: subclasses that carry their parent's code on purpose: the API reported them so before codes
#: lived on the classes, and a client switching on the code must see no change
SHARES_PARENT_CODE: dict[type[OrderflowError], type[OrderflowError]] = {
    ReservedEventFieldError: InvalidEventError,  # a payload naming the actor is an invalid event
    InvalidRecordKeyError: RecordNotFoundError,  # a key that cannot name a record names none
}

#: the codes the API sent before the classes carried them (api/errors.py's old table)
API_CODES: dict[type[OrderflowError], str] = {
    RecordNotFoundError: "NOT_FOUND",
    UnknownEventError: "UNKNOWN_EVENT",
    InvalidEventError: "INVALID_EVENT",
    StaleRecordError: "STALE_RECORD",
    IdempotencyKeyReusedError: "IDEMPOTENCY_KEY_REUSED",
    InvalidSnapshotError: "INVALID_SNAPSHOT",
    ApiError: "BAD_REQUEST",
    AuthenticationError: "UNAUTHENTICATED",
    PermissionDeniedError: "FORBIDDEN",
    OrderflowError: "WORKFLOW_ERROR",
}


class AsyncSession:
    """Stands in for SQLAlchemy's AsyncSession: only its class name reaches the message."""


class Ticket:
    """A model that does not mix in WorkflowRecord."""


#: one instance of every class, as orderflow raises it
SAMPLES: list[OrderflowError] = [
    OrderflowError("something went wrong"),
    DefinitionError([Problem("$.states.a.on.GO[0].target", "no state 'b'")]),
    MissingImplementationError("guard", "within_credit_limit", "credit_check"),
    InvalidEventError("the payload of 'PAY' fails its model", "PAY"),
    UnknownEventError("sale", "NO_SUCH_EVENT"),
    ReservedEventFieldError("APPROVE", "actor"),
    InvalidInputError("booking", "raised KeyError: 'seats'", "fromBooking"),
    InvalidSnapshotError("no state 'gone'", "$.value"),
    InfiniteLoopError(100, ["a", "b"], "GO"),
    UnsafeExpressionError("__import__('os')", "names starting with '_' are not allowed"),
    ScxmlError("the document has no states", "scxml"),
    UnsafeDocumentError("the DOCTYPE declares entities"),
    UnknownMachineError("invoice", ["quotation", "sale"]),
    ActorInputError("card", "charge", "$.input.items[1]", "a set is not a JSON value"),
    ActorOutputError("card", "charge", "$.output.at", "a date is not a JSON value"),
    ActorNotRunningError("the actor has not started yet"),
    WaitForError("the actor was stopped before satisfying the predicate"),
    WaitForTimeoutError(5000),
    HandoffError("the quotation finished in 'rejected', not 'approved'"),
    UnknownStateError("sale", "sale.payed"),
    PaymentError("the provider declined capture p-1"),
    InventoryError("no reservation r-9 in warehouse W1"),
    PublishError("the webhook answered 503", retryable=True),
    ConfigurationError("'sales' holds machine 'sale'", setting="machines"),
    RecordNotFoundError("tickets", "7"),
    InvalidRecordKeyError("tickets", "abc", "integers"),
    NotAWorkflowRecordError(Ticket),
    WrongDriverError("WorkflowService", AsyncSession(), "AsyncWorkflowService"),
    NotFinishedError("tickets", "7", "ticket", "active", "open"),
    IdempotencyKeyReusedError("tickets", "7", "ui-8f2c", "CLOSE"),
    StaleRecordError("tickets", "7", 3, 4),
    TransitionFailedError("tickets", "7", "CLOSE", "ZeroDivisionError: division by zero"),
    EffectError("tickets", "7", "CLOSE", "notify", RuntimeError("mail server down")),
    ExportError("a parallel state cannot be drawn as a table", "csv"),
    RendererNotFoundError("dot", "svg", "install Graphviz"),
    ApiError("there is no record type 'invoices'"),
    AuthenticationError("the token has expired; ask for a new one"),
    PermissionDeniedError("the actor may not approve"),
]

#: the new errors the service raises instead of a bare built-in, with the built-in each replaces
BUILT_IN_TWINS: list[tuple[OrderflowError, type[Exception]]] = [
    (ConfigurationError("say which machine: this service has ['a', 'b']"), ValueError),
    (NotFinishedError("tickets", "7", "ticket", "active", "open"), ValueError),
    (NotAWorkflowRecordError(Ticket), TypeError),
    (WrongDriverError("WorkflowService", AsyncSession(), "AsyncWorkflowService"), TypeError),
    (UnknownMachineError("x", ["a"], holder="this service has"), KeyError),
    (UnknownStateError("sale", "nope"), KeyError),
]


def _name(value: object) -> str:
    return type(value).__name__


def test_every_error_class_in_the_module_has_a_sample_here() -> None:
    assert sorted({type(sample) for sample in SAMPLES}, key=lambda c: c.__name__) == ERRORS


@pytest.mark.parametrize("cls", ERRORS, ids=lambda cls: cls.__name__)
def test_every_error_class_declares_its_own_code_in_screaming_snake_case(
    cls: type[OrderflowError],
) -> None:
    assert "code" in vars(cls), f"{cls.__name__} inherits its code; declare one"
    assert re.fullmatch(r"[A-Z][A-Z0-9]*(_[A-Z0-9]+)*", cls.code)


def test_codes_are_unique_except_where_a_subclass_shares_its_parents_on_purpose() -> None:
    owners: dict[str, list[type[OrderflowError]]] = {}
    for cls in ERRORS:
        owners.setdefault(cls.code, []).append(cls)
    shared = {code: classes for code, classes in owners.items() if len(classes) > 1}
    expected = {
        parent.code: sorted([child, parent], key=lambda c: c.__name__)
        for child, parent in SHARES_PARENT_CODE.items()
    }
    assert shared == expected
    for child, parent in SHARES_PARENT_CODE.items():
        assert issubclass(child, parent) and child.code == parent.code


@pytest.mark.parametrize(
    ("cls", "code"), API_CODES.items(), ids=lambda v: getattr(v, "__name__", v)
)
def test_the_codes_the_api_always_sent_are_kept(cls: type[OrderflowError], code: str) -> None:
    assert cls.code == code


@pytest.mark.parametrize("cls", ERRORS, ids=lambda cls: cls.__name__)
def test_the_module_docstring_tree_names_every_class_with_its_code(
    cls: type[OrderflowError],
) -> None:
    assert errors.__doc__ is not None
    assert re.search(rf"\b{cls.__name__}\s+{cls.code}\b", errors.__doc__)


@pytest.mark.parametrize("cls", ERRORS, ids=lambda cls: cls.__name__)
def test_the_api_doc_lists_every_code(cls: type[OrderflowError]) -> None:
    assert re.search(rf"^\| `{cls.code}` \|.*`{cls.__name__}`", API_DOC.read_text(), re.MULTILINE)


@pytest.mark.parametrize(
    ("moved", "old_homes"),
    [
        (ApiError, [orderflow.api.errors, orderflow.api]),
        (AuthenticationError, [orderflow.api.errors, orderflow.api]),
        (PermissionDeniedError, [orderflow.api.errors, orderflow.api]),
        (ActorNotRunningError, [orderflow.runtime.actor, orderflow.runtime]),
        (UnknownMachineError, [orderflow.orders.loading, orderflow.orders]),
        (HandoffError, [orderflow.orders.handoff]),
        (PaymentError, [orderflow.orders.ports]),
        (InventoryError, [orderflow.orders.ports]),
        (PublishError, [orderflow.workers.relay, orderflow.workers]),
    ],
    ids=lambda v: getattr(v, "__name__", ""),
)
def test_a_moved_class_is_the_same_object_from_its_old_import_path(
    moved: type[OrderflowError], old_homes: list[object]
) -> None:
    assert moved.__module__ == "orderflow.errors"
    for module in old_homes:
        assert getattr(module, moved.__name__) is moved


@pytest.mark.parametrize("exc", [s for s in SAMPLES if not isinstance(s, ApiError)], ids=_name)
def test_api_error_keeps_the_message_the_code_and_the_cause(exc: OrderflowError) -> None:
    error = api_error(exc)
    assert type(error) is ApiError
    assert str(error) == str(exc)
    assert error.code == exc.code
    assert error.extensions == {"code": exc.code}
    assert error.__cause__ is exc


@pytest.mark.parametrize("exc", [s for s in SAMPLES if isinstance(s, ApiError)], ids=_name)
def test_api_error_answers_an_api_error_as_it_is(exc: ApiError) -> None:
    assert api_error(exc) is exc


def test_an_api_error_instance_may_carry_another_code_than_its_class() -> None:
    error = ApiError("the event type must not be empty", "INVALID_EVENT")
    assert error.code == "INVALID_EVENT" and ApiError.code == "BAD_REQUEST"


@pytest.mark.parametrize(("exc", "built_in"), BUILT_IN_TWINS, ids=lambda v: _name(v))
def test_an_error_replacing_a_built_in_is_both(
    exc: OrderflowError, built_in: type[Exception]
) -> None:
    assert isinstance(exc, OrderflowError) and isinstance(exc, built_in)
    with pytest.raises(built_in):
        raise exc


def test_an_unknown_machine_is_a_key_error_whose_message_is_not_quoted() -> None:
    error = UnknownMachineError("x", ["sale", "order"], holder="this service has")
    assert isinstance(error, KeyError) and isinstance(error, LookupError)
    assert str(error) == "this service has no machine named 'x'; choose one of ['sale', 'order']"
    assert (error.name, error.known) == ("x", ("sale", "order"))


def test_loading_an_unshipped_machine_still_names_the_shipped_ones() -> None:
    with pytest.raises(UnknownMachineError) as caught:
        load_machine("invoice")
    assert str(caught.value) == (
        "orderflow ships no machine named 'invoice'; "
        f"choose one of {list(orderflow.orders.MACHINE_NAMES)}"
    )


def test_a_configuration_error_names_the_setting_at_fault() -> None:
    error = ConfigurationError("'sales' holds machine 'sale'", setting="machines")
    assert str(error) == "machines: 'sales' holds machine 'sale'"
    assert str(ConfigurationError("say which machine")) == "say which machine"


def test_not_finished_says_which_record_and_where_its_machine_stands() -> None:
    error = NotFinishedError("tickets", "7", "ticket", "active", {"open": "waiting"})
    assert str(error).startswith(
        "tickets '7' has not finished: its machine 'ticket' is active in {'open': 'waiting'}."
    )
    assert (error.record_type, error.record_id, error.machine_id) == ("tickets", "7", "ticket")
    assert (error.status, error.value) == ("active", {"open": "waiting"})


def test_not_a_workflow_record_names_the_model_and_the_mixin() -> None:
    error = NotAWorkflowRecordError(Ticket, where="a hand-off's answer")
    assert error.model is Ticket
    assert str(error).startswith(
        "Ticket (a hand-off's answer) does not mix in orderflow.store.WorkflowRecord"
    )


def test_a_wrong_driver_names_the_service_class_to_use() -> None:
    error = WrongDriverError("WorkflowService", AsyncSession(), "AsyncWorkflowService")
    assert str(error) == (
        "WorkflowService cannot run on an AsyncSession; use AsyncWorkflowService with it instead."
    )
    assert error.use == "AsyncWorkflowService"
