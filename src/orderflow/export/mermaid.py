"""Mermaid ``stateDiagram-v2`` from the neutral diagram model.

Mermaid puts a state in the block where it was *last* named, and a
transition names both of its ends: an edge written inside a block pulls its
ends into that block, out of the composite state or parallel region they
were declared in (mermaid-js/mermaid#3700, #5290).  A composite state or
region emptied that way can no longer be drawn ("No such shape: divider" /
"roundedWithTitle"); one that keeps other children is drawn without the
state, silently.  A name at the top of the diagram moves nothing.  So:

- every state is declared once, in its parent's block; a parallel state's
  regions are separated by ``--``;
- a block's ``[*]`` arrows name only its children, so they are written in
  it; the initial one comes first, which makes Mermaid's ``[*]`` node the
  block's first child, the plain node Mermaid attaches the block's own edges
  to (otherwise it picks a node deep inside a nested composite state, and an
  edge between a composite state and its ancestor is lost or fails);
- an edge is written inside a block only when the block is the parent of
  both ends and is not parallel (a ``--`` section is a block of its own);
  every other edge is written at the top, after all the declarations.

Mermaid draws a single loop per state (a second one on the same state
replaces the first), so all the loops of a state, wherever their
transitions come from, are one edge with one label per line.  A state's
identifier never ends in ``_start`` or ``_end``: Mermaid names a block's
``[*]`` nodes ``<block>_start`` and ``<block>_end``.

``tests/export/test_mermaid_rendering.py`` renders shipped and random
machines with the real Mermaid and checks every edge and every state's box;
what Mermaid's layout still gets wrong is in ``docs/export.md``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from orderflow.export.model import Diagram, DiagramState

#: words Mermaid's state grammar reserves; a state id must not be one of them
_RESERVED = frozenset({
    "state", "note", "end", "direction", "class", "classdef", "style", "click",
    "as", "left", "right", "of", "over", "accdescr", "acctitle", "hide", "empty",
})  # fmt: skip
#: endings of the names Mermaid gives a block's ``[*]`` nodes
_MARKER_SUFFIXES = ("_start", "_end")
_INDENT = "    "
#: between the labels of the transitions a state's single drawn loop stands for
LOOP_SEPARATOR = "<br/>"
_ENTITIES = str.maketrans(
    {
        "#": "#35;",
        ";": "#59;",
        '"': "#quot;",
        "{": "#123;",
        "}": "#125;",
        "<": "#lt;",
        ">": "#gt;",
        "\n": " ",
    }
)

ACTIVE_STYLE = "fill:#ffe08a,stroke:#b8860b,stroke-width:3px,font-weight:bold"
ACTIVE_COMPOSITE_STYLE = "stroke:#b8860b,stroke-width:3px"
FINAL_STYLE = "stroke-width:3px"
HISTORY_STYLE = "fill:#ffffff,font-style:italic"


def render(diagram: Diagram) -> str:
    """The diagram as Mermaid ``stateDiagram-v2`` source."""
    return _Writer(diagram).write()


class _Writer:
    def __init__(self, diagram: Diagram) -> None:
        self.diagram = diagram
        self.names = mermaid_ids(diagram)
        self.states = {s.id: s for s in diagram.states()}
        #: edge lines by the block they are written in (``None``: the top)
        self.edges: dict[str | None, list[str]] = {}
        self.lines: list[str] = ["stateDiagram-v2"]
        self._place_edges()

    def write(self) -> str:
        root = self.diagram.root
        if _needs_own_block(self.diagram):
            self._declare(root, 1)
        else:
            self._body(root, 1)
        for line in self.edges.get(None, ()):
            self.emit(1, line)
        self._classes()
        return "\n".join(self.lines) + "\n"

    def emit(self, depth: int, text: str) -> None:
        self.lines.append(_INDENT * depth + text)

    def _place_edges(self) -> None:
        """Every edge line, in the block it can be written in without moving a state."""
        for state in self.diagram.states():
            for target in state.history_default:
                self._edge(state.id, target, "")
        # Mermaid draws only one loop per state, so a state's loops share one edge, a line each.
        loops: dict[str, list[str]] = {}
        for t in self.diagram.transitions:
            for target in t.targets or (t.source,):
                if target == t.source:
                    loops.setdefault(t.source, []).append(_text(t.label))
                else:
                    self._edge(t.source, target, _text(t.label))
        for state_id, labels in loops.items():
            label = LOOP_SEPARATOR.join(labels) if len(labels) > 1 or labels[0] else ""
            self._edge(state_id, state_id, label)

    def _edge(self, source: str, target: str, label: str) -> None:
        parent = self.states[source].parent
        block = None
        if parent is not None and parent == self.states[target].parent:
            block = parent if self.states[parent].kind != "parallel" else None
        suffix = f" : {label}" if label else ""
        self.edges.setdefault(block, []).append(
            f"{self.names[source]} --> {self.names[target]}{suffix}"
        )

    def _declare(self, state: DiagramState, depth: int) -> None:
        name = self.names[state.id]
        self.emit(depth, f'state "{_text(_title(state))}" as {name}')
        if state.is_composite:
            self.emit(depth, f"state {name} {{")
            self._body(state, depth + 1)
            self.emit(depth, "}")

    def _body(self, state: DiagramState, depth: int) -> None:
        """What goes inside a composite state's block: children, ``[*]`` arrows, edges it holds."""
        if state.kind == "parallel":
            for index, region in enumerate(state.children):
                if index:
                    self.emit(depth, "--")
                self._declare(region, depth)
            return
        if state.initial is not None:
            label = _actions_label(a.name for a in state.initial_actions)
            self.emit(depth, f"[*] --> {self.names[state.initial]}{label}")
        for child in state.children:
            self._declare(child, depth)
        for child in state.children:
            if child.kind == "final":
                self.emit(depth, f"{self.names[child.id]} --> [*]")
        for line in self.edges.get(state.id, ()):
            self.emit(depth, line)

    def _classes(self) -> None:
        states = list(self.diagram.states())
        groups = {
            "final": [s for s in states if s.kind == "final"],
            "history": [s for s in states if s.kind == "history"],
            "active": [s for s in states if s.active and not s.is_composite],
            "activeComposite": [s for s in states if s.active and s.is_composite],
        }
        styles = {
            "final": FINAL_STYLE,
            "history": HISTORY_STYLE,
            "active": ACTIVE_STYLE,
            "activeComposite": ACTIVE_COMPOSITE_STYLE,
        }
        for cls, members in groups.items():
            if members:
                self.emit(1, f"classDef {cls} {styles[cls]}")
        for cls, members in groups.items():
            if members:
                self.emit(1, f"class {','.join(self.names[s.id] for s in members)} {cls}")


