"""Every Python example in README.md and docs/ runs, so the docs cannot rot."""

from __future__ import annotations

import re
import runpy
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# docs/django.md's examples need a configured Django project: the example shop's suite runs them
# (examples/django_shop/tests/test_django_docs.py, run by tests/test_django_shop_example.py)
DOCS = [ROOT / "README.md", *sorted(p for p in (ROOT / "docs").glob("*.md") if p.name != "django.md")]
BLOCK = re.compile(r"^```python\n(.*?)^```", re.DOTALL | re.MULTILINE)


def _blocks() -> list[tuple[str, str]]:
    found = []
    for doc in DOCS:
        for index, match in enumerate(BLOCK.finditer(doc.read_text())):
            found.append((f"{doc.name}#{index}", match.group(1)))
    return found


@pytest.mark.parametrize(("where", "code"), _blocks(), ids=[w for w, _ in _blocks()])
def test_documented_example_runs(where: str, code: str) -> None:
    exec(compile(code, where, "exec", dont_inherit=True), {"__name__": "__doc_example__"})


@pytest.mark.parametrize(
    "path",
    [p for p in sorted((ROOT / "examples").glob("*.py")) if p.name != "run_all.py"],
    ids=lambda p: p.name,
)
def test_example_runs(path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    runpy.run_path(str(path), run_name="__main__")
    assert capsys.readouterr().out
