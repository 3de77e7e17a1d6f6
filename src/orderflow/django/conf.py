"""``settings.ORDERFLOW``: which service the admin, the commands and the workers use, and switches.

    ORDERFLOW = {
        "APP": "shop.workflow:service",      # a DjangoWorkflowService, or a function making one
        "WORKFLOW_ENABLED": True,            # False: direct legacy status updates only
        "PUBLISHER": "shop.workflow:publish", # the outbox relay's publish(event) (orderflow_worker)
    }

``APP`` is ``module:attribute`` (or ``module.attribute``); the service is
loaded once and kept until the setting changes (``override_settings`` in a
test loads it again).
"""

from __future__ import annotations

import functools
import importlib
import inspect
from typing import Any

from django.conf import settings
from django.core.signals import setting_changed

from orderflow.errors import ConfigurationError

DEFAULTS: dict[str, Any] = {"APP": None, "WORKFLOW_ENABLED": True, "PUBLISHER": None}


def setting(name: str) -> Any:
    """One key of ``settings.ORDERFLOW`` (its default when absent); an unknown key is refused."""
    if name not in DEFAULTS:
        raise ConfigurationError(f"ORDERFLOW has no setting {name!r}", setting=name)
    configured = getattr(settings, "ORDERFLOW", {}) or {}
    if not isinstance(configured, dict):
        raise ConfigurationError(
            f"settings.ORDERFLOW must be a dict ({{'APP': 'module:service', ...}}), "
            f"not {type(configured).__name__}",
            setting="ORDERFLOW",
        )
    unknown = set(configured) - set(DEFAULTS)
    if unknown:
        raise ConfigurationError(
            f"settings.ORDERFLOW has keys orderflow does not know: {sorted(unknown)} "
            f"(it knows {sorted(DEFAULTS)})",
            setting="ORDERFLOW",
        )
    value = configured.get(name, DEFAULTS[name])
    if name == "WORKFLOW_ENABLED" and not isinstance(value, bool):  # "False" would be true
        raise ConfigurationError(
            f"ORDERFLOW['WORKFLOW_ENABLED'] must be True or False, not {value!r}",
            setting="WORKFLOW_ENABLED",
        )
    return value


def load(path: str, setting_name: str) -> Any:
    """The object ``module:attribute`` (or ``module.attribute``) names."""
    module_name, _, attribute = path.partition(":") if ":" in path else path.rpartition(".")
    if not module_name or not attribute:
        raise ConfigurationError(
            f"ORDERFLOW[{setting_name!r}] must be 'module:attribute', not {path!r}",
            setting=setting_name,
        )
    try:
        found = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError) as exc:
        raise ConfigurationError(
            f"ORDERFLOW[{setting_name!r}] = {path!r} cannot be loaded: {exc}", setting=setting_name
        ) from exc
    return found


@functools.cache
def get_service() -> Any:
    """The app's :class:`~orderflow.django.service.DjangoWorkflowService` (``ORDERFLOW["APP"]``)."""
    from orderflow.django.service import DjangoWorkflowService

    path = setting("APP")
    if not path:
        raise ConfigurationError(
            "set ORDERFLOW = {'APP': 'module:service'} in the Django settings to name the service",
            setting="APP",
        )
    found = load(str(path), "APP")
    if isinstance(found, DjangoWorkflowService):
        return found
    if not inspect.isfunction(found):  # a module, a class, a value: nothing to call blindly
        raise ConfigurationError(
            f"ORDERFLOW['APP'] = {path!r} is a {type(found).__name__}, not a DjangoWorkflowService "
            "or a function making one",
            setting="APP",
        )
    service = found()
    if not isinstance(service, DjangoWorkflowService):
        raise ConfigurationError(
            f"ORDERFLOW['APP'] = {path!r} gave {type(service).__name__}, not a DjangoWorkflowService",
            setting="APP",
        )
    return service


def _forget(*, setting: str, **kwargs: Any) -> None:
    if setting == "ORDERFLOW":
        get_service.cache_clear()


def watch_settings() -> None:
    setting_changed.connect(_forget, dispatch_uid="orderflow.django.conf")
