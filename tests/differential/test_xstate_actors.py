"""Parents with child actors, orderflow against the real XState 5: the same machines, the same events.

Each case lists machines, children first (each may invoke or spawn the ones before
it), and events addressed to the root or to a child machine by its path.  orderflow
runs them through the pure core (``initial_transition``, ``transition(..., to=path)``,
``to_json`` / ``resolve_snapshot`` for a restore); XState runs them through live
actors (``createActor``, ``child.send``, ``getPersistedSnapshot``) in
``xstate_actors_runner.cjs``.  After the start and after every event the root's value,
status and context must agree, and so must every machine child's, recursively.

The context records the order of events: the shared action ``trail`` appends the
event type to ``context.trail``, ``keepOutput`` keeps a done event's ``output``.

Without ``ORDERFLOW_TEST_XSTATE_DIR`` (a ``node_modules`` holding ``xstate``) the
XState half skips; the hand-written cases still run against XState's answers
written into them (``expected``).
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from node_runner import NodeRunner, xstate_modules

import orderflow
from orderflow.chart import assign
from orderflow.testing import config_alphabet, machine_configs

RUNNER = Path(__file__).with_name("xstate_actors_runner.cjs")
LOOP = "XState did not answer (a loop between actors?)"
EXAMPLES = int(os.environ.get("ORDERFLOW_DIFFERENTIAL_ACTOR_EXAMPLES", "60"))

SHARED_ACTIONS = {
    "trail": assign(lambda context, event, params: {
        "trail": [*context.get("trail", []), event.type]
    }),
    "keepOutput": assign(lambda context, event, params: {"output": getattr(event, "output", None)}),
}  # fmt: skip


@dataclass
class Case:
    name: str
    machines: list[tuple[str, dict[str, Any]]]
    events: list[tuple[str, dict[str, Any]]]
    restore_after: int | None = None
    #: XState's answer (value, status, context, children after each step), when written down
    expected: list[dict[str, Any]] | None = field(default=None, repr=False)

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "machines": [[name, config] for name, config in self.machines],
            "events": [{"to": to, "event": event} for to, event in self.events],
        }
        if self.restore_after is not None:
            data["restoreAfter"] = self.restore_after
        return data


@pytest.fixture(scope="module")
def xstate() -> Iterator[NodeRunner]:
    runner = NodeRunner(RUNNER, xstate_modules(), loop=LOOP, timeout=2.0)
    yield runner
    runner.close()


def run_orderflow(case: Case) -> dict[str, Any]:
    """The record ``xstate_actors_runner.cjs`` makes, from orderflow's pure core."""
    actors: dict[str, orderflow.Machine] = {}
    machine = None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", orderflow.DefinitionWarning)
            for name, config in case.machines:
                machine = orderflow.setup(
                    actors=dict(actors), actions=SHARED_ACTIONS
                ).create_machine(config)
                actors[name] = machine
        assert machine is not None
        snapshot, _ = machine.initial_transition()
        steps = [view(snapshot)]
        for index, (to, event) in enumerate(case.events):
            if snapshot.status == "active" and _reachable(snapshot, to):
                snapshot, _ = machine.transition(snapshot, event, to=to or None)
            steps.append(view(snapshot))
            if case.restore_after == index + 1 and snapshot.status == "active":
                persisted = json.loads(json.dumps(snapshot.to_json()))
                snapshot = machine.resolve_snapshot(persisted)
    except orderflow.errors.InfiniteLoopError:
        return {"error": LOOP}
    except orderflow.errors.OrderflowError as exc:
        return {"error": f"{type(exc).__name__}: {exc}"}
    return {"steps": steps}


def _reachable(snapshot: orderflow.Snapshot, to: str) -> bool:
    """Whether a live child machine is at path ``to`` (XState's runner skips the event otherwise)."""
    current = snapshot
    for ident in to.split("/") if to else ():
        child = current.children.get(ident)
        if child is None or child.snapshot is None:
            return False
        current = child.snapshot
    return True


def view(snapshot: orderflow.Snapshot) -> dict[str, Any]:
    result: dict[str, Any] = {
        "value": json.loads(json.dumps(snapshot.value)),
        "status": snapshot.status,
        "context": json.loads(json.dumps(snapshot.context)),
    }
    if snapshot.status == "active":
        result["children"] = {
            ident: view(child.snapshot)
            for ident, child in snapshot.children.items()
            if child.snapshot is not None
        }
    return result


