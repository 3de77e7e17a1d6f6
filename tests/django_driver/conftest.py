"""The Django driver's tests run with pytest-django on these settings (SQLite; PostgreSQL when given)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

django = pytest.importorskip("django", reason="the Django driver's tests need the django extra")
pytest.importorskip("pytest_django", reason="the Django driver's tests need pytest-django")

sys.path.insert(0, str(Path(__file__).parent))
from django.conf import settings  # noqa: E402

if not settings.configured:  # configured here, not by DJANGO_SETTINGS_MODULE: no other test sees it
    import contract_settings

    settings.configure(
        **{k: getattr(contract_settings, k) for k in dir(contract_settings) if k.isupper()}
    )
    django.setup()
