"""Graphviz DOT (and SVG through the ``dot`` program) from the neutral diagram model.

Compound and parallel states are clusters (a parallel state's regions are
dashed clusters inside it).  Graphviz cannot aim an edge at a cluster, so
every composite state has an anchor node inside it (the black initial dot of
a compound state, an invisible point in a parallel one) and an edge to or
from the state is drawn to its anchor with ``lhead`` / ``ltail`` clipping it
at the cluster's border.  Every transition edge has ``class="transition"``;
initial arrows and history defaults have their own classes, so tools (and
the tests) can tell them apart.

A state that invokes actors names each (``invoke id: src``) under its key.  An
invoked child machine's own chart is a dashed ``class="actor"`` cluster beside
the chart that invokes it (a grandchild's inside its parent actor's cluster),
its state ids prefixed with ``<invoking state>/<invocation id>/``, and a dotted
``class="invoke"`` edge leads to it from the invoking state.  All
edges are written at the top of the graph: an edge written inside a cluster
would pull its ends into it.
"""

from __future__ import annotations

import shutil
import subprocess

from orderflow.errors import ExportError, RendererNotFoundError
from orderflow.export.model import Diagram, DiagramInvocation, DiagramState, renamed

ACTIVE_FILL = "#ffe08a"
ACTIVE_PEN = "#b8860b"
#: the outline of an invoked child machine's cluster and of the edge that invokes it
ACTOR_PEN = "#4a6fa5"
_INDENT = "  "


def render(diagram: Diagram) -> str:
    """The diagram as a Graphviz ``digraph``."""
    lines = [
        f"digraph {_quote(diagram.machine_id)} {{",
        f"{_INDENT}compound=true;",
        f"{_INDENT}newrank=true;",
        f'{_INDENT}node [shape=box, style="rounded,filled", fillcolor="white", fontname="Helvetica"];',
        f'{_INDENT}edge [fontname="Helvetica", fontsize=10];',
    ]
    edges: list[str] = []
    _draw(diagram, lines, edges, 1, {s.id for s in diagram.states()})
    # every edge at the top: an edge inside a cluster would pull its ends into that cluster
    lines.extend(edges)
    lines.append("}")
    return "\n".join(lines) + "\n"


def _draw(
    diagram: Diagram, lines: list[str], edges: list[str], depth: int, taken: set[str]
) -> None:
    """The diagram's clusters and nodes into ``lines``, its edges into ``edges``, then its actors."""
    states = {s.id: s for s in diagram.states()}
    _cluster(diagram.root, states, lines, depth)
    for t in diagram.transitions:
        label = _quote(t.label)
        for target in t.targets or (t.source,):
            attrs = [f"label={label}", 'class="transition"']
            tail, head = states[t.source], states[target]
            if tail.is_composite and not _inside(head, tail, states):
                attrs.append(f"ltail={_quote(_cluster_name(tail))}")
            if head.is_composite and not _inside(tail, head, states):
                attrs.append(f"lhead={_quote(_cluster_name(head))}")
            if t.kind in ("always", "after"):
                attrs.append('style="dashed"')
            edges.append(
                f"{_INDENT}{_quote(_node(tail))} -> {_quote(_node(head))} [{', '.join(attrs)}];"
            )
    for state in diagram.states():
        for invocation in state.invocations:
            if invocation.machine is not None:
                _actor(state, invocation, lines, edges, depth, taken)


def _actor(
    state: DiagramState,
    invocation: DiagramInvocation,
    lines: list[str],
    edges: list[str],
    depth: int,
    taken: set[str],
) -> None:
    """An invoked child machine's chart: a dashed cluster beside the chart, a dotted edge to it.

    Its state ids are prefixed with the invoking state's and the invocation's ids, so they
    cannot meet the parent's (nor another child's drawn from the same machine).
    """
    assert invocation.machine is not None
    prefix = f"{state.id}/{invocation.id}/"
    while any(i.startswith(prefix) for i in taken):
        prefix = f"{prefix}~/"
    child = renamed(invocation.machine, prefix)
    taken.update(s.id for s in child.states())
    pad, inner = _INDENT * depth, _INDENT * (depth + 1)
    cluster = actor_cluster_name(state, invocation)
    lines.append(f"{pad}subgraph {_quote(cluster)} {{")
    attrs = [
        f"label={_quote('actor ' + invocation.label)}",
        'style="dashed,rounded"',
        f'color="{ACTOR_PEN}"',
        'class="actor"',
    ]
    lines.extend(f"{inner}{a};" for a in attrs)
    _draw(child, lines, edges, depth + 1, taken)
    lines.append(f"{pad}}}")
    head = child.root
    attrs = [
        f"label={_quote('invokes')}",
        'class="invoke"',
        'style="dotted"',
        f'color="{ACTOR_PEN}"',
        f"lhead={_quote(cluster)}",
    ]
    if state.is_composite:
        attrs.append(f"ltail={_quote(_cluster_name(state))}")
    edges.append(f"{_INDENT}{_quote(_node(state))} -> {_quote(_node(head))} [{', '.join(attrs)}];")


