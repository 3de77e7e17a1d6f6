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
from dataclasses import dataclass
from typing import Annotated, Any, cast

from hypothesis import reject
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo

from orderflow.chart import Machine, Snapshot
from orderflow.testing.paths import ChildEvent, child_machines, default_events, send

SnapshotSource = Snapshot | Callable[[], Snapshot] | None
Payloads = Mapping[str, st.SearchStrategy[Mapping[str, Any]]]
Draw = Callable[[st.SearchStrategy[Any]], Any]


class EventDrawer:
    """Draws enabled events for one machine; payload strategies are built once and reused.

    With ``children=True`` the events the running child machines take are candidates
    too, after the machine's own, each drawn as a :class:`~orderflow.testing.paths.ChildEvent`.
    """

    def __init__(
        self,
        machine: Machine,
        *,
        extra_events: Iterable[str] = (),
        payloads: Payloads | None = None,
        children: bool = False,
    ) -> None:
        self.machine = machine
        self.extra_events = tuple(extra_events)
        self.children = children
        self._given = dict(payloads or {})
        #: payload strategies by machine (the machine's and each child machine's event models)
        self._by_machine: dict[int, dict[str, st.SearchStrategy[Mapping[str, Any]]]] = {}
        self._payloads = self._payloads_of(machine, self._given)

    def _payloads_of(
        self, machine: Machine, given: Payloads
    ) -> dict[str, st.SearchStrategy[Mapping[str, Any]]]:
        known = self._by_machine.get(id(machine))
        if known is None:
            known = dict(given)
            for event_type, model in machine.implementations.events.items():
                known.setdefault(event_type, payloads_from_model(model))
            self._by_machine[id(machine)] = known
        return known

    def candidates(self, snapshot: Snapshot) -> list[str]:
        """The event types worth trying from ``snapshot``, in document order."""
        if snapshot.status != "active":
            return []
        found = dict.fromkeys(
            e for e in default_events(self.machine, snapshot) if isinstance(e, str)
        )
        found.update(dict.fromkeys(self.extra_events))
        return list(found)

    def _options(self, snapshot: Snapshot) -> list[_Option]:
        """Every enabled (or payload-dependent) event type: the machine's, then its children's."""
        options = [
            _Option(None, t, snapshot, self._payloads.get(t))
            for t in self.candidates(snapshot)
            if t in self._payloads or snapshot.can(t)
        ]
        if not self.children or snapshot.status != "active":
            return options
        for path, child, child_snapshot in child_machines(self.machine, snapshot):
            payloads = self._payloads_of(child, {})
            for t in default_events(child, child_snapshot):
                if isinstance(t, str) and (t in payloads or child_snapshot.can(t)):
                    options.append(_Option(path, t, child_snapshot, payloads.get(t)))
        return options

    def draw(self, draw: Draw, snapshot: Snapshot) -> dict[str, Any] | ChildEvent | None:
        """An enabled event, or ``None`` when no candidate is enabled (a final or stuck snapshot).

        ``draw`` is a composite's ``draw`` or ``data.draw``.  One choice picks the event type
        (so a walk shrinks towards the first enabled type, and deleting a step deletes one
        choice); a type with a payload draws its payload next, and when the guards refuse that
        payload the next enabled type is tried.  An event for a child machine is a
        :class:`~orderflow.testing.paths.ChildEvent`.
        """
        enabled = self._options(snapshot)
        if not enabled:
            return None
        first = draw(st.integers(0, len(enabled) - 1)) if len(enabled) > 1 else 0
        for option in enabled[first:] + enabled[:first]:
            if option.payloads is None:
                return option.addressed({"type": option.type})
            event = _with_type(option.type, draw(option.payloads))
            if option.snapshot.can(event):
                return option.addressed(event)
        return None


@dataclass(frozen=True)
class _Option:
    """An event type a draw may pick: for the machine (``to`` None) or the child at ``to``."""

    to: str | None
    type: str
    #: the snapshot of the actor that takes it (for ``can``)
    snapshot: Snapshot
    payloads: st.SearchStrategy[Mapping[str, Any]] | None

    def addressed(self, event: dict[str, Any]) -> dict[str, Any] | ChildEvent:
        return event if self.to is None else ChildEvent(self.to, event)


def events(
    machine: Machine,
    snapshot: SnapshotSource = None,
    *,
    extra_events: Iterable[str] = (),
    payloads: Payloads | None = None,
    children: bool = False,
) -> st.SearchStrategy[dict[str, Any] | ChildEvent]:
    """Events enabled in ``snapshot`` (the initial snapshot when ``None``; called at draw time when a function).

    A snapshot in which nothing is enabled cannot give an event: the draw is rejected.
    With ``children=True``, events the running child machines take are drawn too, as
    :class:`~orderflow.testing.paths.ChildEvent` (send one with
    :func:`~orderflow.testing.paths.send`).
    """
    drawer = EventDrawer(machine, extra_events=extra_events, payloads=payloads, children=children)
    current = _snapshot_source(machine, snapshot)

    @st.composite
    def enabled_event(draw: st.DrawFn) -> dict[str, Any] | ChildEvent:
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
    children: bool = False,
) -> st.SearchStrategy[list[dict[str, Any] | ChildEvent]]:
    """Legal walks from ``start`` (the initial snapshot): each event is enabled where it is sent.

    A walk stops early when it reaches a snapshot that takes no more events, so it can be
    shorter than ``min_size`` only there.  ``children`` as for :func:`events`.
    """
    if min_size < 0 or max_size < min_size:
        raise ValueError(f"need 0 <= min_size <= max_size, got {min_size} and {max_size}")
    drawer = EventDrawer(machine, extra_events=extra_events, payloads=payloads, children=children)
    first = _snapshot_source(machine, start)

    @st.composite
    def walk(draw: st.DrawFn) -> list[dict[str, Any] | ChildEvent]:
        snapshot = first()
        sent: list[dict[str, Any] | ChildEvent] = []
        while len(sent) < max_size:
            if len(sent) >= min_size and not draw(st.booleans()):
                break
            event = drawer.draw(draw, snapshot)
            if event is None:
                break
            sent.append(event)
            snapshot = send(machine, snapshot, event)
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
