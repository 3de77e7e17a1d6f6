"""Delayed (``after``) transitions: timers as schedule/cancel actions and pending timers; the core has no clock."""

from __future__ import annotations

from typing import Any

import orderflow

QUOTE = {
    "id": "quote",
    "initial": "draft",
    "states": {
        "draft": {"on": {"SEND": "sent"}},
        "sent": {"after": {"1000": "expired"}, "on": {"ACCEPT": "accepted"}},
        "expired": {},
        "accepted": {},
    },
}


def schedules(actions: list[orderflow.Action]) -> list[Any]:
    return [a.params for a in actions if a.type == "schedule"]


def cancels(actions: list[orderflow.Action]) -> list[Any]:
    return [a.params for a in actions if a.type == "cancel"]


def test_entering_a_state_with_after_schedules_a_timer() -> None:
    machine = orderflow.create_machine(QUOTE)
    snapshot, _ = machine.initial_transition()
    snapshot, actions = machine.transition(snapshot, "SEND")
    expected = {
        "id": "xstate.after.1000.quote.sent",
        "event": {"type": "xstate.after.1000.quote.sent"},
        "delay": 1000,
    }
    assert schedules(actions) == [expected]
    assert actions[0].event.data == {"type": "SEND"}


def test_a_pending_timer_is_part_of_the_snapshot() -> None:
    machine = orderflow.create_machine(QUOTE)
    snapshot, _ = machine.initial_transition()
    snapshot, _ = machine.transition(snapshot, "SEND")
    assert [t.id for t in snapshot.timers] == ["xstate.after.1000.quote.sent"]
    assert snapshot.timers[0].delay == 1000
    assert snapshot.to_json()["timers"] == [
        {
            "id": "xstate.after.1000.quote.sent",
            "event": {"type": "xstate.after.1000.quote.sent"},
            "delay": 1000,
        }
    ]


def test_delivering_the_timer_event_takes_the_delayed_transition_and_consumes_the_timer() -> None:
    machine = orderflow.create_machine(QUOTE)
    snapshot, _ = machine.initial_transition()
    snapshot, _ = machine.transition(snapshot, "SEND")
    snapshot, actions = machine.transition(snapshot, "xstate.after.1000.quote.sent")
    assert snapshot.value == "expired"
    assert snapshot.timers == ()
    assert cancels(actions) == []


def test_leaving_the_state_first_cancels_its_timer() -> None:
    machine = orderflow.create_machine(QUOTE)
    snapshot, _ = machine.initial_transition()
    snapshot, _ = machine.transition(snapshot, "SEND")
    snapshot, actions = machine.transition(snapshot, "ACCEPT")
    assert snapshot.value == "accepted"
    assert snapshot.timers == ()
    assert cancels(actions) == [{"id": "xstate.after.1000.quote.sent"}]


def test_a_stale_timer_event_after_leaving_the_state_is_ignored() -> None:
    machine = orderflow.create_machine(QUOTE)
    snapshot, _ = machine.initial_transition()
    snapshot, _ = machine.transition(snapshot, "SEND")
    snapshot, _ = machine.transition(snapshot, "ACCEPT")
    after, actions = machine.transition(snapshot, "xstate.after.1000.quote.sent")
    assert after.value == "accepted"
    assert actions == []


def test_the_timer_event_uses_an_explicit_state_id() -> None:
    config = {
        "initial": "wait",
        "states": {"wait": {"id": "waiting", "after": {"500": "done"}}, "done": {}},
    }
    machine = orderflow.create_machine(config)
    snapshot, _ = machine.initial_transition()
    assert [t.id for t in snapshot.timers] == ["xstate.after.500.waiting"]
    snapshot, _ = machine.transition(snapshot, "xstate.after.500.waiting")
    assert snapshot.value == "done"


def test_the_default_machine_id_appears_in_timer_event_types() -> None:
    config = {"initial": "wait", "states": {"wait": {"after": {"250": "done"}}, "done": {}}}
    machine = orderflow.create_machine(config)
    snapshot, _ = machine.initial_transition()
    assert [t.id for t in snapshot.timers] == ["xstate.after.250.(machine).wait"]


def test_several_after_entries_schedule_several_timers_and_the_first_delivered_wins() -> None:
    config = {
        "id": "m",
        "initial": "wait",
        "states": {
            "wait": {"after": {"1000": "reminded", "5000": "expired"}},
            "reminded": {},
            "expired": {},
        },
    }
    machine = orderflow.create_machine(config)
    snapshot, actions = machine.initial_transition()
    assert [s["id"] for s in schedules(actions)] == [
        "xstate.after.1000.m.wait",
        "xstate.after.5000.m.wait",
    ]
    snapshot, actions = machine.transition(snapshot, "xstate.after.1000.m.wait")
    assert snapshot.value == "reminded"
    assert cancels(actions) == [{"id": "xstate.after.5000.m.wait"}]
    assert snapshot.timers == ()


def test_a_named_delay_takes_its_value_from_setup() -> None:
    config = {
        "id": "m",
        "initial": "wait",
        "states": {"wait": {"after": {"reminder": "done"}}, "done": {}},
    }
    machine = orderflow.setup(delays={"reminder": 3_600_000}).create_machine(config)
    snapshot, actions = machine.initial_transition()
    assert schedules(actions) == [
        {
            "id": "xstate.after.reminder.m.wait",
            "event": {"type": "xstate.after.reminder.m.wait"},
            "delay": 3_600_000,
        }
    ]
    snapshot, _ = machine.transition(snapshot, "xstate.after.reminder.m.wait")
    assert snapshot.value == "done"


