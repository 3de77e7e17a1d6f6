"""Graphviz DOT (and SVG through the ``dot`` program) from the neutral diagram model.

Compound and parallel states are clusters (a parallel state's regions are
dashed clusters inside it).  Graphviz cannot aim an edge at a cluster, so
every composite state has an anchor node inside it (the black initial dot of
a compound state, an invisible point in a parallel one) and an edge to or
from the state is drawn to its anchor with ``lhead`` / ``ltail`` clipping it
at the cluster's border.  Every transition edge has ``class="transition"``;
initial arrows and history defaults have their own classes, so tools (and
the tests) can tell them apart.
"""

from __future__ import annotations

import shutil
import subprocess

from orderflow.errors import ExportError, RendererNotFoundError
from orderflow.export.model import Diagram, DiagramState

ACTIVE_FILL = "#ffe08a"
ACTIVE_PEN = "#b8860b"
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
    states = {s.id: s for s in diagram.states()}
    _cluster(diagram.root, states, lines, 1)
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
            lines.append(
                f"{_INDENT}{_quote(_node(tail))} -> {_quote(_node(head))} [{', '.join(attrs)}];"
            )
    lines.append("}")
    return "\n".join(lines) + "\n"


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
        f"label={_quote(state.key)}",
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


def _node_attrs(state: DiagramState) -> str:
    label = state.key
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
