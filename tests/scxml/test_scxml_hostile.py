"""Hostile SCXML: documents nested too deep, delays that are not spans, a budget blown at load or
run time, tampered sessions, and text that is not a path.  Each is a clear error or SCXML's
``error.execution``, never a crash, a hang or a silent inconsistency."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from orderflow.chart.definition import MAX_STATE_DEPTH
from orderflow.errors import InvalidSnapshotError, ScxmlError
from orderflow.io.scxml import load, loads
from orderflow.io.scxml.load import MAX_ELEMENT_DEPTH

NS = 'xmlns="http://www.w3.org/2005/07/scxml" version="1.0" datamodel="python"'


def nested_states(depth: int) -> str:
    body = "<final id='f'/>"
    for level in range(depth):
        body = f"<state id='s{level}'>{body}</state>"
    return f"<scxml {NS}>{body}</scxml>"


def test_states_nested_to_the_limit_load_and_run() -> None:
    machine = loads(nested_states(MAX_STATE_DEPTH - 1))
    assert machine.initial_transition()[0].status == "active"


@pytest.mark.parametrize("depth", [MAX_STATE_DEPTH, 500, 5000])
def test_states_nested_past_the_limit_are_an_scxml_error_naming_the_state(depth: int) -> None:
    with pytest.raises(ScxmlError, match=f"states nest deeper than {MAX_STATE_DEPTH} levels at"):
        loads(nested_states(depth))


def test_executable_content_nested_past_the_limit_is_an_scxml_error() -> None:
    content = "<log expr='1'/>"
    for _ in range(MAX_ELEMENT_DEPTH + 10):
        content = f"<if cond='True'>{content}</if>"
    document = f"<scxml {NS}><state id='s'><onentry>{content}</onentry></state></scxml>"
    with pytest.raises(ScxmlError, match=f"elements nest deeper than {MAX_ELEMENT_DEPTH}"):
        loads(document)


def machine_with(body: str, data: str = "") -> Any:
    return loads(
        f"<scxml {NS} initial='s'><datamodel>{data}</datamodel>"
        f"<state id='s'>{body}<transition event='error.execution' target='failed'/>"
        "<transition event='fired' target='fired'/></state>"
        "<final id='failed'/><final id='fired'/></scxml>"
    )


@pytest.mark.parametrize(
    "delay", ["float('nan')", "float('inf')", "-5", "1e300", "'NaN'", "'-1s'", "'1e400ms'"]
)
def test_a_delayexpr_that_is_no_span_is_error_execution_not_a_timer(delay: str) -> None:
    machine = machine_with(f"<onentry><send event='fired' delayexpr=\"{delay}\"/></onentry>")
    snapshot, _ = machine.initial_transition()
    assert snapshot.value == "failed" and snapshot.timers == ()


def test_a_data_expression_over_the_budget_is_error_execution_and_the_variable_stays_unbound() -> (
    None
):
    machine = machine_with("", data="<data id='x' expr=\"'%0300000000d' % 1\"/>")
    snapshot, _ = machine.initial_transition()
    assert snapshot.value == "failed"
    assert snapshot.context["x"] is None


def test_a_script_over_the_budget_is_error_execution() -> None:
    machine = machine_with("<onentry><script>s = 'x' * 10**6\ns = s + s</script></onentry>")
    assert machine.initial_transition()[0].value == "failed"


# -- the session kept in the datamodel -----------------------------------------------------

INVOKING = f"""<scxml {NS} initial="a">
  <datamodel><data id="x" expr="1"/></datamodel>
  <state id="a">
    <invoke id="kid" type="scxml"><content><scxml {NS}><state id="k"/></scxml></content></invoke>
    <transition event="go" target="b"/>
  </state>
  <state id="b"/>
</scxml>"""


def damaged(change: Any) -> tuple[Any, dict[str, Any]]:
    machine = loads(INVOKING)
    data = copy.deepcopy(machine.initial_transition()[0].to_json())
    change(data["context"])
    return machine, data


@pytest.mark.parametrize(
    ("change", "path"),
    [
        (lambda c: c.pop("__scxml__"), "$.context.__scxml__"),
        (lambda c: c.__setitem__("__scxml__", 5), "$.context.__scxml__"),
        (lambda c: c["__scxml__"].pop("sessionid"), "$.context.__scxml__.sessionid"),
        (lambda c: c["__scxml__"].__setitem__("bound", "all"), "$.context.__scxml__.bound"),
        (lambda c: c["__scxml__"].__setitem__("sendcount", -1), "$.context.__scxml__.sendcount"),
        (lambda c: c["__scxml__"]["invoked"].__setitem__("ghost", ["nowhere", 0]),
         "$.context.__scxml__.invoked.ghost"),
        (lambda c: c["__scxml__"]["invoked"].__setitem__("kid", ["a", 7]),
         "$.context.__scxml__.invoked.kid"),
        (lambda c: c["__scxml__"].__setitem__("invoked", []), "$.context.__scxml__.invoked"),
    ],
)  # fmt: skip
def test_a_damaged_session_is_refused_when_the_snapshot_is_restored(change: Any, path: str) -> None:
    machine, data = damaged(change)
    with pytest.raises(InvalidSnapshotError) as err:
        machine.resolve_snapshot(data)
    assert err.value.path == path


def test_an_intact_session_restores_and_moves_on() -> None:
    machine, data = damaged(lambda c: None)
    restored = machine.resolve_snapshot(data)
    assert machine.transition(restored, "go")[0].value == "b"


# -- text and paths --------------------------------------------------------------------------


def test_text_and_paths_have_separate_entry_points(tmp_path: Path) -> None:
    text = f"<scxml {NS}><state id='s'/></scxml>"
    for given in (text, "\ufeff" + text, "  \n" + text):
        assert loads(given).initial_transition()[0].value == "s"
        with pytest.raises(ScxmlError, match="use loads"):
            load(given)
    path = tmp_path / "door.scxml"
    path.write_text(text)
    assert load(path).initial_transition()[0].value == "s"
    assert load(str(path)).initial_transition()[0].value == "s"


def test_a_string_is_never_guessed_to_be_a_file(tmp_path: Path) -> None:
    secret = tmp_path / "secret.scxml"
    secret.write_text(f"<scxml {NS}><state id='s'/></scxml>")
    with pytest.raises(ScxmlError, match="not well-formed"):
        loads("  " + str(secret))
    with pytest.raises(ScxmlError, match="cannot read"):
        load("  /etc/passwd")
    with pytest.raises(ScxmlError, match="cannot read"):
        load("nul\x00byte")
