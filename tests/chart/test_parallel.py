"""Parallel states: every region active at once, value shapes, events in several regions, conflicts."""

from __future__ import annotations

from chart_support import effects, types

import orderflow

FULFILMENT = {
    "id": "f",
    "initial": "working",
    "states": {
        "working": {
            "type": "parallel",
            "states": {
                "payment": {
                    "initial": "pending",
                    "states": {"pending": {"on": {"PAID": "paid", "SHIP": "paid"}}, "paid": {}},
                },
                "shipping": {
                    "initial": "packing",
                    "states": {"packing": {"on": {"SHIP": "shipped"}}, "shipped": {}},
                },
                "notes": {},
            },
            "on": {"ABORT": "aborted"},
        },
        "aborted": {},
    },
}


def test_entering_a_parallel_state_activates_every_region() -> None:
    machine = orderflow.create_machine(FULFILMENT)
    snapshot, _ = machine.initial_transition()
    assert snapshot.value == {"working": {"payment": "pending", "shipping": "packing", "notes": {}}}


def test_a_top_level_parallel_machine_shows_atomic_regions_as_empty_objects() -> None:
    machine = orderflow.create_machine({"type": "parallel", "states": {"a": {}, "b": {}}})
    snapshot, _ = machine.initial_transition()
    assert snapshot.value == {"a": {}, "b": {}}


def test_an_event_moves_only_the_region_that_handles_it() -> None:
    machine = orderflow.create_machine(FULFILMENT)
    snapshot, _ = machine.initial_transition()
    snapshot, _ = machine.transition(snapshot, "PAID")
    assert snapshot.value == {"working": {"payment": "paid", "shipping": "packing", "notes": {}}}


def test_one_event_moves_every_region_that_handles_it() -> None:
    machine = orderflow.create_machine(FULFILMENT)
    snapshot, _ = machine.initial_transition()
    snapshot, _ = machine.transition(snapshot, "SHIP")
    assert snapshot.value == {"working": {"payment": "paid", "shipping": "shipped", "notes": {}}}


def test_a_transition_of_the_parallel_state_itself_exits_every_region() -> None:
    config = {
        "initial": "p",
        "states": {
            "p": {
                "type": "parallel",
                "exit": ["exitP"],
                "on": {"ABORT": "out"},
                "states": {"a": {"exit": ["exitA"]}, "b": {"exit": ["exitB"]}},
            },
            "out": {},
        },
    }
    machine = orderflow.setup(actions=effects("exitP", "exitA", "exitB")).create_machine(config)
    snapshot, _ = machine.initial_transition()
    snapshot, actions = machine.transition(snapshot, "ABORT")
    assert snapshot.value == "out"
    assert types(actions) == ["exitB", "exitA", "exitP"]


def test_regions_are_entered_in_document_order_after_the_parallel_state() -> None:
    config = {
        "type": "parallel",
        "entry": ["enterRoot"],
        "states": {
            "a": {"entry": ["enterA"], "initial": "a1", "states": {"a1": {"entry": ["enterA1"]}}},
            "b": {"entry": ["enterB"], "initial": "b1", "states": {"b1": {"entry": ["enterB1"]}}},
        },
    }
    machine = orderflow.setup(
        actions=effects("enterRoot", "enterA", "enterA1", "enterB", "enterB1")
    ).create_machine(config)
    _, actions = machine.initial_transition()
    assert types(actions) == ["enterRoot", "enterA", "enterA1", "enterB", "enterB1"]


def test_several_targets_at_once_set_several_regions() -> None:
    config = {
        "id": "m",
        "initial": "idle",
        "states": {
            "idle": {"on": {"RESUME": {"target": ["#m.p.a.a2", "#m.p.b.b2"]}}},
            "p": {
                "type": "parallel",
                "states": {
                    "a": {"initial": "a1", "states": {"a1": {}, "a2": {}}},
                    "b": {"initial": "b1", "states": {"b1": {}, "b2": {}}},
                },
            },
        },
    }
    machine = orderflow.create_machine(config)
    snapshot, _ = machine.initial_transition()
    snapshot, _ = machine.transition(snapshot, "RESUME")
    assert snapshot.value == {"p": {"a": "a2", "b": "b2"}}