def render_svg(diagram: Diagram, *, program: str = "dot") -> str:
    """The diagram as SVG, laid out by Graphviz's ``dot``; :class:`RendererNotFoundError` without it."""
    executable = shutil.which(program)
    if executable is None:
        raise RendererNotFoundError(
            program,
            "svg",
            "install Graphviz (apt-get install graphviz, brew install graphviz) "
            "or export 'dot' and render it elsewhere.",
        )
    result = subprocess.run(
        [executable, "-Tsvg"],
        input=render(diagram),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if result.returncode != 0:
        raise ExportError(
            f"Graphviz's {program} could not lay out machine '{diagram.machine_id}': "
            f"{result.stderr.strip() or f'exit status {result.returncode}'}",
            "svg",
        )
    return result.stdout


def anchor_id(state: DiagramState) -> str:
    """The node standing for a composite state inside its cluster."""
    return f"{state.id}.__anchor"


def _cluster_name(state: DiagramState) -> str:
    return f"cluster_{state.id}"


def actor_cluster_name(state: DiagramState, invocation: DiagramInvocation) -> str:
    """The cluster holding the chart of the child machine ``state`` invokes as ``invocation``."""
    return f"cluster_actor:{state.id}/{invocation.id}"


def _node(state: DiagramState) -> str:
    return anchor_id(state) if state.is_composite else state.id


def _inside(state: DiagramState, ancestor: DiagramState, states: dict[str, DiagramState]) -> bool:
    """Is ``state`` ``ancestor`` or drawn inside its cluster?"""
    current: DiagramState | None = state
    while current is not None:
        if current.id == ancestor.id:
            return True
        current = states[current.parent] if current.parent is not None else None
    return False


def _cluster(
    state: DiagramState, states: dict[str, DiagramState], lines: list[str], depth: int
) -> None:
    pad = _INDENT * depth
    if not state.is_composite:
        lines.append(f"{pad}{_quote(state.id)} [{_node_attrs(state)}];")
        return
    lines.append(f"{pad}subgraph {_quote(_cluster_name(state))} {{")
    inner = pad + _INDENT
    parent = states[state.parent] if state.parent is not None else None
    style = "dashed" if parent is not None and parent.kind == "parallel" else "rounded"
    attrs = [
        f"label={_quote(_title(state))}",
        f'style="{style}"',
        f'class="state {state.kind}{" active" if state.active else ""}"',
    ]
    if state.active:
        attrs += [f'color="{ACTIVE_PEN}"', "penwidth=3"]
    lines.extend(f"{inner}{a};" for a in attrs)
    anchor = _quote(anchor_id(state))
    if state.kind == "parallel":
        lines.append(
            f'{inner}{anchor} [shape=point, style="invis", width=0.01, label="", class="anchor"];'
        )
    else:
        lines.append(
            f'{inner}{anchor} [shape=point, style="filled", fillcolor="black", width=0.15, label="", class="anchor"];'
        )
    for child in state.children:
        _cluster(child, states, lines, depth + 1)
    if state.kind == "compound" and state.initial is not None:
        initial = states[state.initial]
        attrs = ['class="initial"']
        if initial.is_composite:
            attrs.append(f"lhead={_quote(_cluster_name(initial))}")
        if state.initial_actions:
            names = ", ".join(a.name for a in state.initial_actions)
            attrs.append(f"label={_quote('/ ' + names)}")
        lines.append(f"{inner}{anchor} -> {_quote(_node(initial))} [{', '.join(attrs)}];")
    for child in state.children:
        for target_id in child.history_default:
            target = states[target_id]
            attrs = ['class="history-default"', 'style="dotted"']
            if target.is_composite:
                attrs.append(f"lhead={_quote(_cluster_name(target))}")
            lines.append(
                f"{inner}{_quote(child.id)} -> {_quote(_node(target))} [{', '.join(attrs)}];"
            )
    lines.append(f"{pad}}}")


def _title(state: DiagramState) -> str:
    """The state's key, then a line per actor it invokes."""
    return "\n".join([state.key, *(f"invoke {i.label}" for i in state.invocations)])


def _node_attrs(state: DiagramState) -> str:
    label = _title(state)
    attrs = []
    if state.kind == "history":
        label = "H*" if state.history == "deep" else "H"
        attrs.append("shape=circle")
    if state.kind == "final":
        attrs.append("peripheries=2")
    classes = f"state {state.kind}" + (" active" if state.active else "")
    attrs += [f"label={_quote(label)}", f'class="{classes}"']
    if state.active:
        attrs += [f'fillcolor="{ACTIVE_FILL}"', f'color="{ACTIVE_PEN}"', "penwidth=3"]
    return ", ".join(attrs)


def _quote(text: str) -> str:
    """A DOT double-quoted string."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'
