"""The ``orderflow`` command (typer + rich).

User mistakes (a bad file, an unknown machine, an invalid definition) print one
readable line on standard error and exit non-zero; a traceback means a bug.
"""

from orderflow.cli import (
    conformance_command,  # noqa: F401  (registers the command)
    records,  # noqa: F401  (registers export, inspect, send, bulk, backfill, demo)
    serve_command,  # noqa: F401  (registers the command)
)
from orderflow.cli.app import app, main

__all__ = ["app", "main"]
