"""The real XState 5 in one long-lived node process: a JSON case in, a JSON result out.

Each differential module drives its own runner script (``xstate_runner.cjs``,
``xstate_actors_runner.cjs``, ``xstate_surface_runner.cjs``) through a
:class:`NodeRunner`.  XState has no microstep bound: a case that keeps node
busy longer than ``timeout`` seconds is answered ``{"error": loop}`` and
node is restarted.  XState comes from ``ORDERFLOW_TEST_XSTATE_DIR`` (a
``node_modules`` holding ``xstate``; ``make xstate`` installs one into
``.cache/xstate/node_modules``); :func:`xstate_modules` skips, saying why,
without it.
"""

from __future__ import annotations

import json
import os
import select
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest


def xstate_modules() -> Path:
    """The ``node_modules`` holding XState, or a skip that says what is missing."""
    directory = os.environ.get("ORDERFLOW_TEST_XSTATE_DIR")
    if not directory:
        pytest.skip(
            "ORDERFLOW_TEST_XSTATE_DIR is not set: run `make xstate` and point it at "
            ".cache/xstate/node_modules"
        )
    node_modules = Path(directory).resolve()
    if not (node_modules / "xstate" / "package.json").is_file():
        pytest.skip(
            f"ORDERFLOW_TEST_XSTATE_DIR={directory} holds no xstate package (run `make xstate`)"
        )
    if shutil.which("node") is None:
        pytest.skip("node is not on PATH; the XState differential tests need it")
    return node_modules


class NodeRunner:
    """``node <script> [args]``, kept running: :meth:`run` sends one case and reads one answer."""

    def __init__(
        self,
        script: Path,
        node_modules: Path,
        *,
        loop: str,
        args: Sequence[str] = (),
        timeout: float = 1.0,
    ) -> None:
        self.command = ["node", str(script), *args]
        self.env = {**os.environ, "ORDERFLOW_TEST_XSTATE_DIR": str(node_modules)}
        self.loop = loop
        self.timeout = timeout
        self.process = self._start()

    def _start(self) -> subprocess.Popen[str]:
        return subprocess.Popen(
            self.command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=self.env
        )

    def run(self, case: Mapping[str, Any]) -> dict[str, Any]:
        process = self.process
        assert process.stdin is not None and process.stdout is not None
        process.stdin.write(json.dumps(case) + "\n")
        process.stdin.flush()
        ready, _, _ = select.select([process.stdout], [], [], self.timeout)
        if not ready:
            process.kill()
            process.wait()
            self.process = self._start()
            return {"error": self.loop}
        line = process.stdout.readline()
        if not line:
            raise RuntimeError(f"{self.command[1]} exited; see its stderr above")
        result: dict[str, Any] = json.loads(line)
        return result

    def close(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        self.process.wait(timeout=10)
