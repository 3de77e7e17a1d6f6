"""SCXML documents run under SCXML's conventions on the core: the behaviours the standard names."""

from __future__ import annotations

from typing import Any

import pytest

from orderflow.chart import Snapshot
from orderflow.io.scxml import loads

NS = 'xmlns="http://www.w3.org/2005/07/scxml" version="1.0" datamodel="python"'


def _logs(actions: list[Any]) -> list[str]:
    return [a.params["label"] for a in actions if a.type == "log"]


def _run(body: str, *events: str) -> tuple[Snapshot, list[str]]:
    machine = loads(f"<scxml {NS}>{body}</scxml>")
    snapshot, actions = machine.initial_transition()
    logs = _logs(actions)
    for event in events:
        snapshot, actions = machine.transition(snapshot, event)
        logs += _logs(actions)
    return snapshot, logs


def test_a_transition_is_external_by_default_so_a_self_transition_exits_and_reenters() -> None:
    _, logs = _run(
        """<state id="a">
             <onentry><log label="enter a"/></onentry><onexit><log label="exit a"/></onexit>
             <transition event="go" target="a"/>
           </state>""",
        "go",
    )
    assert logs == ["enter a", "exit a", "enter a"]


def test_an_internal_transition_to_a_child_does_not_exit_its_source() -> None:
    snapshot, logs = _run(
        """<state id="p" initial="c1">
             <onexit><log label="exit p"/></onexit>
             <transition event="go" type="internal" target="c2"/>
             <state id="c1"/><state id="c2"/>
           </state>""",
        "go",
    )
    assert snapshot.value == {"p": "c2"}
    assert "exit p" not in logs


def test_a_transition_between_regions_exits_and_reenters_the_parallel_state() -> None:
    _, logs = _run(
        """<parallel id="p">
             <onentry><log label="enter p"/></onentry><onexit><log label="exit p"/></onexit>
             <state id="r1" initial="a1"><state id="a1"><transition event="go" target="b2"/></state></state>
             <state id="r2" initial="a2"><state id="a2"/><state id="b2"/></state>
           </parallel>""",
        "go",
    )
    assert logs == ["enter p", "exit p", "enter p"]


def test_event_descriptors_match_by_token_prefix_lists_and_wildcards() -> None:
    body = """<state id="s">
                <transition event="error" target="e"/>
                <transition event="x y" target="xy"/>
                <transition event="z.*" target="z"/>
              </state>
              <final id="e"/><final id="xy"/><final id="z"/>"""
    assert _run(body, "error.execution")[0].value == "e"
    assert _run(body, "errors")[0].value == "s"
    assert _run(body, "y")[0].value == "xy"
    assert _run(body, "z.deep.name")[0].value == "z"


def test_transitions_are_tried_in_document_order_not_most_specific_first() -> None:
    snapshot, _ = _run(
        """<state id="s"><transition event="*" target="any"/><transition event="go" target="go"/></state>
           <final id="any"/><final id="go"/>""",
        "go",
    )
    assert snapshot.value == "any"


def test_a_finished_compound_state_raises_done_state_with_its_donedata() -> None:
    snapshot, _ = _run(
        """<datamodel><data id="got"/></datamodel>
           <state id="p" initial="f">
             <final id="f"><donedata><param name="n" expr="42"/></donedata></final>
             <transition event="done.state.p" target="out">
               <assign location="got" expr="_event.data['n']"/>
             </transition>
           </state>
           <state id="out"/>"""
    )
    assert snapshot.value == "out"
    assert snapshot.context["got"] == 42


def test_a_failing_element_raises_error_execution_and_stops_its_block() -> None:
    snapshot, logs = _run(
        """<state id="s">
             <onentry><log label="before"/><assign location="nope" expr="1"/><log label="after"/></onentry>
             <transition event="error.execution" target="caught"/>
           </state>
           <final id="caught"/>"""
    )
    assert logs == ["before"]
    assert snapshot.value == "caught"


