"""One mechanism for what an actor runs beside its snapshot: function actors and SCXML sessions.

``orderflow.runtime.children.Children`` keeps both kinds by (parent path, id);
these tests pin its rules (one child per key, a stopped child's answer is
dropped, everything stops with the actor) and that SCXML sessions, run
through it, share the parent's clock and inspection hook.
"""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

import orderflow
from orderflow.chart import Step
from orderflow.io.scxml import load
from orderflow.io.scxml.children import ChildLoader
from orderflow.runtime import (
    Actor,
    AsyncioClock,
    SessionActor,
    SimulatedClock,
    ThreadingClock,
    create_session,
)
from orderflow.runtime.children import Children, Session

PARENT = """<scxml xmlns="http://www.w3.org/2005/07/scxml" version="1.0" datamodel="python">
  <state id="working" initial="waiting">
    <invoke id="pinger" src="pinger.scxml"/>
    <transition event="done.invoke.pinger" target="finished"/>
    <state id="waiting"><transition event="pong" target="heard"/></state>
    <state id="heard"/>
  </state>
  <final id="finished"/>
</scxml>"""

PINGER = """<scxml xmlns="http://www.w3.org/2005/07/scxml" version="1.0" datamodel="python">
  <state id="ticking">
    <onentry><send event="pong" target="#_parent" delay="2s"/></onentry>
    <transition event="stop" target="end"/>
    <transition event="go" target="end"/>
  </state>
  <final id="end"/>
</scxml>"""


class _Child:
    def __init__(self) -> None:
        self.stops = 0

    def stop(self) -> None:
        self.stops += 1


_OPS = st.lists(
    st.tuples(st.sampled_from(["start", "stop", "finish", "stop_all"]), st.sampled_from("ab")),
    max_size=30,
)


@given(ops=_OPS)
def test_one_child_per_key_each_stopped_once_and_only_a_current_child_answers(
    ops: list[tuple[str, str]],
) -> None:
    children = Children()
    made: list[_Child] = []
    finished: list[_Child] = []
    current: dict[str, _Child] = {}  # the model: who runs under each key
    for op, ident in ops:
        key = ("", ident)
        if op == "start":
            made.append(_Child())
            children.start(key, made[-1])
            current[ident] = made[-1]
        elif op == "stop":
            children.stop(key)
            current.pop(ident, None)
        elif op == "finish" and made:  # the latest child ever made answers, current or not
            answered = children.finish(key, made[-1])
            assert answered == (current.get(ident) is made[-1])
            if answered:
                finished.append(current.pop(ident))
        elif op == "stop_all":
            children.stop_all()
            current.clear()
    for child in made:
        assert child.stops <= 1
        running = [k for k, c in current.items() if c is child]
        if running:
            assert child.stops == 0 and children.is_current(("", running[0]), child)
        else:  # replaced, stopped, or it answered: never both stopped and answered
            assert (child.stops == 1) != any(child is f for f in finished)


def _documents(tmp_path: Path) -> Path:
    (tmp_path / "parent.scxml").write_text(PARENT)
    (tmp_path / "pinger.scxml").write_text(PINGER)
    return tmp_path / "parent.scxml"


def test_a_session_actor_is_an_actor_whose_sessions_are_its_children(tmp_path: Path) -> None:
    assert SessionActor is Actor  # one class: no subclass overriding the actor's hooks
    parent = create_session(load(_documents(tmp_path)), clock=SimulatedClock(), spawn=ChildLoader())
    parent.start()
    sessions = list(parent.children.sessions())
    assert [ident for ident, _ in sessions] == ["pinger"]
    assert isinstance(sessions[0][1], Session)
    assert sessions[0][1].actor.parent is parent and sessions[0][1].actor.invokeid == "pinger"


def test_invoked_sessions_are_listed_by_the_actor_not_in_the_pure_snapshot(tmp_path: Path) -> None:
    # docs/semantics.md: a session is not data transition() computes or resolve_snapshot restores
    machine = load(_documents(tmp_path))
    parent = create_session(machine, clock=SimulatedClock(), spawn=ChildLoader()).start()
    snapshot = parent.get_snapshot()
    assert not snapshot.children
    assert machine.resolve_snapshot(snapshot.to_json()).value == snapshot.value
    persisted = parent.get_persisted_snapshot()
    assert list(persisted["children"]) == ["pinger"]
    assert persisted["children"]["pinger"]["invoke"]["id"] == "pinger"
    restored = create_session(machine, persisted, clock=SimulatedClock(), spawn=ChildLoader())
    restored.start()
    assert [ident for ident, _ in restored.children.sessions()] == ["pinger"]


