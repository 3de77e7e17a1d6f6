"""Final states and done events: onDone, ``xstate.done.state.<id>`` with output, machine completion."""

from __future__ import annotations

from chart_support import effects, types

import orderflow

JOB = {
    "id": "m",
    "initial": "job",
    "states": {
        "job": {
            "initial": "running",
            "states": {
                "running": {"on": {"FINISH": "finished"}},
                "finished": {"type": "final", "output": {"result": 42}},
            },
            "onDone": {"target": "report", "actions": ["record"]},
        },
        "report": {"on": {"CLOSE": "closed"}},
        "closed": {"type": "final"},
    },
}


def test_reaching_a_final_child_takes_the_parents_on_done_transition() -> None:
    machine = orderflow.setup(actions=effects("record")).create_machine(JOB)
    snapshot, _ = machine.initial_transition()
    snapshot, actions = machine.transition(snapshot, "FINISH")
    assert snapshot.value == "report"
    assert snapshot.status == "active"
    assert types(actions) == ["record"]


def test_the_done_event_is_named_after_the_parent_and_carries_the_final_states_output() -> None:
    machine = orderflow.setup(actions=effects("record")).create_machine(JOB)
    snapshot, _ = machine.initial_transition()
    _, actions = machine.transition(snapshot, "FINISH")
    assert actions[0].event.data == {"type": "xstate.done.state.m.job", "output": {"result": 42}}


def test_a_done_event_without_output_has_only_a_type() -> None:
    config = {
        "id": "m",
        "initial": "job",
        "states": {
            "job": {
                "initial": "a",
                "states": {"a": {"on": {"GO": "end"}}, "end": {"type": "final"}},
                "onDone": {"target": "after", "actions": ["record"]},
            },
            "after": {},
        },
    }
    machine = orderflow.setup(actions=effects("record")).create_machine(config)
    snapshot, _ = machine.initial_transition()
    _, actions = machine.transition(snapshot, "GO")
    assert actions[0].event.data == {"type": "xstate.done.state.m.job"}


def test_on_done_can_be_listened_to_by_its_event_name() -> None:
    config = {
        "id": "m",
        "initial": "job",
        "states": {
            "job": {
                "initial": "a",
                "states": {"a": {"on": {"GO": "end"}}, "end": {"type": "final"}},
                "on": {"xstate.done.state.m.job": "after"},
            },
            "after": {},
        },
    }
    machine = orderflow.create_machine(config)
    snapshot, _ = machine.initial_transition()
    snapshot, _ = machine.transition(snapshot, "GO")
    assert snapshot.value == "after"


def test_a_compound_without_on_done_stays_in_its_final_child() -> None:
    config = {
        "initial": "job",
        "states": {
            "job": {
                "initial": "a",
                "states": {"a": {"on": {"GO": "end"}}, "end": {"type": "final"}},
            }
        },
    }
    machine = orderflow.create_machine(config)
    snapshot, _ = machine.initial_transition()
    snapshot, _ = machine.transition(snapshot, "GO")
    assert snapshot.value == {"job": "end"}
    assert snapshot.status == "active"


def test_a_parallel_state_is_done_when_every_region_is_in_a_final_state() -> None:
    config = {
        "id": "m",
        "initial": "p",
        "states": {
            "p": {
                "type": "parallel",
                "states": {
                    "a": {
                        "initial": "a1",
                        "states": {"a1": {"on": {"A": "a2"}}, "a2": {"type": "final"}},
                    },
                    "b": {
                        "initial": "b1",
                        "states": {"b1": {"on": {"B": "b2"}}, "b2": {"type": "final"}},
                    },
                },
                "onDone": {"target": "done", "actions": ["record"]},
            },
            "done": {},
        },
    }
    machine = orderflow.setup(actions=effects("record")).create_machine(config)
    snapshot, _ = machine.initial_transition()
    snapshot, actions = machine.transition(snapshot, "A")
    assert snapshot.value == {"p": {"a": "a2", "b": "b1"}}
    assert actions == []
    snapshot, actions = machine.transition(snapshot, "B")
    assert snapshot.value == "done"
    assert [(a.type, a.event.data) for a in actions] == [
        ("record", {"type": "xstate.done.state.m.p"})
    ]


def test_each_region_raises_its_own_done_event_before_the_parallel_one() -> None:
    config = {
        "id": "m",
        "initial": "p",
        "states": {
            "p": {
                "type": "parallel",
                "states": {
                    "a": {
                        "initial": "a1",
                        "states": {"a1": {"on": {"GO": "a2"}}, "a2": {"type": "final"}},
                        "onDone": {"actions": ["regionDone"]},
                    },
                    "b": {"initial": "b1", "states": {"b1": {"type": "final"}}},
                },
                "onDone": {"actions": ["allDone"]},
            },
        },
    }
    machine = orderflow.setup(actions=effects("regionDone", "allDone")).create_machine(config)
    snapshot, _ = machine.initial_transition()
    snapshot, actions = machine.transition(snapshot, "GO")
    assert [(a.type, a.event.type) for a in actions] == [
        ("regionDone", "xstate.done.state.m.p.a"),
        ("allDone", "xstate.done.state.m.p"),
    ]


def test_reaching_a_top_level_final_state_finishes_the_machine() -> None:
    machine = orderflow.setup(actions=effects("record")).create_machine(JOB)
    snapshot, _ = machine.initial_transition()
    snapshot, _ = machine.transition(snapshot, "FINISH")
    snapshot, _ = machine.transition(snapshot, "CLOSE")
    assert snapshot.value == "closed"
    assert snapshot.status == "done"
    assert snapshot.output is None