def _needs_own_block(diagram: Diagram) -> bool:
    """Whether the machine itself is drawn as a block.

    Only when it must be: a parallel machine (Mermaid reads no ``--`` at the
    top), or one with transitions of its own or into itself, which need a
    state to start or end at.  Otherwise its children are the top of the
    diagram, one frame fewer.
    """
    root = diagram.root
    if root.kind == "parallel" or not root.is_composite:
        return True
    return any(t.source == root.id or root.id in t.targets for t in diagram.transitions)


def mermaid_ids(diagram: Diagram) -> dict[str, str]:
    """A Mermaid-safe, unique identifier for every state id (letters, digits and ``_``)."""
    names: dict[str, str] = {}
    taken: set[str] = set()
    for state in diagram.states():
        base = re.sub(r"\W", "_", state.id, flags=re.ASCII) or "state"
        if base[0].isdigit() or base.lower() in _RESERVED:
            base = f"s_{base}"
        if base.endswith(_MARKER_SUFFIXES):
            base = f"{base}_"
        name, n = base, 1
        while name in taken:
            n += 1
            name = f"{base}_{n}"
        taken.add(name)
        names[state.id] = name
    return names


def _title(state: DiagramState) -> str:
    if state.kind == "history":
        return "H*" if state.history == "deep" else "H"
    return state.key


def _actions_label(names: Iterable[str]) -> str:
    joined = ", ".join(names)
    return f" : / {_text(joined)}" if joined else ""


def _text(text: str) -> str:
    """Text safe inside a Mermaid label: entity codes for what the grammar would read."""
    return text.translate(_ENTITIES)
