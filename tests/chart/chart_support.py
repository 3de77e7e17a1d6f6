"""Small shared pieces of the core's feature tests (imported as ``chart_support``)."""

from __future__ import annotations

from typing import Any

import orderflow


def noop(context: Any, event: Any, params: Any) -> None:
    """An effect implementation that does nothing (the core never runs effects anyway)."""
    return None


def effects(*names: str) -> dict[str, Any]:
    """Implementations for named effects, so a machine with them validates."""
    return {name: noop for name in names}


def types(actions: list[orderflow.Action]) -> list[str]:
    """The types of the returned actions, in order."""
    return [a.type for a in actions]


def always(context: Any, event: Any, params: Any) -> bool:
    """A guard that always passes (importable by dotted path: ``"chart_support:always"``)."""
    return True
