"""Child actors in the pure core: invoke, spawnChild, sendTo, function actors, snapshots with children."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import orderflow
from orderflow.chart import assign
from orderflow.chart.actions import enqueue_actions, send_parent, send_to, spawn_child
from orderflow.errors import (
    DefinitionError,
    InvalidEventError,
    InvalidSnapshotError,
    MissingImplementationError,
)
from orderflow.export import to_xstate

TOGGLE = orderflow.create_machine({
    "id": "toggle", "initial": "off", "context": {"flips": 0},
    "states": {
        "off": {"on": {"FLIP": {"target": "on", "actions": {"type": "assign", "params": {"flips": 1}}}}},
        "on": {"on": {"FLIP": "off", "STOP": "done"}, "after": {"1000": "off"}},
        "done": {"type": "final"},
    },
    "output": {"finished": True},
})  # fmt: skip


def charge(input: dict[str, Any]) -> dict[str, Any]:
    return {"charged": input["amount"]}


def keep(key: str) -> Any:
    return assign(
        lambda context, event, params: {
            key: getattr(event, "output", getattr(event, "error", None))
        }
    )


def shop() -> orderflow.Machine:
    """A user's own machine: it invokes a function actor (a payment) and a machine (a toggle)."""
    return orderflow.setup(
        actors={"charge": charge, "toggle": TOGGLE},
        inputs={"amountOf": lambda context, event: {"amount": context["total"]}},
        actions={"keepPaid": keep("paid"), "keepFailure": keep("failure"), "notify": lambda *a: None},
    ).create_machine({
        "id": "shop", "initial": "paying", "context": {"total": 25},
        "states": {
            "paying": {
                "invoke": {"id": "payment", "src": "charge", "inputFrom": "amountOf",
                           "onDone": {"target": "packing", "actions": "keepPaid"},
                           "onError": {"target": "failed", "actions": "keepFailure"}},
                "on": {"CANCEL": "cancelled"},
            },
            "packing": {
                "entry": "notify",
                "invoke": {"id": "light", "src": "toggle", "onDone": "shipped"},
                "on": {"FLIP_LIGHT": {"actions": {"type": "sendTo", "params": {"to": "light", "event": {"type": "FLIP"}}}}},
            },
            "shipped": {"type": "final"},
            "failed": {"type": "final"},
            "cancelled": {"type": "final"},
        },
    })  # fmt: skip


def test_entering_a_state_that_invokes_a_function_returns_a_start_record_with_its_input() -> None:
    snapshot, actions = shop().initial_transition()
    assert [(a.type, a.params) for a in actions] == [
        ("start_actor", {"id": "payment", "src": "charge", "input": {"amount": 25}})
    ]
    assert snapshot.children["payment"].status == "active"
    assert snapshot.children["payment"].snapshot is None


def test_a_function_actors_result_comes_back_as_its_done_event() -> None:
    machine = shop()
    snapshot, _ = machine.initial_transition()
    snapshot, actions = machine.transition(
        snapshot, {"type": "xstate.done.actor.payment", "output": {"charged": 25}}
    )
    assert snapshot.value == "packing"
    assert snapshot.context["paid"] == {"charged": 25}
    assert "payment" not in snapshot.children  # stopped on exit (it had answered: no stop record)
    assert [a.type for a in actions] == ["notify"]
    assert snapshot.children["light"].snapshot is not None
    assert snapshot.children["light"].snapshot.value == "off"


def test_a_function_actors_failure_takes_on_error() -> None:
    machine = shop()
    snapshot, _ = machine.initial_transition()
    snapshot, _ = machine.transition(
        snapshot, {"type": "xstate.error.actor.payment", "error": {"message": "declined"}}
    )
    assert snapshot.value == "failed"
    assert snapshot.context["failure"] == {"message": "declined"}


def test_leaving_the_state_cancels_a_running_function_and_drops_its_late_result() -> None:
    machine = shop()
    snapshot, _ = machine.initial_transition()
    cancelled, actions = machine.transition(snapshot, "CANCEL")
    assert [(a.type, a.params) for a in actions] == [
        ("stop_actor", {"id": "payment", "src": "charge"})
    ]
    assert cancelled.children == {}
    late = {"type": "xstate.done.actor.payment", "output": {"charged": 25}}
    assert machine.transition(cancelled, late) == (cancelled, [])


