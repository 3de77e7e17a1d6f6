"""orderflow against the real XState 5: the same JSON config, the same events, the same snapshots.

Hypothesis draws configs with ``orderflow.testing.machine_configs`` and
event lists with ``event_sequences``; each one runs through orderflow
(``create_machine``, ``initial_transition``, ``transition``) and through
XState's pure API (``createMachine``, ``initialTransition``, ``transition``)
in ``xstate_runner.cjs``.  The state ``value`` and ``status`` must be equal
after the initial transition and after every event.

One node process serves the whole module (``xstate_runner.cjs --serve``,
one JSON case per line), so hypothesis can shrink a disagreement to a
minimal config at the cost of a pipe round trip per example.

XState comes from ``ORDERFLOW_TEST_XSTATE_DIR`` (a ``node_modules``
directory holding ``xstate``; ``make xstate`` installs one into
``.cache/xstate/node_modules``).  Without it the XState tests skip and say
why; the hand-written cases below still check orderflow against XState's
answers, which are written into them.
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from node_runner import NodeRunner, xstate_modules

import orderflow
from orderflow.testing import event_sequences, machine_configs

RUNNER = Path(__file__).with_name("xstate_runner.cjs")
LOOP = "the machine never settles"  # orderflow's InfiniteLoopError; XState hangs
EXAMPLES = int(os.environ.get("ORDERFLOW_DIFFERENTIAL_EXAMPLES", "250"))

Steps = list[dict[str, Any]]


@pytest.fixture(scope="module")
def xstate() -> Iterator[NodeRunner]:
    runner = NodeRunner(RUNNER, xstate_modules(), loop=LOOP, args=("--serve",), timeout=1.0)
    yield runner
    runner.close()


def run_orderflow(config: dict[str, Any], events: list[str]) -> dict[str, Any]:
    """The same record ``xstate_runner.cjs`` makes: value, status and output after each step."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", orderflow.DefinitionWarning)
            machine = orderflow.create_machine(config)
        snapshot, _ = machine.initial_transition()
        steps = [_view(snapshot)]
        for event in events:
            if snapshot.status != "active":
                steps.append({**_view(snapshot), "skipped": True})
                continue
            snapshot, _ = machine.transition(snapshot, event)
            steps.append(_view(snapshot))
    except orderflow.errors.InfiniteLoopError:
        return {"error": LOOP}
    except orderflow.errors.OrderflowError as exc:
        return {"error": f"{type(exc).__name__}: {exc}"}
    return {"steps": steps}


def _view(snapshot: orderflow.Snapshot) -> dict[str, Any]:
    return {
        "value": json.loads(json.dumps(snapshot.value)),
        "status": snapshot.status,
        "output": snapshot.output,
    }


def _states(result: dict[str, Any]) -> Any:
    """What is compared: the value and status of every step (or the error)."""
    if "error" in result:
        return {"error": result["error"]}
    return [[step["value"], step["status"]] for step in result["steps"]]


# -- the random differential test ---------------------------------------------------------------


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(data=st.data())
def test_random_charts_agree_with_xstate(xstate: NodeRunner, data: st.DataObject) -> None:
    config = data.draw(machine_configs(), label="config")
    events = data.draw(event_sequences(config), label="events")
    expected = xstate.run({"config": config, "events": events})
    assert expected.get("error", LOOP) == LOOP, (
        f"XState rejected a generated config (a generator bug): {expected['error']}"
    )
    assert _states(run_orderflow(config, events)) == _states(expected)


# -- hand-written cases: tricky semantics, with XState's answers written in -------------------------


@dataclass(frozen=True)
class Case:
    name: str
    config: dict[str, Any]
    events: list[str]
    #: (value, status) after the initial transition and after each event, as XState 5.33.3 gives them
    expected: list[tuple[Any, str]]


