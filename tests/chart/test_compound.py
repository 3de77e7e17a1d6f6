"""Compound states: initial states, targets (sibling keys, ``.child``, ``#id``, dotted), selection order."""

from __future__ import annotations

from chart_support import effects, types

import orderflow

NESTED = {
    "id": "shop",
    "initial": "browsing",
    "states": {
        "browsing": {
            "initial": "list",
            "states": {
                "list": {"on": {"OPEN": "detail"}},
                "detail": {"on": {"BACK": "list", "BUY": "#shop.checkout.address"}},
            },
            "on": {"CHECKOUT": "checkout", "HOME": ".list"},
        },
        "checkout": {
            "initial": "cart",
            "states": {
                "cart": {"on": {"NEXT": "address"}},
                "address": {"on": {"NEXT": "payment"}},
                "payment": {},
            },
            "on": {"CANCEL": "browsing.detail"},
        },
    },
}


def test_initial_transition_enters_initial_children_all_the_way_down() -> None:
    machine = orderflow.create_machine(NESTED)
    snapshot, actions = machine.initial_transition()
    assert snapshot.value == {"browsing": "list"}
    assert snapshot.status == "active"
    assert actions == []


def test_a_deeply_nested_initial_configuration_has_a_nested_value() -> None:
    machine = orderflow.create_machine(
        {
            "initial": "a",
            "states": {
                "a": {"initial": "b", "states": {"b": {"initial": "c", "states": {"c": {}}}}}
            },
        }
    )
    snapshot, _ = machine.initial_transition()
    assert snapshot.value == {"a": {"b": "c"}}


def test_sibling_key_target_moves_between_children() -> None:
    machine = orderflow.create_machine(NESTED)
    snapshot, _ = machine.initial_transition()
    snapshot, _ = machine.transition(snapshot, "OPEN")
    assert snapshot.value == {"browsing": "detail"}
    snapshot, _ = machine.transition(snapshot, "BACK")
    assert snapshot.value == {"browsing": "list"}


def test_targeting_a_compound_state_enters_its_initial_child() -> None:
    machine = orderflow.create_machine(NESTED)
    snapshot, _ = machine.initial_transition()
    snapshot, _ = machine.transition(snapshot, "CHECKOUT")
    assert snapshot.value == {"checkout": "cart"}


def test_hash_id_target_enters_a_state_anywhere_in_the_tree() -> None:
    machine = orderflow.create_machine(NESTED)
    snapshot, _ = machine.initial_transition()
    snapshot, _ = machine.transition(snapshot, "OPEN")
    snapshot, _ = machine.transition(snapshot, "BUY")
    assert snapshot.value == {"checkout": "address"}


def test_dotted_sibling_target_enters_a_child_of_a_sibling() -> None:
    machine = orderflow.create_machine(NESTED)
    snapshot, _ = machine.initial_transition()
    snapshot, _ = machine.transition(snapshot, "CHECKOUT")
    snapshot, _ = machine.transition(snapshot, "CANCEL")
    assert snapshot.value == {"browsing": "detail"}


def test_dot_child_target_from_a_parent_moves_to_its_own_child() -> None:
    machine = orderflow.create_machine(NESTED)
    snapshot, _ = machine.initial_transition()
    snapshot, _ = machine.transition(snapshot, "OPEN")
    snapshot, _ = machine.transition(snapshot, "HOME")
    assert snapshot.value == {"browsing": "list"}


def test_dot_child_target_does_not_exit_the_parent_by_default() -> None:
    config = {
        "initial": "p",
        "states": {
            "p": {
                "initial": "a",
                "entry": ["enterP"],
                "exit": ["exitP"],
                "on": {"GO": ".b"},
                "states": {"a": {"exit": ["exitA"]}, "b": {"entry": ["enterB"]}},
            }
        },
    }
    machine = orderflow.setup(actions=effects("enterP", "exitP", "exitA", "enterB")).create_machine(
        config
    )
    snapshot, _ = machine.initial_transition()
    snapshot, actions = machine.transition(snapshot, "GO")
    assert snapshot.value == {"p": "b"}
    assert types(actions) == ["exitA", "enterB"]


