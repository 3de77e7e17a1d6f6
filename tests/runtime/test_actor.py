"""The in-memory actor: effects in order, timers on a simulated clock, restore mid-timer, listeners, async."""

from __future__ import annotations

import asyncio
import json
import threading
from typing import Any

import pytest

import orderflow
from orderflow.errors import MissingImplementationError
from orderflow.runtime import (
    ActorNotRunningError,
    AsyncioClock,
    SimulatedClock,
    ThreadingClock,
    create_actor,
)

ORDER = {
    "id": "order",
    "initial": "pending",
    "context": {"paid": 0},
    "states": {
        "pending": {
            "entry": [{"type": "notify", "params": {"template": "received"}}],
            "on": {"PAY": {"target": "paid", "actions": ["capture"]}},
            "after": {"1000": "expired"},
        },
        "paid": {
            "entry": [{"type": "emit", "params": {"event": {"type": "order.paid"}}}],
            "on": {"SHIP": "shipped"},
        },
        "shipped": {"type": "final"},
        "expired": {"type": "final"},
    },
}


def make(log: list[Any], **extra: Any) -> orderflow.Machine:
    return orderflow.setup(
        actions={
            "notify": lambda ctx, event, params: log.append(
                ("notify", params["template"], event.type)
            ),
            "capture": lambda ctx, event, params: log.append(
                ("capture", getattr(event, "amount", None))
            ),
            **extra,
        }
    ).create_machine(ORDER)


def test_start_runs_entry_effects_and_arms_the_after_timer() -> None:
    log: list[Any] = []
    clock = SimulatedClock()
    actor = create_actor(make(log), clock=clock).start()
    assert actor.get_snapshot().value == "pending"
    assert log == [("notify", "received", "xstate.init")]
    assert clock.pending == 1
    assert actor.get_snapshot().timers[0].due == 1000.0


def test_the_timer_fires_when_the_simulated_clock_reaches_it() -> None:
    clock = SimulatedClock()
    actor = create_actor(make([]), clock=clock).start()
    clock.advance(999)
    assert actor.get_snapshot().value == "pending"
    clock.advance(1)
    assert actor.get_snapshot().value == "expired"
    assert actor.get_snapshot().status == "done"
    assert actor.get_snapshot().timers == ()


def test_leaving_the_state_cancels_its_timer() -> None:
    log: list[Any] = []
    clock = SimulatedClock()
    actor = create_actor(make(log), clock=clock).start()
    actor.send({"type": "PAY", "amount": 10})
    assert clock.pending == 0
    clock.advance(5000)
    assert actor.get_snapshot().value == "paid"
    assert log[-1] == ("capture", 10)


def test_emitted_events_reach_their_handlers_and_listeners_see_every_snapshot() -> None:
    clock = SimulatedClock()
    actor = create_actor(make([]), clock=clock)
    seen: list[Any] = []
    emitted: list[Any] = []
    actor.subscribe(lambda snapshot: seen.append(snapshot.value))
    actor.on("order.paid", emitted.append)
    everything = actor.on("*", lambda event: emitted.append(("any", event["type"])))
    actor.start()
    actor.send("PAY")
    everything.unsubscribe()
    actor.send("SHIP")
    assert seen == ["pending", "paid", "shipped"]
    assert emitted == [{"type": "order.paid"}, ("any", "order.paid")]


def test_a_restored_actor_resumes_its_timer_with_the_remaining_time_and_runs_no_entry_actions() -> (
    None
):
    log: list[Any] = []
    clock = SimulatedClock()
    machine = make(log)
    first = create_actor(machine, clock=clock).start()
    clock.advance(400)
    stored = json.loads(json.dumps(first.get_persisted_snapshot()))
    first.stop()
    log.clear()

    second = create_actor(machine, snapshot=stored, clock=clock).start()
    assert log == []
    clock.advance(599)
    assert second.get_snapshot().value == "pending"
    clock.advance(1)
    assert second.get_snapshot().value == "expired"


def test_a_timer_restored_without_a_due_time_gets_its_whole_delay() -> None:
    clock = SimulatedClock(start_ms=50_000)
    machine = make([])
    snapshot, _ = machine.initial_transition()
    actor = create_actor(machine, snapshot=snapshot, clock=clock).start()
    assert actor.get_snapshot().timers[0].due == 51_000
    clock.advance(1000)
    assert actor.get_snapshot().value == "expired"


def test_an_effect_can_answer_with_an_event_processed_before_anything_else() -> None:
    config = {
        "initial": "allocating",
        "states": {
            "allocating": {
                "entry": ["reserve"],
                "on": {"STOCK_RESERVED": "picking", "STOCK_SHORT": "backordered"},
            },
            "picking": {"on": {"PICKED": "packing"}},
            "packing": {},
            "backordered": {},
        },
    }
    machine = orderflow.setup(
        actions={"reserve": lambda ctx, event, params: {"type": "STOCK_RESERVED"}}
    ).create_machine(config)
    actor = create_actor(machine, clock=SimulatedClock()).start()
    assert actor.get_snapshot().value == "picking"