def test_a_result_is_delivered_once() -> None:
    machine = shop()
    snapshot, _ = machine.initial_transition()
    done = {"type": "xstate.done.actor.payment", "output": {"charged": 25}}
    after, _ = machine.transition(snapshot, done)
    again, actions = machine.transition(after, done)
    assert again is after and actions == []


def test_a_child_machine_moves_inside_its_parents_snapshot_and_reports_when_done() -> None:
    machine = shop()
    snapshot, _ = machine.initial_transition()
    snapshot, _ = machine.transition(snapshot, {"type": "xstate.done.actor.payment", "output": 1})
    snapshot, actions = machine.transition(snapshot, "FLIP_LIGHT")
    light = snapshot.children["light"].snapshot
    assert light is not None and light.value == "on" and light.context == {"flips": 1}
    assert [(a.type, a.actor) for a in actions] == [("schedule", "light")]
    snapshot, _ = machine.transition(snapshot, "STOP", to="light")
    assert snapshot.value == "shipped" and snapshot.status == "done"


def test_a_child_timer_is_delivered_to_the_child_by_its_path() -> None:
    machine = shop()
    snapshot, _ = machine.initial_transition()
    snapshot, _ = machine.transition(snapshot, {"type": "xstate.done.actor.payment", "output": 1})
    snapshot, _ = machine.transition(snapshot, "FLIP_LIGHT")
    light = snapshot.children["light"].snapshot
    assert light is not None
    (timer,) = light.timers
    snapshot, _ = machine.transition(snapshot, timer.event, to="light")
    light = snapshot.children["light"].snapshot
    assert light is not None and light.value == "off" and light.timers == ()


def test_leaving_a_state_cancels_its_child_machines_timers() -> None:
    machine = orderflow.setup(actors={"toggle": TOGGLE}).create_machine({
        "id": "room", "initial": "lit", "states": {
            "lit": {"invoke": {"id": "t", "src": "toggle"}, "on": {"LEAVE": "dark"}},
            "dark": {},
        }})  # fmt: skip
    snapshot, _ = machine.initial_transition()
    snapshot, _ = machine.transition(snapshot, "FLIP", to="t")
    snapshot, actions = machine.transition(snapshot, "LEAVE")
    assert [(a.type, a.params, a.actor) for a in actions] == [
        ("cancel", {"id": "xstate.after.1000.toggle.on"}, "t")
    ]
    assert snapshot.children == {}


def test_a_snapshot_with_children_survives_json_and_restore() -> None:
    machine = shop()
    snapshot, _ = machine.initial_transition()
    snapshot, _ = machine.transition(snapshot, {"type": "xstate.done.actor.payment", "output": 1})
    snapshot, _ = machine.transition(snapshot, "FLIP_LIGHT")
    data = json.loads(json.dumps(snapshot.to_json()))
    assert data["children"]["light"]["snapshot"]["machine"] == "toggle"
    assert data["children"]["light"]["snapshot"]["version"] == TOGGLE.version
    restored = machine.resolve_snapshot(data)
    assert restored == snapshot
    assert machine.transition(restored, "STOP", to="light")[0].value == "shipped"


