"""Which record models the API exposes, how a caller names one row, and the list screen's rows.

A record is named by its *record type* (the model's table name, as the
transition log spells it: ``sale_orders``) and its primary key as text.
Only the models given to :class:`RecordTypes` can be reached; any other
table name is refused with the list of those that can.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import inspect
from sqlalchemy.orm import Session

from orderflow.api.errors import ApiError
from orderflow.errors import InvalidRecordKeyError
from orderflow.service.queries import (
    Fulfillment,
    Quotation,
    SaleOrder,
    WorkflowRecord,
    primary_key_value,
    started_records,
)

#: the domain records shipped with orderflow, in the order of the flow
DEFAULT_MODELS: tuple[type[WorkflowRecord], ...] = (Quotation, SaleOrder, Fulfillment)


@dataclass(frozen=True)
class RecordSummary:
    """One row of the list screen: enough to find a record and see where its workflow is."""

    record_type: str
    record_id: str
    reference: str | None
    machine: str
    value: Any
    #: the active leaf states as dotted paths (one unless the state is parallel)
    states: tuple[str, ...]
    status: str
    version: int

    @property
    def state(self) -> str:
        return ", ".join(self.states)


class RecordTypes:
    """The record models the API serves, by table name."""

    def __init__(self, models: Iterable[type[Any]] = DEFAULT_MODELS) -> None:
        self.models: dict[str, type[Any]] = {}
        for model in models:
            if not issubclass(model, WorkflowRecord):
                raise TypeError(f"{model.__name__} does not mix in orderflow.store.WorkflowRecord")
            if len(inspect(model).primary_key) != 1:
                raise TypeError(f"{model.__name__} needs a single-column primary key to be named")
            self.models[inspect(model).local_table.name] = model

    @property
    def names(self) -> list[str]:
        return list(self.models)

    def ref(self, record_type: str, record_id: str) -> tuple[type[Any], Any]:
        """``(Model, key)`` for the service, the key converted to the primary key's type."""
        model = self.models.get(record_type)
        if model is None:
            raise ApiError(
                f"there is no record type '{record_type}'; this API serves "
                f"{', '.join(self.names) or 'none'}"
            )
        try:
            return model, primary_key_value(model, record_id)
        except InvalidRecordKeyError as exc:
            raise ApiError(
                f"'{record_id}' is not a valid id for {record_type} (its key is {exc.expected})"
            ) from exc

    def summaries(
        self,
        session_factory: Callable[[], Session],
        *,
        machine: str | None = None,
        state: str | None = None,
        limit: int = 100,
    ) -> list[RecordSummary]:
        """The newest records first, at most ``limit`` per record type.

        ``state`` keeps records whose state is it or inside it (``processing``
        keeps ``processing.credit_hold``), as ``snapshot.matches`` would.
        The state filter reads rows newest first until ``limit`` match.
        """
        found: list[RecordSummary] = []
        with session_factory() as session:
            for record_type, model in self.models.items():
                kept = 0
                for row in started_records(session, model, machine=machine):
                    summary = _summary(record_type, row)
                    if state is not None and not _within(summary.states, state):
                        continue
                    found.append(summary)
                    kept += 1
                    if kept >= limit:
                        break
        return found


def leaf_paths(value: Any) -> tuple[str, ...]:
    """The dotted paths of a state value's leaves: ``{"p": {"a": "x", "b": "y"}}`` -> ``p.a.x``, ``p.b.y``."""
    if isinstance(value, str):
        return (value,)
    if isinstance(value, Mapping):
        return tuple(
            f"{key}.{leaf}" if leaf else str(key)
            for key, child in value.items()
            for leaf in (leaf_paths(child) or ("",))
        )
    return ()


def state_text(value: Any) -> str:
    """A state value as people read it: ``processing.credit_hold`` (leaves joined by commas)."""
    if value is None:
        return "∅"
    return ", ".join(leaf_paths(value)) or json.dumps(value, sort_keys=True)


def _within(states: tuple[str, ...], wanted: str) -> bool:
    return any(s == wanted or s.startswith(f"{wanted}.") for s in states)


def _summary(record_type: str, row: Any) -> RecordSummary:
    (key,) = inspect(type(row)).primary_key_from_instance(row)
    state = row.workflow_state if isinstance(row.workflow_state, Mapping) else {}
    value = state.get("value")
    reference = getattr(row, "reference", None)
    return RecordSummary(
        record_type=record_type,
        record_id=str(key),
        reference=None if reference is None else str(reference),
        machine=str(row.workflow_machine),
        value=value,
        states=leaf_paths(value),
        status=str(state.get("status", "")),
        version=int(row.workflow_version or 0),
    )
