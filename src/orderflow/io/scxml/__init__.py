"""SCXML in and out: ``load`` a W3C SCXML document as a machine, ``dump`` any machine as SCXML.

    machine = orderflow.io.scxml.load("door.scxml")          # a path, or the XML text
    machine = orderflow.io.scxml.load(text, trusted=True)    # full Python in cond/expr/<script>
    text = orderflow.io.scxml.dump(machine)

A loaded document runs on the same core as a JSON machine, under SCXML's
conventions (``orderflow.chart.conventions``).  See ``docs/conformance.md``
for what is supported and how the W3C test suite is run.
"""

from __future__ import annotations

from pathlib import Path

from orderflow.chart.machine import Machine, Setup
from orderflow.io.scxml.dump import dump
from orderflow.io.scxml.load import load_document, read_source


def load(source: str | Path, *, trusted: bool = False, setup: Setup | None = None) -> Machine:
    """Compile an SCXML document (a path or the XML text) into a :class:`Machine`.

    Every expression is checked by the restricted evaluator now, so an unsafe
    document raises :class:`~orderflow.errors.UnsafeExpressionError` here;
    ``trusted=True`` allows full Python.  ``setup`` gives the implementations a
    document written by :func:`dump` from a JSON machine names.
    """
    text, base = read_source(source)
    return load_document(text, base=base, trusted=trusted, setup=setup)


__all__ = ["dump", "load"]
