"""What the orderflow commands share: the service from the settings, and a model named on the command line."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from django.apps import apps
from django.core.management.base import CommandError

from orderflow.errors import OrderflowError


def service() -> Any:
    from orderflow.django import conf

    try:
        return conf.get_service()
    except OrderflowError as exc:
        raise CommandError(str(exc)) from exc


def workflow_model(label: str) -> type[Any]:
    """``app_label.ModelName`` -> the model, which must be a WorkflowModel."""
    from orderflow.django.models import WorkflowModel

    try:
        model = apps.get_model(label)
    except (LookupError, ValueError) as exc:
        raise CommandError(f"no model {label!r}: name it as app_label.ModelName ({exc})") from exc
    if not issubclass(model, WorkflowModel):
        raise CommandError(f"{label} is not a WorkflowModel: orderflow does not move its rows")
    return model  # type: ignore[no-any-return]


def at_least(low: float, kind: Callable[[str], Any] = int) -> Callable[[str], Any]:
    """An argparse ``type``: a number of ``kind`` no smaller than ``low`` (else a usage error)."""

    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"{text} is below the least allowed, {low}")
        return value

    parse.__name__ = kind.__name__  # argparse names the type in its message
    return parse
