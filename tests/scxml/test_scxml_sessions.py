"""Invoked children run as child actors; a parent's persisted snapshot carries and restores them."""

from __future__ import annotations

import json
from pathlib import Path

from orderflow.io.scxml import load
from orderflow.io.scxml.children import ChildLoader
from orderflow.runtime import SimulatedClock, create_session

PARENT = """<scxml xmlns="http://www.w3.org/2005/07/scxml" version="1.0" datamodel="python">
  <datamodel><data id="answer"/></datamodel>
  <state id="waiting">
    <invoke id="worker" src="child.scxml" autoforward="true">
      <param name="greeting" expr="'hello'"/>
      <finalize><assign location="answer" expr="_event.data['reply']"/></finalize>
    </invoke>
    <transition event="done.invoke.worker" target="finished"/>
    <transition event="error.*" target="broken"/>
  </state>
  <final id="finished"/>
  <final id="broken"/>
</scxml>"""

CHILD = """<scxml xmlns="http://www.w3.org/2005/07/scxml" version="1.0" datamodel="python">
  <datamodel><data id="greeting" expr="'unset'"/></datamodel>
  <state id="idle">
    <transition event="finish" target="end">
      <send target="#_parent" event="reply"><param name="reply" expr="greeting + ' back'"/></send>
    </transition>
  </state>
  <final id="end"/>
</scxml>"""


def _documents(tmp_path: Path) -> Path:
    (tmp_path / "parent.scxml").write_text(PARENT)
    (tmp_path / "child.scxml").write_text(CHILD)
    return tmp_path / "parent.scxml"


def test_a_child_gets_its_params_and_autoforwarded_events_and_its_finish_is_done_invoke(
    tmp_path: Path,
) -> None:
    clock = SimulatedClock()
    parent = create_session(load(_documents(tmp_path)), clock=clock, spawn=ChildLoader()).start()
    assert list(parent.sessions.running()) == ["worker"]
    parent.send("finish")
    clock.run_all()
    snapshot = parent.get_snapshot()
    assert snapshot.value == "finished"
    assert snapshot.context["answer"] == "hello back"  # <finalize> ran on the child's event


def test_the_persisted_snapshot_includes_the_children_and_restores_them(tmp_path: Path) -> None:
    machine = load(_documents(tmp_path))
    clock = SimulatedClock()
    parent = create_session(machine, clock=clock, spawn=ChildLoader()).start()
    persisted = json.loads(json.dumps(parent.get_persisted_snapshot()))
    assert persisted["children"]["worker"]["snapshot"]["value"] == "idle"
    assert persisted["children"]["worker"]["snapshot"]["context"]["greeting"] == "hello"
    parent.stop()

    restored = create_session(machine, persisted, clock=clock, spawn=ChildLoader()).start()
    assert restored.sessions.running()["worker"].get_snapshot().context["greeting"] == "hello"
    restored.send("finish")
    clock.run_all()
    assert restored.get_snapshot().value == "finished"


def test_leaving_the_invoking_state_stops_the_child(tmp_path: Path) -> None:
    clock = SimulatedClock()
    parent = create_session(load(_documents(tmp_path)), clock=clock, spawn=ChildLoader()).start()
    child = parent.sessions.running()["worker"]
    parent.send("error.platform")
    assert parent.get_snapshot().value == "broken"
    assert child.status == "stopped"
    assert parent.sessions.running() == {}


def test_a_document_that_invokes_itself_stops_at_the_nesting_limit(tmp_path: Path) -> None:
    (tmp_path / "loop.scxml").write_text(
        """<scxml xmlns="http://www.w3.org/2005/07/scxml" version="1.0" datamodel="python">
  <state id="s">
    <invoke src="loop.scxml"/>
    <transition event="error.execution" target="stopped"/>
  </state>
  <final id="stopped"/>
</scxml>"""
    )
    clock = SimulatedClock()
    session = create_session(
        load(tmp_path / "loop.scxml"), clock=clock, spawn=ChildLoader()
    ).start()
    clock.run_all()
    depth, node = 0, session
    while node.sessions.running():
        node = next(iter(node.sessions.running().values()))
        depth += 1
    assert depth == 32
    assert node.get_snapshot().value == "stopped"
