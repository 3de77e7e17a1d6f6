"""HTML built by escaping: every value is text unless it is already :class:`Markup`.

The inspector renders pages from data it does not control (a context value,
a log note, a reason typed by a clerk), so nothing reaches a page without
going through :func:`escape`; the only way to put raw HTML on a page is to
wrap it in :class:`Markup`, which this package does for its own tags and for
the SVG Graphviz writes.
"""

from __future__ import annotations

import html
from collections.abc import Iterable
from typing import Any


class Markup(str):
    """A string that is already HTML and is inserted as is."""

    __slots__ = ()


def escape(value: Any) -> Markup:
    """``value`` as HTML text (quotes escaped too, so it is safe inside an attribute)."""
    if isinstance(value, Markup):
        return value
    return Markup(html.escape("" if value is None else str(value), quote=True))


def tag(template: str, /, **values: Any) -> Markup:
    """``template`` (``str.format`` syntax) with every value escaped unless it is :class:`Markup`."""
    return Markup(template.format_map({name: escape(value) for name, value in values.items()}))


def join(parts: Iterable[Any], separator: str = "") -> Markup:
    """The parts, each escaped unless it is :class:`Markup`, one after the other."""
    return Markup(separator.join(escape(part) for part in parts))