def test_a_computed_delay_reads_the_context() -> None:
    config = {
        "id": "m",
        "initial": "wait",
        "context": {"days": 2},
        "states": {"wait": {"after": {"grace": "done"}}, "done": {}},
    }
    machine = orderflow.setup(
        delays={"grace": lambda c, e, p: c["days"] * 86_400_000}
    ).create_machine(config)
    snapshot, _ = machine.initial_transition()
    assert snapshot.timers[0].delay == 2 * 86_400_000


def test_a_guarded_delayed_transition_falls_through_to_the_next_one() -> None:
    config = {
        "id": "m",
        "initial": "wait",
        "context": {"paid": False},
        "states": {
            "wait": {
                "after": {"1000": [{"target": "paid", "guard": "isPaid"}, {"target": "unpaid"}]}
            },
            "paid": {},
            "unpaid": {},
        },
    }
    machine = orderflow.setup(guards={"isPaid": lambda c, e, p: c["paid"]}).create_machine(config)
    snapshot, _ = machine.initial_transition()
    snapshot, _ = machine.transition(snapshot, "xstate.after.1000.m.wait")
    assert snapshot.value == "unpaid"


def test_reentering_a_state_cancels_and_reschedules_its_timer() -> None:
    config = {
        "id": "m",
        "initial": "wait",
        "states": {
            "wait": {
                "after": {"1000": "late"},
                "on": {"POKE": {"target": "wait", "reenter": True}},
            },
            "late": {},
        },
    }
    machine = orderflow.create_machine(config)
    snapshot, _ = machine.initial_transition()
    snapshot, actions = machine.transition(snapshot, "POKE")
    assert [a.type for a in actions] == ["cancel", "schedule"]
    assert [t.id for t in snapshot.timers] == ["xstate.after.1000.m.wait"]


def test_a_timer_is_scheduled_after_the_states_entry_actions_and_cancelled_after_its_exit_actions() -> (
    None
):
    config = {
        "id": "m",
        "initial": "wait",
        "states": {
            "wait": {
                "entry": ["enterWait"],
                "exit": ["exitWait"],
                "after": {"10": "late"},
                "on": {"GO": "late"},
            },
            "late": {},
        },
    }
    machine = orderflow.setup(
        actions={"enterWait": lambda *a: None, "exitWait": lambda *a: None}
    ).create_machine(config)
    snapshot, actions = machine.initial_transition()
    assert [a.type for a in actions] == ["enterWait", "schedule"]
    snapshot, actions = machine.transition(snapshot, "GO")
    assert [a.type for a in actions] == ["exitWait", "cancel"]


def test_a_pending_timer_survives_persisting_and_restoring() -> None:
    machine = orderflow.create_machine(QUOTE)
    snapshot, _ = machine.initial_transition()
    snapshot, _ = machine.transition(snapshot, "SEND")
    restored = machine.resolve_snapshot(snapshot.to_json())
    assert restored.timers == snapshot.timers
    restored, _ = machine.transition(restored, "xstate.after.1000.quote.sent")
    assert restored.value == "expired"


def test_a_delayed_raise_is_a_timer_that_can_be_cancelled_by_id() -> None:
    config = {
        "initial": "a",
        "states": {
            "a": {
                "entry": [
                    {
                        "type": "raise",
                        "params": {"event": {"type": "PING"}, "delay": 300, "id": "ping"},
                    }
                ],
                "on": {
                    "STOP": {"actions": [{"type": "cancel", "params": {"id": "ping"}}]},
                    "PING": "pinged",
                },
            },
            "pinged": {},
        },
    }
    machine = orderflow.create_machine(config)
    snapshot, actions = machine.initial_transition()
    assert schedules(actions) == [{"id": "ping", "event": {"type": "PING"}, "delay": 300}]
    stopped, actions = machine.transition(snapshot, "STOP")
    assert cancels(actions) == [{"id": "ping"}]
    assert stopped.timers == ()
    delivered, _ = machine.transition(snapshot, "PING")
    assert delivered.value == "pinged"
    assert delivered.timers == ()


def test_an_after_timer_in_a_parallel_region_is_cancelled_when_the_region_exits() -> None:
    config = {
        "id": "m",
        "initial": "p",
        "states": {
            "p": {
                "type": "parallel",
                "on": {"LEAVE": "out"},
                "states": {
                    "a": {"after": {"100": {"actions": []}}},
                    "b": {"after": {"200": {"actions": []}}},
                },
            },
            "out": {},
        },
    }
    machine = orderflow.create_machine(config)
    snapshot, _ = machine.initial_transition()
    assert [t.id for t in snapshot.timers] == ["xstate.after.100.m.p.a", "xstate.after.200.m.p.b"]
    snapshot, actions = machine.transition(snapshot, "LEAVE")
    assert cancels(actions) == [{"id": "xstate.after.200.m.p.b"}, {"id": "xstate.after.100.m.p.a"}]
    assert snapshot.timers == ()
