"""Invoked actors in the diagrams: named in their state, child machines' charts beside the parent's.

The machines are defined here: a parent that invokes a child machine (which
invokes a grandchild) and a function actor.  The structure is read back from
the text; ``test_mermaid_rendering.py`` and the ``dot`` test below check that the
real renderers draw it.
"""

from __future__ import annotations

import shutil
import subprocess
import warnings
from typing import Any

import pytest
from diagram_reading import read_dot, read_mermaid
from hypothesis import HealthCheck, given, settings

import orderflow
from orderflow.chart import Machine
from orderflow.export import build_diagram, to_dot, to_mermaid
from orderflow.export.dot import actor_cluster_name, anchor_id
from orderflow.testing import machine_configs

GRANDCHILD = {
    "id": "pinger",
    "initial": "waiting",
    "states": {"waiting": {"on": {"PING": "pinged"}}, "pinged": {"type": "final"}},
}
CHILD = {
    "id": "fetcher",
    "initial": "working",
    "states": {
        "working": {
            "invoke": {"id": "ping", "src": "pinger"},
            "on": {"FINISH": "done"},
        },
        "done": {"type": "final", "output": {"ok": True}},
    },
}
PARENT = {
    "id": "shop",
    "initial": "idle",
    "states": {
        "idle": {"on": {"GO": "loading"}},
        "loading": {
            "invoke": [
                {"id": "fetch", "src": "fetcher", "onDone": "ready", "onError": "failed"},
                {"id": "notify", "src": "send_mail", "input": {"to": "ops"}},
            ],
        },
        "ready": {"type": "final"},
        "failed": {"on": {"RETRY": "loading"}},
    },
}


def send_mail(input: Any) -> str:
    return "sent"


def parent_machine() -> Machine:
    grandchild = orderflow.create_machine(GRANDCHILD)
    child = orderflow.setup(actors={"pinger": grandchild}).create_machine(CHILD)
    return orderflow.setup(actors={"fetcher": child, "send_mail": send_mail}).create_machine(PARENT)


def test_an_invoking_state_names_its_actors_and_onDone_onError_are_labelled_as_such() -> None:
    diagram = build_diagram(parent_machine())
    loading = diagram.state("shop.loading")
    assert [i.label for i in loading.invocations] == ["fetch: fetcher", "notify: send_mail"]
    labels = {t.label: t.kind for t in diagram.transitions}
    assert labels["onDone (fetch)"] == "actor"
    assert labels["onError (fetch)"] == "actor"
    dot = read_dot(to_dot(parent_machine()))
    assert dot.nodes["shop.loading"][1]["label"] == (
        "loading\\ninvoke fetch: fetcher\\ninvoke notify: send_mail"
    )
    mermaid = read_mermaid(to_mermaid(parent_machine()))
    assert mermaid.labels["shop_loading"] == (
        "loading<br/>invoke fetch: fetcher<br/>invoke notify: send_mail"
    )
    assert {label for *_, label in mermaid.edges} >= {"onDone (fetch)", "onError (fetch)"}


def test_a_child_machine_is_drawn_once_in_its_own_dot_cluster_with_an_invoke_edge() -> None:
    diagram = build_diagram(parent_machine())
    fetch = diagram.state("shop.loading").invocations[0]
    assert fetch.machine is not None and fetch.machine.machine_id == "fetcher"
    assert diagram.state("shop.loading").invocations[1].machine is None  # a function actor
    doc = read_dot(to_dot(parent_machine()))
    actor = actor_cluster_name(diagram.state("shop.loading"), fetch).removeprefix("cluster_")
    assert doc.clusters[actor] is None  # beside the parent's chart, not inside a state
    assert doc.cluster_attrs[actor]["label"] == "actor fetch: fetcher"
    prefix = "shop.loading/fetch/"
    assert doc.clusters[prefix + "fetcher"] == actor
    assert doc.nodes[prefix + "fetcher.working"][0] == prefix + "fetcher"
    # the grandchild, invoked by the child's state, in a cluster of its own in the child's
    grand = f"actor:{prefix}fetcher.working/ping"
    assert doc.clusters[grand] == actor
    assert doc.nodes[f"{prefix}fetcher.working/ping/pinger.pinged"][0] == (
        f"{prefix}fetcher.working/ping/pinger"
    )
    invokes = [(s, d, a) for s, d, a in doc.edges if a["class"] == "invoke"]
    assert {(s, a["lhead"]) for s, _, a in invokes} == {
        ("shop.loading", f"cluster_{actor}"),
        (f"{prefix}fetcher.working", f"cluster_{grand}"),
    }
    transitions = {(s, d, a["label"]) for s, d, a in doc.edges if a["class"] == "transition"}
    assert (f"{prefix}fetcher.working", f"{prefix}fetcher.done", "FINISH") in transitions
    assert ("shop.loading", "shop.ready", "onDone (fetch)") in transitions