# -- hand-written cases -----------------------------------------------------------------------------

PONGER = {
    "id": "ponger",
    "context": {"trail": []},
    "initial": "ready",
    "states": {
        "ready": {
            "on": {
                "PING": {"target": "once", "actions": [
                    "trail", {"type": "sendParent", "params": {"event": {"type": "PONG"}}}
                ]},
            }
        },
        "once": {
            "on": {
                "PING": {"target": "finished", "actions": [
                    "trail", {"type": "sendParent", "params": {"event": {"type": "PONG"}}}
                ]},
            }
        },
        "finished": {"type": "final"},
    },
    "output": {"pongs": 2},
}  # fmt: skip

PINGER = {
    "id": "pinger",
    "context": {"trail": []},
    "initial": "playing",
    "states": {
        "playing": {
            "invoke": {"id": "p", "src": "ponger", "onDone": {"target": "over", "actions": ["trail", "keepOutput"]}},
            "on": {
                "SERVE": {"actions": ["trail", {"type": "sendTo", "params": {"to": "p", "event": {"type": "PING"}}}]},
                "PONG": {"actions": ["trail", {"type": "sendTo", "params": {"to": "p", "event": {"type": "PING"}}}]},
            },
        },
        "over": {},
    },
}  # fmt: skip

COUNTER = {
    "id": "counter",
    "context": {"trail": []},
    "initial": "on",
    "states": {
        "on": {"on": {"TOGGLE": {"target": "off", "actions": "trail"},
                      "REPORT": {"actions": {"type": "sendParent", "params": {"event": {"type": "REPORTED"}}}}}},
        "off": {"on": {"TOGGLE": {"target": "on", "actions": "trail"}}},
    },
}  # fmt: skip

