"""Graphviz DOT read back (clusters, nodes, edges), then fed to the real ``dot`` when installed."""

from __future__ import annotations

import shutil
import subprocess
import warnings
from collections import Counter
from typing import Any

import pytest
from diagram_reading import read_dot
from export_support import SHIPPED, shipped, started
from hypothesis import HealthCheck, assume, given, settings

import orderflow
from orderflow.chart import Machine, Snapshot
from orderflow.errors import ExportError, OrderflowError, RendererNotFoundError
from orderflow.export import build_diagram, export, to_dot, to_svg
from orderflow.export.dot import anchor_id
from orderflow.testing import machine_configs

RANDOM = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
DOT = shutil.which("dot")
needs_dot = pytest.mark.skipif(
    DOT is None, reason="Graphviz's dot is not installed (apt-get install -y graphviz)"
)


def _machine(config: dict[str, Any]) -> Machine:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return orderflow.create_machine(config)


def check_dot_structure(machine: Machine, snapshot: Snapshot | None = None) -> None:
    diagram = build_diagram(machine, snapshot)
    doc = read_dot(to_dot(machine, highlight=snapshot))
    states = {s.id: s for s in diagram.states()}
    composites = {s.id for s in diagram.states() if s.is_composite}
    assert set(doc.clusters) == composites
    atomic = {s.id for s in diagram.states() if not s.is_composite}
    anchors = {anchor_id(states[c]) for c in composites}
    assert set(doc.nodes) == atomic | anchors
    assert all(count == 1 for count in doc.node_count.values())
    for state in diagram.states():  # nesting: each state inside its parent's cluster
        where = doc.clusters[state.id] if state.is_composite else doc.nodes[state.id][0]
        assert where == state.parent
    for composite in composites:
        assert doc.nodes[anchor_id(states[composite])][0] == composite

    def node(state_id: str) -> str:
        return anchor_id(states[state_id]) if state_id in composites else state_id

    expected = Counter(
        (node(t.source), node(target), t.label)
        for t in diagram.transitions
        for target in t.targets or (t.source,)
    )
    drawn = Counter(
        (src, dst, attrs["label"])
        for src, dst, attrs in doc.edges
        if attrs["class"] == "transition"
    )
    assert drawn == expected
    initial = [(s, d) for s, d, a in doc.edges if a["class"] == "initial"]
    assert len(initial) == sum(1 for s in diagram.states() if s.kind == "compound")

    active = {s.id for s in diagram.states() if s.active}
    marked = {i for i, (_, attrs) in doc.nodes.items() if "active" in attrs["class"].split()}
    marked |= {c for c, attrs in doc.cluster_attrs.items() if "active" in attrs["class"].split()}
    assert marked == active


@pytest.mark.parametrize("name", SHIPPED)
def test_a_shipped_machine_is_one_cluster_per_composite_and_one_edge_per_transition(
    name: str,
) -> None:
    check_dot_structure(shipped(name))


@RANDOM
@given(machine_configs(max_depth=4))
def test_a_random_machine_is_one_cluster_per_composite_and_one_edge_per_transition(
    config: dict[str, Any],
) -> None:
    machine = _machine(config)
    check_dot_structure(machine, started(machine))


@needs_dot
@pytest.mark.parametrize("name", SHIPPED)
def test_the_real_dot_lays_out_a_shipped_machine(name: str) -> None:
    assert DOT is not None
    result = subprocess.run(
        [DOT, "-Tsvg"], input=to_dot(shipped(name)), capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert "Warning" not in result.stderr, result.stderr
    assert result.stdout.lstrip().startswith("<?xml")


@needs_dot
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(machine_configs(max_depth=4))
def test_the_real_dot_lays_out_a_random_machine(config: dict[str, Any]) -> None:
    assert DOT is not None
    machine = _machine(config)
    snapshot = started(machine)
    assume(snapshot is not None)
    result = subprocess.run(
        [DOT, "-Tsvg"],
        input=to_dot(machine, highlight=snapshot),
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert not result.stderr, result.stderr
    assert "<svg" in result.stdout


@needs_dot
def test_svg_highlights_the_active_state() -> None:
    machine = orderflow.create_machine(
        {"id": "m", "initial": "a", "states": {"a": {"on": {"GO": "b"}}, "b": {}}}
    )
    snapshot, _ = machine.transition(machine.initial_transition()[0], "GO")
    svg = export(machine, "svg", highlight=snapshot)
    assert svg.count('class="node state atomic active"') == 1


def test_svg_without_dot_says_how_to_get_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda program: None)
    machine = orderflow.create_machine({"id": "m", "initial": "a", "states": {"a": {}}})
    with pytest.raises(RendererNotFoundError) as caught:
        to_svg(machine)
    assert isinstance(caught.value, ExportError) and isinstance(caught.value, OrderflowError)
    assert caught.value.program == "dot"
    assert "install Graphviz" in str(caught.value)


def test_an_unknown_format_is_a_clear_error() -> None:
    machine = orderflow.create_machine({"id": "m", "initial": "a", "states": {"a": {}}})
    with pytest.raises(ExportError, match="choose one of mermaid, dot, svg, xstate"):
        export(machine, "png")