def test_a_running_child_is_highlighted_in_its_chart() -> None:
    machine = parent_machine()
    snapshot, _ = machine.initial_transition()
    snapshot, _ = machine.transition(snapshot, "GO")
    snapshot, _ = machine.transition(snapshot, "FINISH", to="fetch")
    assert snapshot.value == "ready"
    doc = read_dot(to_dot(machine, highlight=snapshot))
    assert "active" not in doc.nodes["shop.loading/fetch/fetcher.done"][1]["class"]  # gone

    snapshot, _ = machine.initial_transition()
    snapshot, _ = machine.transition(snapshot, "GO")
    doc = read_dot(to_dot(machine, highlight=snapshot))
    active = {n for n, (_, attrs) in doc.nodes.items() if "active" in attrs["class"].split()}
    assert active == {
        "shop.loading",
        "shop.loading/fetch/fetcher.working",
        "shop.loading/fetch/fetcher.working/ping/pinger.waiting",
    }
    mermaid = read_mermaid(to_mermaid(machine, highlight=snapshot))
    assert mermaid.classes["active"] == {
        "shop_loading",
        "shop_loading_fetch_fetcher_working",
        "shop_loading_fetch_fetcher_working_ping_pinger_waiting",
    }


def test_child_charts_can_be_left_out() -> None:
    machine = parent_machine()
    diagram = build_diagram(machine, child_charts=False)
    assert all(i.machine is None for s in diagram.states() for i in s.invocations)
    assert diagram.state("shop.loading").invocations[0].label == "fetch: fetcher"
    doc = read_dot(to_dot(machine, child_charts=False))
    assert set(doc.clusters) == {"shop"}
    assert not [a for *_, a in doc.edges if a["class"] == "invoke"]
    assert "actor" not in read_mermaid(to_mermaid(machine, child_charts=False)).classes


def test_a_child_machine_chart_is_a_mermaid_block_beside_the_chart_that_invokes_it() -> None:
    doc = read_mermaid(to_mermaid(parent_machine()))
    assert doc.placed["shop_loading_fetch_actor"] == (None, 0)
    assert doc.labels["shop_loading_fetch_actor"] == "actor fetch: fetcher"
    assert doc.placed["shop_loading_fetch_fetcher_working"] == ("shop_loading_fetch_actor", 0)
    grand = "shop_loading_fetch_fetcher_working_ping_actor"
    assert doc.placed[grand] == ("shop_loading_fetch_actor", 0)
    assert doc.placed["shop_loading_fetch_fetcher_working_ping_pinger_pinged"] == (grand, 0)
    assert doc.classes["actor"] == {"shop_loading_fetch_actor", grand}
    assert all(count == 1 for count in doc.declared.values())


def test_child_state_names_never_meet_the_parents() -> None:
    """A parent state named like a child's prefixed state keeps its name; the child's moves."""
    child = orderflow.create_machine({"id": "c", "initial": "x", "states": {"x": {}}})
    parent = orderflow.setup(actors={"kid": child}).create_machine(
        {
            "id": "p",
            "initial": "a",
            "states": {
                "a": {"invoke": {"id": "k", "src": "kid"}, "on": {"N": "a_k_c_x"}},
                "a_k_c_x": {},  # what the child's state x would be called
            },
        }
    )
    doc = read_mermaid(to_mermaid(parent))
    assert doc.placed["p_a_k_c_x"] == (None, 0)
    assert doc.placed["p_a_k_c_x_2"] == ("p_a_k_actor", 0)


def wrapper(child: Machine) -> Machine:
    return orderflow.setup(actors={"child": child}).create_machine(
        {
            "id": "p",
            "initial": "run",
            "states": {
                "run": {"invoke": {"id": "c", "src": "child", "onDone": "end"}},
                "end": {"type": "final"},
            },
        }
    )


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(machine_configs(max_depth=3))
def test_every_state_of_a_random_child_is_drawn_once_inside_its_actor_cluster(
    config: dict[str, Any],
) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        child = orderflow.create_machine(config)
    parent = wrapper(child)
    doc = read_dot(to_dot(parent))
    assert all(count == 1 for count in doc.node_count.values())
    child_diagram = build_diagram(child)
    for state in child_diagram.states():
        drawn = f"p.run/c/{state.id}"
        if state.is_composite:
            assert f"p.run/c/{anchor_id(state)}" in doc.nodes
            outer = doc.clusters[drawn]
        else:
            outer = doc.nodes[drawn][0]
        assert outer == ("actor:p.run/c" if state.parent is None else f"p.run/c/{state.parent}")
    drawn_transitions = [a for *_, a in doc.edges if a["class"] == "transition"]
    expected = sum(len(t.targets) or 1 for t in child_diagram.transitions) + 1  # + onDone
    assert len(drawn_transitions) == expected


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed")
def test_graphviz_lays_out_a_parent_with_its_children() -> None:
    result = subprocess.run(
        ["dot", "-Tsvg"], input=to_dot(parent_machine()), capture_output=True, text=True,
        timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""  # no warning about an lhead/ltail it could not honour
    assert "actor fetch: fetcher" in result.stdout