def test_a_condition_that_raises_is_false_and_raises_error_execution() -> None:
    snapshot, _ = _run(
        """<state id="s">
             <transition event="go" cond="undefined_name > 1" target="wrong"/>
             <transition event="error.execution" target="caught"/>
           </state>
           <final id="wrong"/><final id="caught"/>""",
        "go",
    )
    assert snapshot.value == "caught"


def test_a_history_default_transition_runs_its_content_after_the_parent_entry() -> None:
    _, logs = _run(
        """<state id="s"><transition event="go" target="h"/></state>
           <state id="p" initial="a">
             <onentry><log label="enter p"/></onentry>
             <history id="h"><transition target="b"><log label="history default"/></transition></history>
             <state id="a"/><state id="b"><onentry><log label="enter b"/></onentry></state>
           </state>""",
        "go",
    )
    assert logs == ["enter p", "history default", "enter b"]


@pytest.mark.filterwarnings("ignore::orderflow.chart.DefinitionWarning")
def test_an_initial_attribute_may_name_several_deep_states() -> None:
    snapshot, _ = _run(
        """<parallel id="p">
             <state id="r1" initial="a1"><state id="a1"/><state id="b1"/></state>
             <state id="r2" initial="a2"><state id="a2"/><state id="b2"/></state>
           </parallel>"""
    )
    assert snapshot.value == {"p": {"r1": "a1", "r2": "a2"}}
    machine = loads(
        f"""<scxml {NS} initial="b1 b2">
              <parallel id="p">
                <state id="r1"><state id="a1"/><state id="b1"/></state>
                <state id="r2"><state id="a2"/><state id="b2"/></state>
              </parallel>
            </scxml>"""
    )
    assert machine.initial_transition()[0].value == {"p": {"r1": "b1", "r2": "b2"}}


def test_a_delayed_send_is_a_timer_of_the_snapshot_and_cancel_removes_it() -> None:
    machine = loads(
        f"""<scxml {NS}>
              <state id="s">
                <onentry><send id="t" event="late" delay="1.5s"/></onentry>
                <transition event="stop"><cancel sendid="t"/></transition>
                <transition event="late" target="done"/>
              </state>
              <final id="done"/>
            </scxml>"""
    )
    snapshot, actions = machine.initial_transition()
    assert [(a.type, a.params["id"], a.params["delay"]) for a in actions] == [
        ("schedule", "t", 1500.0)
    ]
    assert [t.id for t in snapshot.timers] == ["t"]
    delivered, _ = machine.transition(snapshot, dict(snapshot.timers[0].event))
    assert delivered.value == "done"
    cancelled, actions = machine.transition(snapshot, "stop")
    assert cancelled.timers == ()
    assert [a.type for a in actions] == ["cancel"]


def test_a_transition_never_changes_the_snapshot_it_started_from() -> None:
    machine = loads(
        f"""<scxml {NS}>
              <datamodel><data id="items" expr="[1]"/></datamodel>
              <state id="s"><transition event="add"><script>items.append(2)</script></transition></state>
            </scxml>"""
    )
    before, _ = machine.initial_transition()
    after, _ = machine.transition(before, "add")
    assert before.context["items"] == [1]
    assert after.context["items"] == [1, 2]


def test_an_invoke_that_cannot_start_raises_error_execution_in_the_same_macrostep() -> None:
    snapshot, _ = _run(
        """<state id="s">
             <invoke type="not-a-processor" src="child.scxml"/>
             <transition event="error.execution" target="caught"/>
           </state>
           <final id="caught"/>"""
    )
    assert snapshot.value == "caught"


def test_a_send_to_a_parent_from_a_session_nobody_invoked_raises_error_communication() -> None:
    snapshot, _ = _run(
        """<state id="s">
             <onentry><send target="#_parent" event="hello"/></onentry>
             <transition event="error.communication" target="caught"/>
           </state>
           <final id="caught"/>"""
    )
    assert snapshot.value == "caught"
