"""``machine.step``: the core's whole answer to one event, from one evaluation of its guards."""

from __future__ import annotations

import warnings
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from orderflow.chart import DefinitionWarning, Refusal, Step, create_machine, setup, with_due
from orderflow.chart.machine import FAILED, GUARDED, INACTIVE, UNHANDLED
from orderflow.errors import InfiniteLoopError
from orderflow.io.scxml import loads
from orderflow.orders import load_machine
from orderflow.testing import UNHANDLED_EVENT, config_alphabet, machine_configs

CONFIG: dict[str, Any] = {
    "id": "ticket",
    "initial": "open",
    "context": {"n": 0},
    "states": {
        "open": {
            "after": {"1000": "late"},
            "on": {
                "CLOSE": {"target": "closed", "guard": "isSmall", "actions": ["notify"]},
                "BUMP": {"actions": [{"type": "xstate.assign", "params": {"n": 5}}]},
                "PEEK": {
                    "target": "closed",
                    "guard": {"type": "xstate.stateIn", "params": {"state": "#ticket.closed"}},
                },
                "BOOM": {"target": "closed", "guard": "explodes"},
            },
        },
        "late": {"on": {"CLOSE": "closed"}},
        "closed": {"type": "final"},
    },
}


def counted_machine() -> tuple[Any, list[str]]:
    calls: list[str] = []

    def is_small(context: Any, event: Any, params: Any) -> bool:
        calls.append("isSmall")
        return bool(context["n"] < 3)

    def explodes(context: Any, event: Any, params: Any) -> bool:
        raise RuntimeError("kaboom")

    machine = setup(
        guards={"isSmall": is_small, "explodes": explodes}, actions={"notify": lambda *a: None}
    ).create_machine(CONFIG)
    return machine, calls


def test_a_taken_event_says_what_it_did() -> None:
    machine, _ = counted_machine()
    start = machine.step(None)
    assert isinstance(start, Step) and start.taken and start.before is None
    assert [t.id for t in start.armed] == ["xstate.after.1000.ticket.open"]
    step = machine.step(start.snapshot, "CLOSE")
    assert step.taken and step.refusal is None
    assert step.snapshot.value == "closed" and step.snapshot.status == "done"
    assert [a.type for a in step.effects] == ["notify"]
    assert step.cancelled == ("xstate.after.1000.ticket.open",)
    assert step.consumed is None
    assert (step.snapshot, step.actions) == machine.transition(start.snapshot, "CLOSE")


def test_a_guarded_event_is_refused_with_the_guards_reason_from_one_evaluation() -> None:
    machine, calls = counted_machine()
    start = machine.initial_transition()[0]
    bumped = machine.transition(start, "BUMP")[0]
    calls.clear()
    step = machine.step(bumped, "CLOSE")
    assert calls == ["isSmall"], "the guard of a refused event is evaluated once"
    assert not step.taken and step.snapshot is bumped
    assert isinstance(step.refusal, Refusal) and step.refusal.kind == GUARDED
    assert "isSmall" in str(step.refusal) and "ticket.open" in step.refusal.reason
    assert [c.guard for c in step.refusal.checks] == ["isSmall"]


def test_a_refusal_decided_by_the_configuration_alone_survives_a_replayed_plan() -> None:
    machine, _ = counted_machine()
    start = machine.initial_transition()[0]
    first = machine.step(start, "PEEK")
    again = machine.step(start, "PEEK")  # the plan stored by the first is replayed
    for step in (first, again):
        assert not step.taken and step.refusal is not None and step.refusal.kind == GUARDED
    assert first.refusal == again.refusal


def test_unhandled_inactive_and_failed_events() -> None:
    machine, _ = counted_machine()
    start = machine.initial_transition()[0]
    unhandled = machine.step(start, "NOPE")
    assert unhandled.refusal is not None and unhandled.refusal.kind == UNHANDLED
    assert "NOPE" in unhandled.refusal.reason
    done = machine.transition(start, "CLOSE")[0]
    inactive = machine.step(done, "CLOSE")
    assert inactive.refusal is not None and inactive.refusal.kind == INACTIVE
    failed = machine.step(start, "BOOM")
    assert failed.snapshot.status == "error"
    assert failed.refusal is not None and failed.refusal.kind == FAILED
    assert "kaboom" in failed.refusal.reason


