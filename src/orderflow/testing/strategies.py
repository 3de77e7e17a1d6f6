"""Hypothesis strategies for events a machine will actually take.

    @given(events(machine))                       # an event the initial snapshot accepts
    @given(events(machine, snapshot))             # ... that ``snapshot`` accepts
    @given(enabled_sequences(machine, max_size=20))  # a whole legal walk from the start

An event is *enabled* when ``snapshot.can(event)`` says it would fire a
transition.  The candidates are the events the active states name
(:func:`orderflow.testing.paths.default_events`: no wildcards, no done events,
``after`` timers only while pending) plus any ``extra_events`` you give for
wildcard descriptors.  An event type with a payload model
(``setup(events={...})``) gets a payload drawn from the model's fields, so
guards that read the payload see varied values; a type without one is sent
as ``{"type": ...}``.  Pass ``payloads={"PAY": strategy}`` where a model's
constraints are more than field annotations can say.

Each event is one choice among the enabled types, in document order, so
hypothesis shrinks a failing walk towards fewer steps and earlier types.
"""

from __future__ import annotations

import decimal
from collections.abc import Callable, Iterable, Mapping
from typing import Annotated, Any, cast

from hypothesis import reject
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo

from orderflow.chart import Machine, Snapshot
from orderflow.testing.paths import default_events

SnapshotSource = Snapshot | Callable[[], Snapshot] | None
Payloads = Mapping[str, st.SearchStrategy[Mapping[str, Any]]]
Draw = Callable[[st.SearchStrategy[Any]], Any]


class EventDrawer:
    """Draws enabled events for one machine; payload strategies are built once and reused."""

    def __init__(
        self,
        machine: Machine,
        *,
        extra_events: Iterable[str] = (),
        payloads: Payloads | None = None,
    ) -> None:
        self.machine = machine
        self.extra_events = tuple(extra_events)
        self._payloads: dict[str, st.SearchStrategy[Mapping[str, Any]]] = dict(payloads or {})
        for event_type, model in machine.implementations.events.items():
            self._payloads.setdefault(event_type, payloads_from_model(model))

    def candidates(self, snapshot: Snapshot) -> list[str]:
        """The event types worth trying from ``snapshot``, in document order."""
        if snapshot.status != "active":
            return []
        found = dict.fromkeys(
            e for e in default_events(self.machine, snapshot) if isinstance(e, str)
        )
        found.update(dict.fromkeys(self.extra_events))
        return list(found)

    def draw(self, draw: Draw, snapshot: Snapshot) -> dict[str, Any] | None:
        """An enabled event, or ``None`` when no candidate is enabled (a final or stuck snapshot).

        ``draw`` is a composite's ``draw`` or ``data.draw``.  One choice picks the event type
        (so a walk shrinks towards the first enabled type, and deleting a step deletes one
        choice); a type with a payload draws its payload next, and when the guards refuse that
        payload the next enabled type is tried.
        """
        candidates = self.candidates(snapshot)
        enabled = [t for t in candidates if t in self._payloads or snapshot.can(t)]
        if not enabled:
            return None
        first = draw(st.integers(0, len(enabled) - 1)) if len(enabled) > 1 else 0
        for event_type in enabled[first:] + enabled[:first]:
            strategy = self._payloads.get(event_type)
            if strategy is None:
                return {"type": event_type}
            event = _with_type(event_type, draw(strategy))
            if snapshot.can(event):
                return event
        return None


def events(
    machine: Machine,
    snapshot: SnapshotSource = None,
    *,
    extra_events: Iterable[str] = (),
    payloads: Payloads | None = None,
) -> st.SearchStrategy[dict[str, Any]]:
    """Events enabled in ``snapshot`` (the initial snapshot when ``None``; called at draw time when a function).

    A snapshot in which nothing is enabled cannot give an event: the draw is rejected.
    """
    drawer = EventDrawer(machine, extra_events=extra_events, payloads=payloads)
    current = _snapshot_source(machine, snapshot)

    @st.composite
    def enabled_event(draw: st.DrawFn) -> dict[str, Any]:
        event = drawer.draw(draw, current())
        if event is None:
            reject()
        return event

    return enabled_event()