def test_a_childs_delayed_send_runs_on_the_parents_clock(tmp_path: Path) -> None:
    clock = SimulatedClock()
    parent = create_session(load(_documents(tmp_path)), clock=clock, spawn=ChildLoader()).start()
    clock.advance(1999)
    assert parent.get_snapshot().value == {"working": "waiting"}
    clock.advance(1)
    assert parent.get_snapshot().value == {"working": "heard"}


def test_inspection_sees_the_events_of_invoked_sessions_too(tmp_path: Path) -> None:
    clock, steps = SimulatedClock(), []
    inspect: Any = steps.append
    parent = create_session(
        load(_documents(tmp_path)), clock=clock, spawn=ChildLoader(), inspect=inspect
    ).start()
    clock.advance(2000)
    child = parent.sessions.running()["pinger"]
    child.send("go")
    clock.run_all()
    seen = [(step.snapshot.machine is child.machine, step.event["type"]) for step in steps]
    assert (True, "go") in seen  # the child's own event
    assert (False, "pong") in seen and (False, "done.invoke.pinger") in seen
    assert parent.get_snapshot().value == "finished"
    assert all(isinstance(step, Step) for step in steps)


def test_stopping_an_actor_stops_its_sessions_and_their_pending_sends(tmp_path: Path) -> None:
    clock = SimulatedClock()
    parent = create_session(load(_documents(tmp_path)), clock=clock, spawn=ChildLoader()).start()
    child = parent.sessions.running()["pinger"]
    parent.stop()
    assert child.status == "stopped" and child.cancelled
    assert list(parent.children.sessions()) == []
    clock.run_all()  # the child's delayed pong never arrives
    assert parent.get_snapshot().value == {"working": "waiting"}


# -- machine children and function actors, on the parent's clock ---------------------------------


def _kettle(work: Any) -> orderflow.Machine:
    """A user's machine: a child machine with a 20 ms timer, then a function actor."""
    boiler = orderflow.create_machine({
        "id": "boiler", "initial": "heating",
        "states": {"heating": {"after": {"20": "boiled"}}, "boiled": {"type": "final"}},
    })  # fmt: skip
    return orderflow.setup(actors={"boiler": boiler, "pour": work}).create_machine({
        "id": "kettle", "initial": "boiling",
        "states": {
            "boiling": {"invoke": {"id": "b", "src": "boiler", "onDone": "pouring"}},
            "pouring": {"invoke": {"id": "p", "src": "pour", "onDone": "served"},
                        "on": {"SPILL": "spilt"}},
            "served": {"type": "final"},
            "spilt": {"on": {"WIPE": "boiling"}},
        },
    })  # fmt: skip


def _until(actor: Actor, value: str) -> Any:
    deadline = time.monotonic() + 5
    while actor.get_snapshot().value != value and time.monotonic() < deadline:
        time.sleep(0.005)
    return actor.get_snapshot().value


def test_a_child_machines_timer_and_an_async_function_run_on_the_parents_asyncio_clock() -> None:
    async def pour(input: Any) -> str:
        await asyncio.sleep(0.005)
        return "tea"

    async def scenario() -> Any:
        actor = orderflow.create_actor(_kettle(pour), clock=AsyncioClock())
        await actor.start_async()
        for _ in range(400):
            await asyncio.sleep(0.005)
            if actor.get_snapshot().value == "served":
                break
        return actor.get_snapshot().value

    assert asyncio.run(scenario()) == "served"


def test_a_child_machines_timer_runs_on_the_parents_threading_clock() -> None:
    gate = threading.Event()

    async def pour(input: Any) -> str:
        gate.wait(5)
        return "tea"

    actor = orderflow.create_actor(_kettle(pour), clock=ThreadingClock()).start()
    assert _until(actor, "pouring") == "pouring"
    gate.set()
    assert _until(actor, "served") == "served"


def test_a_threaded_function_whose_state_was_left_never_answers() -> None:
    gate, answered = threading.Event(), threading.Event()

    async def pour(input: Any) -> str:
        gate.wait(5)
        answered.set()
        return "tea"

    steps: list[Step] = []
    inspect: Any = steps.append
    actor = orderflow.create_actor(_kettle(pour), clock=ThreadingClock(), inspect=inspect).start()
    assert _until(actor, "pouring") == "pouring"
    actor.send("SPILL")
    gate.set()
    answered.wait(5)
    time.sleep(0.05)
    assert actor.get_snapshot().value == "spilt" and actor.error is None
    assert "xstate.done.actor.p" not in [step.event["type"] for step in steps]