@pytest.mark.parametrize(
    ("change", "path"),
    [
        (lambda d: d["children"]["light"].update(src="charge"), "$.children.light.src"),
        (lambda d: d["children"].update(ghost={"src": "toggle", "snapshot": {}}), "$.children.ghost"),
        (lambda d: d["children"]["light"]["snapshot"].update(value="nowhere"),
         "$.children.light.snapshot.value"),
        (lambda d: d["children"]["light"]["snapshot"].update(version="old"),
         "$.children.light.snapshot.version"),
        (lambda d: d["children"]["light"].update(extra=1), "$.children.light"),
        (lambda d: d.update(children=[]), "$.children"),
        (lambda d: d["children"]["light"].update(systemId="lamp"), "$.children.light.systemId"),
        (lambda d: d["children"]["light"].update(syncSnapshot=True),
         "$.children.light.syncSnapshot"),
    ],
    ids=["another actor", "an uninvoked child", "a bad child value", "a stale child version",
         "an unknown field", "not a mapping", "a systemId its invoke has not",
         "a syncSnapshot its invoke has not"],
)  # fmt: skip
def test_a_tampered_child_is_refused_with_its_place(change: Any, path: str) -> None:
    machine = shop()
    snapshot, _ = machine.initial_transition()
    snapshot, _ = machine.transition(snapshot, {"type": "xstate.done.actor.payment", "output": 1})
    data = json.loads(json.dumps(snapshot.to_json()))
    change(data)
    with pytest.raises(InvalidSnapshotError) as caught:
        machine.resolve_snapshot(data)
    assert caught.value.path == path


def test_a_function_childs_status_is_restored() -> None:
    machine = shop()
    snapshot, _ = machine.initial_transition()
    data = snapshot.to_json()
    assert data["children"] == {
        "payment": {"src": "charge", "snapshot": {"status": "active", "input": {"amount": 25}}}
    }
    assert machine.resolve_snapshot(data) == snapshot
    data["children"]["payment"]["snapshot"]["status"] = "sleeping"
    with pytest.raises(InvalidSnapshotError):
        machine.resolve_snapshot(data)


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"invoke": {"src": "missing"}}, "no actor 'missing'"),
        ({"invoke": {"id": "a/b", "src": "toggle"}}, "without '/'"),
        ({"invoke": {"id": "x"}}, "needs a 'src'"),
        ({"invoke": {"src": "toggle", "onFinish": "b"}}, "unknown invoke key 'onFinish'"),
        ({"invoke": {"src": "toggle", "inputFrom": "nothing"}}, "no input function 'nothing'"),
        ({"entry": {"type": "sendTo", "params": {"event": "X"}}}, "exactly one of params.to"),
        ({"entry": {"type": "spawnChild", "params": {"src": "missing"}}}, "no actor 'missing'"),
        ({"entry": {"type": "stopChild", "params": {}}}, "needs params.id"),
        ({"entry": {"type": "spawnChild", "params": {"src": "toggle", "sytemId": "t"}}}, "not 'sytemId'"),
        ({"entry": {"type": "sendTo", "params": {"to": "t", "event": "X", "id": "s"}}}, "not 'id'"),
        ({"entry": {"type": "sendParent", "params": {"event": "X", "to": "p"}}}, "not 'to'"),
        ({"entry": {"type": "stopChild", "params": {"id": "t", "src": "toggle"}}}, "not 'src'"),
        ({"entry": {"type": "forwardTo", "params": {"to": "t", "event": "X"}}}, "not 'event'"),
    ],
)
def test_bad_actor_definitions_are_refused_with_their_json_path(config: Any, message: str) -> None:
    with pytest.raises(DefinitionError) as caught:
        orderflow.setup(actors={"toggle": TOGGLE}).create_machine(
            {"id": "m", "initial": "a", "states": {"a": config, "b": {}}}
        )
    assert message in str(caught.value)
    assert "$.states.a." in str(caught.value)


def test_a_machine_created_without_implementations_draws_an_input_function_it_cannot_run() -> None:
    config = {
        "id": "m", "initial": "a",
        "states": {"a": {"on": {"GO": "b"}}, "b": {"invoke": {"src": "price", "inputFrom": "order"}}},
    }  # fmt: skip
    machine = orderflow.create_machine(config)  # as export and validate create it
    assert "inputFrom" in json.dumps(to_xstate(machine))
    snapshot, _ = machine.initial_transition()
    with pytest.raises(MissingImplementationError):
        machine.transition(snapshot, "GO")
    with pytest.raises(DefinitionError, match="no input function 'order'"):
        orderflow.setup(actors={"price": charge}).create_machine(config)


def test_setup_refuses_an_actor_that_is_neither_machine_nor_function() -> None:
    with pytest.raises(DefinitionError, match=r"setup\.actors\.bad"):
        orderflow.setup(actors={"bad": 42})