def test_an_event_sent_from_a_listener_is_queued_until_the_current_step_is_done() -> None:
    actor = create_actor(make([]), clock=SimulatedClock())
    order: list[str] = []

    def listener(snapshot: orderflow.Snapshot) -> None:
        order.append(str(snapshot.value))
        if snapshot.value == "paid":
            actor.send("SHIP")
            order.append("sent")

    actor.subscribe(listener)
    actor.start()
    actor.send("PAY")
    assert order == ["pending", "paid", "sent", "shipped"]


def test_an_effect_that_raises_puts_the_actor_in_error_and_stops_its_timers() -> None:
    def boom(ctx: Any, event: Any, params: Any) -> None:
        raise RuntimeError("card declined")

    clock = SimulatedClock()
    actor = create_actor(make([], capture=boom), clock=clock).start()
    snapshot = actor.send("PAY")
    assert snapshot.status == "error"
    assert snapshot.error == {
        "type": "RuntimeError",
        "message": "card declined",
        "action": "capture",
    }
    assert isinstance(actor.error, RuntimeError)
    assert clock.pending == 0


def test_an_effect_without_implementation_is_an_error_not_silence() -> None:
    machine = orderflow.create_machine(ORDER)
    with pytest.raises(MissingImplementationError, match="notify"):
        create_actor(machine, clock=SimulatedClock()).start()


def test_implementations_given_to_the_actor_override_the_machines() -> None:
    log: list[Any] = []
    machine = make([])
    actor = create_actor(
        machine,
        clock=SimulatedClock(),
        implementations={"notify": lambda c, e, p: log.append(p["template"])},
    )
    actor.start()
    assert log == ["received"]


def test_sending_to_an_actor_that_is_not_running_is_refused() -> None:
    actor = create_actor(make([]), clock=SimulatedClock())
    with pytest.raises(ActorNotRunningError):
        actor.send("PAY")
    actor.start()
    actor.stop()
    with pytest.raises(ActorNotRunningError):
        actor.send("PAY")


def test_the_inspection_hook_sees_every_macrostep_with_its_microsteps() -> None:
    steps: list[Any] = []
    actor = create_actor(make([]), clock=SimulatedClock(), inspect=steps.append).start()
    actor.send("PAY")
    assert [s.event["type"] for s in steps] == ["xstate.init", "PAY"]
    pay = steps[1]
    assert pay.before.value == "pending" and pay.snapshot.value == "paid"
    assert [m.exited for m in pay.microsteps] == [("order.pending",)]
    assert [m.entered for m in pay.microsteps] == [("order.paid",)]
    assert [a.type for a in pay.actions] == ["cancel", "capture", "emit"]


def test_async_effects_are_awaited_in_order() -> None:
    log: list[str] = []

    async def notify(ctx: Any, event: Any, params: Any) -> None:
        await asyncio.sleep(0)
        log.append(params["template"])

    async def capture(ctx: Any, event: Any, params: Any) -> None:
        await asyncio.sleep(0)
        log.append("capture")

    machine = orderflow.setup(actions={"notify": notify, "capture": capture}).create_machine(ORDER)

    async def scenario() -> str:
        actor = create_actor(machine, clock=SimulatedClock())
        await actor.start_async()
        snapshot = await actor.send_async("PAY")
        return str(snapshot.value)

    assert asyncio.run(scenario()) == "paid"
    assert log == ["received", "capture"]


def test_an_async_effect_sent_synchronously_is_refused_clearly() -> None:
    async def notify(ctx: Any, event: Any, params: Any) -> None:
        return None

    machine = orderflow.setup(actions={"notify": notify, "capture": notify}).create_machine(ORDER)
    actor = create_actor(machine, clock=SimulatedClock()).start()
    assert actor.get_snapshot().status == "error"
    assert "send_async" in actor.get_snapshot().error["message"]


def test_timers_fire_on_the_asyncio_clock() -> None:
    config = {"initial": "a", "states": {"a": {"after": {"20": "b"}}, "b": {"type": "final"}}}
    machine = orderflow.create_machine(config)

    async def scenario() -> Any:
        actor = create_actor(machine, clock=AsyncioClock())
        await actor.start_async()
        for _ in range(100):
            if actor.get_snapshot().status == "done":
                break
            await asyncio.sleep(0.01)
        return actor.get_snapshot().value

    assert asyncio.run(scenario()) == "b"


def test_timers_fire_on_the_threading_clock() -> None:
    config = {"initial": "a", "states": {"a": {"after": {"20": "b"}}, "b": {"type": "final"}}}
    machine = orderflow.create_machine(config)
    done = threading.Event()
    actor = create_actor(machine, clock=ThreadingClock())
    actor.subscribe(lambda snapshot: done.set() if snapshot.status == "done" else None)
    actor.start()
    assert done.wait(5)
    assert actor.get_snapshot().value == "b"


def test_a_stopped_actor_fires_no_timer() -> None:
    clock = SimulatedClock()
    actor = create_actor(make([]), clock=clock).start()
    actor.stop()
    clock.advance(2000)
    assert actor.get_snapshot().value == "pending"