CASES = [
    Case(
        "sendTo and sendParent ping-pong until the child finishes with output",
        [("ponger", PONGER), ("pinger", PINGER)],
        [("", {"type": "SERVE"}), ("", {"type": "SERVE"})],
        expected=[
            {
                "value": "playing",
                "status": "active",
                "context": {"trail": []},
                "children": {
                    "p": {
                        "value": "ready",
                        "status": "active",
                        "context": {"trail": []},
                        "children": {},
                    }
                },
            },
            {
                "value": "over",
                "status": "active",
                "context": {
                    "trail": ["SERVE", "PONG", "PONG", "xstate.done.actor.p"],
                    "output": {"pongs": 2},
                },
                "children": {},
            },
            {
                "value": "over",
                "status": "active",
                "context": {
                    "trail": ["SERVE", "PONG", "PONG", "xstate.done.actor.p"],
                    "output": {"pongs": 2},
                },
                "children": {},
            },
        ],
    ),
    Case(
        "an invoked child is stopped when its state is left, and a new one starts on re-entry",
        [
            ("counter", COUNTER),
            (
                "host",
                {
                    "id": "host",
                    "context": {"trail": []},
                    "initial": "a",
                    "states": {
                        "a": {
                            "invoke": {"id": "c", "src": "counter"},
                            "on": {"LEAVE": "b", "REPORTED": {"actions": "trail"}},
                        },
                        "b": {"on": {"BACK": "a"}},
                    },
                },
            ),
        ],
        [
            ("c", {"type": "TOGGLE"}),
            ("c", {"type": "REPORT"}),
            ("c", {"type": "TOGGLE"}),
            ("", {"type": "LEAVE"}),
            ("c", {"type": "TOGGLE"}),
            ("", {"type": "BACK"}),
            ("c", {"type": "REPORT"}),
        ],
    ),
    Case(
        "spawnChild, sendTo by id and stopChild",
        [
            ("counter", COUNTER),
            (
                "spawner",
                {
                    "id": "spawner",
                    "context": {"trail": []},
                    "initial": "idle",
                    "states": {
                        "idle": {
                            "on": {
                                "SPAWN_A": {
                                    "actions": {
                                        "type": "spawnChild",
                                        "params": {"src": "counter", "id": "a"},
                                    }
                                },
                                "SPAWN_B": {
                                    "actions": {
                                        "type": "spawnChild",
                                        "params": {"src": "counter", "id": "b"},
                                    }
                                },
                                "TOGGLE_A": {
                                    "actions": {
                                        "type": "sendTo",
                                        "params": {"to": "a", "event": {"type": "TOGGLE"}},
                                    }
                                },
                                "FORWARD_B": {
                                    "actions": {"type": "forwardTo", "params": {"to": "b"}}
                                },
                                "STOP_A": {"actions": {"type": "stopChild", "params": {"id": "a"}}},
                                "REPORTED": {"actions": "trail"},
                            }
                        }
                    },
                },
            ),
        ],
        [
            ("", {"type": "SPAWN_A"}),
            ("", {"type": "SPAWN_B"}),
            ("", {"type": "TOGGLE_A"}),
            ("", {"type": "FORWARD_B"}),
            ("b", {"type": "REPORT"}),
            ("", {"type": "STOP_A"}),
            ("", {"type": "SPAWN_A"}),
            ("a", {"type": "TOGGLE"}),
        ],
    ),
    Case(
        "an entry action sends to the child its own state invokes",
        [
            ("counter", COUNTER),
            (
                "eager",
                {
                    "id": "eager",
                    "context": {"trail": []},
                    "initial": "a",
                    "states": {
                        "a": {
                            "entry": {
                                "type": "sendTo",
                                "params": {"to": "c", "event": {"type": "TOGGLE"}},
                            },
                            "invoke": {"id": "c", "src": "counter"},
                            "on": {"AGAIN": {"target": "a", "reenter": True}},
                        }
                    },
                },
            ),
        ],
        [("", {"type": "AGAIN"}), ("c", {"type": "TOGGLE"})],
    ),
    Case(
        "a child that is done at once finishes its parent's state within the start",
        [
            (
                "instant",
                {
                    "id": "instant",
                    "initial": "end",
                    "states": {"end": {"type": "final"}},
                    "output": 7,
                },
            ),
            (
                "waiter",
                {
                    "id": "waiter",
                    "context": {"trail": []},
                    "initial": "waiting",
                    "states": {
                        "waiting": {
                            "invoke": {
                                "id": "i",
                                "src": "instant",
                                "onDone": {"target": "done", "actions": ["trail", "keepOutput"]},
                            }
                        },
                        "done": {"type": "final"},
                    },
                },
            ),
        ],
        [("", {"type": "ANY"})],
    ),
    Case(
        "grandchildren: events climb two levels with sendParent and go down by path",
        [
            ("counter", COUNTER),
            (
                "middle",
                {
                    "id": "middle",
                    "context": {"trail": []},
                    "initial": "m",
                    "states": {
                        "m": {
                            "invoke": {"id": "g", "src": "counter"},
                            "on": {
                                "REPORTED": {
                                    "actions": [
                                        "trail",
                                        {"type": "sendParent", "params": {"event": {"type": "UP"}}},
                                    ]
                                },
                                "TOGGLE": {"actions": {"type": "forwardTo", "params": {"to": "g"}}},
                            },
                        }
                    },
                },
            ),
            (
                "top",
                {
                    "id": "top",
                    "context": {"trail": []},
                    "initial": "t",
                    "states": {
                        "t": {
                            "invoke": {"id": "m", "src": "middle"},
                            "on": {"UP": {"actions": "trail"}},
                        }
                    },
                },
            ),
        ],
        [
            ("m/g", {"type": "REPORT"}),
            ("m", {"type": "TOGGLE"}),
            ("m/g", {"type": "TOGGLE"}),
            ("m/g", {"type": "REPORT"}),
        ],
    ),
    Case(
        "restored from a persisted snapshot, the children go on where they were",
        [("ponger", PONGER), ("pinger", PINGER)],
        [("p", {"type": "PING"}), ("", {"type": "SERVE"})],
        restore_after=1,
    ),
    Case(
        "sendTo an actor by its systemId",
        [
            ("counter", COUNTER),
            (
                "registry",
                {
                    "id": "registry",
                    "context": {"trail": []},
                    "initial": "r",
                    "states": {
                        "r": {
                            "invoke": [
                                {"id": "first", "src": "counter", "systemId": "one"},
                                {"id": "second", "src": "counter", "systemId": "two"},
                            ],
                            "on": {
                                "POKE": {
                                    "actions": {
                                        "type": "sendTo",
                                        "params": {"systemId": "two", "event": {"type": "TOGGLE"}},
                                    }
                                }
                            },
                        }
                    },
                },
            ),
        ],
        [("", {"type": "POKE"}), ("", {"type": "POKE"}), ("", {"type": "POKE"})],
    ),
    Case(
        "onSnapshot hears every step of the child",
        [
            ("counter", COUNTER),
            (
                "watcher",
                {
                    "id": "watcher",
                    "context": {"trail": []},
                    "initial": "w",
                    "states": {
                        "w": {
                            "invoke": {
                                "id": "c",
                                "src": "counter",
                                "onSnapshot": {"actions": "trail"},
                            }
                        }
                    },
                },
            ),
        ],
        [("c", {"type": "TOGGLE"}), ("c", {"type": "REPORT"}), ("c", {"type": "TOGGLE"})],
    ),
    Case(
        "a child raising and taking eventless transitions before its parent hears it",
        [
            (
                "chain",
                {
                    "id": "chain",
                    "context": {"trail": []},
                    "initial": "a",
                    "states": {
                        "a": {
                            "on": {
                                "GO": {
                                    "target": "b",
                                    "actions": [
                                        {"type": "raise", "params": {"event": {"type": "NEXT"}}},
                                        {
                                            "type": "sendParent",
                                            "params": {"event": {"type": "FIRST"}},
                                        },
                                    ],
                                }
                            }
                        },
                        "b": {
                            "on": {
                                "NEXT": {
                                    "target": "c",
                                    "actions": [
                                        "trail",
                                        {
                                            "type": "sendParent",
                                            "params": {"event": {"type": "SECOND"}},
                                        },
                                    ],
                                }
                            }
                        },
                        "c": {
                            "always": {
                                "target": "d",
                                "actions": {
                                    "type": "sendParent",
                                    "params": {"event": {"type": "THIRD"}},
                                },
                            }
                        },
                        "d": {"type": "final"},
                    },
                },
            ),
            (
                "listener",
                {
                    "id": "listener",
                    "context": {"trail": []},
                    "initial": "l",
                    "states": {
                        "l": {
                            "invoke": {
                                "id": "k",
                                "src": "chain",
                                "onDone": {"target": "m", "actions": "trail"},
                            },
                            "on": {
                                "FIRST": {"actions": "trail"},
                                "SECOND": {"actions": "trail"},
                                "THIRD": {"actions": "trail"},
                                "KICK": {
                                    "actions": {
                                        "type": "sendTo",
                                        "params": {"to": "k", "event": {"type": "GO"}},
                                    }
                                },
                            },
                        },
                        "m": {},
                    },
                },
            ),
        ],
        [("", {"type": "KICK"})],
    ),
]