def test_sendparent_at_the_root_puts_the_machine_in_error() -> None:
    machine = orderflow.setup(actions={"up": send_parent("UP")}).create_machine(
        {"id": "m", "initial": "a", "states": {"a": {"on": {"GO": {"actions": "up"}}}}}
    )
    snapshot, _ = machine.initial_transition()
    failed, _ = machine.transition(snapshot, "GO")
    assert failed.status == "error" and "no parent" in failed.error["message"]


def test_an_event_for_a_child_that_is_not_there_is_refused() -> None:
    machine = shop()
    snapshot, _ = machine.initial_transition()
    with pytest.raises(InvalidEventError, match="no child machine 'light'"):
        machine.transition(snapshot, "FLIP", to="light")


def test_a_child_machines_done_event_cannot_come_from_outside() -> None:
    machine = shop()
    snapshot, _ = machine.initial_transition()
    snapshot, _ = machine.transition(snapshot, {"type": "xstate.done.actor.payment", "output": 1})
    with pytest.raises(InvalidEventError, match="child machine 'light' itself"):
        machine.transition(snapshot, {"type": "xstate.done.actor.light"})


def test_a_machine_without_actors_refuses_an_address() -> None:
    with pytest.raises(InvalidEventError, match="no child actors"):
        TOGGLE.transition(TOGGLE.initial_transition()[0], "FLIP", to="x")


def test_an_unhandled_child_failure_fails_the_parent_as_in_xstate() -> None:
    machine = orderflow.setup(actors={"charge": charge}).create_machine(
        {"id": "m", "initial": "a", "states": {"a": {"invoke": {"id": "p", "src": "charge"}}}}
    )
    snapshot, _ = machine.initial_transition()
    failed, _ = machine.transition(
        snapshot, {"type": "xstate.error.actor.p", "error": {"message": "no"}}
    )
    assert failed.status == "error" and failed.error == {"message": "no"}


def test_python_builders_spawn_send_and_enqueue() -> None:
    def build(enqueue: Any, context: Any, event: Any) -> None:
        enqueue(spawn_child("toggle", id="t1"))
        if context["flip"]:
            enqueue(send_to("t1", {"type": "FLIP"}))

    machine = orderflow.setup(
        actors={"toggle": TOGGLE}, actions={"both": enqueue_actions(build)}
    ).create_machine({"id": "m", "initial": "a", "context": {"flip": True},
                      "states": {"a": {"on": {"GO": {"actions": "both"}}}}})  # fmt: skip
    snapshot, _ = machine.initial_transition()
    snapshot, _ = machine.transition(snapshot, "GO")
    child = snapshot.children["t1"].snapshot
    assert child is not None and child.value == "on"


def enqueuing(*picks: Any, **actions: Any) -> orderflow.Machine:
    """A machine whose GO enqueues ``picks``, beside the toggle child ``t1`` and ``actions``."""

    def build(enqueue: Any, context: Any, event: Any) -> None:
        for pick in picks:
            enqueue(pick)

    return orderflow.setup(
        actors={"toggle": TOGGLE}, actions={"pick": enqueue_actions(build), **actions}
    ).create_machine({"id": "m", "initial": "a", "states": {"a": {
        "invoke": {"id": "t1", "src": "toggle"}, "on": {"GO": {"actions": "pick"}}}}})  # fmt: skip


def test_enqueue_resolves_names_as_the_definition_does() -> None:
    seen: list[Any] = []

    def note(context: Any, event: Any, params: Any = None) -> None:
        seen.append(params)

    machine = enqueuing(
        "flip_t1",  # a built-in given under a name: applied, not returned as an effect
        {"type": "sendTo", "params": {"to": "t1", "event": {"type": "FLIP"}}},  # a built-in's JSON
        {"type": "note", "params": {"n": 1}},  # XState's object form, with params
        "note",
        flip_t1=send_to("t1", {"type": "FLIP"}),
        note=note,
    )
    snapshot, actions = machine.transition(machine.initial_transition()[0], "GO")
    assert snapshot.status == "active"
    assert snapshot.children["t1"].snapshot.value == "off"  # flipped twice
    effects = [(a.type, a.params) for a in actions if a.type not in ("schedule", "cancel")]
    assert effects == [("note", {"n": 1}), ("note", None)]
    # the in-memory actor finds an effect the definition itself never names
    actor = orderflow.create_actor(machine).start()
    actor.send("GO")
    assert seen == [{"n": 1}, None] and actor.get_snapshot().status == "active"


