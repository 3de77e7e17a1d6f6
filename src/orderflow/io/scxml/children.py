"""Loading invoked children: the ``spawn`` function ``orderflow.runtime.sessions`` is given.

An ``<invoke>`` names its child by ``src`` (a file beside the parent
document, ``file:`` optional) or carries it inline as ``<content>``; the child
is compiled with the parent's trust, and started with the invoke's
``namelist``/``<param>`` values as its initial data.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from orderflow.chart.machine import Machine
from orderflow.errors import ScxmlError
from orderflow.io.scxml.datamodel import SESSION_KEY
from orderflow.io.scxml.load import load_document


class ChildLoader:
    """``spawn(params) -> (machine, input)`` for invoked SCXML children; compiled documents are reused."""

    def __init__(self) -> None:
        self._machines: dict[tuple[str | None, str | None, str | None, bool], Machine] = {}

    def __call__(self, params: Mapping[str, Any]) -> tuple[Machine, Any]:
        src, content, base = params.get("src"), params.get("content"), params.get("base")
        trusted = bool(params.get("trusted"))
        key = (src, content, base, trusted)
        machine = self._machines.get(key)
        if machine is None:
            machine = self._load(src, content, base, trusted)
            self._machines[key] = machine
        data = dict(params.get("data") or {})
        data[SESSION_KEY] = {"parent": True}
        return machine, data

    @staticmethod
    def _load(src: str | None, content: str | None, base: str | None, trusted: bool) -> Machine:
        directory = Path(base) if base is not None else None
        if content is not None:
            return load_document(content, base=directory, trusted=trusted)
        if src is None:
            raise ScxmlError("an <invoke> needs src, srcexpr or <content>", "invoke")
        relative = src[len("file:") :] if src.startswith("file:") else src
        if directory is None:
            raise ScxmlError(
                f"cannot find {src!r}: the parent was not loaded from a file", "invoke"
            )
        path = (directory / relative).resolve()
        if not trusted and directory.resolve() not in path.parents:
            raise ScxmlError(f"{src!r} is outside the parent document's directory", "invoke")
        try:
            text = path.read_text(encoding="utf-8-sig")
        except OSError as exc:
            raise ScxmlError(f"cannot read {src!r}: {exc.strerror}", "invoke") from exc
        return load_document(text, base=path.parent, trusted=trusted)
