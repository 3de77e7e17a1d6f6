"""The runtime actor with child actors: machine children, function actors (sync, async), system ids."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import pytest

import orderflow
from orderflow.chart import assign
from orderflow.chart.machine import Step
from orderflow.errors import ActorNotRunningError
from orderflow.runtime import AsyncioClock, SimulatedClock


def lamp(seen: list[Any]) -> orderflow.Machine:
    return orderflow.setup(actions={"shine": lambda context, event, params: seen.append(context)}).create_machine({
        "id": "lamp", "initial": "off", "context": {"watts": 40},
        "states": {
            "off": {"on": {"FLIP": "on"}},
            "on": {"entry": "shine", "on": {"FLIP": "off", "BREAK": "broken"}, "after": {"1000": "off"}},
            "broken": {"type": "final"},
        },
        "output": {"broken": True},
    })  # fmt: skip


def house(src: Any, seen: list[Any]) -> orderflow.Machine:
    keep = assign(
        lambda context, event, params: {
            "got": getattr(event, "output", getattr(event, "error", None))
        }
    )
    return orderflow.setup(
        actors={"work": src, "lamp": lamp(seen)}, actions={"keep": keep}
    ).create_machine({
        "id": "house", "initial": "working", "context": {"n": 3},
        "states": {
            "working": {
                "invoke": {"id": "job", "src": "work", "input": {"n": 3},
                           "onDone": {"target": "lit", "actions": "keep"},
                           "onError": {"target": "failed", "actions": "keep"}},
                "on": {"CANCEL": "cancelled"},
            },
            "lit": {
                "invoke": {"id": "lamp", "src": "lamp", "systemId": "the-lamp", "onDone": "dark"},
                "on": {"FLIP": {"actions": {"type": "forwardTo", "params": {"to": "lamp"}}}},
            },
            "dark": {"type": "final"},
            "failed": {"type": "final"},
            "cancelled": {"type": "final"},
        },
    })  # fmt: skip


def double(input: dict[str, int]) -> int:
    return input["n"] * 2


def test_a_plain_function_actor_runs_at_once_and_its_result_moves_the_parent() -> None:
    actor = orderflow.create_actor(house(double, []), clock=SimulatedClock()).start()
    snapshot = actor.get_snapshot()
    assert snapshot.value == "lit" and snapshot.context["got"] == 6


def test_a_failing_function_actor_takes_on_error() -> None:
    def broken(input: Any) -> Any:
        raise RuntimeError("no power")

    actor = orderflow.create_actor(house(broken, []), clock=SimulatedClock()).start()
    snapshot = actor.get_snapshot()
    assert snapshot.value == "failed"
    assert snapshot.context["got"] == {"type": "RuntimeError", "message": "no power"}


def test_a_child_machines_effects_timers_and_done_event_run_in_the_parent_actor() -> None:
    seen: list[Any] = []
    clock = SimulatedClock()
    actor = orderflow.create_actor(house(double, seen), clock=clock).start()
    actor.send("FLIP")
    lamp_now = actor.get_snapshot().children["lamp"].snapshot
    assert lamp_now is not None and lamp_now.value == "on"
    assert seen == [{"watts": 40}]  # the child's effect, with the child's context
    clock.advance(1000)
    lamp_now = actor.get_snapshot().children["lamp"].snapshot
    assert lamp_now is not None and lamp_now.value == "off"
    actor.send("FLIP")
    actor.send_to("lamp", "BREAK")
    assert actor.get_snapshot().value == "dark"
    assert clock.pending == 0  # the lamp's timer went with it


def test_system_get_finds_a_child_by_its_system_id() -> None:
    actor = orderflow.create_actor(house(double, []), clock=SimulatedClock()).start()
    ref = actor.system.get("the-lamp")
    assert ref is not None and ref.path == "lamp"
    flipped = ref.send("FLIP")
    assert flipped is not None and flipped.value == "on"
    assert actor.system.get("nobody") is None


def test_a_handle_on_a_stopped_child_reads_nothing_rather_than_the_parent() -> None:
    actor = orderflow.create_actor(house(double, []), clock=SimulatedClock()).start()
    ref = actor.system.get("the-lamp")
    assert ref is not None
    ref.send("FLIP")
    assert ref.send("BREAK") is None  # the child finished, and its state was left
    assert actor.get_snapshot().value == "dark"
    with pytest.raises(ActorNotRunningError, match="'lamp' is no longer running"):
        ref.get_snapshot()
    assert actor.system.get("the-lamp") is None


def test_system_get_finds_a_function_actor_by_its_system_id() -> None:
    """XState's system.get answers a promise actor too: its status and output, events dropped."""
    machine = orderflow.setup(actors={"triple": lambda input: input * 3}).create_machine({
        "id": "counter", "initial": "counting",
        "states": {
            "counting": {
                "invoke": {"id": "calc", "src": "triple", "input": 7, "systemId": "calculator"},
                "on": {"LEAVE": "idle"},
            },
            "idle": {},
        },
    })  # fmt: skip
    actor = orderflow.create_actor(machine, clock=SimulatedClock()).start()
    ref = actor.system.get("calculator")
    assert isinstance(ref, orderflow.runtime.FunctionChildRef) and ref.path == "calc"
    settled = ref.get_snapshot()
    assert (settled.status, settled.output) == ("done", 21)
    assert ref.send("ANYTHING") is None
    snapshot = actor.get_snapshot()
    assert snapshot.child_at("calc") is settled
    assert snapshot.child_at("nobody") is None and snapshot.child_at("calc/below") is None
    assert actor.get_snapshot().value == "counting"  # the event went nowhere
    actor.send("LEAVE")
    assert actor.system.get("calculator") is None
    with pytest.raises(ActorNotRunningError, match="'calc' is no longer running"):
        ref.get_snapshot()


