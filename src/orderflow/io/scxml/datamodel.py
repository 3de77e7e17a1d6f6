"""The SCXML datamodel at run time: where variables live, ``_event``, the system variables.

A document's datamodel is the machine's context: a plain dict of its
variables, plus one reserved entry, :data:`SESSION_KEY`, that holds what the
session must remember between macrosteps (its id, the send counter, the
states bound late, the active invocations).  Expressions never see the
reserved entry: a restricted expression cannot name anything starting
with ``__``.

The snapshot a transition started from must not change, so the first block
of a macrostep that runs works on a deep copy (:func:`working`).
"""

from __future__ import annotations

import copy
from collections.abc import Collection, Iterator, Mapping, MutableMapping
from dataclasses import dataclass, field
from typing import Any

from orderflow.io.expressions import ExpressionFailed

SESSION_KEY = "__scxml__"
SCXML_PROCESSOR = "http://www.w3.org/TR/scxml/#SCXMLEventProcessor"
SCXML_PROCESSOR_ALIASES = frozenset({SCXML_PROCESSOR, "scxml", "http://www.w3.org/TR/scxml/"})
INVOKE_TYPES = frozenset({"http://www.w3.org/TR/scxml/", "http://www.w3.org/TR/scxml", "scxml"})
SYSTEM_VARIABLES = frozenset({"_event", "_sessionid", "_name", "_ioprocessors", "In"})
#: the keys of an event (inside the engine) that are SCXML's ``_event`` fields, not its data
EVENT_FIELDS = frozenset({"type", "kind", "sendid", "origin", "origintype", "invokeid", "data"})
INIT_EVENT = "xstate.init"


class Record(dict[str, Any]):
    """A dict whose keys read as attributes too (``_event.data.aParam``, ``_ioprocessors['scxml'].location``)."""

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


class ProcessorName(str):
    """The SCXML event I/O processor's type, equal to both its names (the URI and ``"scxml"``)."""

    __slots__ = ()

    def __eq__(self, other: object) -> bool:
        if isinstance(other, str) and str(self) in SCXML_PROCESSOR_ALIASES:
            return other in SCXML_PROCESSOR_ALIASES
        return str.__eq__(self, other)

    def __ne__(self, other: object) -> bool:
        return not self == other

    __hash__ = str.__hash__


@dataclass(frozen=True)
class ScxmlEvent:
    """SCXML's ``_event`` (section 5.10.1)."""

    name: str
    type: str
    sendid: str | None
    origin: str | None
    origintype: str | None
    invokeid: str | None
    data: Any


def event_view(data: Mapping[str, Any]) -> ScxmlEvent:
    """The ``_event`` of an event as the engine carries it (its JSON form)."""
    if "data" in data:
        payload = data["data"]
    else:  # an XState-style event from outside: the keys beside "type" are its data
        extra = {k: v for k, v in data.items() if k not in EVENT_FIELDS}
        payload = extra or None
    if isinstance(payload, Mapping) and not isinstance(payload, Record):
        payload = Record(payload)
    return ScxmlEvent(
        name=data["type"],
        type=data.get("kind", "external"),
        sendid=data.get("sendid"),
        origin=data.get("origin"),
        origintype=ProcessorName(data["origintype"]) if data.get("origintype") else None,
        invokeid=data.get("invokeid"),
        data=payload,
    )


def session_of(context: Mapping[str, Any]) -> dict[str, Any]:
    session: dict[str, Any] = context[SESSION_KEY]
    return session


def io_processors(sessionid: str) -> dict[str, Record]:
    location = Record(location=f"#_scxml_{sessionid}")
    return {SCXML_PROCESSOR: location, "scxml": location}


class Names(MutableMapping[str, Any]):
    """What an expression sees: the datamodel's variables and the system variables.

    Writing a system variable is an error (``error.execution``); writing a new
    name creates a variable (scripts and ``<foreach>`` may; ``<assign>`` checks first).
    """

    def __init__(
        self,
        datamodel: dict[str, Any],
        machine_name: str,
        event: Mapping[str, Any] | None,
        configuration: Collection[Any],
    ) -> None:
        self.datamodel = datamodel
        self.machine_name = machine_name
        self.event = event
        self.configuration = configuration

    def _system(self, key: str) -> Any:
        if key == "_event":
            if self.event is None or self.event.get("type") == INIT_EVENT:
                return None  # no event yet (SCXML 5.10): the python datamodel reads it as None
            return event_view(self.event)
        if key == "_sessionid":
            return session_of(self.datamodel)["sessionid"]
        if key == "_name":
            return self.machine_name
        if key == "_ioprocessors":
            return io_processors(session_of(self.datamodel)["sessionid"])
        return self.in_state

    def in_state(self, state_id: str) -> bool:
        """SCXML's ``In()``."""
        return any(getattr(node, "id", None) == state_id for node in self.configuration)

    def __getitem__(self, key: str) -> Any:
        if key in SYSTEM_VARIABLES:
            return self._system(key)
        if key == SESSION_KEY:
            raise KeyError(key)
        return self.datamodel[key]

    def __setitem__(self, key: str, value: Any) -> None:
        if key in SYSTEM_VARIABLES or key == SESSION_KEY:
            raise ExpressionFailed(f"{key} is a system variable and cannot be assigned")
        self.datamodel[key] = value

    def __delitem__(self, key: str) -> None:
        raise ExpressionFailed("variables cannot be deleted")

    def __iter__(self) -> Iterator[str]:
        yield from (k for k in self.datamodel if k != SESSION_KEY)
        yield from SYSTEM_VARIABLES

    def __contains__(self, key: object) -> bool:
        return key in SYSTEM_VARIABLES or (key != SESSION_KEY and key in self.datamodel)

    def __len__(self) -> int:
        return sum(1 for _ in self)


@dataclass
class Working:
    """What a macrostep's blocks share (kept in ``run.extension``): states entered, for ``<invoke>``."""

    entered: list[Any] = field(default_factory=list)


def working(run: Any) -> dict[str, Any]:
    """The macrostep's own copy of the datamodel (copied from the snapshot on first use)."""
    if run.extension is None:
        run.extension = Working()
        run.context = copy.deepcopy(run.context)
        run.changed = True
    datamodel: dict[str, Any] = run.context
    return datamodel


def extension(run: Any) -> Working:
    working(run)
    state: Working = run.extension
    return state
