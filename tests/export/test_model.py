"""The neutral diagram model: one state per node, one transition per compiled transition."""

from __future__ import annotations

import warnings
from typing import Any

import pytest
from export_support import SHIPPED, shipped
from hypothesis import HealthCheck, given, settings

import orderflow
from orderflow.chart import Machine
from orderflow.export import build_diagram
from orderflow.testing import machine_configs

RANDOM = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _machine(config: dict[str, Any]) -> Machine:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return orderflow.create_machine(config)


def _check(machine: Machine) -> None:
    diagram = build_diagram(machine)
    assert [s.id for s in diagram.states()] == [n.id for n in machine.nodes]
    assert len(diagram.transitions) == len(machine.transitions())
    ids = {s.id for s in diagram.states()}
    for t in diagram.transitions:
        assert {t.source, *t.targets} <= ids


@pytest.mark.parametrize("name", SHIPPED)
def test_the_diagram_of_a_shipped_machine_has_every_state_and_transition(name: str) -> None:
    _check(shipped(name))


@RANDOM
@given(machine_configs(max_depth=4))
def test_the_diagram_of_a_random_machine_has_every_state_and_transition(
    config: dict[str, Any],
) -> None:
    _check(_machine(config))


def test_labels_name_the_event_guard_and_actions() -> None:
    machine = orderflow.create_machine(
        {
            "id": "m",
            "initial": "a",
            "states": {
                "a": {
                    "on": {
                        "GO": {"target": "b", "guard": "ready", "actions": ["log_it", "notify"]}
                    },
                    "after": {"1000": "b"},
                    "always": {"guard": {"type": "not", "guards": ["ready"]}, "target": "b"},
                },
                "b": {"type": "final"},
            },
        }
    )
    labels = {t.kind: t.label for t in build_diagram(machine).transitions}
    assert labels == {
        "event": "GO [ready] / log_it, notify",
        "after": "after 1000ms",
        "always": "always [!(ready)]",
    }


def test_highlight_marks_exactly_the_active_states() -> None:
    machine = orderflow.create_machine(
        {
            "id": "m",
            "type": "parallel",
            "states": {
                "left": {"initial": "x", "states": {"x": {}, "y": {}}},
                "right": {"initial": "u", "states": {"u": {"on": {"GO": "v"}}, "v": {}}},
            },
        }
    )
    snapshot, _ = machine.initial_transition()
    snapshot, _ = machine.transition(snapshot, "GO")
    active = {s.id for s in build_diagram(machine, snapshot).states() if s.active}
    assert active == {"m", "m.left", "m.left.x", "m.right", "m.right.v"}