def test_reenter_true_on_a_parent_to_its_child_exits_and_reenters_the_parent() -> None:
    config = {
        "initial": "p",
        "states": {
            "p": {
                "initial": "a",
                "entry": ["enterP"],
                "exit": ["exitP"],
                "on": {"GO": {"target": ".b", "reenter": True}},
                "states": {"a": {"exit": ["exitA"]}, "b": {"entry": ["enterB"]}},
            }
        },
    }
    machine = orderflow.setup(actions=effects("enterP", "exitP", "exitA", "enterB")).create_machine(
        config
    )
    snapshot, _ = machine.initial_transition()
    snapshot, actions = machine.transition(snapshot, "GO")
    assert snapshot.value == {"p": "b"}
    assert types(actions) == ["exitA", "exitP", "enterP", "enterB"]


def test_a_self_transition_without_reenter_runs_only_its_actions() -> None:
    config = {
        "initial": "a",
        "states": {
            "a": {
                "entry": ["enterA"],
                "exit": ["exitA"],
                "on": {"GO": {"target": "a", "actions": ["tick"]}},
            }
        },
    }
    machine = orderflow.setup(actions=effects("enterA", "exitA", "tick")).create_machine(config)
    snapshot, _ = machine.initial_transition()
    after, actions = machine.transition(snapshot, "GO")
    assert after.value == "a"
    assert types(actions) == ["tick"]


def test_a_self_transition_with_reenter_exits_and_enters_again() -> None:
    config = {
        "initial": "a",
        "states": {
            "a": {
                "entry": ["enterA"],
                "exit": ["exitA"],
                "on": {"GO": {"target": "a", "reenter": True, "actions": ["tick"]}},
            }
        },
    }
    machine = orderflow.setup(actions=effects("enterA", "exitA", "tick")).create_machine(config)
    snapshot, _ = machine.initial_transition()
    after, actions = machine.transition(snapshot, "GO")
    assert after.value == "a"
    assert types(actions) == ["exitA", "tick", "enterA"]


def test_reentering_a_compound_resets_it_to_its_initial_child() -> None:
    config = {
        "initial": "p",
        "states": {
            "p": {
                "initial": "a",
                "on": {"RESET": {"target": "p", "reenter": True}},
                "states": {"a": {"on": {"NEXT": "b"}}, "b": {}},
            }
        },
    }
    machine = orderflow.create_machine(config)
    snapshot, _ = machine.initial_transition()
    snapshot, _ = machine.transition(snapshot, "NEXT")
    assert snapshot.value == {"p": "b"}
    snapshot, _ = machine.transition(snapshot, "RESET")
    assert snapshot.value == {"p": "a"}


def test_a_parent_targeting_itself_without_reenter_restarts_its_children_but_not_itself() -> None:
    # Checked against xstate 5.33.3: the domain is the parent, so its children exit and
    # the initial child is entered again, while the parent's own exit/entry do not run.
    config = {
        "initial": "p",
        "states": {
            "p": {
                "initial": "a",
                "on": {"STAY": "p"},
                "entry": ["enterP"],
                "exit": ["exitP"],
                "states": {"a": {"on": {"NEXT": "b"}}, "b": {"exit": ["exitB"]}},
            }
        },
    }
    machine = orderflow.setup(actions=effects("enterP", "exitP", "exitB")).create_machine(config)
    snapshot, _ = machine.initial_transition()
    snapshot, _ = machine.transition(snapshot, "NEXT")
    snapshot, actions = machine.transition(snapshot, "STAY")
    assert snapshot.value == {"p": "a"}
    assert types(actions) == ["exitB"]


