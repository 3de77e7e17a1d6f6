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

A state that invokes actors names each (``invoke id: src``) in its title.  The
chart of an invoked child machine is a block of its own (class ``actor``),
titled ``actor id: src``, beside the chart that invokes it (a grandchild's
inside its parent actor's block), its states' names prefixed with the invoking
state's and the invocation's ids; its edges join the others at the top.

``tests/export/test_mermaid_rendering.py`` renders shipped and random
machines with the real Mermaid and checks every edge and every state's box;
what Mermaid's layout still gets wrong is in ``docs/export.md``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from orderflow.export.model import Diagram, DiagramInvocation, DiagramState, renamed

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
ACTOR_STYLE = "stroke:#4a6fa5,stroke-dasharray:5 5"
#: between the lines of a state's title
LINE_BREAK = "<br/>"


def render(diagram: Diagram) -> str:
    """The diagram as Mermaid ``stateDiagram-v2`` source."""
    out = _Output()
    _Writer(diagram, out, set()).chart(1)
    for line in out.top:
        out.emit(1, line)
    _classes(out)
    return "\n".join(out.lines) + "\n"


class _Output:
    """What every chart of one diagram (the machine's, its child machines') writes into."""

    def __init__(self) -> None:
        self.lines: list[str] = ["stateDiagram-v2"]
        #: edge lines written at the top, after every declaration
        self.top: list[str] = []
        #: every drawn state with its Mermaid name, for the classes
        self.styled: list[tuple[DiagramState, str]] = []
        #: the blocks holding invoked child machines' charts
        self.actors: list[str] = []

    def emit(self, depth: int, text: str) -> None:
        self.lines.append(_INDENT * depth + text)


class _Writer:
    def __init__(self, diagram: Diagram, out: _Output, taken: set[str]) -> None:
        self.diagram = diagram
        self.out = out
        self.taken = taken
        self.names = mermaid_ids(diagram, taken)
        self.states = {s.id: s for s in diagram.states()}
        #: edge lines by the block they are written in (``None``: the top)
        self.edges: dict[str | None, list[str]] = {}
        self._place_edges()

    def chart(self, depth: int) -> None:
        """The whole chart at ``depth``, then the charts of the child machines it invokes."""
        root = self.diagram.root
        if _needs_own_block(self.diagram):
            self._declare(root, depth)
        else:
            self._body(root, depth)
        self.out.top.extend(self.edges.get(None, ()))
        self.out.styled.extend((s, self.names[s.id]) for s in self.diagram.states())
        for state in self.diagram.states():
            for invocation in state.invocations:
                if invocation.machine is not None:
                    self._actor(state, invocation, depth)

    def _actor(self, state: DiagramState, invocation: DiagramInvocation, depth: int) -> None:
        """An invoked child machine's chart: a block of its own beside the chart that invokes it.

        Not inside the invoking state, where its states would read as the state's
        substates; the block's title and the state's label name the same actor.
        """
        assert invocation.machine is not None
        prefix = f"{state.id}/{invocation.id}/"
        block = _unique(_base(prefix + "actor"), self.taken)
        self.out.emit(depth, f'state "{_text("actor " + invocation.label)}" as {block}')
        self.out.emit(depth, f"state {block} {{")
        self.out.actors.append(block)
        _Writer(renamed(invocation.machine, prefix), self.out, self.taken).chart(depth + 1)
        self.out.emit(depth, "}")

    def emit(self, depth: int, text: str) -> None:
        self.out.emit(depth, text)

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
        self.emit(depth, f'state "{_title(state)}" as {name}')
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


def _classes(out: _Output) -> None:
    groups: dict[str, list[str]] = {
        "final": [n for s, n in out.styled if s.kind == "final"],
        "history": [n for s, n in out.styled if s.kind == "history"],
        "active": [n for s, n in out.styled if s.active and not s.is_composite],
        "activeComposite": [n for s, n in out.styled if s.active and s.is_composite],
        "actor": out.actors,
    }
    styles = {
        "final": FINAL_STYLE,
        "history": HISTORY_STYLE,
        "active": ACTIVE_STYLE,
        "activeComposite": ACTIVE_COMPOSITE_STYLE,
        "actor": ACTOR_STYLE,
    }
    for cls, members in groups.items():
        if members:
            out.emit(1, f"classDef {cls} {styles[cls]}")
    for cls, members in groups.items():
        if members:
            out.emit(1, f"class {','.join(members)} {cls}")


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


def mermaid_ids(diagram: Diagram, taken: set[str] | None = None) -> dict[str, str]:
    """A Mermaid-safe, unique identifier for every state id (letters, digits and ``_``).

    ``taken``: the names already given (to another chart of the same diagram); the new
    ones are added to it.
    """
    taken = set() if taken is None else taken
    return {state.id: _unique(_base(state.id), taken) for state in diagram.states()}


def _base(ident: str) -> str:
    base = re.sub(r"\W", "_", ident, flags=re.ASCII) or "state"
    if base[0].isdigit() or base.lower() in _RESERVED:
        base = f"s_{base}"
    if base.endswith(_MARKER_SUFFIXES):
        base = f"{base}_"
    return base


def _unique(base: str, taken: set[str]) -> str:
    name, n = base, 1
    while name in taken:
        n += 1
        name = f"{base}_{n}"
    taken.add(name)
    return name


def _title(state: DiagramState) -> str:
    """The state's box title (label-safe): its key, and the actors it invokes.

    An atomic state lists them a line each; a composite state on its title's one
    line, as Mermaid does not make a frame's title taller.
    """
    if state.kind == "history":
        return "H*" if state.history == "deep" else "H"
    invoked = [_text(f"invoke {i.label}") for i in state.invocations]
    if not invoked:
        return _text(state.key)
    separator = ", " if state.is_composite else LINE_BREAK
    return separator.join([_text(state.key), *invoked])


def _actions_label(names: Iterable[str]) -> str:
    joined = ", ".join(names)
    return f" : / {_text(joined)}" if joined else ""


def _text(text: str) -> str:
    """Text safe inside a Mermaid label: entity codes for what the grammar would read."""
    return text.translate(_ENTITIES)