def test_the_output_of_a_top_level_final_state_is_the_snapshots_output() -> None:
    # DESIGN.md's contract: snapshot.output is the output of a top-level final state.
    config = {
        "initial": "a",
        "states": {"a": {"on": {"GO": "end"}}, "end": {"type": "final", "output": {"ok": True}}},
    }
    machine = orderflow.create_machine(config)
    snapshot, _ = machine.initial_transition()
    snapshot, _ = machine.transition(snapshot, "GO")
    assert snapshot.status == "done"
    assert snapshot.output == {"ok": True}


def test_the_machines_own_output_wins_when_it_declares_one() -> None:
    config = {
        "initial": "a",
        "output": {"total": 3},
        "states": {"a": {"on": {"GO": "end"}}, "end": {"type": "final", "output": {"ok": True}}},
    }
    machine = orderflow.create_machine(config)
    snapshot, _ = machine.initial_transition()
    snapshot, _ = machine.transition(snapshot, "GO")
    assert snapshot.output == {"total": 3}


def test_finishing_runs_the_exit_actions_of_every_active_state_innermost_first() -> None:
    # Checked against xstate 5.33.3: ["exitA", "enterDone", "exitDone", "exitRoot"].
    config = {
        "initial": "a",
        "entry": ["enterRoot"],
        "exit": ["exitRoot"],
        "states": {
            "a": {"exit": ["exitA"], "on": {"GO": "done"}},
            "done": {"type": "final", "entry": ["enterDone"], "exit": ["exitDone"]},
        },
    }
    machine = orderflow.setup(
        actions=effects("enterRoot", "exitRoot", "exitA", "enterDone", "exitDone")
    ).create_machine(config)
    snapshot, _ = machine.initial_transition()
    snapshot, actions = machine.transition(snapshot, "GO")
    assert snapshot.status == "done"
    assert types(actions) == ["exitA", "enterDone", "exitDone", "exitRoot"]


def test_a_top_level_parallel_machine_is_done_when_all_regions_are_final() -> None:
    config = {
        "type": "parallel",
        "states": {
            "a": {"initial": "a1", "states": {"a1": {"on": {"A": "a2"}}, "a2": {"type": "final"}}},
            "b": {"initial": "b1", "states": {"b1": {"on": {"B": "b2"}}, "b2": {"type": "final"}}},
        },
    }
    machine = orderflow.create_machine(config)
    snapshot, _ = machine.initial_transition()
    snapshot, _ = machine.transition(snapshot, "A")
    assert snapshot.status == "active"
    snapshot, _ = machine.transition(snapshot, "B")
    assert snapshot.status == "done"
    assert snapshot.value == {"a": "a2", "b": "b2"}


def test_a_machine_whose_initial_state_is_final_is_done_at_once() -> None:
    machine = orderflow.create_machine({"initial": "end", "states": {"end": {"type": "final"}}})
    snapshot, _ = machine.initial_transition()
    assert snapshot.value == "end"
    assert snapshot.status == "done"


def test_a_done_machine_ignores_further_events() -> None:
    config = {"initial": "a", "states": {"a": {"on": {"GO": "end"}}, "end": {"type": "final"}}}
    machine = orderflow.create_machine(config)
    snapshot, _ = machine.initial_transition()
    done, _ = machine.transition(snapshot, "GO")
    after, actions = machine.transition(done, "GO")
    assert after == done
    assert actions == []
    assert not done.can("GO")


def test_done_events_are_processed_in_the_same_macrostep_as_the_final_entry() -> None:
    config = {
        "id": "m",
        "initial": "outer",
        "states": {
            "outer": {
                "initial": "inner",
                "states": {
                    "inner": {
                        "initial": "a",
                        "states": {"a": {"on": {"GO": "end"}}, "end": {"type": "final"}},
                        "onDone": "innerEnd",
                    },
                    "innerEnd": {"type": "final"},
                },
                "onDone": "finished",
            },
            "finished": {"type": "final", "output": {"levels": 2}},
        },
    }
    machine = orderflow.create_machine(config)
    snapshot, _ = machine.initial_transition()
    snapshot, _ = machine.transition(snapshot, "GO")
    assert snapshot.value == "finished"
    assert snapshot.status == "done"
    assert snapshot.output == {"levels": 2}


def test_a_finished_machine_cancels_its_pending_delayed_raises() -> None:
    machine = orderflow.create_machine(
        {
            "id": "m",
            "initial": "a",
            "states": {
                "a": {
                    "on": {
                        "GO": {
                            "target": "b",
                            "actions": [
                                {
                                    "type": "raise",
                                    "params": {
                                        "event": {"type": "LATER"},
                                        "delay": 1000,
                                        "id": "later",
                                    },
                                }
                            ],
                        }
                    }
                },
                "b": {"on": {"END": "c"}},
                "c": {"type": "final"},
            },
        }
    )
    snapshot, _ = machine.initial_transition()
    snapshot, actions = machine.transition(snapshot, "GO")
    assert [t.id for t in snapshot.timers] == ["later"]
    snapshot, actions = machine.transition(snapshot, "END")
    assert snapshot.status == "done"
    assert snapshot.timers == ()
    assert [(a.type, a.params) for a in actions] == [("cancel", {"id": "later"})]
