"""Mermaid output, read back: nesting, regions, one declaration per state, one edge per transition."""

from __future__ import annotations

import warnings
from collections import Counter
from typing import Any

import pytest
from diagram_reading import MermaidDoc, read_mermaid
from export_support import SHIPPED, shipped, started
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import orderflow
from orderflow.chart import Machine, Snapshot
from orderflow.errors import InfiniteLoopError
from orderflow.export import build_diagram, to_mermaid
from orderflow.export.mermaid import LOOP_SEPARATOR, mermaid_ids
from orderflow.testing import event_sequences, machine_configs

RANDOM = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _machine(config: dict[str, Any]) -> Machine:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return orderflow.create_machine(config)


def check_mermaid_structure(machine: Machine, snapshot: Snapshot | None = None) -> MermaidDoc:
    """Every structural promise of the Mermaid output, checked on the text read back."""
    diagram = build_diagram(machine, snapshot)
    names = mermaid_ids(diagram)
    doc = read_mermaid(to_mermaid(machine, highlight=snapshot))
    states = {s.id: s for s in diagram.states()}
    root_drawn = names[diagram.root.id] in doc.declared

    # every state declared exactly once, inside its parent's block
    expected = {names[s.id] for s in diagram.states() if root_drawn or s.parent is not None}
    assert set(doc.declared) == expected
    assert all(count == 1 for count in doc.declared.values())
    for state in diagram.states():
        if state.parent is None or names[state.id] not in doc.placed:
            continue
        block, section = doc.placed[names[state.id]]
        parent = states[state.parent]
        if parent.id == diagram.root.id and not root_drawn:
            assert block is None
        else:
            assert block == names[parent.id]
        if parent.kind == "parallel":  # one region per section, in order
            assert section == parent.children.index(state)
            assert doc.blocks[names[parent.id]] == len(parent.children)
        else:
            assert section == 0
        if state.is_composite:
            assert names[state.id] in doc.blocks

    # every transition exactly once per target, in a block that holds both ends
    expected_edges = Counter(
        (names[t.source], names[target], t.label)
        for t in diagram.transitions
        for target in t.targets or (t.source,)
    )
    drawn: Counter[tuple[str, str, str]] = Counter()
    for _, _, src, dst, text in doc.edges:
        if "[*]" in (src, dst) or _is_history_default(src, dst, diagram, names):
            continue
        for label in text.split(LOOP_SEPARATOR) if src == dst else [text]:
            drawn[(src, dst, _unescape(label))] += 1
    assert drawn == expected_edges
    # Mermaid moves a state into the block an edge naming it is written in, so an edge is
    # written inside a block only when both its ends are children of that block; one loop a state
    loops = Counter(src for _, _, src, dst, _ in doc.edges if src == dst)
    assert all(count == 1 for count in loops.values())
    for block, _, src, dst, _ in doc.edges:
        if block is None:
            continue
        assert doc.blocks[block] == 1, f"edge {src} --> {dst} written inside parallel {block}"
        for end in (src, dst):
            if end != "[*]":
                assert doc.placed[end][0] == block, f"{src} --> {dst} in {block}, moves {end}"

    # initial arrows and final markers
    for state in diagram.states():
        if state.kind == "compound" and state.initial is not None:
            assert any(
                src == "[*]" and dst == names[state.initial] for _, _, src, dst, _ in doc.edges
            )
        if state.kind == "final":
            assert any(src == names[state.id] and dst == "[*]" for _, _, src, dst, _ in doc.edges)

    # highlighted: exactly the active states, composites with their own style
    active = {names[s.id] for s in diagram.states() if s.active and not s.is_composite}
    active_composite = {names[s.id] for s in diagram.states() if s.active and s.is_composite}
    assert doc.classes.get("active", set()) == active
    assert doc.classes.get("activeComposite", set()) == active_composite
    return doc


def _unescape(label: str) -> str:
    for code, char in (("#35;", "#"), ("#59;", ";"), ("#quot;", '"'), ("#123;", "{"),
                       ("#125;", "}"), ("#lt;", "<"), ("#gt;", ">")):  # fmt: skip
        label = label.replace(code, char)
    return label


def _is_history_default(src: str, dst: str, diagram: Any, names: dict[str, str]) -> bool:
    return any(
        names[s.id] == src and any(names[t] == dst for t in s.history_default)
        for s in diagram.states()
        if s.kind == "history"
    )