def _send_parent(event: str) -> dict[str, Any]:
    return {"type": "sendParent", "params": {"event": {"type": event}}}


def _send_to(to: str, event: str, *, by: str = "to") -> dict[str, Any]:
    return {"type": "sendTo", "params": {by: to, "event": {"type": event}}}


_GREETER = {
    "id": "greeter", "initial": "a", "context": {"trail": []}, "output": {"k": 1},
    "states": {
        "a": {"entry": _send_parent("HELLO"),
              "on": {"PING": {"target": "b", "actions": ["trail", _send_parent("PONG")]},
                     "*": {"actions": "trail"}}},
        "b": {"on": {"PING": "c", "*": {"actions": "trail"}}},
        "c": {"type": "final"},
    },
}  # fmt: skip
_AT_ONCE = {"id": "at_once", "initial": "a", "output": {"q": 2},
            "states": {"a": {"always": "b"}, "b": {"type": "final"}}}  # fmt: skip
_PINGER = {"id": "pinger", "initial": "a", "context": {"trail": []}, "states": {"a": {"on": {
    "GO": {"actions": ["trail", _send_to("bee", "PING", by="systemId")]},
    "*": {"actions": "trail"}}}}}  # fmt: skip
_PONGER = {"id": "ponger", "initial": "a", "context": {"trail": []}, "states": {
    "a": {"on": {"PING": {"target": "b", "actions": [
        "trail", _send_to("ay", "ACK", by="systemId"), _send_parent("B_DONE")]},
        "*": {"actions": "trail"}}},
    "b": {"on": {"*": {"actions": "trail"}}}}}  # fmt: skip
_GRANDCHILD = {"id": "grandchild", "initial": "a", "context": {"trail": []},
               "states": {"a": {"entry": _send_parent("G_UP"), "on": {"*": {"actions": "trail"}}}}}  # fmt: skip