def test_enqueue_refuses_a_name_with_no_implementation() -> None:
    machine = enqueuing("nosuch", note=lambda context, event: None)
    snapshot, actions = machine.transition(machine.initial_transition()[0], "GO")
    assert snapshot.status == "error" and actions == []
    assert "'nosuch'" in snapshot.error["message"]


def test_a_restored_child_id_cannot_hold_the_path_separator() -> None:
    machine = enqueuing("note", note=lambda context, event: None)  # a machine that spawns
    data = json.loads(json.dumps(machine.initial_transition()[0].to_json()))
    data["children"]["t1/t2"] = data["children"]["t1"]
    with pytest.raises(InvalidSnapshotError) as caught:
        machine.resolve_snapshot(data)
    assert caught.value.path == "$.children.t1/t2" and "without '/'" in str(caught.value)


def test_send_to_by_expression_picks_the_child_at_run_time() -> None:
    aim = send_to(
        lambda context, event, params: event.payload["to"],
        lambda context, event, params: {"type": context["signal"]},
    )
    machine = orderflow.setup(actors={"toggle": TOGGLE}, actions={"aim": aim}).create_machine({
        "id": "m", "initial": "a", "context": {"signal": "FLIP"},
        "states": {"a": {"invoke": [{"id": "t1", "src": "toggle"}, {"id": "t2", "src": "toggle"}],
                         "on": {"AIM": {"actions": "aim"}}}},
    })  # fmt: skip
    snapshot, _ = machine.initial_transition()
    snapshot, _ = machine.transition(snapshot, {"type": "AIM", "to": "t2"})
    assert {k: c.snapshot.value for k, c in snapshot.children.items() if c.snapshot} == {
        "t1": "off", "t2": "on"
    }
    failed, _ = machine.transition(snapshot, {"type": "AIM", "to": "t9"})
    assert failed.status == "error" and "'t9'" in failed.error["message"]


def test_spawn_child_passes_a_static_or_computed_input_to_a_machine_or_a_function() -> None:
    seated = orderflow.setup(contexts={"fromInput": lambda input: {"seats": input["seats"]}})
    child = seated.create_machine(
        {"id": "seated", "initial": "a", "context": "fromInput", "states": {"a": {}}}
    )
    machine = orderflow.setup(
        actors={"seated": child, "charge": charge},
        inputs={"seatsOf": lambda context, event: {"seats": event.payload["n"]}},
    ).create_machine({"id": "m", "initial": "s", "states": {"s": {"on": {
        "SP": {"actions": {"type": "spawnChild",
                           "params": {"src": "seated", "id": "c1", "inputFrom": "seatsOf"}}},
        "SP2": {"actions": {"type": "spawnChild",
                            "params": {"src": "seated", "id": "c2", "input": {"seats": 7}}}},
        "SPF": {"actions": {"type": "spawnChild",
                            "params": {"src": "charge", "id": "f1", "inputFrom": "seatsOf"}}},
    }}}})  # fmt: skip
    snapshot, _ = machine.initial_transition()
    snapshot, _ = machine.transition(snapshot, {"type": "SP", "n": 3})
    snapshot, _ = machine.transition(snapshot, "SP2")
    snapshot, actions = machine.transition(snapshot, {"type": "SPF", "n": 4})
    contexts = {k: c.snapshot.context for k, c in snapshot.children.items() if c.snapshot}
    assert contexts == {"c1": {"seats": 3}, "c2": {"seats": 7}}
    assert [(a.type, a.params) for a in actions] == [
        ("start_actor", {"id": "f1", "src": "charge", "input": {"seats": 4}})
    ]
    assert machine.resolve_snapshot(json.loads(json.dumps(snapshot.to_json()))) == snapshot


