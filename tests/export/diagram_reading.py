"""Read back what the exporters write, far enough to check its structure.

Not general parsers: each reads exactly the line shapes its renderer writes,
and fails loudly on anything else, so a change in the output cannot slip
past the structural tests unread.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

_MERMAID_DECLARE = re.compile(r'^state "(?P<label>[^"]*)" as (?P<name>\w+)$')
_MERMAID_OPEN = re.compile(r"^state (?P<name>\w+) \{$")
_MERMAID_EDGE = re.compile(r"^(?P<src>\w+|\[\*\]) --> (?P<dst>\w+|\[\*\])(?: : (?P<label>.*))?$")
_MERMAID_CLASS = re.compile(r"^class (?P<names>[\w,]+) (?P<cls>\w+)$")


@dataclass
class MermaidDoc:
    #: name -> (enclosing block name or None for the top, section index within it)
    placed: dict[str, tuple[str | None, int]] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    declared: Counter[str] = field(default_factory=Counter)
    #: blocks opened, by name, with the number of sections (regions) each has
    blocks: dict[str, int] = field(default_factory=dict)
    #: (block, section, source, target, label)
    edges: list[tuple[str | None, int, str, str, str]] = field(default_factory=list)
    classes: dict[str, set[str]] = field(default_factory=dict)

    def ancestors(self, name: str) -> list[str]:
        """The blocks around ``name``, innermost first."""
        found = []
        block = self.placed[name][0]
        while block is not None:
            found.append(block)
            block = self.placed[block][0]
        return found


def read_mermaid(text: str) -> MermaidDoc:
    lines = text.splitlines()
    assert lines[0] == "stateDiagram-v2"
    doc = MermaidDoc()
    stack: list[list[str | int | None]] = [[None, 0]]
    for raw in lines[1:]:
        line = raw.strip()
        block, section = stack[-1]
        assert block is None or isinstance(block, str)
        assert isinstance(section, int)
        if m := _MERMAID_DECLARE.match(line):
            name = m["name"]
            doc.declared[name] += 1
            doc.placed[name] = (block, section)
            doc.labels[name] = m["label"]
        elif m := _MERMAID_OPEN.match(line):
            assert doc.placed[m["name"]] == (block, section), (
                f"{m['name']} opened away from its declaration"
            )
            doc.blocks[m["name"]] = 1
            stack.append([m["name"], 0])
        elif line == "--":
            assert block is not None
            stack[-1][1] = section + 1
            doc.blocks[block] = section + 2
        elif line == "}":
            stack.pop()
        elif m := _MERMAID_EDGE.match(line):
            doc.edges.append((block, section, m["src"], m["dst"], m["label"] or ""))
        elif m := _MERMAID_CLASS.match(line):
            doc.classes.setdefault(m["cls"], set()).update(m["names"].split(","))
        elif line.startswith("classDef "):
            continue
        else:
            raise AssertionError(f"unexpected Mermaid line: {raw!r}")
    assert len(stack) == 1, "unbalanced blocks"
    return doc


_DOT_CLUSTER = re.compile(r'^subgraph "cluster_(?P<id>(?:[^"\\]|\\.)*)" \{$')
_DOT_NODE = re.compile(r'^"(?P<id>(?:[^"\\]|\\.)*)" \[(?P<attrs>.*)\];$')
_DOT_EDGE = re.compile(
    r'^"(?P<src>(?:[^"\\]|\\.)*)" -> "(?P<dst>(?:[^"\\]|\\.)*)" \[(?P<attrs>.*)\];$'
)
_DOT_ATTR = re.compile(r'(?P<key>\w+)=(?P<value>"(?:[^"\\]|\\.)*"|[\w.]+)')


@dataclass
class DotDoc:
    #: cluster id -> enclosing cluster id (None at the top)
    clusters: dict[str, str | None] = field(default_factory=dict)
    cluster_attrs: dict[str, dict[str, str]] = field(default_factory=dict)
    #: node id -> (enclosing cluster id, attributes)
    nodes: dict[str, tuple[str | None, dict[str, str]]] = field(default_factory=dict)
    node_count: Counter[str] = field(default_factory=Counter)
    edges: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)


def _attrs(text: str) -> dict[str, str]:
    found = {}
    for m in _DOT_ATTR.finditer(text):
        value = m["value"]
        if value.startswith('"'):
            value = value[1:-1].replace('\\"', '"').replace("\\\\", "\\")
        found[m["key"]] = value
    return found


def read_dot(text: str) -> DotDoc:
    lines = [line.strip() for line in text.splitlines()]
    assert lines[0].startswith("digraph ") and lines[-1] == "}"
    doc = DotDoc()
    stack: list[str | None] = [None]
    for line in lines[1:-1]:
        if m := _DOT_CLUSTER.match(line):
            doc.clusters[_unquote(m["id"])] = stack[-1]
            doc.cluster_attrs[_unquote(m["id"])] = {}
            stack.append(_unquote(m["id"]))
        elif line == "}":
            stack.pop()
        elif m := _DOT_EDGE.match(line):
            doc.edges.append((_unquote(m["src"]), _unquote(m["dst"]), _attrs(m["attrs"])))
        elif m := _DOT_NODE.match(line):
            doc.nodes[_unquote(m["id"])] = (stack[-1], _attrs(m["attrs"]))
            doc.node_count[_unquote(m["id"])] += 1
        elif stack[-1] is not None and re.match(r"^\w+=.*;$", line):
            doc.cluster_attrs[stack[-1]].update(_attrs(line))
        elif line in ("compound=true;", "newrank=true;") or line.startswith(("node [", "edge [")):
            continue
        else:
            raise AssertionError(f"unexpected DOT line: {line!r}")
    return doc


def _unquote(text: str) -> str:
    return text.replace('\\"', '"').replace("\\\\", "\\")
