"""Every Python example in README.md and docs/ runs, so the docs cannot rot.

Two marks, HTML comments a reader does not see, let a page show a project of
the reader's own and the command line working on it:

- ``<!-- file: helpdesk.py -->`` before a code block: the block is also that
  file, written into the page's folder (a fresh temporary folder, the current
  one while the page's examples run, and importable), so later blocks can
  ``import helpdesk`` and the commands can name it with ``--app``;
- ``<!-- run -->`` before a ``console`` block: its ``$ orderflow ...`` lines
  run, in order, after every Python block above it on the page; each must exit
  0, and each line printed under a command in the block must appear in what
  it prints (spaces aside).  ``$ export NAME=value`` sets the environment
  of the commands after it.
"""

from __future__ import annotations

import re
import runpy
import shlex
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

ROOT = Path(__file__).resolve().parents[1]
# docs/django.md's examples need a configured Django project: the example shop's suite runs them
# (examples/django_shop/tests/test_django_docs.py, run by tests/test_django_shop_example.py)
DOCS = [ROOT / "README.md", *sorted(p for p in (ROOT / "docs").glob("*.md") if p.name != "django.md")]
BLOCK = re.compile(
    r"^(?:<!-- (?P<mark>file: \S+|run) -->\n)?```(?P<lang>\w*)\n(?P<code>.*?)^```",
    re.DOTALL | re.MULTILINE,
)


@dataclass(frozen=True)
class Block:
    doc: Path
    index: int
    lang: str
    code: str
    mark: str | None

    @property
    def file(self) -> str | None:
        return self.mark[len("file: ") :] if self.mark and self.mark.startswith("file: ") else None


def _blocks(doc: Path) -> list[Block]:
    return [
        Block(doc, index, match["lang"], match["code"], match["mark"])
        for index, match in enumerate(BLOCK.finditer(doc.read_text()))
    ]


def _python() -> list[tuple[str, Block]]:
    found = []
    for doc in DOCS:
        python = [block for block in _blocks(doc) if block.lang == "python"]
        found += [(f"{doc.name}#{number}", block) for number, block in enumerate(python)]
    return found


def _runs() -> list[tuple[str, Block]]:
    return [
        (f"{doc.name}#run{block.index}", block)
        for doc in DOCS
        for block in _blocks(doc)
        if block.mark == "run"
    ]


@pytest.fixture
def page_folder(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Path]:
    """The page's files written into a fresh folder, current and importable while its examples run."""
    block: Block = request.node.callspec.params["block"]
    files = [b for b in _blocks(block.doc) if b.file is not None]
    if not files:
        yield ROOT
        return
    for found in files:
        (tmp_path / str(found.file)).write_text(found.code)
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    # a page's module is imported once per test run, as an app is once per process: imported
    # again, its models would map the same tables a second time, and the tools would refuse to
    # guess which class a table means
    yield tmp_path


def _run_python(block: Block) -> None:
    where = f"{block.doc.name}#{block.index}"
    exec(compile(block.code, where, "exec", dont_inherit=True), {"__name__": "__doc_example__"})


@pytest.mark.parametrize(("where", "block"), _python(), ids=[w for w, _ in _python()])
def test_documented_example_runs(where: str, block: Block, page_folder: Path) -> None:
    _run_python(block)


@pytest.mark.parametrize(("where", "block"), _runs(), ids=[w for w, _ in _runs()])
def test_documented_commands_run(where: str, block: Block, page_folder: Path) -> None:
    from orderflow.cli import app

    for earlier in _blocks(block.doc)[: block.index]:
        if earlier.lang == "python":
            _run_python(earlier)
    environment: dict[str, str] = {"COLUMNS": "200"}
    for command, expected in _commands(block.code):
        words = shlex.split(command)
        if words[0] == "export":
            environment.update(word.split("=", 1) for word in words[1:])  # type: ignore[misc]
            continue
        assert words[0] == "orderflow", f"{where}: only orderflow commands run, not {command!r}"
        result = CliRunner().invoke(app, words[1:], env=environment)
        assert result.exit_code == 0, f"{where}: $ {command}\n{result.output}{result.exception!r}"
        printed = _spaced(result.output)
        for line in expected:
            assert _spaced(line) in printed, (
                f"{where}: $ {command}\nmissing: {line}\n{result.output}"
            )


def _commands(console: str) -> list[tuple[str, list[str]]]:
    """``$ command`` lines (a trailing ``# comment`` dropped), each with the lines shown under it."""
    commands: list[tuple[str, list[str]]] = []
    for line in console.splitlines():
        if line.startswith("$ "):
            commands.append((line[2:].split("  #", 1)[0].strip(), []))
        elif line.strip() and commands:
            commands[-1][1].append(line.strip())
    return commands


def _spaced(text: str) -> str:
    return " ".join(text.split())


@pytest.mark.parametrize(
    "path",
    [p for p in sorted((ROOT / "examples").glob("*.py")) if p.name != "run_all.py"],
    ids=lambda p: p.name,
)
def test_example_runs(path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    runpy.run_path(str(path), run_name="__main__")
    assert capsys.readouterr().out
