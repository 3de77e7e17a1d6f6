"""One mechanism for what an actor runs beside its snapshot: function actors and SCXML sessions.

``orderflow.runtime.children.Children`` keeps both kinds by (parent path, id);
these tests pin its rules (one child per key, a stopped child's answer is
dropped, everything stops with the actor) and that SCXML sessions, run
through it, share the parent's clock and inspection hook.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from orderflow.chart import Step
from orderflow.io.scxml import load
from orderflow.io.scxml.children import ChildLoader
from orderflow.runtime import Actor, SessionActor, SimulatedClock, create_session
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
