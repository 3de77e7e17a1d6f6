"""Django settings for the Django driver's contract tests: SQLite always, PostgreSQL when given.

``ORDERFLOW_TEST_POSTGRES_URL`` (``postgresql+psycopg://user@host:port/db``) adds the
``postgres`` alias; Django creates its own test database on that server (named per process,
so concurrent runs never share one) and drops it afterwards.
"""

from __future__ import annotations

import os
from urllib.parse import urlsplit

SECRET_KEY = "orderflow-django-contract-tests"
USE_TZ = True
TIME_ZONE = "UTC"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "orderflow.django",
    "contract_app",
]
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": ":memory:",
        "OPTIONS": {"transaction_mode": "IMMEDIATE"},
        "TEST": {"NAME": f"/tmp/orderflow-django-contract-{os.getpid()}.sqlite3"},
    }
}


def postgres_database(url: str, name: str) -> dict[str, object]:
    """A DATABASES entry for ``url`` (SQLAlchemy's or libpq's spelling), testing in ``name``."""
    parts = urlsplit(url.replace("postgresql+psycopg://", "postgresql://"))
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": parts.path.lstrip("/") or "postgres",
        "USER": parts.username or "postgres",
        "PASSWORD": parts.password or "",
        "HOST": parts.hostname or "127.0.0.1",
        "PORT": str(parts.port or 5432),
        "TEST": {"NAME": name},
    }


POSTGRES_URL = os.environ.get("ORDERFLOW_TEST_POSTGRES_URL")
if POSTGRES_URL:
    DATABASES["postgres"] = postgres_database(
        POSTGRES_URL, f"orderflow_django_contract_{os.getpid()}"
    )
ORDERFLOW = {"APP": "contract_app.workflow:service"}
