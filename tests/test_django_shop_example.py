"""examples/django_shop runs its own suite (pytest-django, its own settings) on SQLite and PostgreSQL.

Its settings configure Django for the whole process, so it runs in a child
process: once on SQLite, once on the PostgreSQL server of
``ORDERFLOW_TEST_POSTGRES_URL`` (skipped, saying so, when that is unset).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("django", reason="the example needs the django extra")
pytest.importorskip("pytest_django", reason="the example's suite needs pytest-django")

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "django_shop"


@pytest.mark.parametrize("database", ["sqlite", "postgres"])
def test_the_django_shop_examples_suite_passes(database: str) -> None:
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    if database == "postgres" and not env.get("ORDERFLOW_TEST_POSTGRES_URL"):
        pytest.skip("ORDERFLOW_TEST_POSTGRES_URL is not set; the PostgreSQL run needs a server")
    env["DJANGO_SHOP_DATABASE"] = database
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:randomly"],
        cwd=EXAMPLE, env=env, capture_output=True, text=True, timeout=900, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-3000:]
    assert " passed" in run.stdout and " failed" not in run.stdout