def test_the_innermost_state_that_handles_an_event_wins() -> None:
    config = {
        "initial": "p",
        "states": {
            "p": {
                "initial": "a",
                "on": {"GO": "q"},
                "states": {"a": {"on": {"GO": "b"}}, "b": {}},
            },
            "q": {},
        },
    }
    machine = orderflow.create_machine(config)
    snapshot, _ = machine.initial_transition()
    snapshot, _ = machine.transition(snapshot, "GO")
    assert snapshot.value == {"p": "b"}
    snapshot, _ = machine.transition(snapshot, "GO")
    assert snapshot.value == "q"


def test_a_parent_handles_an_event_when_the_childs_guard_blocks() -> None:
    config = {
        "initial": "p",
        "states": {
            "p": {
                "initial": "a",
                "on": {"GO": "q"},
                "states": {"a": {"on": {"GO": {"target": "b", "guard": "never"}}}, "b": {}},
            },
            "q": {},
        },
    }
    machine = orderflow.setup(guards={"never": lambda c, e, p: False}).create_machine(config)
    snapshot, _ = machine.initial_transition()
    snapshot, _ = machine.transition(snapshot, "GO")
    assert snapshot.value == "q"


def test_an_unhandled_event_changes_nothing() -> None:
    machine = orderflow.create_machine(NESTED)
    snapshot, _ = machine.initial_transition()
    after, actions = machine.transition(snapshot, "NOBODY_LISTENS")
    assert after == snapshot
    assert after.value == {"browsing": "list"}
    assert actions == []


def test_transition_does_not_change_the_snapshot_it_is_given() -> None:
    machine = orderflow.create_machine(NESTED)
    snapshot, _ = machine.initial_transition()
    before = snapshot.to_json()
    machine.transition(snapshot, "OPEN")
    assert snapshot.value == {"browsing": "list"}
    assert snapshot.to_json() == before


def test_a_bare_string_event_is_an_event_type() -> None:
    machine = orderflow.create_machine(NESTED)
    snapshot, _ = machine.initial_transition()
    by_string, _ = machine.transition(snapshot, "OPEN")
    by_object, _ = machine.transition(snapshot, {"type": "OPEN"})
    assert by_string == by_object


def test_a_targetless_transition_runs_actions_without_exit_or_entry() -> None:
    config = {
        "initial": "a",
        "states": {
            "a": {"entry": ["enterA"], "exit": ["exitA"], "on": {"PING": {"actions": ["pong"]}}}
        },
    }
    machine = orderflow.setup(actions=effects("enterA", "exitA", "pong")).create_machine(config)
    snapshot, _ = machine.initial_transition()
    after, actions = machine.transition(snapshot, "PING")
    assert after.value == "a"
    assert types(actions) == ["pong"]


def test_the_first_transition_in_a_list_whose_guard_passes_is_taken() -> None:
    config = {
        "initial": "a",
        "states": {
            "a": {
                "on": {
                    "GO": [
                        {"target": "b", "guard": "no"},
                        {"target": "c", "guard": "yes"},
                        {"target": "d"},
                    ]
                }
            },
            "b": {},
            "c": {},
            "d": {},
        },
    }
    machine = orderflow.setup(
        guards={"no": lambda c, e, p: False, "yes": lambda c, e, p: True}
    ).create_machine(config)
    snapshot, _ = machine.initial_transition()
    snapshot, _ = machine.transition(snapshot, "GO")
    assert snapshot.value == "c"


def test_wildcard_descriptor_matches_any_event() -> None:
    config = {"initial": "a", "states": {"a": {"on": {"*": "b"}}, "b": {}}}
    machine = orderflow.create_machine(config)
    snapshot, _ = machine.initial_transition()
    snapshot, _ = machine.transition(snapshot, "WHATEVER")
    assert snapshot.value == "b"


