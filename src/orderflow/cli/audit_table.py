"""The demo's audit trail as a table that fits the terminal without cutting a state name.

rich breaks a cell only at spaces, and a state value has none (``processing.awaiting_capture``,
``{a.x, b.y}``): squeezed, the ``from → to`` cell would lose its end to "…".  So the cell is
wrapped here, between names, at the width the other columns leave it: after a ``.``, after a
``, `` or around the arrow.  A name is never split; the column is made at least as wide as the
longest one.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any

from rich.table import Table

#: the table's frame: a border either side of its four columns, a space either side of
#: each border inside the table (``pad_edge=False``: none at the edges)
_FRAME = 5 + 2 * 3
#: where a state value may break: after a dot, after ", ", around the arrow
_PIECE = re.compile(r" → |[^.,→ ]+(?:\.|, ?)?|.", re.DOTALL)


def pieces(text: str) -> list[str]:
    """``text`` cut where a line may end; joined again they give ``text`` back."""
    return _PIECE.findall(text)


def wrap_between_names(text: str, width: int) -> str:
    """``text`` with a line break wherever it would pass ``width``, never inside a name."""
    lines: list[str] = []
    line = ""
    for piece in pieces(text):
        if line and len((line + piece).rstrip()) > width:
            lines.append(line.rstrip())
            line = piece.lstrip()
        else:
            line += piece
    lines.append(line.rstrip())
    return "\n".join(lines)


def audit_table(
    trail: Iterable[Any],
    width: int,
    label: Callable[[str, str], str],
    shown: Callable[[Any], str],
    title: str = "the audit trail of one returned order, across its three machines",
) -> Table:
    """The log rows of ``trail`` (``TransitionLog``-like) for a console ``width`` columns wide.

    ``label`` names a record (``sale:7``) and ``shown`` writes a state value.
    """
    rows = [
        (label(entry.record_type, entry.record_id), entry.event,
         f"{shown(entry.from_state)} → {shown(entry.to_state)}", entry.actor_label or "")
        for entry in trail
    ]  # fmt: skip
    fixed = sum(max((len(row[i]) for row in rows), default=1) for i in range(2))
    # "by" may wrap between words: its longest word is as narrow as it gets
    by = max((len(word) for row in rows for word in row[3].split()), default=2)
    longest = max((len(piece.strip()) for row in rows for piece in pieces(row[2])), default=1)
    room = max(longest, width - _FRAME - fixed - by)
    table = Table(title=title, title_justify="left", pad_edge=False)
    table.add_column("record", no_wrap=True)
    table.add_column("event", no_wrap=True)
    table.add_column("from → to", no_wrap=True)  # wrapped here, between names
    table.add_column("by")
    for record, event, change, actor in rows:
        table.add_row(record, event, wrap_between_names(change, room), actor)
    return table
