"""``orderflow conformance DIR``: run a directory of W3C SCXML conformance tests.

A thin layer over :mod:`orderflow.conformance`: one line per failing test with
the reason, then ``N passed, M failed``; exit status 1 if any failed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from orderflow.cli.app import UserError, app, out
from orderflow.conformance import DEFAULT_TIME_LIMIT, report, run_directory


@app.command()
def conformance(
    directory: Annotated[
        Path, typer.Argument(help="A directory of *.scxml tests (*sub* files are children).")
    ],
    time_limit: Annotated[
        float, typer.Option("--time-limit", help="Seconds each test may take.")
    ] = DEFAULT_TIME_LIMIT,
    trusted: Annotated[
        bool, typer.Option("--trusted", help="Load the documents with full Python expressions.")
    ] = False,
) -> None:
    """Run every SCXML test in DIR (they finish in 'pass' or 'fail'); exit 1 if any failed."""
    if not directory.is_dir():
        raise UserError(f"{directory} is not a directory")
    lines, status = report(run_directory(directory, time_limit=time_limit, trusted=trusted))
    for line in lines:
        out.print(line, markup=False, highlight=False)
    raise typer.Exit(status)
