"""The two models the Django bench moves: one with django-fsm-2 (+ django-fsm-log), one with orderflow."""

from __future__ import annotations

from typing import Any

from django.db import models
from django_fsm import FSMField, transition
from django_fsm_log.decorators import fsm_log_by, fsm_log_description

from orderflow.django.models import WorkflowModel


def is_enabled(switch: Any) -> bool:
    return bool(switch.enabled)


class FsmSwitch(models.Model):
    """A toggle as django-fsm writes it: a guarded transition method, logged by django-fsm-log."""

    state = FSMField(default="off")
    enabled = models.BooleanField(default=True)

    @fsm_log_by
    @fsm_log_description
    @transition(field=state, source="off", target="on", conditions=[is_enabled])
    def switch_on(self, by: Any = None, description: str | None = None) -> None:
        pass

    @fsm_log_by
    @fsm_log_description
    @transition(field=state, source="on", target="off", conditions=[is_enabled])
    def switch_off(self, by: Any = None, description: str | None = None) -> None:
        pass


class FlowSwitch(WorkflowModel):
    """The same toggle as an orderflow record."""

    __workflow_status__ = {"off": "OFF", "on": "ON"}
