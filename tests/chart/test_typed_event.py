"""One event, one shape: every implementation an event reaches gets the same TypedEvent."""

from __future__ import annotations

import copy
import pickle
import warnings
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel

import orderflow
from orderflow import TypedEvent


class Assignment(BaseModel):
    assignee: str
    hours: Decimal = Decimal("1")


def desk(seen: list[tuple[str, Any]], **extra: Any) -> orderflow.Machine:
    """A machine of this test's own: every kind of implementation notes the event it got."""

    def note(kind: str, answer: Any = None) -> Any:
        def implementation(context: Any, event: Any, params: Any) -> Any:
            seen.append((kind, event))
            return answer() if callable(answer) else answer

        return implementation

    return orderflow.setup(
        events={"ASSIGN": Assignment},
        guards={"named": note("guard", lambda: True)},
        actions={
            "remember": orderflow.assign(note("assign", lambda: {"owner": seen[-1][1].assignee})),
            "notify": note("effect"),
            "announce": orderflow.emit(note("emit", lambda: {"type": "ticket.assigned"})),
            "escalate": orderflow.raise_(note("raise", lambda: "CHECK")),
        },
        delays={"sla": note("delay", lambda: 60_000)},
        **extra,
    ).create_machine({
        "id": "desk",
        "initial": "new",
        "context": {"owner": None},
        "states": {
            "new": {"on": {"ASSIGN": {"guard": "named", "target": "assigned",
                                      "actions": ["remember", "notify", "announce", "escalate"]}}},
            "assigned": {"after": {"sla": "late"}, "on": {"CHECK": {}, "PING": {"actions": "notify"}}},
            "late": {},
        },
    })  # fmt: skip


def test_guards_assignments_effects_delays_and_emits_get_the_same_typed_event() -> None:
    seen: list[tuple[str, Any]] = []
    machine = desk(seen)
    snapshot, _ = machine.initial_transition()
    snapshot, actions = machine.transition(snapshot, {"type": "ASSIGN", "assignee": "ada"})
    assert [kind for kind, _ in seen] == ["guard", "assign", "emit", "raise", "delay"]
    event = seen[0][1]
    assert all(got is event for _, got in seen)
    assert isinstance(event, TypedEvent)
    assert (event.type, event.assignee, event.hours) == ("ASSIGN", "ada", Decimal("1"))
    assert event.payload == Assignment(assignee="ada")
    assert event.data == {"type": "ASSIGN", "assignee": "ada", "hours": "1"}
    effect = next(a for a in actions if a.type == "notify")
    assert effect.event is event  # what the caller runs the effect with
    assert snapshot.context == {"owner": "ada"}


def test_a_replayed_macrostep_hands_its_code_the_typed_event_too() -> None:
    seen: list[tuple[str, Any]] = []
    machine = desk(seen)
    start, _ = machine.initial_transition()
    for who in ("ada", "grace", "linus"):  # the second and third replay the stored plan
        seen.clear()
        after, actions = machine.transition(start, {"type": "ASSIGN", "assignee": who})
        assert {type(event) for _, event in seen} == {TypedEvent}
        assert after.context == {"owner": who}
        assert next(a for a in actions if a.type == "notify").event.assignee == who


def test_without_a_model_the_payload_is_the_json_and_no_copy_is_made() -> None:
    seen: list[tuple[str, Any]] = []
    machine = desk(seen)
    snapshot, _ = machine.initial_transition()
    snapshot, _ = machine.transition(snapshot, {"type": "ASSIGN", "assignee": "ada"})
    _, actions = machine.transition(snapshot, {"type": "PING", "note": "hello"})
    event = actions[0].event
    assert event.payload is event.data and event.data == {"type": "PING", "note": "hello"}
    assert event.note == "hello" and getattr(event, "missing", "none") == "none"
    with pytest.raises(AttributeError, match="event 'PING' has no field 'missing'"):
        _ = event.missing


def test_reading_the_event_as_a_dict_still_works_with_a_deprecation_warning() -> None:
    event = TypedEvent("PING", {"type": "PING", "note": "hello"}, {"type": "PING", "note": "hello"})
    for read in (
        lambda: event["note"],
        lambda: event.get("note"),
        lambda: "note" in event,
        lambda: dict(event),
        lambda: event == {"type": "PING", "note": "hello"},
    ):
        with pytest.warns(DeprecationWarning, match="as attributes"):
            assert read()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert (event.type, event.note, event.data["note"]) == ("PING", "hello", "hello")


def test_a_typed_event_survives_copy_and_pickle() -> None:
    event = TypedEvent("ASSIGN", {"type": "ASSIGN", "assignee": "ada"}, Assignment(assignee="ada"))
    for twin in (copy.copy(event), copy.deepcopy(event), pickle.loads(pickle.dumps(event))):
        assert twin == event and twin.assignee == "ada"


def test_an_event_passed_on_keeps_its_data() -> None:
    forward = orderflow.setup(
        events={"ASSIGN": Assignment},
        actions={"again": orderflow.raise_(lambda c, event, p: {**event.data, "type": "COPY"})},
    ).create_machine({
        "id": "f", "initial": "a",
        "states": {"a": {"on": {"ASSIGN": {"actions": "again"}, "COPY": "b"}}, "b": {}},
    })  # fmt: skip
    snapshot, _ = forward.initial_transition()
    snapshot, _ = forward.transition(snapshot, {"type": "ASSIGN", "assignee": "ada"})
    assert snapshot.value == "b"
    typed = forward.event({"type": "ASSIGN", "assignee": "bo"})
    again, _ = forward.transition(forward.initial_transition()[0], typed)
    assert again.value == "b"  # a TypedEvent given back to a machine is read as its data


def test_the_in_memory_actor_runs_effects_with_the_typed_event() -> None:
    seen: list[tuple[str, Any]] = []
    actor = orderflow.create_actor(desk(seen)).start()
    actor.send({"type": "ASSIGN", "assignee": "ada"})
    effects = [event for kind, event in seen if kind == "effect"]
    assert [e.payload for e in effects] == [Assignment(assignee="ada")]
    assert effects[0] is seen[0][1]


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3)
    ),
    max_leaves=5,
)
FIELD = st.from_regex(r"[a-z][a-z_]{0,8}", fullmatch=True).filter(
    lambda name: name not in {"type", "data", "payload", "get", "keys"}
)


@given(st.dictionaries(FIELD, JSON, max_size=5))
def test_every_field_of_an_untyped_payload_reads_as_an_attribute(fields: dict[str, Any]) -> None:
    machine = orderflow.create_machine({"id": "m", "initial": "a", "states": {"a": {}}})
    event = machine.event({"type": "GO", **fields})
    assert event.type == "GO" and event.data == {"type": "GO", **fields}
    for name, value in fields.items():
        assert getattr(event, name) == value


def test_actor_factory_actors_hand_provided_effects_and_timers_the_typed_event(
    actor_factory: Any, simulated_clock: Any
) -> None:
    seen: list[tuple[str, Any]] = []
    provided: list[Any] = []
    actor = actor_factory(
        desk(seen), implementations={"notify": lambda c, e, p: provided.append(e)}
    )
    actor.send({"type": "ASSIGN", "assignee": "ada"})
    assert [e.assignee for e in provided] == ["ada"]  # was a dict: 'dict' has no 'assignee'
    assert provided[0] is seen[0][1]
    actor.send({"type": "PING", "note": "hi"})
    assert provided[-1].note == "hi" and provided[-1].payload is provided[-1].data
    simulated_clock.advance(60_000)
    assert actor.get_snapshot().value == "late"