_MIDDLE = {"id": "middle", "initial": "a", "context": {"trail": []}, "states": {"a": {"on": {
    "SPAWN": {"actions": {"type": "spawnChild",
                          "params": {"src": "grandchild", "id": "gg", "systemId": "grand"}}},
    "G_UP": {"actions": ["trail", _send_parent("C_UP")]},
    "*": {"actions": "trail"}}}}}  # fmt: skip

CASES += [
    Case(
        "sendTo in the entry and exit of the invoking state, reentered and left",
        [("greeter", _GREETER), ("at_once", _AT_ONCE), ("host", {
            "id": "host", "initial": "s", "context": {"trail": []},
            "states": {
                "s": {"entry": _send_to("k", "PING"), "exit": _send_to("k", "BYE"),
                      "invoke": {"id": "k", "src": "greeter",
                                 "onDone": {"target": "u", "actions": "keepOutput"}},
                      "on": {"HELLO": {"actions": "trail"}, "PONG": {"actions": "trail"},
                             "GO": "t", "RE": {"target": "s", "reenter": True}, "SAME": "s",
                             "POKE": {"actions": _send_to("k", "PING")}}},
                "t": {"invoke": {"id": "q", "src": "at_once",
                                 "onDone": {"target": "u", "actions": "keepOutput"}},
                      "on": {"BACK": "s"}},
                "u": {"on": {"BACK": "s"}},
            },
        })],
        [("", {"type": t}) for t in ("RE", "SAME", "POKE", "GO", "BACK", "RE", "GO", "BACK")]
        + [("k", {"type": "PING"}), ("", {"type": "POKE"})],
    ),
    Case(
        "siblings in parallel regions talk by systemId",
        [("pinger", _PINGER), ("ponger", _PONGER), ("host", {
            "id": "host", "type": "parallel", "context": {"trail": []},
            "states": {
                "l": {"initial": "x", "states": {
                    "x": {"invoke": {"id": "A", "src": "pinger", "systemId": "ay"},
                          "on": {"LEAVE": "y"}},
                    "y": {}}},
                "r": {"initial": "x", "states": {
                    "x": {"invoke": {"id": "B", "src": "ponger", "systemId": "bee"},
                          "on": {"LEAVE": "y", "B_DONE": {"actions": "trail"}}},
                    "y": {"on": {"B_DONE": {"actions": "trail"}}}}},
            },
            "on": {"B_DONE": {"actions": "trail"}, "KICK": {"actions": _send_to("A", "GO")},
                   "BOTH": {"actions": [_send_to("A", "GO"), _send_to("B", "PING")]}},
        })],
        [("", {"type": "KICK"}), ("A", {"type": "GO"}), ("", {"type": "BOTH"}),
         ("", {"type": "LEAVE"}), ("", {"type": "KICK"})],
        restore_after=2,
    ),
    Case(
        "a spawned grandchild greets up two levels and is reached by its systemId",
        [("grandchild", _GRANDCHILD), ("middle", _MIDDLE), ("host", {
            "id": "host", "initial": "s", "context": {"trail": []},
            "states": {
                "s": {"invoke": {"id": "c", "src": "middle"},
                      "on": {"C_UP": {"actions": "trail"}, "DOWN": {"actions": _send_to("c", "SPAWN")},
                             "DIRECT": {"actions": _send_to("grand", "HI", by="systemId")},
                             "OUT": "t"}},
                "t": {"on": {"IN": "s"}},
            },
        })],
        [("", {"type": t}) for t in ("DOWN", "DIRECT")] + [("c/gg", {"type": "X"})]
        + [("", {"type": t}) for t in ("OUT", "IN", "DOWN", "DIRECT")],
        restore_after=3,
    ),
]


WRITTEN = [c for c in CASES if c.expected is not None]


@pytest.mark.parametrize("case", WRITTEN, ids=[c.name for c in WRITTEN])
def test_orderflow_gives_xstates_answer_with_actors(case: Case) -> None:
    assert run_orderflow(case) == {"steps": case.expected}


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_parents_with_children_agree_with_xstate(xstate: NodeRunner, case: Case) -> None:
    assert run_orderflow(case) == xstate.run(case.to_json())


# -- random parents with random children --------------------------------------------------------------