def test_an_xstate_timer_delivery_consumes_the_first_pending_timer_of_its_type() -> None:
    machine, _ = counted_machine()
    start = machine.initial_transition()[0]
    (timer,) = start.timers
    step = machine.step(start, dict(timer.event))
    assert step.taken and step.consumed == timer.id and step.snapshot.value == "late"


SCXML_TWO_PINGS = """<scxml xmlns="http://www.w3.org/2005/07/scxml" version="1.0" datamodel="python" initial="s">
<state id="s">
  <onentry>
    <send id="first" event="ping" delay="1s"><param name="n" expr="1"/></send>
    <send id="second" event="ping" delay="2s"><param name="n" expr="2"/></send>
  </onentry>
  <transition event="ping" cond="_event.data['n'] == 2" target="done"/>
</state>
<final id="done"/>
</scxml>"""


def test_an_scxml_delivery_consumes_the_send_it_is_not_the_first_of_its_name() -> None:
    machine = loads(SCXML_TWO_PINGS)
    start = machine.initial_transition()[0]
    first, second = start.timers
    step = machine.step(start, dict(second.event))
    assert step.consumed == "second" and step.taken
    step = machine.step(start, dict(first.event))
    assert step.consumed == "first" and not step.taken
    assert [t.id for t in step.snapshot.timers] == ["second"]


def test_enter_state_arms_the_timers_of_the_states_it_lands_in() -> None:
    machine, _ = counted_machine()
    step = machine.enter_state("open", {"n": 2}, cause="orderflow.backfill")
    assert step.snapshot.value == "open" and step.snapshot.context == {"n": 2}
    assert [t.id for t in step.snapshot.timers] == ["xstate.after.1000.ticket.open"]
    assert [a.type for a in step.actions] == ["schedule"]
    assert step.actions[0].event.data == {"type": "orderflow.backfill"}
    assert machine.enter_state("closed", {"n": 0}).actions == []


def test_with_due_stamps_only_the_timers_armed_now() -> None:
    machine, _ = counted_machine()
    start = machine.initial_transition()[0]
    stamped = with_due(start, ["xstate.after.1000.ticket.open"], 5_000.0)
    assert stamped.timers[0].due == 6_000.0
    assert with_due(stamped, [], 9_000.0) is stamped
    assert with_due(stamped, ["other"], 9_000.0).timers[0].due == 6_000.0


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_step_agrees_with_transition_and_can_on_random_charts(data: st.DataObject) -> None:
    config = data.draw(machine_configs())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DefinitionWarning)
        machine = create_machine(config)
    alphabet = (*config_alphabet(config), UNHANDLED_EVENT)
    try:
        snapshot = machine.initial_transition()[0]
    except InfiniteLoopError:
        assume(False)
    for event_type in data.draw(st.lists(st.sampled_from(alphabet), max_size=10)):
        try:
            step = machine.step(snapshot, event_type)
        except InfiniteLoopError:
            with pytest.raises(InfiniteLoopError):
                machine.transition(snapshot, event_type)
            return
        assert (step.snapshot, step.actions) == machine.transition(snapshot, event_type)
        assert step.taken == machine.can(snapshot, event_type)
        assert (step.refusal is None) == step.taken
        if step.refusal is not None and step.refusal.kind == GUARDED:
            explained = machine.explain(snapshot, event_type)
            assert not explained.fired
            assert {c.source for c in step.refusal.checks} <= {c.source for c in explained.blocked}
        snapshot = step.snapshot


SALE = load_machine("sale")
SALE_START = {"customer_id": "c-1", "currency": "EUR", "total": "100.00"}


def test_step_refuses_on_the_sale_machine_as_explain_does() -> None:
    snapshot = SALE.initial_transition(input=SALE_START)[0]
    step = SALE.step(snapshot, {"type": "CAPTURE", "amount": "10.00", "reference": "p-1"})
    assert not step.taken and step.refusal is not None
    assert not SALE.can(snapshot, {"type": "CAPTURE", "amount": "10.00", "reference": "p-1"})
