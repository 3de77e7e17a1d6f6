"""The two conventions one algorithm runs under: XState v5 for JSON machines, SCXML for documents.

DESIGN.md: "one algorithm, two conventions".  A machine picks its conventions
when it is compiled, and the compiled tree carries the choice (each
:class:`~orderflow.chart.nodes.StateNode` has ``scxml``), so the step
algorithm branches once per decision point and the XState path never does
SCXML's extra work.

Under SCXML's conventions (https://www.w3.org/TR/scxml/):

- transitions are selected per atomic state in document order, and a state's
  transitions are tried in document order, each descriptor a space-separated
  list of tokens matched by prefix (``error`` matches ``error.execution``);
- a transition is external unless it says ``type="internal"``; its domain is
  the least common *compound* ancestor, so a transition between regions of a
  parallel state exits and re-enters the parallel state;
- done events are ``done.state.<id>``; a condition that raises is false and
  puts ``error.execution`` on the internal queue;
- eventless transitions are selected again after every microstep.

What SCXML documents need beyond the algorithm (executable content, the
datamodel, ``<invoke>``) is compiled by ``orderflow.io.scxml`` into
:class:`~orderflow.chart.actions.Block` actions and :class:`MacrostepHooks`;
the core only calls them at the right moments.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol


class MacrostepHooks(Protocol):
    """What a format adds around a macrostep (SCXML's ``<invoke>``, ``<finalize>``, autoforward).

    ``run`` is the macrostep's working state (``execution.Run``) and ``event`` the
    event being processed (``events.TypedEvent``); typed loosely here because
    ``execution`` sits above this module.
    """

    def before_external(self, run: Any, event: Any) -> None:
        """An external event is about to be processed (SCXML's mainEventLoop, before selection)."""

    def after_macrostep(self, run: Any, event: Any) -> None:
        """The machine has settled (SCXML: start the invocations of the states entered)."""

    def condition_failed(self, run: Any, error: Exception, event: Any) -> None:
        """A condition raised while transitions were selected (SCXML: raise ``error.execution``)."""

    def check_restored(self, context: Any, configuration: Any) -> None:
        """A persisted snapshot is being restored: raise ``InvalidSnapshotError`` for what the
        format keeps in the context that this configuration could not have (SCXML's session)."""


@dataclass(frozen=True)
class Conventions:
    """How a machine's definition is read and run; see the module docstring."""

    name: str
    #: the prefix of the event a finished compound or parallel state raises
    done_state_prefix: str
    #: the key of a done event that carries the final state's output (SCXML's donedata)
    done_data_key: str
    #: SCXML's selection, matching, domain and error rules
    scxml: bool
    #: what a format runs around each macrostep (SCXML's invocations); per machine
    hooks: MacrostepHooks | None = None


XSTATE = Conventions("xstate", "xstate.done.state.", "output", scxml=False)
SCXML = Conventions("scxml", "done.state.", "data", scxml=True)