def _transitions_of(state: dict[str, Any]) -> list[dict[str, Any]]:
    """The state's event transitions as objects (strings and lists written out in place)."""
    found: list[dict[str, Any]] = []
    on = state.get("on") or {}
    for descriptor, value in list(on.items()):
        items = value if isinstance(value, list) else [value]
        items = [{"target": t} if isinstance(t, str) else t for t in items]
        items = [t for t in items if isinstance(t, dict)]
        on[descriptor] = items
        found.extend(items)
    return found


def _states_of(config: dict[str, Any]) -> list[dict[str, Any]]:
    found = []
    for child in (config.get("states") or {}).values():
        if child.get("type") != "history":
            found.append(child)
            found.extend(_states_of(child))
    return found


def _add_action(transition: dict[str, Any], action: Any) -> None:
    actions = transition.get("actions")
    listed = [] if actions is None else actions if isinstance(actions, list) else [actions]
    transition["actions"] = [*listed, action]


@st.composite
def actor_cases(draw: st.DrawFn) -> Case:
    """A random child chart that sends its parent events, and a random parent that invokes it,
    spawns and stops it, and sends it events; events to the parent and to its children."""
    chart = {"history": False}  # deep history across regions is a known, separate disagreement
    child = draw(machine_configs(max_depth=2, **chart), label="child")
    parent = draw(machine_configs(max_depth=2, **chart), label="parent")
    child["context"], parent["context"] = {"trail": []}, {"trail": []}
    child_events = list(config_alphabet(child)) or ["A"]
    parent_events = list(config_alphabet(parent)) or ["A"]
    rnd = draw(st.randoms(use_true_random=False), label="decorations")
    for transition in (t for s in [child, *_states_of(child)] for t in _transitions_of(s)):
        if rnd.random() < 0.4:
            event = rnd.choice([*parent_events, "PING"])
            _add_action(transition, {"type": "sendParent", "params": {"event": {"type": event}}})
        if rnd.random() < 0.3:
            _add_action(transition, "trail")
    ids: list[str] = []
    # XState's restored child greets its parent with a snapshot on start ("not correct when
    # rehydrating", says its source): onSnapshot and a restore are drawn apart
    restore = draw(st.one_of(st.none(), st.integers(1, 8)), label="restore after")
    watch = 0.0 if restore is not None else 0.2
    for index, state in enumerate(_states_of(parent)):
        if state.get("type") != "final" and rnd.random() < 0.35:
            ident = f"c{index}"
            ids.append(ident)
            state["invoke"] = {"id": ident, "src": "kid",
                               "onDone": {"actions": ["trail"]},
                               **({"onSnapshot": {"actions": "trail"}} if rnd.random() < watch else {})}  # fmt: skip
    ids.append("s")
    for transition in (t for s in [parent, *_states_of(parent)] for t in _transitions_of(s)):
        roll = rnd.random()
        if roll < 0.3:
            to = rnd.choice(ids)
            event = rnd.choice(child_events)
            _add_action(
                transition, {"type": "sendTo", "params": {"to": to, "event": {"type": event}}}
            )
        elif roll < 0.4:
            _add_action(transition, {"type": "spawnChild", "params": {"src": "kid", "id": "s"}})
        elif roll < 0.45:
            _add_action(transition, {"type": "stopChild", "params": {"id": "s"}})
        if rnd.random() < 0.3:
            _add_action(transition, "trail")
    parent.setdefault("on", {})["PING"] = {"actions": "trail"}
    count = draw(st.integers(0, 8), label="events")
    events: list[tuple[str, dict[str, Any]]] = []
    for _ in range(count):
        if rnd.random() < 0.5:
            events.append(("", {"type": rnd.choice(parent_events)}))
        else:
            events.append((rnd.choice(ids), {"type": rnd.choice(child_events)}))
    return Case("random", [("kid", child), ("host", parent)], events, restore)


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(case=actor_cases())
def test_random_parents_and_children_agree_with_xstate(xstate: NodeRunner, case: Case) -> None:
    assert _comparable(run_orderflow(case)) == _comparable(xstate.run(case.to_json()))


def _comparable(result: dict[str, Any]) -> dict[str, Any]:
    """A result with the value and context of failed steps left out: XState keeps what the
    failing step had done so far, orderflow the snapshot before it (never half a step)."""
    if "steps" not in result:
        return result
    return {"steps": [
        {"status": "error"} if step["status"] == "error" else step for step in result["steps"]
    ]}  # fmt: skip