def enabled_sequences(
    machine: Machine,
    *,
    min_size: int = 0,
    max_size: int = 20,
    start: Snapshot | None = None,
    extra_events: Iterable[str] = (),
    payloads: Payloads | None = None,
) -> st.SearchStrategy[list[dict[str, Any]]]:
    """Legal walks from ``start`` (the initial snapshot): each event is enabled where it is sent.

    A walk stops early when it reaches a snapshot that takes no more events, so it can be
    shorter than ``min_size`` only there.
    """
    if min_size < 0 or max_size < min_size:
        raise ValueError(f"need 0 <= min_size <= max_size, got {min_size} and {max_size}")
    drawer = EventDrawer(machine, extra_events=extra_events, payloads=payloads)
    first = _snapshot_source(machine, start)

    @st.composite
    def walk(draw: st.DrawFn) -> list[dict[str, Any]]:
        snapshot = first()
        sent: list[dict[str, Any]] = []
        while len(sent) < max_size:
            if len(sent) >= min_size and not draw(st.booleans()):
                break
            event = drawer.draw(draw, snapshot)
            if event is None:
                break
            sent.append(event)
            snapshot, _ = machine.transition(snapshot, event)
        return sent

    return walk()


# -- payloads from pydantic models ----------------------------------------------------------------


def payloads_from_model(model: type[BaseModel]) -> st.SearchStrategy[Mapping[str, Any]]:
    """JSON payloads that validate against ``model``: each field drawn from its annotation.

    Optional fields are sometimes left out (their default applies).  A drawn payload the model
    still refuses (a validator the annotations do not show) is rejected, not sent.
    """
    required: dict[str, st.SearchStrategy[Any]] = {}
    optional: dict[str, st.SearchStrategy[Any]] = {}
    for name, info in model.model_fields.items():
        if name == "type":
            continue
        key = info.alias or name
        (required if info.is_required() else optional)[key] = field_values(info)

    def valid(data: dict[str, Any]) -> Mapping[str, Any]:
        try:
            value = model.model_validate(data)
        except ValidationError:
            reject()
        dumped: dict[str, Any] = value.model_dump(mode="json", by_alias=True)
        dumped.pop("type", None)
        return dumped

    return st.fixed_dictionaries(required, optional=optional).map(valid)


def field_values(info: FieldInfo) -> st.SearchStrategy[Any]:
    """Values for one model field: its annotation, with the ``annotated_types`` bounds it declares."""
    annotation = info.annotation
    # annotated_types bounds (Gt, Le, MinLen, ...) hypothesis understands; pydantic's own it does not
    bounds = [m for m in info.metadata if type(m).__module__ == "annotated_types"]
    if annotation is decimal.Decimal:
        return _decimals(info, bounds)
    if annotation is None:
        return st.none()
    if bounds:
        return st.from_type(cast(type[Any], Annotated[(annotation, *bounds)]))
    return st.from_type(cast(type[Any], annotation))


def _decimals(info: FieldInfo, bounds: list[Any]) -> st.SearchStrategy[Any]:
    # hypothesis would draw NaN and compare it against the bounds; money never wants NaN
    low = high = None
    for bound in bounds:
        low = getattr(bound, "ge", getattr(bound, "gt", low))
        high = getattr(bound, "le", getattr(bound, "lt", high))
    places = next(
        (m.decimal_places for m in info.metadata if getattr(m, "decimal_places", None) is not None),
        None,
    )
    return st.decimals(
        min_value=low, max_value=high, places=places, allow_nan=False, allow_infinity=False
    )


def _with_type(event_type: str, payload: Mapping[str, Any]) -> dict[str, Any]:
    return {"type": event_type, **{k: v for k, v in payload.items() if k != "type"}}


def _snapshot_source(machine: Machine, snapshot: SnapshotSource) -> Callable[[], Snapshot]:
    if snapshot is None:
        initial, _ = machine.initial_transition()
        return lambda: initial
    if isinstance(snapshot, Snapshot):
        fixed = snapshot
        return lambda: fixed
    return snapshot
