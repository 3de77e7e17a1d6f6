"""Override requests through the Django driver: rows kept in step, deciding needs the role."""

from __future__ import annotations

from typing import Any

import pytest
from contract_app.models import Memo

import orderflow
from orderflow.django.models import OverrideRequest, TransitionLog
from orderflow.django.service import DjangoWorkflowService
from orderflow.service import Principal
from orderflow.service.overrides import OverrideKind, OverrideRules

pytestmark = pytest.mark.django_db

DOOR = {
    "id": "door",
    "initial": "locked",
    "context": {"overrides": []},
    "states": {
        "locked": {
            "on": {
                "REQUEST": {"actions": [{"type": "open_request"}]},
                "APPROVE": {"target": "open", "actions": [{"type": "approve"}]},
            }
        },
        "open": {},
    },
}


def open_request(context: Any, event: Any, params: Any) -> dict[str, Any]:
    request = {
        "id": "o-1",
        "kind": "admin",
        "status": "open",
        "reason": getattr(event, "reason", ""),
    }
    return {"overrides": [request]}


def approve(context: Any, event: Any, params: Any) -> dict[str, Any]:
    return {"overrides": [{**r, "status": "approved"} for r in context["overrides"]]}


def door_service() -> DjangoWorkflowService:
    machine = orderflow.setup(
        actions={
            "open_request": orderflow.assign(open_request),
            "approve": orderflow.assign(approve),
        }
    ).create_machine(DOOR)
    rules = OverrideRules("door", (OverrideKind("admin", "REQUEST", ("APPROVE",), "admin"),))
    return DjangoWorkflowService(
        {"door": machine}, overrides=[rules], roles={"admin": ["contract_app.approve_door"]}
    )


def test_a_request_opens_a_row_and_only_the_role_decides_it() -> None:
    service = door_service()
    memo = Memo(workflow_machine="door")
    assert service.start(memo).success
    clerk = Principal("u-1", "Clerk")
    boss = Principal("u-2", "Boss", frozenset({"contract_app.approve_door"}))
    assert service.send(memo, {"type": "REQUEST", "reason": "stuck"}, actor=clerk).success
    (row,) = service.override_requests(memo)
    assert (row.request_key, row.kind, row.status, row.reason, row.requested_by) == (
        "o-1", "admin", "open", "stuck", "u-1",
    )  # fmt: skip
    refused = service.send(memo, "APPROVE", actor=clerk)
    assert not refused.success and refused.refusal.kind == "forbidden"
    assert TransitionLog.objects.filter(event="APPROVE").count() == 0
    assert service.send(memo, "APPROVE", actor=boss).success
    row = OverrideRequest.objects.get()
    assert (row.status, row.decided_by) == ("approved", "u-2") and row.decided_at is not None
