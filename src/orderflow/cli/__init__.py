"""The ``orderflow`` command (typer + rich).

User mistakes (a bad file, an unknown machine, an invalid definition) print one
readable line on standard error and exit non-zero; a traceback means a bug.
"""

from orderflow.cli import records  # noqa: F401  (registers export, inspect, send, bulk, backfill, demo)
from orderflow.cli.app import app, main

__all__ = ["app", "main"]
