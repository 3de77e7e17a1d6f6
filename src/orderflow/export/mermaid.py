"""Mermaid ``stateDiagram-v2`` from the neutral diagram model.

Mermaid places a state in the block where it is first named, and an edge
written inside a block pulls both of its ends into that block
(mermaid-js/mermaid#3700).  So the states are declared first, each in its
parent's block, and every edge is written in the block of its owner: the
innermost non-parallel state that properly contains both ends
(:attr:`DiagramTransition.owner`).  A parallel state's regions are
separated by ``--``; an edge never goes inside a region it does not stay in,
which is what breaks edges leaving later regions (mermaid-js/mermaid#5096).

Mermaid 11's layout (dagre) still fails on some diagrams with a parallel
state nested inside a composite state that no edge crosses, when an edge
leaves one of that parallel state's regions (its cluster is laid out on its
own and loses the region dividers: "No such shape: divider").  The tests
render every shipped machine and a sample of random ones with the real
Mermaid; see ``tests/export/test_mermaid_rendering.py`` for the shapes known
to fail.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from orderflow.export.model import Diagram, DiagramState, DiagramTransition

#: words Mermaid's state grammar reserves; a state id must not be one of them
_RESERVED = frozenset({
    "state", "note", "end", "direction", "class", "classdef", "style", "click",
    "as", "left", "right", "of", "over", "accdescr", "acctitle", "hide", "empty",
})  # fmt: skip
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
        self.owned: dict[str | None, list[DiagramTransition]] = {}
        for t in diagram.transitions:
            self.owned.setdefault(t.owner, []).append(t)
        self.lines: list[str] = ["stateDiagram-v2"]

    def write(self) -> str:
        root = self.diagram.root
        if _needs_own_block(self.diagram):
            self._declare(root, 1)
        else:
            self._body(root, 1)
        self._edges(None, 1)
        self._classes()
        return "\n".join(self.lines) + "\n"

    def emit(self, depth: int, text: str) -> None:
        self.lines.append(_INDENT * depth + text)

    def _declare(self, state: DiagramState, depth: int) -> None:
        name = self.names[state.id]
        self.emit(depth, f'state "{_text(_title(state))}" as {name}')
        if state.is_composite:
            self.emit(depth, f"state {name} {{")
            self._body(state, depth + 1)
            self.emit(depth, "}")

    def _body(self, state: DiagramState, depth: int) -> None:
        """What goes inside a composite state's block: children, initial arrow, edges it owns."""
        if state.kind == "parallel":
            for index, region in enumerate(state.children):
                if index:
                    self.emit(depth, "--")
                self._declare(region, depth)
        else:
            if state.initial is not None:
                label = _actions_label(a.name for a in state.initial_actions)
                self.emit(depth, f"[*] --> {self.names[state.initial]}{label}")
            for child in state.children:
                self._declare(child, depth)
            for child in state.children:
                if child.kind == "final":
                    self.emit(depth, f"{self.names[child.id]} --> [*]")
            for child in state.children:
                for target in child.history_default:
                    self.emit(depth, f"{self.names[child.id]} --> {self.names[target]}")
        self._edges(state.id, depth)

    def _edges(self, owner: str | None, depth: int) -> None:
        # Mermaid draws only one loop per state, so a state's loops share one edge, a line each.
        loops: dict[str, list[str]] = {}
        for t in self.owned.get(owner, ()):
            for target in t.targets or (t.source,):
                if target == t.source:
                    loops.setdefault(t.source, []).append(_text(t.label))
                    continue
                label = f" : {_text(t.label)}" if t.label else ""
                self.emit(depth, f"{self.names[t.source]} --> {self.names[target]}{label}")
        for state_id, labels in loops.items():
            label = f" : {LOOP_SEPARATOR.join(labels)}" if len(labels) > 1 or labels[0] else ""
            self.emit(depth, f"{self.names[state_id]} --> {self.names[state_id]}{label}")

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
    top), or one with transitions of its own or into itself.  A block no edge
    crosses is laid out on its own by Mermaid, which is where nested parallel
    regions break; the top of the diagram has no such problem.
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
