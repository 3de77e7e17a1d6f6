"""One algorithm, two conventions: a config compiled under SCXML's rules behaves as SCXML says."""

from __future__ import annotations

from typing import Any

import pytest

import orderflow
from orderflow.chart.conventions import SCXML
from orderflow.chart.nodes import matches_scxml_descriptor
from orderflow.errors import DefinitionError


def _scxml(config: dict[str, Any]) -> orderflow.Machine:
    return orderflow.setup().create_machine(config, conventions=SCXML)


PARALLEL = {
    "id": "m",
    "initial": "p",
    "states": {
        "p": {
            "type": "parallel",
            "states": {
                "r1": {"initial": "a", "states": {"a": {"on": {"GO": "#m.p.r2.y"}}}},
                "r2": {"initial": "x", "states": {"x": {}, "y": {}}},
            },
            "entry": ["entered"],
        }
    },
}


@pytest.mark.parametrize(
    ("descriptor", "event", "matches"),
    [
        ("error", "error.execution", True),
        ("error", "errors", False),
        ("error.*", "error.execution", True),
        ("error.", "error.execution", True),
        ("a b", "b.c", True),
        ("*", "anything", True),
        ("done.invoke", "done.invoke.s0.1", True),
        ("done.invoke.s1", "done.invoke.s0", False),
    ],
)
def test_scxml_descriptors_match_by_token_prefix(
    descriptor: str, event: str, matches: bool
) -> None:
    assert matches_scxml_descriptor(event, descriptor) is matches


def test_transitions_are_listed_in_document_order_with_their_event() -> None:
    machine = _scxml(
        {
            "id": "m",
            "initial": {"target": ["#s"]},
            "states": {
                "s": {
                    "id": "s",
                    "transitions": [
                        {"event": "*", "target": ["#any"]},
                        {"event": "go", "target": ["#go"]},
                    ],
                },
                "any": {"id": "any", "type": "final"},
                "go": {"id": "go", "type": "final"},
            },
        }
    )
    snapshot, _ = machine.initial_transition()
    assert machine.transition(snapshot, "go")[0].value == "any"


def test_scxml_done_events_are_done_state_and_carry_data() -> None:
    machine = _scxml(
        {
            "id": "m",
            "initial": {"target": ["#p"]},
            "states": {
                "p": {
                    "id": "p",
                    "initial": {"target": ["#f"]},
                    "states": {"f": {"id": "f", "type": "final", "output": {"n": 1}}},
                    "transitions": [{"event": "done.state.p", "target": ["#out"]}],
                },
                "out": {"id": "out"},
            },
        }
    )
    assert machine.initial_transition()[0].value == "out"


def test_an_xstate_machine_keeps_the_least_common_ancestor_as_domain() -> None:
    """The same chart under XState's rules does not leave the parallel state."""
    machine = orderflow.setup(actions={"entered": lambda *a: None}).create_machine(PARALLEL)
    snapshot, _ = machine.initial_transition()
    after, actions = machine.transition(snapshot, "GO")
    assert after.value == {"p": {"r1": "a", "r2": "y"}}
    assert [a.type for a in actions] == []


def test_a_json_machine_cannot_use_the_document_transition_list() -> None:
    with pytest.raises(DefinitionError, match="transitions"):
        orderflow.create_machine({"id": "m", "initial": "a", "states": {"a": {"transitions": []}}})
