"""The W3C SCXML conformance suite, read from ../shared/w3c-scxml (never copied into the project).

Every mandatory test runs with the restricted evaluator.  Every optional test
that needs no Basic HTTP Event I/O Processor runs too; the exceptions are
listed in ``docs/conformance.md`` with the reason, and a test below checks
that the list and the page agree.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from orderflow.conformance import collect_tests, run_test

SUITE = Path(
    os.environ.get(
        "ORDERFLOW_W3C_SCXML_DIR", Path(__file__).resolve().parents[3] / "shared" / "w3c-scxml"
    )
)
DOCS = Path(__file__).resolve().parents[2] / "docs" / "conformance.md"
MISSING = f"the W3C SCXML tests are not at {SUITE} (set ORDERFLOW_W3C_SCXML_DIR to run them)"
TIME_LIMIT = 2.0

#: optional tests that cannot apply to a python datamodel, with the reason (docs/conformance.md)
NOT_APPLICABLE = {
    "test446.scxml": "tests ECMAScript's `instanceof Array`, which is not Python",
}
#: optional tests that need full Python, so they run with trusted=True (docs/conformance.md)
NEEDS_TRUSTED = {
    "test452.scxml": "its <script> defines a function and a class (def, class)",
}


def _tests(folder: str) -> list[Path]:
    directory = SUITE / folder
    return collect_tests(directory) if directory.is_dir() else []


def _needs_http(path: Path) -> bool:
    return "basichttp" in path.read_text(encoding="utf-8-sig").lower()


MANDATORY = _tests("mandatory")
OPTIONAL = [p for p in _tests("optional") if not _needs_http(p)]


def _ids(paths: list[Path]) -> list[str]:
    return [p.stem for p in paths]


@pytest.mark.skipif(not MANDATORY, reason=MISSING)
@pytest.mark.parametrize("path", MANDATORY, ids=_ids(MANDATORY))
def test_mandatory_w3c_test_passes(path: Path) -> None:
    outcome = run_test(path, time_limit=TIME_LIMIT)
    assert outcome.passed, outcome.reason


@pytest.mark.skipif(not OPTIONAL, reason=MISSING)
@pytest.mark.parametrize("path", OPTIONAL, ids=_ids(OPTIONAL))
def test_optional_w3c_test_without_http_passes(path: Path) -> None:
    if path.name in NOT_APPLICABLE:
        outcome = run_test(path, time_limit=TIME_LIMIT)
        assert not outcome.passed, (
            f"{path.name} passes now: take it off NOT_APPLICABLE and the docs"
        )
        pytest.skip(f"cannot apply to a python datamodel: {NOT_APPLICABLE[path.name]}")
    outcome = run_test(path, time_limit=TIME_LIMIT, trusted=path.name in NEEDS_TRUSTED)
    assert outcome.passed, outcome.reason


def test_the_suite_is_there_or_its_tests_say_why_they_skip() -> None:
    if not SUITE.is_dir():
        pytest.skip(MISSING)
    assert len(MANDATORY) == 160
    assert len(OPTIONAL) == 21


def test_every_exception_is_documented_in_conformance_md() -> None:
    page = DOCS.read_text()
    for name in (*NOT_APPLICABLE, *NEEDS_TRUSTED):
        assert re.search(rf"\b{re.escape(name.removesuffix('.scxml'))}\b", page), name