def test_step_lists_every_delivery_for_inspection() -> None:
    machine = shop()
    snapshot, _ = machine.initial_transition()
    snapshot, _ = machine.transition(snapshot, {"type": "xstate.done.actor.payment", "output": 1})
    step = machine.step(snapshot, "FLIP_LIGHT")
    assert step.deliveries == (("", {"type": "FLIP_LIGHT"}), ("light", {"type": "FLIP"}))


def test_a_machine_without_actors_does_not_run_the_actor_system() -> None:
    assert not TOGGLE.uses_actors
    assert shop().uses_actors


@settings(max_examples=40, deadline=None, derandomize=True, database=None)
@given(events=st.lists(st.sampled_from(
    ["FLIP_LIGHT", "CANCEL", ("light", "FLIP"), ("light", "STOP"), "done", "fail"]
), max_size=8))  # fmt: skip
def test_any_run_round_trips_through_json(events: list[Any]) -> None:
    """Invariant: whatever the children did, to_json then resolve_snapshot gives the same snapshot,
    and the restored one answers the next event as the original would."""
    machine = shop()
    snapshot, _ = machine.initial_transition()
    for item in events:
        if snapshot.status != "active":
            break
        to = None
        if item == "done":
            event: Any = {"type": "xstate.done.actor.payment", "output": 1}
        elif item == "fail":
            event = {"type": "xstate.error.actor.payment", "error": {"message": "x"}}
        elif isinstance(item, tuple):
            to, event = item
            if "light" not in snapshot.children:
                continue
        else:
            event = item
        restored = machine.resolve_snapshot(json.loads(json.dumps(snapshot.to_json())))
        assert restored == snapshot
        snapshot, actions = machine.transition(snapshot, event, to=to)
        again, again_actions = machine.transition(restored, event, to=to)
        assert again == snapshot
        assert [a.to_json() for a in again_actions] == [a.to_json() for a in actions]


# -- a function actor's input must be JSON -------------------------------------------------------


def _payer(make_input: Any) -> orderflow.Machine:
    return orderflow.setup(
        actors={"charge": charge}, inputs={"bad": lambda context, event: make_input(context)}
    ).create_machine({
        "id": "payer", "initial": "idle", "context": {"total": 5},
        "states": {
            "idle": {"on": {"PAY": "paying"}},
            "paying": {"invoke": {"id": "payment", "src": "charge", "inputFrom": "bad"}},
        },
    })  # fmt: skip


@pytest.mark.parametrize(
    ("make_input", "path"),
    [
        (lambda context: {"items": [1, {2, 3}]}, "$.input.items[1]"),
        (lambda context: {"who": object()}, "$.input.who"),
        (lambda context: {"amount": float("nan")}, "$.input.amount"),
        (lambda context: {1: "a"}, "$.input"),
        (lambda context: ("a", "b"), "$.input"),
    ],
)
def test_a_function_actor_whose_input_is_not_json_is_refused_and_nothing_changes(
    make_input: Any, path: str
) -> None:
    from orderflow.errors import ActorInputError

    machine = _payer(make_input)
    before = machine.initial_transition()[0]
    persisted = json.dumps(before.to_json())
    with pytest.raises(ActorInputError) as caught:
        machine.transition(before, "PAY")
    error = caught.value
    assert error.code == "INVALID_ACTOR_INPUT" and isinstance(error, TypeError)
    assert (error.actor_id, error.src, error.path) == ("payment", "charge", path)
    assert "'payment'" in str(error) and "'charge'" in str(error) and path in str(error)
    assert before.value == "idle" and not before.children
    assert json.dumps(before.to_json()) == persisted


@given(st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3),
    max_leaves=12,
))  # fmt: skip
@settings(max_examples=60, deadline=None)
def test_any_json_input_starts_the_function_actor_and_round_trips(value: Any) -> None:
    machine = _payer(lambda context: value)
    snapshot, actions = machine.transition(machine.initial_transition()[0], "PAY")
    started = [a for a in actions if a.type == "start_actor"]
    assert len(started) == 1 and started[0].params["input"] == value
    restored = machine.resolve_snapshot(json.loads(json.dumps(snapshot.to_json())))
    assert restored.children["payment"].input == value