def test_targeting_one_region_enters_the_other_regions_at_their_initial_states() -> None:
    config = {
        "id": "m",
        "initial": "idle",
        "states": {
            "idle": {"on": {"GO": "#m.p.b.b2"}},
            "p": {
                "type": "parallel",
                "states": {
                    "a": {"initial": "a1", "states": {"a1": {"on": {"NEXT": "a2"}}, "a2": {}}},
                    "b": {"initial": "b1", "states": {"b1": {}, "b2": {}}},
                },
            },
        },
    }
    machine = orderflow.create_machine(config)
    snapshot, _ = machine.initial_transition()
    snapshot, _ = machine.transition(snapshot, "GO")
    assert snapshot.value == {"p": {"a": "a1", "b": "b2"}}


def test_multiple_dot_targets_from_the_parallel_state_set_its_regions() -> None:
    config = {
        "type": "parallel",
        "on": {"BOTH": {"target": [".a.a2", ".b.b2"]}},
        "states": {
            "a": {"initial": "a1", "states": {"a1": {}, "a2": {}}},
            "b": {"initial": "b1", "states": {"b1": {}, "b2": {}}},
        },
    }
    machine = orderflow.create_machine(config)
    snapshot, _ = machine.initial_transition()
    snapshot, _ = machine.transition(snapshot, "BOTH")
    assert snapshot.value == {"a": "a2", "b": "b2"}


def test_a_transition_into_another_region_restarts_both_regions_but_not_the_parallel_state() -> (
    None
):
    # Checked against xstate 5.33.3: the domain is the parallel state (XState uses any
    # common ancestor), so both regions are exited and re-entered, the parallel state is not.
    config = {
        "id": "m",
        "initial": "p",
        "states": {
            "p": {
                "type": "parallel",
                "entry": ["enterP"],
                "exit": ["exitP"],
                "states": {
                    "a": {
                        "initial": "a1",
                        "entry": ["enterA"],
                        "exit": ["exitA"],
                        "states": {
                            "a1": {"on": {"NEXT": "a2", "CROSS": "#m.p.b.b2"}},
                            "a2": {"on": {"CROSS": "#m.p.b.b2"}},
                        },
                    },
                    "b": {
                        "initial": "b1",
                        "entry": ["enterB"],
                        "exit": ["exitB"],
                        "states": {"b1": {}, "b2": {}},
                    },
                },
            }
        },
    }
    names = ("enterP", "exitP", "enterA", "exitA", "enterB", "exitB")
    machine = orderflow.setup(actions=effects(*names)).create_machine(config)
    snapshot, _ = machine.initial_transition()
    snapshot, _ = machine.transition(snapshot, "NEXT")
    snapshot, actions = machine.transition(snapshot, "CROSS")
    assert snapshot.value == {"p": {"a": "a1", "b": "b2"}}
    assert types(actions) == ["exitB", "exitA", "enterA", "enterB"]


def test_conflicting_transitions_keep_the_first_region_in_document_order() -> None:
    # Checked against xstate 5.33.3: region a's internal move and region b's exit from the
    # parallel state conflict; b's transition is not a descendant of a's, so it is dropped.
    config = {
        "id": "m",
        "initial": "p",
        "states": {
            "p": {
                "type": "parallel",
                "states": {
                    "a": {"initial": "a1", "states": {"a1": {"on": {"GO": "a2"}}, "a2": {}}},
                    "b": {"initial": "b1", "states": {"b1": {"on": {"GO": "#m.out"}}}},
                },
            },
            "out": {},
        },
    }
    machine = orderflow.create_machine(config)
    snapshot, _ = machine.initial_transition()
    snapshot, _ = machine.transition(snapshot, "GO")
    assert snapshot.value == {"p": {"a": "a2", "b": "b1"}}