@pytest.mark.parametrize("name", SHIPPED)
def test_a_shipped_machine_draws_every_state_and_transition_once(name: str) -> None:
    check_mermaid_structure(shipped(name))


@RANDOM
@given(machine_configs(max_depth=4))
def test_a_random_machine_draws_every_state_and_transition_once(config: dict[str, Any]) -> None:
    check_mermaid_structure(_machine(config))


@RANDOM
@given(st.data())
def test_a_random_snapshot_is_highlighted(data: st.DataObject) -> None:
    config = data.draw(machine_configs(max_depth=3))
    machine = _machine(config)
    start = started(machine)
    assume(start is not None)
    assert start is not None
    snapshot = start
    for event in data.draw(event_sequences(config, max_size=5)):
        if snapshot.status != "active":
            break
        try:
            snapshot, _ = machine.transition(snapshot, event)
        except InfiniteLoopError:  # a wildcard caught the machine's own done event (see started)
            break  # the last settled snapshot is still one to draw
    doc = check_mermaid_structure(machine, snapshot)
    assert doc.classes.get("active")  # some atomic state is always active


def test_parallel_regions_are_separated_and_cross_region_edges_stay_outside() -> None:
    machine = orderflow.create_machine(
        {
            "id": "m",
            "initial": "p",
            "states": {
                "p": {
                    "type": "parallel",
                    "states": {
                        "r1": {
                            "initial": "a",
                            "states": {"a": {"on": {"GO": "#m.p.r2.d"}}, "b": {}},
                        },
                        "r2": {
                            "initial": "c",
                            "states": {"c": {}, "d": {"on": {"OUT": "#m.done"}}},
                        },
                    },
                },
                "done": {"type": "final"},
            },
        }
    )
    text = to_mermaid(machine)
    doc = read_mermaid(text)
    assert doc.blocks["m_p"] == 2
    assert doc.placed["m_p_r1"] == ("m_p", 0)
    assert doc.placed["m_p_r2"] == ("m_p", 1)
    edges = {(src, dst): block for block, _, src, dst, _ in doc.edges}
    assert edges[("m_p_r1_a", "m_p_r2_d")] is None  # the top: p is parallel
    assert edges[("m_p_r2_d", "m_done")] is None


def test_labels_are_escaped_for_mermaid() -> None:
    machine = orderflow.create_machine(
        {
            "id": "m",
            "initial": "a",
            "states": {
                "a": {
                    "on": {"GO": {"target": "b", "guard": {"type": "stateIn", "state": {"a": {}}}}}
                },
                "b": {"on": {"X#1;2": "a"}},
            },
        }
    )
    text = to_mermaid(machine)
    assert "X#35;1#59;2" in text
    assert "#123;" in text and "{" not in text.split("stateIn")[1].split("\n")[0]


def test_an_edge_into_a_nested_state_is_written_at_the_top() -> None:
    machine = _machine(
        {
            "id": "m",
            "initial": "outer",
            "states": {
                "outer": {
                    "initial": "a",
                    "states": {
                        "a": {"on": {"GO": "inner.b", "STAY": "c"}},
                        "inner": {"initial": "b", "states": {"b": {}}},
                        "c": {},
                    },
                },
            },
        }
    )
    doc = read_mermaid(to_mermaid(machine))
    edges = {(src, dst): block for block, _, src, dst, _ in doc.edges}
    assert edges[("m_outer_a", "m_outer_inner_b")] is None  # inside m_outer it would move b
    assert edges[("m_outer_a", "m_outer_c")] == "m_outer"  # siblings stay in their block
    assert doc.placed["m_outer_inner_b"] == ("m_outer_inner", 0)


def test_a_state_named_like_a_start_marker_gets_another_name() -> None:
    machine = _machine(
        {
            "id": "order",
            "initial": "start",
            "states": {"start": {"on": {"GO": "end"}}, "end": {"type": "final"}},
        }
    )
    names = mermaid_ids(build_diagram(machine))
    # Mermaid calls the [*] nodes of the block "order" order_start and order_end
    assert names["order.start"] == "order_start_"
    assert names["order.end"] == "order_end_"
    check_mermaid_structure(machine)
