"""Pictures and portable copies of a machine: Mermaid, Graphviz DOT, SVG and XState JSON.

    from orderflow.export import export, to_mermaid
    print(to_mermaid(machine, highlight=snapshot))   # the snapshot's states drawn distinctly
    svg = export(machine, "svg")                       # needs Graphviz's dot on the PATH

Every format is written from one neutral model (:mod:`orderflow.export.model`):
``build_diagram`` reads the compiled machine once, and each renderer
(``mermaid``, ``dot``, ``xstate``) only decides how to write the diagram.
The export layer imports the core and the standard library only; SVG runs
the ``dot`` program in a subprocess and says so clearly when it is missing
(:class:`~orderflow.errors.RendererNotFoundError`).
"""

from __future__ import annotations

from typing import Any

from orderflow.chart import Machine, Snapshot
from orderflow.errors import ExportError
from orderflow.export import dot, mermaid, xstate
from orderflow.export.model import (
    Diagram,
    DiagramAction,
    DiagramGuard,
    DiagramInvocation,
    DiagramState,
    DiagramTransition,
    build_diagram,
)

#: the formats :func:`export` writes
FORMATS = ("mermaid", "dot", "svg", "xstate")


def to_mermaid(
    machine: Machine, *, highlight: Snapshot | None = None, child_charts: bool = True
) -> str:
    """Mermaid ``stateDiagram-v2`` source; ``highlight``'s active states are styled ``active``.

    ``child_charts``: draw the chart of every child machine the machine invokes (and,
    with ``highlight``, the running child's states) beside its own.
    """
    return mermaid.render(build_diagram(machine, highlight, child_charts=child_charts))


def to_dot(
    machine: Machine, *, highlight: Snapshot | None = None, child_charts: bool = True
) -> str:
    """Graphviz DOT source; ``highlight``'s active states are filled and outlined."""
    return dot.render(build_diagram(machine, highlight, child_charts=child_charts))


def to_svg(
    machine: Machine, *, highlight: Snapshot | None = None, child_charts: bool = True
) -> str:
    """SVG laid out by Graphviz's ``dot`` (:class:`RendererNotFoundError` when it is missing)."""
    return dot.render_svg(build_diagram(machine, highlight, child_charts=child_charts))


def to_xstate(machine: Machine) -> dict[str, Any]:
    """A normalised XState v5 JSON config that ``create_machine`` loads back to the same machine."""
    return xstate.render(build_diagram(machine, child_charts=False))


def export(machine: Machine, format: str, *, highlight: Snapshot | None = None) -> str:
    """``machine`` written in ``format`` (one of :data:`FORMATS`) as text."""
    if format == "xstate":
        return xstate.render_json(build_diagram(machine, child_charts=False))
    writers = {"mermaid": to_mermaid, "dot": to_dot, "svg": to_svg}
    writer = writers.get(format)
    if writer is None:
        raise ExportError(
            f"Unknown export format '{format}'; choose one of {', '.join(FORMATS)}.", format
        )
    return writer(machine, highlight=highlight)


__all__ = [
    "FORMATS",
    "Diagram",
    "DiagramAction",
    "DiagramGuard",
    "DiagramInvocation",
    "DiagramState",
    "DiagramTransition",
    "build_diagram",
    "export",
    "to_dot",
    "to_mermaid",
    "to_svg",
    "to_xstate",
]
