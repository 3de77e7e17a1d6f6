"""The event every implementation receives: :class:`TypedEvent`.

One object per event, made where the engine reads the event (``Machine.event``), and
handed unchanged to guards, assignments, effects, delays and computed built-ins, and
by the runtime and the service to effect handlers (``action.event``) and finish hooks.
One shape everywhere: attributes read the payload (the event's pydantic model when the
machine declares one, else its JSON object).  The dict reading that effects used to get
still works for a while, with a ``DeprecationWarning``.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Mapping
from typing import Any, Generic, TypeVar

from pydantic import BaseModel

P = TypeVar("P")

_DICT_ACCESS = (
    "reading an event as a dict is deprecated: read its fields as attributes (event.{name}), "
    "or its JSON form as event.data"
)


class TypedEvent(Generic[P]):
    """An event as every implementation receives it: guards, assignments, effects, delays,
    computed built-ins, effect handlers (``action.event``) and finish hooks.

    ``type`` is the event type; ``payload`` the validated payload model when the machine
    declares one for the type (``setup(events=...)``), else the event's JSON object;
    ``data`` the event as plain JSON.  Any other attribute is read from the payload
    (``event.assignee``); a field that shares a name with one of these is read through
    ``event.payload``.  Reading it as a dict (``event["x"]``, ``event.get("x")``, ``in``,
    ``dict(event)``, ``==`` with a mapping) reads ``data`` and warns (``DeprecationWarning``).

    A plain slotted class rather than a frozen dataclass: the engine makes one per event,
    on the hot path, and hands that same object to all the code the event reaches.
    """

    __slots__ = ("data", "payload", "type")

    data: Mapping[str, Any]
    payload: P
    type: str

    def __init__(self, type: str, data: Mapping[str, Any], payload: P) -> None:
        self.type = type
        self.data = data
        self.payload = payload

    @staticmethod
    def internal(data: Mapping[str, Any]) -> TypedEvent[Any]:
        """An event the engine makes (done, init, raised, timers): its payload is its JSON."""
        return TypedEvent(data["type"], data, data)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") or name in TypedEvent.__slots__:  # unset slot, copy, pickle
            raise AttributeError(name)
        payload = self.payload
        if isinstance(payload, BaseModel):
            return getattr(payload, name)
        try:
            return payload[name]  # type: ignore[index]
        except (KeyError, TypeError):
            raise AttributeError(f"event '{self.type}' has no field '{name}'") from None

    def _as_dict(self, name: str) -> Mapping[str, Any]:
        warnings.warn(_DICT_ACCESS.format(name=name), DeprecationWarning, stacklevel=3)
        return self.data

    def __getitem__(self, key: str) -> Any:
        return self._as_dict(key)[key]

    def get(self, key: str, default: Any = None) -> Any:
        """Deprecated: ``event.data.get(key)``, or ``getattr(event, key, default)``."""
        return self._as_dict(key).get(key, default)

    def keys(self) -> Any:
        """Deprecated: ``event.data.keys()`` (kept so that ``dict(event)`` still works)."""
        return self._as_dict("<field>").keys()

    def __contains__(self, key: object) -> bool:
        return key in self._as_dict(str(key))

    def __iter__(self) -> Iterator[str]:
        return iter(self._as_dict("<field>"))

    def __len__(self) -> int:
        return len(self._as_dict("<field>"))

    def __eq__(self, other: object) -> bool:
        if isinstance(other, TypedEvent):
            return self.data == other.data
        if isinstance(other, Mapping):
            return self._as_dict("<field>") == other
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # as unhashable as the dict it replaces

    def __repr__(self) -> str:
        return f"TypedEvent({self.type!r}, payload={self.payload!r})"
