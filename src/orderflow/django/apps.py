"""The Django app of orderflow: its tables (log, outbox, timers, override requests) and commands."""

from __future__ import annotations

from django.apps import AppConfig


class OrderflowConfig(AppConfig):  # type: ignore[misc]
    name = "orderflow.django"
    label = "orderflow"
    verbose_name = "Workflows"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from orderflow.django import conf

        conf.watch_settings()