def test_inspection_sees_every_actors_events() -> None:
    steps: list[Step] = []
    actor = orderflow.create_actor(
        house(double, []), clock=SimulatedClock(), inspect=steps.append
    ).start()
    actor.send("FLIP")
    assert steps[-1].deliveries == (("", {"type": "FLIP"}), ("lamp", {"type": "FLIP"}))


def test_an_async_function_actor_runs_as_a_task_on_the_asyncio_clock() -> None:
    async def slow_double(input: dict[str, int]) -> int:
        await asyncio.sleep(0.01)
        return input["n"] * 2

    async def scenario() -> Any:
        actor = orderflow.create_actor(house(slow_double, []), clock=AsyncioClock())
        await actor.start_async()
        assert actor.get_snapshot().value == "working"
        for _ in range(100):
            await asyncio.sleep(0.01)
            if actor.get_snapshot().value != "working":
                break
        return actor.get_snapshot()

    snapshot = asyncio.run(scenario())
    assert snapshot.value == "lit" and snapshot.context["got"] == 6


def test_leaving_the_state_cancels_the_task_and_its_result_is_never_delivered() -> None:
    async def scenario() -> Any:
        started, cancelled = asyncio.Event(), []

        async def forever(input: Any) -> int:
            started.set()
            try:
                await asyncio.sleep(10)
            except asyncio.CancelledError:
                cancelled.append(True)
                raise
            return 1

        actor = orderflow.create_actor(house(forever, []), clock=AsyncioClock())
        await actor.start_async()
        await started.wait()
        await actor.send_async("CANCEL")
        await asyncio.sleep(0.01)
        return actor.get_snapshot(), cancelled

    snapshot, cancelled = asyncio.run(scenario())
    assert snapshot.value == "cancelled" and cancelled == [True]


def test_an_async_function_actor_of_a_threaded_actor_runs_on_a_thread() -> None:
    gate = threading.Event()

    async def waits(input: dict[str, int]) -> int:
        gate.wait(5)
        return input["n"]

    actor = orderflow.create_actor(house(waits, []), clock=SimulatedClock()).start()
    assert actor.get_snapshot().value == "working"
    gate.set()
    deadline = time.monotonic() + 5
    while actor.get_snapshot().value == "working" and time.monotonic() < deadline:
        time.sleep(0.01)
    assert actor.get_snapshot().value == "lit" and actor.get_snapshot().context["got"] == 3


def test_leaving_the_state_sets_the_signal_of_a_function_running_on_a_thread() -> None:
    started, stopped = threading.Event(), threading.Event()

    async def polls(input: dict[str, int], signal: threading.Event) -> int:
        started.set()
        while not signal.wait(0.01):  # blocking work, checking its signal between pieces
            pass
        stopped.set()
        return 0

    actor = orderflow.create_actor(house(polls, []), clock=SimulatedClock()).start()
    assert started.wait(5) and not stopped.is_set()
    actor.send("CANCEL")
    assert stopped.wait(5)
    assert actor.get_snapshot().value == "cancelled"


def test_a_function_actor_without_a_signal_parameter_is_called_with_its_input_only() -> None:
    calls: list[Any] = []

    def plain(input: dict[str, int]) -> int:
        calls.append(input)
        return 1

    def with_signal(input: dict[str, int], *, signal: threading.Event) -> int:
        calls.append(signal.is_set())
        return 2

    for function in (plain, with_signal):
        actor = orderflow.create_actor(house(function, []), clock=SimulatedClock()).start()
        assert actor.get_snapshot().value == "lit"
    assert calls == [{"n": 3}, False]


def test_a_rejection_no_on_error_takes_fails_the_actor_and_cancels_its_timers() -> None:
    def work(input: Any) -> Any:
        raise RuntimeError("refused")

    machine = orderflow.setup(actors={"work": work}).create_machine({
        "id": "waiter", "initial": "idle",
        "states": {"idle": {"on": {"GO": "working"}},
                   "working": {"invoke": {"id": "job", "src": "work"}, "after": {"1000": "idle"},
                               "on": {"BACK": "idle"}}},
    })  # fmt: skip
    clock = SimulatedClock()
    actor = orderflow.create_actor(machine, clock=clock).start()

    snapshot = actor.send("GO")

    assert (snapshot.status, snapshot.value) == ("error", "working")
    assert snapshot.error == {"type": "RuntimeError", "message": "refused"}
    assert clock.pending == 0  # the 1s timer is cancelled with the actor's failure
    assert actor.send("BACK") == snapshot  # it takes no more events
    clock.advance(2000)
    assert actor.get_snapshot() == snapshot