def test_the_parallel_state_handles_an_event_no_region_handles() -> None:
    machine = orderflow.create_machine(FULFILMENT)
    snapshot, _ = machine.initial_transition()
    snapshot, _ = machine.transition(snapshot, "ABORT")
    assert snapshot.value == "aborted"


def test_a_region_handling_an_event_shadows_the_parallel_states_own_transition() -> None:
    config = {
        "initial": "p",
        "states": {
            "p": {
                "type": "parallel",
                "on": {"GO": "out"},
                "states": {
                    "a": {"initial": "a1", "states": {"a1": {"on": {"GO": "a2"}}, "a2": {}}},
                    "b": {},
                },
            },
            "out": {},
        },
    }
    machine = orderflow.create_machine(config)
    snapshot, _ = machine.initial_transition()
    snapshot, _ = machine.transition(snapshot, "GO")
    assert snapshot.value == {"p": {"a": "a2", "b": {}}}
    snapshot, _ = machine.transition(snapshot, "GO")
    assert snapshot.value == "out"


def test_nested_parallel_states_nest_their_values() -> None:
    config = {
        "initial": "outer",
        "states": {
            "outer": {
                "type": "parallel",
                "states": {
                    "left": {
                        "type": "parallel",
                        "states": {"x": {}, "y": {"initial": "y1", "states": {"y1": {}}}},
                    },
                    "right": {"initial": "r1", "states": {"r1": {}}},
                },
            }
        },
    }
    machine = orderflow.create_machine(config)
    snapshot, _ = machine.initial_transition()
    assert snapshot.value == {"outer": {"left": {"x": {}, "y": "y1"}, "right": "r1"}}


def test_actions_of_transitions_in_several_regions_run_in_document_order() -> None:
    config = {
        "type": "parallel",
        "states": {
            "a": {
                "initial": "a1",
                "states": {
                    "a1": {
                        "exit": ["exitA1"],
                        "on": {"GO": {"target": "a2", "actions": ["fromA"]}},
                    },
                    "a2": {"entry": ["enterA2"]},
                },
            },
            "b": {
                "initial": "b1",
                "states": {
                    "b1": {
                        "exit": ["exitB1"],
                        "on": {"GO": {"target": "b2", "actions": ["fromB"]}},
                    },
                    "b2": {"entry": ["enterB2"]},
                },
            },
        },
    }
    names = ("exitA1", "fromA", "enterA2", "exitB1", "fromB", "enterB2")
    machine = orderflow.setup(actions=effects(*names)).create_machine(config)
    snapshot, _ = machine.initial_transition()
    snapshot, actions = machine.transition(snapshot, "GO")
    assert snapshot.value == {"a": "a2", "b": "b2"}
    assert types(actions) == ["exitB1", "exitA1", "fromA", "fromB", "enterA2", "enterB2"]


def test_a_region_targeting_its_parallel_ancestor_exits_and_reenters_it() -> None:
    # Checked against xstate 5.33.3: the domain is the root, so the parallel state itself
    # is exited and entered again and every region restarts.
    config = {
        "id": "m",
        "initial": "p",
        "states": {
            "p": {
                "type": "parallel",
                "entry": ["enterP"],
                "exit": ["exitP"],
                "states": {
                    "a": {
                        "initial": "a1",
                        "states": {"a1": {"on": {"N": "a2"}}, "a2": {"on": {"UP": "#m.p"}}},
                    },
                    "b": {"initial": "b1", "states": {"b1": {"on": {"N": "b2"}}, "b2": {}}},
                },
            }
        },
    }
    machine = orderflow.setup(actions=effects("enterP", "exitP")).create_machine(config)
    snapshot, _ = machine.initial_transition()
    snapshot, _ = machine.transition(snapshot, "N")
    assert snapshot.value == {"p": {"a": "a2", "b": "b2"}}
    snapshot, actions = machine.transition(snapshot, "UP")
    assert snapshot.value == {"p": {"a": "a1", "b": "b1"}}
    assert types(actions) == ["exitP", "enterP"]
