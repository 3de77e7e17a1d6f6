"""docs/django.md cannot rot: its ``python`` blocks run here, its ``py`` blocks are this project's code."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parents[1]
DOC = EXAMPLE.parents[1] / "docs" / "django.md"
RUNS = re.compile(r"^```python\n(.*?)^```", re.DOTALL | re.MULTILINE)
QUOTED = re.compile(r"^```py\n(.*?)^```", re.DOTALL | re.MULTILINE)


def _blocks(pattern: re.Pattern[str]) -> list[str]:
    return [match.group(1) for match in pattern.finditer(DOC.read_text())]


def _sources() -> str:
    return "\n".join(
        path.read_text() for path in sorted(EXAMPLE.rglob("*.py")) if "tests" not in path.parts
    )


@pytest.mark.django_db
@pytest.mark.parametrize("code", _blocks(RUNS), ids=lambda c: c.splitlines()[-1][:40])
def test_a_documented_example_runs(code: str) -> None:
    exec(
        compile(code, "docs/django.md", "exec", dont_inherit=True), {"__name__": "__doc_example__"}
    )


@pytest.mark.parametrize("code", _blocks(QUOTED), ids=lambda c: c.splitlines()[0][:40])
def test_a_quoted_snippet_is_still_the_example_projects_code(code: str) -> None:
    assert code in _sources(), f"docs/django.md quotes code the example no longer has:\n{code}"