CASES = [
    Case(
        "compound_self_transition_resets_children",
        {
            "id": "m",
            "initial": "c",
            "states": {
                "c": {
                    "initial": "x",
                    "on": {"A": "c"},
                    "states": {"x": {"on": {"B": "y"}}, "y": {}},
                },
                "z": {},
            },
        },
        ["B", "A", "B"],
        [
            ({"c": "x"}, "active"),
            ({"c": "y"}, "active"),
            ({"c": "x"}, "active"),
            ({"c": "y"}, "active"),
        ],
    ),
    Case(
        "reenter_true_on_a_child_target_restarts_the_compound",
        {
            "id": "m",
            "initial": "c",
            "states": {
                "c": {
                    "initial": "x",
                    "on": {
                        "A": {"target": ".y", "reenter": True},
                        "C": {"target": "c", "reenter": True},
                    },
                    "states": {"x": {"on": {"B": "y"}}, "y": {"on": {"B": "x"}}},
                }
            },
        },
        ["A", "B", "C", "A"],
        [
            ({"c": "x"}, "active"),
            ({"c": "y"}, "active"),
            ({"c": "x"}, "active"),
            ({"c": "x"}, "active"),
            ({"c": "y"}, "active"),
        ],
    ),
    Case(
        "a_transition_between_regions_restarts_the_parallel_state",
        {
            "id": "m",
            "initial": "p",
            "states": {
                "p": {
                    "type": "parallel",
                    "states": {
                        "r1": {
                            "initial": "a",
                            "states": {"a": {"on": {"B": "b"}}, "b": {"on": {"A": "#m.p.r2.d"}}},
                        },
                        "r2": {"initial": "c", "states": {"c": {}, "d": {}}},
                    },
                }
            },
        },
        ["B", "A"],
        [
            ({"p": {"r1": "a", "r2": "c"}}, "active"),
            ({"p": {"r1": "b", "r2": "c"}}, "active"),
            ({"p": {"r1": "a", "r2": "d"}}, "active"),
        ],
    ),
    Case(
        "multiple_targets_enter_several_regions_at_once",
        {
            "id": "m",
            "initial": "idle",
            "states": {
                "idle": {"on": {"GO": {"target": ["#m.p.r1.b", "#m.p.r2.d"]}}},
                "p": {
                    "type": "parallel",
                    "states": {
                        "r1": {"initial": "a", "states": {"a": {}, "b": {}}},
                        "r2": {"initial": "c", "states": {"c": {}, "d": {}}},
                        "r3": {"initial": "e", "states": {"e": {}, "f": {}}},
                    },
                },
            },
        },
        ["GO"],
        [("idle", "active"), ({"p": {"r1": "b", "r2": "d", "r3": "e"}}, "active")],
    ),
    Case(
        "shallow_and_deep_history_remember_what_was_active",
        {
            "id": "m",
            "initial": "work",
            "states": {
                "work": {
                    "initial": "a",
                    "on": {"PAUSE": "paused"},
                    "states": {
                        "a": {"on": {"NEXT": "b"}},
                        "b": {"initial": "b1", "states": {"b1": {"on": {"NEXT": "b2"}}, "b2": {}}},
                        "shallow": {"type": "history"},
                        "deep": {"type": "history", "history": "deep"},
                    },
                },
                "paused": {"on": {"SHALLOW": "work.shallow", "DEEP": "work.deep"}},
            },
        },
        ["NEXT", "NEXT", "PAUSE", "SHALLOW", "PAUSE", "DEEP"],
        [
            ({"work": "a"}, "active"),
            ({"work": {"b": "b1"}}, "active"),
            ({"work": {"b": "b2"}}, "active"),
            ("paused", "active"),
            ({"work": {"b": "b1"}}, "active"),
            ("paused", "active"),
            ({"work": {"b": "b1"}}, "active"),
        ],
    ),
    Case(
        "history_without_memory_takes_its_default_or_the_initial_state",
        {
            "id": "m",
            "initial": "off",
            "states": {
                "off": {"on": {"A": "#m.on.hist", "B": "#m.on.histd"}},
                "on": {
                    "initial": "x",
                    "on": {"OFF": "off"},
                    "states": {
                        "x": {},
                        "y": {},
                        "hist": {"type": "history"},
                        "histd": {"type": "history", "target": "y"},
                    },
                },
            },
        },
        ["A", "OFF", "B"],
        [("off", "active"), ({"on": "x"}, "active"), ("off", "active"), ({"on": "x"}, "active")],
    ),
    Case(
        "nested_parallel_states_raise_done_events_when_every_region_is_final",
        {
            "id": "m",
            "initial": "p",
            "states": {
                "p": {
                    "type": "parallel",
                    "onDone": "finished",
                    "states": {
                        "r1": {
                            "initial": "a",
                            "states": {"a": {"on": {"A": "fa"}}, "fa": {"type": "final"}},
                        },
                        "r2": {
                            "type": "parallel",
                            "states": {
                                "s1": {
                                    "initial": "b",
                                    "states": {"b": {"on": {"B": "fb"}}, "fb": {"type": "final"}},
                                },
                                "s2": {
                                    "initial": "c",
                                    "states": {"c": {"on": {"C": "fc"}}, "fc": {"type": "final"}},
                                },
                            },
                        },
                    },
                },
                "finished": {"on": {"A": "p"}},
            },
        },
        ["A", "B", "C", "A"],
        [
            ({"p": {"r1": "a", "r2": {"s1": "b", "s2": "c"}}}, "active"),
            ({"p": {"r1": "fa", "r2": {"s1": "b", "s2": "c"}}}, "active"),
            ({"p": {"r1": "fa", "r2": {"s1": "fb", "s2": "c"}}}, "active"),
            ("finished", "active"),
            ({"p": {"r1": "a", "r2": {"s1": "b", "s2": "c"}}}, "active"),
        ],
    ),
    Case(
        "an_exact_descriptor_is_tried_before_the_wildcard",
        {
            "id": "m",
            "initial": "a",
            "states": {
                "a": {
                    "on": {
                        "*": "w",
                        "A": [{"target": "exact", "guard": {"type": "stateIn", "state": "a"}}],
                        "B": {"target": "exact", "guard": {"type": "stateIn", "state": "w"}},
                    }
                },
                "exact": {"on": {"*": "a"}},
                "w": {"on": {"A": "a"}},
            },
        },
        ["A", "X", "B", "A", "C"],
        [
            ("a", "active"),
            ("exact", "active"),
            ("a", "active"),
            ("w", "active"),
            ("a", "active"),
            ("w", "active"),
        ],
    ),
    Case(
        "a_deeper_wildcard_beats_an_ancestors_exact_descriptor",
        {
            "id": "m",
            "initial": "c",
            "states": {
                "c": {
                    "initial": "x",
                    "on": {"A": "d"},
                    "states": {"x": {"on": {"*": "y"}}, "y": {}},
                },
                "d": {},
            },
        },
        ["A", "A"],
        [({"c": "x"}, "active"), ({"c": "y"}, "active"), ("d", "active")],
    ),
    Case(
        "prefix_wildcards_match_the_prefix_and_dotted_types_longest_first",
        {
            "id": "m",
            "initial": "a",
            "states": {
                "a": {"on": {"A.*": "short", "A.x.*": "long"}},
                "short": {"on": {"BACK": "a"}},
                "long": {"on": {"BACK": "a"}},
            },
        },
        ["AB", "A", "BACK", "A.x.y", "BACK", "A.x", "BACK", "A.y"],
        [
            ("a", "active"),
            ("a", "active"),
            ("short", "active"),
            ("a", "active"),
            ("long", "active"),
            ("a", "active"),
            ("long", "active"),
            ("a", "active"),
            ("short", "active"),
        ],
    ),
    Case(
        "a_top_level_final_state_finishes_the_machine",
        {
            "id": "m",
            "initial": "a",
            "states": {"a": {"on": {"A": "f"}}, "f": {"type": "final", "output": {"n": 1}}},
            "on": {"B": ".a"},
        },
        ["A", "B", "A"],
        [("a", "active"), ("f", "done"), ("f", "done"), ("f", "done")],
    ),
    Case(
        "always_transitions_guarded_by_state_in_wait_for_the_other_region",
        {
            "id": "m",
            "type": "parallel",
            "states": {
                "r1": {
                    "initial": "a",
                    "states": {
                        "a": {
                            "always": {
                                "target": "b",
                                "guard": {
                                    "type": "and",
                                    "guards": [
                                        {"type": "stateIn", "state": "#m.r2.d"},
                                        {
                                            "type": "not",
                                            "guards": [{"type": "stateIn", "state": {"r2": "c"}}],
                                        },
                                    ],
                                },
                            }
                        },
                        "b": {},
                    },
                },
                "r2": {"initial": "c", "states": {"c": {"on": {"D": "d"}}, "d": {}}},
            },
        },
        ["X", "D"],
        [
            ({"r1": "a", "r2": "c"}, "active"),
            ({"r1": "a", "r2": "c"}, "active"),
            ({"r1": "b", "r2": "d"}, "active"),
        ],
    ),
    Case(
        "an_empty_transition_blocks_the_ancestors_transition",
        {
            "id": "m",
            "initial": "c",
            "states": {
                "c": {
                    "initial": "x",
                    "on": {"A": "d", "B": "d"},
                    "states": {"x": {"on": {"A": {}}}},
                },
                "d": {},
            },
        },
        ["A", "B"],
        [({"c": "x"}, "active"), ({"c": "x"}, "active"), ("d", "active")],
    ),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_orderflow_gives_xstates_answer(case: Case) -> None:
    assert _states(run_orderflow(case.config, case.events)) == [
        list(step) for step in case.expected
    ]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_written_answers_are_xstates(xstate: NodeRunner, case: Case) -> None:
    assert _states(xstate.run({"config": case.config, "events": case.events})) == [
        list(step) for step in case.expected
    ]


# -- where orderflow once disagreed with XState ------------------------------------------------------
#
# Each case is the smallest reproduction of a disagreement the random test found, with XState's
# answer written in; they stay as regression tests.
#
# 1. A transition whose target is its own source (``reenter: false``) inside a parallel state
#    re-entered the *other* regions (the proper ancestors of a state "up to itself" must be none,
#    as in XState's ``getProperAncestors``).  With a final state in another region, its done event
#    was raised again, an endless loop when a ``*`` transition caught it.
# 2. A transition that exits a state and targets that state's history restored what the history
#    held *before* the transition: the entry set must be planned with the history the exits record
#    (SCXML's enterStates runs after exitStates).

DISAGREEMENTS = [
    Case(
        "a_self_transition_in_one_region_leaves_the_other_regions_alone",
        {
            "id": "m",
            "type": "parallel",
            "states": {
                "r1": {"initial": "a", "states": {"a": {"on": {"X": "b"}}, "b": {}}},
                "r2": {"initial": "c", "states": {"c": {"on": {"Y": "c"}}}},
            },
        },
        ["X", "Y"],
        [
            ({"r1": "a", "r2": "c"}, "active"),
            ({"r1": "b", "r2": "c"}, "active"),
            ({"r1": "b", "r2": "c"}, "active"),
        ],
    ),
    Case(
        "a_wildcard_self_transition_beside_a_final_region_settles",
        {
            "id": "m",
            "type": "parallel",
            "states": {
                "r1": {"initial": "a", "states": {"a": {"on": {"*": "a"}}}},
                "r2": {"initial": "f", "states": {"f": {"type": "final"}}},
            },
        },
        [],
        [({"r1": "a", "r2": "f"}, "active")],
    ),
    Case(
        "a_history_target_restores_the_states_the_same_transition_just_exited",
        {
            "id": "m",
            "initial": "c",
            "on": {"RESTORE": ".c.h"},
            "states": {
                "c": {
                    "initial": "a",
                    "states": {"a": {"on": {"NEXT": "b"}}, "b": {}, "h": {"type": "history"}},
                }
            },
        },
        ["NEXT", "RESTORE"],
        [({"c": "a"}, "active"), ({"c": "b"}, "active"), ({"c": "b"}, "active")],
    ),
]


@pytest.mark.parametrize("case", DISAGREEMENTS, ids=lambda c: c.name)
def test_orderflow_gives_xstates_answer_where_it_used_to_disagree(case: Case) -> None:
    assert _states(run_orderflow(case.config, case.events)) == [
        list(step) for step in case.expected
    ]


@pytest.mark.parametrize("case", DISAGREEMENTS, ids=lambda c: c.name)
def test_written_answers_of_disagreements_are_xstates(xstate: NodeRunner, case: Case) -> None:
    assert _states(xstate.run({"config": case.config, "events": case.events})) == [
        list(step) for step in case.expected
    ]


# -- a deliberate difference (docs/semantics.md): history inside a parallel state ---------------

HISTORY_IN_PARALLEL = {
    "id": "m",
    "initial": "a1",
    "states": {
        "a1": {"on": {"A": "p2"}},
        "p2": {
            "type": "parallel",
            "states": {
                "h": {"type": "history", "history": "deep"},
                "c5": {"initial": "a8", "states": {"a8": {"on": {"Z": "#m.p2.h"}}}},
            },
        },
    },
}


def test_a_history_state_of_a_parallel_state_with_nothing_remembered_enters_its_regions() -> None:
    steps = _states(run_orderflow(HISTORY_IN_PARALLEL, ["A", "Z"]))
    assert steps[-1] == [{"p2": {"c5": "a8"}}, "active"]  # SCXML: the regions' defaults


def test_xstate_goes_to_the_initial_state_there_as_documented(xstate: NodeRunner) -> None:
    answer = _states(xstate.run({"config": HISTORY_IN_PARALLEL, "events": ["A", "Z"]}))
    assert answer[-1] == ["a1", "active"], "XState changed here: update docs/semantics.md"


# The same case when the transition starts inside the parallel state whose history it targets:
# found by the by-hand run (tests/differential/xstate_large_run.py, seed 12).  XState again goes
# to the machine's initial state, but does not exit the parallel state (the source's domain), so
# two children of the compound `c1` end up active: an invalid configuration.  orderflow exits
# the parallel state, records its history, and restores it (SCXML).

HISTORY_IN_PARALLEL_FROM_INSIDE = {
    "id": "m",
    "initial": "c1",
    "states": {
        "c1": {
            "initial": "c6",
            "states": {
                "p2": {
                    "type": "parallel",
                    "states": {"a3": {"on": {"A": "#m.c1.p2.h5"}}, "h5": {"type": "history"}},
                },
                "c6": {"initial": "a8", "states": {"a8": {"on": {"GO": "#m.c1.p2.a3"}}}},
            },
        }
    },
}


def test_a_history_state_of_a_parallel_state_targeted_from_inside_restores_it() -> None:
    steps = _states(run_orderflow(HISTORY_IN_PARALLEL_FROM_INSIDE, ["GO", "A"]))
    assert steps[-1] == [{"c1": {"p2": {"a3": {}}}}, "active"]


def test_xstate_leaves_two_children_of_a_compound_active_there_as_documented(
    xstate: NodeRunner,
) -> None:
    answer = _states(xstate.run({"config": HISTORY_IN_PARALLEL_FROM_INSIDE, "events": ["GO", "A"]}))
    assert answer[-1] == [{"c1": {"c6": "a8", "p2": {"a3": {}}}}, "active"], (
        "XState changed here: update docs/semantics.md"
    )
