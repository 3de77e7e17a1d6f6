"""The example shop's settings: SQLite by default, PostgreSQL with ``DJANGO_SHOP_DATABASE=postgres``.

With ``postgres`` the server is ``ORDERFLOW_TEST_POSTGRES_URL``
(``postgresql+psycopg://user@host:port/db``); the tests then run in a
database Django creates for them (named per process) and drops afterwards.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlsplit

BASE_DIR = Path(__file__).resolve().parent.parent
SECRET_KEY = os.environ.get("DJANGO_SHOP_SECRET_KEY", "django-shop-example-only-not-a-secret")
DEBUG = os.environ.get("DJANGO_SHOP_DEBUG") == "1"
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
USE_TZ = True
TIME_ZONE = "UTC"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
ROOT_URLCONF = "django_shop.urls"
STATIC_URL = "static/"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "orderflow.django",
    "shop",
]
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]


def database() -> dict[str, object]:
    if os.environ.get("DJANGO_SHOP_DATABASE", "sqlite") != "postgres":
        return {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": BASE_DIR / "shop.sqlite3",
            # one writer at a time, taken at BEGIN: what select_for_update is on PostgreSQL
            "OPTIONS": {"transaction_mode": "IMMEDIATE"},
            "TEST": {"NAME": f"/tmp/django-shop-test-{os.getpid()}.sqlite3"},
        }
    url = os.environ["ORDERFLOW_TEST_POSTGRES_URL"]
    parts = urlsplit(url.replace("postgresql+psycopg://", "postgresql://"))
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": parts.path.lstrip("/") or "postgres",
        "USER": parts.username or "postgres",
        "PASSWORD": parts.password or "",
        "HOST": parts.hostname or "127.0.0.1",
        "PORT": str(parts.port or 5432),
        "TEST": {"NAME": f"django_shop_test_{os.getpid()}"},
    }


DATABASES = {"default": database()}

ORDERFLOW = {
    "APP": "shop.workflow:service",
    "WORKFLOW_ENABLED": os.environ.get("SHOP_WORKFLOW_ENABLED", "1") == "1",
    "PUBLISHER": "shop.workflow:publish",
}
