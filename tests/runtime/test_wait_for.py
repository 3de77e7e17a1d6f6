"""wait_for: an actor's first snapshot that satisfies a predicate, or a clear error (XState's waitFor)."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import orderflow
from orderflow.errors import ConfigurationError, WaitForError, WaitForTimeoutError
from orderflow.runtime import (
    AsyncioClock,
    SimulatedClock,
    ThreadingClock,
    create_actor,
    wait_for,
    wait_for_async,
)

KETTLE: dict[str, Any] = {
    "id": "kettle",
    "initial": "off",
    "states": {
        "off": {"on": {"SWITCH_ON": "heating", "UNPLUG": "unplugged"}},
        "heating": {"after": {"3000": "boiled"}, "on": {"BREAK": {"actions": "explode"}}},
        "boiled": {"after": {"60000": "cold"}},
        "cold": {},
        "unplugged": {"type": "final"},
    },
}


def kettle() -> orderflow.Machine:
    def explode(context: Any, event: Any, params: Any) -> None:
        raise RuntimeError("the element burnt out")

    return orderflow.setup(actions={"explode": explode}).create_machine(KETTLE)


def boiled(snapshot: orderflow.Snapshot) -> bool:
    return snapshot.matches("boiled")


def test_a_snapshot_that_already_satisfies_the_predicate_is_returned_at_once() -> None:
    actor = create_actor(kettle(), clock=SimulatedClock()).start()
    assert wait_for(actor, lambda s: s.matches("off")) is actor.get_snapshot()


def test_on_a_simulated_clock_wait_for_moves_time_to_the_timers_that_satisfy_it() -> None:
    clock = SimulatedClock()
    actor = create_actor(kettle(), clock=clock).start()
    actor.send("SWITCH_ON")
    snapshot = wait_for(actor, boiled, timeout=10_000)
    assert snapshot.value == "boiled" and clock.now() == 3000
    assert wait_for(actor, lambda s: s.matches("cold")).value == "cold"
    assert clock.now() == 63_000


def test_the_timeout_is_an_orderflow_error_and_leaves_a_simulated_clock_at_the_deadline() -> None:
    clock = SimulatedClock()
    actor = create_actor(kettle(), clock=clock).start()
    actor.send("SWITCH_ON")
    with pytest.raises(WaitForTimeoutError) as caught:
        wait_for(actor, boiled, timeout=1000)
    error = caught.value
    assert error.code == "WAIT_FOR_TIMEOUT" and isinstance(error, WaitForError)
    assert error.timeout_ms == 1000 and error.snapshot is not None
    assert str(error) == (
        "Timeout of 1000 ms passed before the actor satisfied the predicate "
        "(the actor is in 'heating')."
    )
    assert clock.now() == 1000 and actor.get_snapshot().value == "heating"
    assert wait_for(actor, boiled, timeout=2000).value == "boiled"


def test_with_nothing_pending_and_no_timeout_it_says_so_instead_of_hanging() -> None:
    actor = create_actor(kettle(), clock=SimulatedClock()).start()
    with pytest.raises(WaitForError, match="no timer is pending"):
        wait_for(actor, boiled)


def test_an_actor_that_finishes_without_satisfying_the_predicate_ends_the_wait() -> None:
    actor = create_actor(kettle(), clock=ThreadingClock()).start()
    threading.Timer(0.02, lambda: actor.send("UNPLUG")).start()
    with pytest.raises(WaitForError, match="finished in 'unplugged'") as caught:
        wait_for(actor, boiled, timeout=5000)
    assert caught.value.code == "WAIT_FOR_FAILED"
    assert caught.value.snapshot is not None and caught.value.snapshot.status == "done"


def test_the_done_snapshot_is_offered_to_the_predicate_first() -> None:
    actor = create_actor(kettle(), clock=SimulatedClock()).start()
    actor.send("UNPLUG")
    assert wait_for(actor, lambda s: s.status == "done").value == "unplugged"


def test_an_actor_that_fails_ends_the_wait_with_its_exception_as_the_cause() -> None:
    actor = create_actor(kettle(), clock=ThreadingClock()).start()
    actor.send("SWITCH_ON")
    threading.Timer(0.02, lambda: actor.send("BREAK")).start()
    with pytest.raises(WaitForError, match="failed before satisfying") as caught:
        wait_for(actor, lambda s: s.matches("cold"), timeout=5000)
    assert isinstance(caught.value.__cause__, RuntimeError)
    actor.stop()


def test_a_stopped_actor_ends_the_wait() -> None:
    actor = create_actor(kettle(), clock=ThreadingClock()).start()
    threading.Timer(0.02, actor.stop).start()
    started = time.monotonic()
    with pytest.raises(WaitForError, match="stopped"):
        wait_for(actor, boiled, timeout=5000)
    assert time.monotonic() - started < 2


def test_on_real_time_it_blocks_until_another_thread_moves_the_actor() -> None:
    actor = create_actor(kettle(), clock=ThreadingClock()).start()
    threading.Timer(0.02, lambda: actor.send("SWITCH_ON")).start()
    assert wait_for(actor, lambda s: s.matches("heating"), timeout=5000).value == "heating"
    actor.stop()


def test_on_real_time_the_timeout_is_real_milliseconds() -> None:
    actor = create_actor(kettle(), clock=ThreadingClock()).start()
    started = time.monotonic()
    with pytest.raises(WaitForTimeoutError):
        wait_for(actor, boiled, timeout=50)
    assert 0.04 <= time.monotonic() - started < 2
    actor.stop()


@pytest.mark.parametrize("timeout", [-1, float("nan"), "5", True])
def test_a_timeout_that_is_not_milliseconds_is_refused(timeout: Any) -> None:
    actor = create_actor(kettle(), clock=SimulatedClock()).start()
    with pytest.raises(ConfigurationError, match="timeout"):
        wait_for(actor, boiled, timeout=timeout)


def test_the_async_flavour_awaits_timers_on_the_event_loop() -> None:
    machine = orderflow.create_machine(
        {"id": "m", "initial": "a", "states": {"a": {"after": {"20": "b"}}, "b": {}}}
    )

    async def scenario() -> Any:
        actor = await create_actor(machine, clock=AsyncioClock()).start_async()
        snapshot = await wait_for_async(actor, lambda s: s.matches("b"), timeout=5000)
        return snapshot.value

    assert asyncio.run(scenario()) == "b"


def test_the_async_flavour_times_out_without_blocking_the_loop() -> None:
    machine = orderflow.create_machine(
        {"id": "m", "initial": "a", "states": {"a": {"after": {"5000": "b"}}, "b": {}}}
    )

    async def scenario() -> list[str]:
        actor = await create_actor(machine, clock=AsyncioClock()).start_async()
        ticks: list[str] = []

        async def tick() -> None:
            await asyncio.sleep(0.01)
            ticks.append("ran")

        ticker = asyncio.ensure_future(tick())
        with pytest.raises(WaitForTimeoutError):
            await wait_for_async(actor, lambda s: s.matches("b"), timeout=50)
        await ticker
        actor.stop()
        return ticks

    assert asyncio.run(scenario()) == ["ran"]


def test_the_async_flavour_on_a_simulated_clock_moves_it() -> None:
    clock = SimulatedClock()
    actor = create_actor(kettle(), clock=clock).start()
    actor.send("SWITCH_ON")
    assert asyncio.run(wait_for_async(actor, boiled, timeout=5000)).value == "boiled"
    assert clock.now() == 3000


@settings(max_examples=40, deadline=None)
@given(
    delays=st.lists(st.integers(min_value=0, max_value=10_000), min_size=1, max_size=5),
    timeout=st.integers(min_value=0, max_value=40_000),
)
def test_a_chain_of_timers_is_waited_for_exactly_when_it_ends_before_the_timeout(
    delays: list[int], timeout: int
) -> None:
    states: dict[str, Any] = {
        f"s{i}": {"after": {str(delay): f"s{i + 1}"}} for i, delay in enumerate(delays)
    }
    states[f"s{len(delays)}"] = {}
    machine = orderflow.create_machine({"id": "chain", "initial": "s0", "states": states})
    clock = SimulatedClock()
    actor = create_actor(machine, clock=clock).start()
    last = f"s{len(delays)}"
    if sum(delays) <= timeout:
        assert wait_for(actor, lambda s: s.matches(last), timeout=timeout).value == last
        assert clock.now() == sum(delays)
    else:
        with pytest.raises(WaitForTimeoutError):
            wait_for(actor, lambda s: s.matches(last), timeout=timeout)
        assert clock.now() == timeout and not actor.get_snapshot().matches(last)


def test_a_failed_actors_current_snapshot_is_still_offered_to_the_predicate() -> None:
    actor = create_actor(kettle(), clock=SimulatedClock()).start()
    actor.send("SWITCH_ON")
    actor.send("BREAK")
    assert wait_for(actor, lambda s: s.status == "error").status == "error"
    with pytest.raises(WaitForError, match="failed before satisfying"):
        wait_for(actor, boiled)
