"""A machine's first context: the configured one, or what a named function makes of the input.

XState v5 writes ``context: ({ input }) => ({ ... })``; a JSON definition
cannot hold a function, so it names one instead (``"context": "fromOrder"``)
and ``setup(contexts={"fromOrder": function})`` implements it.  A config
written in Python may put the function itself there.  Either way the function
is called with the input given at start (``initial_transition(input=...)``,
``create_actor(machine, input=...)``, the service's ``start(..., input=...)``)
and returns the context (a mapping, or an instance of the context model).

Without a function, a mapping input is merged over the configured context;
any input still reaches entry actions as the ``xstate.init`` event's ``input``.
An input that makes no valid context raises
:class:`~orderflow.errors.InvalidInputError` and starts nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol

from pydantic import BaseModel, ValidationError

from orderflow.errors import InvalidInputError, MissingImplementationError


class Machine(Protocol):
    """What building a context needs of the machine (``orderflow.chart.machine.Machine``)."""

    @property
    def id(self) -> str: ...
    def validate_context(self, data: Any) -> Any: ...


def initial_context(
    machine: Machine, configured: Any, contexts: Mapping[str, Any], input: Any
) -> Any:
    """The context a machine starts with, given its configured ``context`` and the ``input``."""
    name: str | None = None
    function: Callable[[Any], Any] | None = None
    if isinstance(configured, str):
        name = configured
        function = contexts.get(name)
        if function is None:
            raise MissingImplementationError("context", name)
    elif callable(configured):
        function = configured
        name = getattr(configured, "__name__", None)
    if function is None:
        context = dict(configured or {})
        if isinstance(input, BaseModel):
            input = input.model_dump()
        if isinstance(input, Mapping):
            context.update(input)
        return _validated(machine, context, None)
    try:
        made = function(input)
    except Exception as exc:
        raise InvalidInputError(machine.id, f"raised {type(exc).__name__}: {exc}", name) from exc
    return _validated(machine, made, name)


def _validated(machine: Machine, context: Any, function: str | None) -> Any:
    try:
        return machine.validate_context(context)
    except (ValidationError, TypeError, ValueError) as exc:
        made = "returned a context that" if function else "makes a context that"
        raise InvalidInputError(
            machine.id, f"{made} does not fit the machine: {exc}", function
        ) from exc
