"""The Django driver's contract suite (tests/django_driver, pytest-django) in a process of its own.

Django's settings are process-wide, so configuring them here would reach every other test
of this run; the suite runs as a child process with its own pytest.ini, on SQLite always
and on the PostgreSQL server of ``ORDERFLOW_TEST_POSTGRES_URL`` when that is set (its
PostgreSQL tests skip, saying so, when it is not).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("django", reason="the Django driver needs the django extra")
pytest.importorskip("pytest_django", reason="the Django driver's suite needs pytest-django")

SUITE = Path(__file__).resolve().parent / "django_driver"


def test_the_django_drivers_contract_suite_passes() -> None:
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:randomly"],
        cwd=SUITE, env=env, capture_output=True, text=True, timeout=900, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-3000:]
    assert " passed" in run.stdout and " failed" not in run.stdout
    if env.get("ORDERFLOW_TEST_POSTGRES_URL"):
        assert "skipped" not in run.stdout.splitlines()[-1]  # every PostgreSQL test ran