def test_an_exact_descriptor_is_preferred_to_a_wildcard() -> None:
    config = {
        "initial": "a",
        "states": {"a": {"on": {"*": "any", "GO": "exact"}}, "any": {}, "exact": {}},
    }
    machine = orderflow.create_machine(config)
    snapshot, _ = machine.initial_transition()
    snapshot, _ = machine.transition(snapshot, "GO")
    assert snapshot.value == "exact"


def test_a_wildcard_catches_an_event_whose_exact_transition_is_blocked() -> None:
    # Checked against xstate 5.33.3: the exact candidates come first, then the wildcards.
    config = {
        "initial": "a",
        "states": {
            "a": {"on": {"GO": {"target": "exact", "guard": "no"}, "*": "any"}},
            "any": {},
            "exact": {},
        },
    }
    machine = orderflow.setup(guards={"no": lambda c, e, p: False}).create_machine(config)
    snapshot, _ = machine.initial_transition()
    snapshot, _ = machine.transition(snapshot, "GO")
    assert snapshot.value == "any"


def test_prefix_wildcard_matches_events_under_the_prefix_and_the_prefix_itself() -> None:
    config = {"initial": "a", "states": {"a": {"on": {"order.*": "b"}}, "b": {}}}
    machine = orderflow.create_machine(config)
    snapshot, _ = machine.initial_transition()
    assert machine.transition(snapshot, "order.paid")[0].value == "b"
    assert machine.transition(snapshot, "order.paid.twice")[0].value == "b"
    assert machine.transition(snapshot, "order")[0].value == "b"
    assert machine.transition(snapshot, "orders.paid")[0].value == "a"
    assert machine.transition(snapshot, "other.paid")[0].value == "a"


def test_the_longer_prefix_wildcard_is_tried_first() -> None:
    config = {
        "initial": "a",
        "states": {
            "a": {"on": {"order.*": "short", "order.payment.*": "long"}},
            "short": {},
            "long": {},
        },
    }
    machine = orderflow.create_machine(config)
    snapshot, _ = machine.initial_transition()
    assert machine.transition(snapshot, "order.payment.failed")[0].value == "long"
    assert machine.transition(snapshot, "order.shipped")[0].value == "short"


def test_a_null_transition_forbids_the_event_from_reaching_the_parent() -> None:
    config = {
        "initial": "p",
        "states": {
            "p": {"initial": "a", "on": {"GO": "q"}, "states": {"a": {"on": {"GO": None}}}},
            "q": {},
        },
    }
    machine = orderflow.create_machine(config)
    snapshot, _ = machine.initial_transition()
    after, actions = machine.transition(snapshot, "GO")
    assert after.value == {"p": "a"}
    assert actions == []


def test_explicit_state_ids_replace_the_default_dotted_ids() -> None:
    config = {
        "id": "m",
        "initial": "a",
        "states": {
            "a": {"on": {"GO": "#deep"}},
            "b": {"initial": "c", "states": {"c": {"id": "deep"}}},
        },
    }
    machine = orderflow.create_machine(config)
    assert machine.state("#deep").id == "deep"
    assert machine.state("m.b").id == "m.b"
    snapshot, _ = machine.initial_transition()
    snapshot, _ = machine.transition(snapshot, "GO")
    assert snapshot.value == {"b": "c"}


def test_a_transition_from_a_child_to_an_ancestors_sibling_exits_the_ancestor() -> None:
    config = {
        "initial": "p",
        "states": {
            "p": {
                "initial": "a",
                "exit": ["exitP"],
                "states": {"a": {"exit": ["exitA"], "on": {"GO": "#(machine).q"}}},
            },
            "q": {"entry": ["enterQ"]},
        },
    }
    machine = orderflow.setup(actions=effects("exitP", "exitA", "enterQ")).create_machine(config)
    snapshot, _ = machine.initial_transition()
    snapshot, actions = machine.transition(snapshot, "GO")
    assert snapshot.value == "q"
    assert types(actions) == ["exitA", "exitP", "enterQ"]
