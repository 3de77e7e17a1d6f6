"""SCXML in and out: ``load`` a W3C SCXML document as a machine, ``dump`` any machine as SCXML.

    machine = orderflow.io.scxml.load("door.scxml")           # a file
    machine = orderflow.io.scxml.loads(text)                  # the XML text itself
    machine = orderflow.io.scxml.loads(text, trusted=True)    # full Python in cond/expr/<script>
    text = orderflow.io.scxml.dump(machine)

Files and text have separate entry points, as ``json.load`` and ``json.loads``
do: a string is never guessed to be one or the other, so text that happens not
to start with ``<`` is not read as a path, and a path is never parsed as XML.

A loaded document runs on the same core as a JSON machine, under SCXML's
conventions (``orderflow.chart.conventions``).  See ``docs/conformance.md``
for what is supported and how the W3C test suite is run.
"""

from __future__ import annotations

from pathlib import Path

from orderflow.chart.machine import Machine, Setup
from orderflow.errors import ScxmlError
from orderflow.io.scxml.dump import dump
from orderflow.io.scxml.load import load_document, read_file


def load(path: str | Path, *, trusted: bool = False, setup: Setup | None = None) -> Machine:
    """Compile the SCXML document in the file at ``path`` into a :class:`Machine`.

    Relative ``src`` references resolve against the file's directory.  Every
    expression is checked by the restricted evaluator now, so an unsafe
    document raises :class:`~orderflow.errors.UnsafeExpressionError` here;
    ``trusted=True`` allows full Python.  ``setup`` gives the implementations a
    document written by :func:`dump` from a JSON machine names.
    """
    text, base = read_file(path)
    return load_document(text, base=base, trusted=trusted, setup=setup)


def loads(text: str, *, trusted: bool = False, setup: Setup | None = None) -> Machine:
    """Compile an SCXML document given as text (see :func:`load`); a leading BOM is fine."""
    if not isinstance(text, str):
        raise ScxmlError(f"loads() takes the document's text, not {type(text).__name__}")
    return load_document(text.lstrip("\ufeff"), trusted=trusted, setup=setup)


__all__ = ["dump", "load", "loads"]
