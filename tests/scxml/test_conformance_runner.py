"""``orderflow conformance DIR`` and ``python -m orderflow.conformance DIR`` on any directory of tests."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from orderflow.cli import app
from orderflow.conformance import run_test

HEAD = '<scxml xmlns="http://www.w3.org/2005/07/scxml" version="1.0" datamodel="python">'


def _directory(tmp_path: Path) -> Path:
    (tmp_path / "test1.scxml").write_text(
        f'{HEAD}<state id="s"><transition target="pass"/></state><final id="pass"/></scxml>'
    )
    (tmp_path / "test2.scxml").write_text(
        f'{HEAD}<state id="s"><transition target="fail"/></state><final id="fail"/></scxml>'
    )
    (tmp_path / "test3.scxml").write_text(
        f'{HEAD}<state id="s"><onentry><send event="tick" delay="1s"/></onentry>'
        '<transition event="tick" target="s"/></state><final id="pass"/></scxml>'
    )
    (tmp_path / "test3sub1.scxml").write_text("<not-a-test/>")
    return tmp_path


def test_the_module_prints_one_line_per_failure_and_the_count_last(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "orderflow.conformance",
            str(_directory(tmp_path)),
            "--time-limit",
            "1",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    lines = result.stdout.strip().splitlines()
    assert lines[0] == "FAIL test2.scxml: finished in fail"
    assert lines[1].startswith("FAIL test3.scxml: timed out")
    assert lines[-1] == "1 passed, 2 failed"
    assert result.returncode == 1


def test_the_cli_command_exits_zero_when_every_test_passes(tmp_path: Path) -> None:
    directory = _directory(tmp_path)
    (directory / "test2.scxml").unlink()
    (directory / "test3.scxml").unlink()
    result = CliRunner().invoke(app, ["conformance", str(directory)])
    assert result.exit_code == 0, result.output
    assert result.output.strip().splitlines()[-1] == "1 passed, 0 failed"


def test_a_document_that_cannot_load_fails_with_the_reason(tmp_path: Path) -> None:
    path = tmp_path / "test9.scxml"
    path.write_text(f'{HEAD}<state id="s"><transition cond="open(\'x\')"/></state></scxml>')
    outcome = run_test(path)
    assert not outcome.passed
    assert outcome.reason is not None and "cannot load" in outcome.reason
