"""A corpus of hostile input through every outside door, each leaving the database as it was.

The doors: the service (``send``, a dry run, ``bulk_send``, ``transition``),
the async service's ``send`` (the same stages, another driver), GraphQL over HTTP, the inspector's event form and ``orderflow send``.  The
record is a sent quotation, with its validity timer pending.  After each
input the quotation's row, the transition log, the outbox and the timers
are compared with what they were: a refusal is a clear error (an
``orderflow.errors`` exception, a GraphQL error, a 4xx page, a one-line CLI
error with a non-zero exit), never a write and never a traceback.
"""

from __future__ import annotations

import asyncio
import html
import json
import os
import re
import subprocess
import sys
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlalchemy.orm import Session, sessionmaker

from orderflow.api import create_app, issue_token
from orderflow.errors import OrderflowError
from orderflow.service import AsyncWorkflowService, Principal, WorkflowService, order_service
from orderflow.store import (
    OutboxEvent,
    Quotation,
    ScheduledEvent,
    TransitionLog,
    create_async_engine,
    create_engine,
    upgrade,
)

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", "Using `httpx` with `starlette.testclient`")
    from starlette.testclient import TestClient

SECRET = "a-test-secret-that-is-long-enough-for-hs256"
CLERK = Principal("u-clerk", "Clara Clerk", frozenset({"sale.create"}))
TOO_LARGE = "99999999999999999999999"
ORDERFLOW = str(Path(sys.executable).parent / "orderflow")

#: (what it tries, event type, payload): JSON, so every door can carry it
CORPUS: list[tuple[str, str, dict[str, Any]]] = [
    ("approve in an approver's name", "APPROVE",
     {"actor": {"id": "u-clerk", "roles": ["sales-approver"]}}),
    ("decline in somebody else's name", "DECLINE", {"reason": "x", "actor": {"id": "u-boss"}}),
    ("an actor of null", "DECLINE", {"reason": "x", "actor": None}),
    ("fire the validity timer", "xstate.after.validity.quotation.sent", {}),
    ("restart the machine", "xstate.init", {}),
    ("finish a state", "xstate.done.state.quotation", {}),
    ("a backfill from outside", "orderflow.backfill", {"state": "accepted", "context": {}}),
    ("a legacy status update", "orderflow.legacy_status", {}),
    ("an event no state handles", "NO_SUCH_EVENT", {}),
    ("a payload that fails its model", "DECLINE", {"reason": 5}),
]  # fmt: skip


@dataclass
class Shop:
    url: str
    Session: sessionmaker[Session]
    service: WorkflowService
    quotation: Quotation
    client: TestClient

    def stored(self) -> tuple[Any, ...]:
        with self.Session() as session:
            row = session.get(Quotation, self.quotation.id)
            assert row is not None
            logs = session.execute(select(TransitionLog.id, TransitionLog.event)).all()
            outbox = session.execute(select(OutboxEvent.id, OutboxEvent.status)).all()
            timers = session.execute(select(ScheduledEvent.id, ScheduledEvent.status)).all()
            return (row.workflow_state, row.workflow_context, row.workflow_version, row.status,
                    logs, outbox, timers)  # fmt: skip


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Shop]:
    url = f"sqlite:///{tmp_path_factory.mktemp('hostile') / 'orderflow.sqlite3'}"
    engine = create_engine(url)
    upgrade(engine)
    Session = sessionmaker(engine, expire_on_commit=False)
    service = order_service(Session)
    quotation = Quotation(reference="Q-1", customer_id="C-1", workflow_machine="quotation")
    service.start(quotation, input={"quotation_id": "Q-1", "customer_id": "C-1",
                                    "currency": "EUR"})  # fmt: skip
    line = {"type": "ADD_LINE", "sku": "CHAIR", "quantity": 2, "unit_price": "120.00"}
    assert service.send(quotation, line, actor=CLERK)
    assert service.send(quotation, "SUBMIT", actor=CLERK).to_state == "sent"
    client = TestClient(create_app(service=service, secret=SECRET), follow_redirects=False)
    assert client.post("/login", data={"token": issue_token(SECRET, CLERK)}).status_code == 303
    yield Shop(url, Session, service, quotation, client)
    engine.dispose()


def through_service(shop: Shop, event_type: str, payload: Any) -> None:
    with pytest.raises(OrderflowError):
        shop.service.send(shop.quotation, {**payload, "type": event_type}, actor=CLERK)


def through_a_dry_run(shop: Shop, event_type: str, payload: Any) -> None:
    with pytest.raises(OrderflowError):
        shop.service.send(shop.quotation, {**payload, "type": event_type}, actor=CLERK,
                          dry_run=True)  # fmt: skip


def through_the_async_service(shop: Shop, event_type: str, payload: Any) -> None:
    """``AsyncWorkflowService.send`` with the shop service's machines, effects and rules."""
    sync = shop.service

    async def send() -> None:
        engine = create_async_engine(shop.url)
        try:
            service = AsyncWorkflowService(
                async_sessionmaker(engine), sync.machines, effects=sync.effects,
                overrides=sync.overrides.values(), roles=sync.roles, scope=sync.scope,
            )  # fmt: skip
            with pytest.raises(OrderflowError):
                await service.send(shop.quotation, {**payload, "type": event_type}, actor=CLERK)
        finally:
            await engine.dispose()

    asyncio.run(send())


def through_bulk_send(shop: Shop, event_type: str, payload: Any) -> None:
    """Refused once for the whole job, or for each record (what depends on its machine)."""
    try:
        result = shop.service.bulk_send(
            [shop.quotation, shop.quotation], {**payload, "type": event_type}, actor=CLERK
        )
    except OrderflowError:
        return
    assert (result.succeeded, result.failed) == (0, 2)


SEND = """mutation($id: ID!, $event: String!, $p: JSON) {
  sendEvent(recordType: "quotations", recordId: $id, event: $event, payload: $p) { success } }"""


def through_graphql(
    shop: Shop, event_type: str, payload: Any, record_id: str | None = None
) -> None:
    response = shop.client.post(
        "/graphql",
        json={"query": SEND, "variables": {
            "id": record_id or str(shop.quotation.id), "event": event_type, "p": payload}},
        headers={"Authorization": f"Bearer {issue_token(SECRET, CLERK)}"},
    )  # fmt: skip
    assert response.status_code in (200, 400), response.text
    answer = response.json()
    assert answer.get("errors"), answer
    assert not (answer.get("data") or {}).get("sendEvent")


def through_the_inspector(shop: Shop, event_type: str, payload: Any,
                          record_id: str | None = None) -> None:  # fmt: skip
    page = shop.client.get(f"/records/quotations/{shop.quotation.id}")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert csrf, page.text
    path = f"/records/quotations/{record_id or shop.quotation.id}/events"
    response = shop.client.post(path, data={
        "csrf": html.unescape(csrf.group(1)), "event": event_type, "payload": json.dumps(payload)})  # fmt: skip
    assert 400 <= response.status_code < 500, (response.status_code, response.text[:300])


def through_the_cli(
    shop: Shop, event_type: str, payload: Any, record_id: str | None = None
) -> None:
    """``orderflow send`` as a person runs it: the installed script, its own error handling."""
    result = subprocess.run(
        [ORDERFLOW, "send", f"quotation:{record_id or shop.quotation.id}", event_type,
         "--data", json.dumps(payload), "--actor", CLERK.id, "--database-url", shop.url],
        capture_output=True, text=True, timeout=60, env={**os.environ, "COLUMNS": "200"},
    )  # fmt: skip
    assert result.returncode != 0, result.stdout
    assert "Traceback" not in result.stderr, result.stderr
    assert result.stderr.strip() or result.stdout.strip()


DOORS: dict[str, Callable[..., None]] = {
    "service": through_service,
    "dry run": through_a_dry_run,
    "async service": through_the_async_service,
    "bulk_send": through_bulk_send,
    "graphql": through_graphql,
    "inspector": through_the_inspector,
    "cli": through_the_cli,
}


@pytest.mark.parametrize("door", DOORS)
@pytest.mark.parametrize(("attempt", "event_type", "payload"), CORPUS, ids=[c[0] for c in CORPUS])
def test_hostile_input_through_each_door_changes_nothing(
    shop: Shop, door: str, attempt: str, event_type: str, payload: dict[str, Any]
) -> None:
    before = shop.stored()
    DOORS[door](shop, event_type, payload)
    assert shop.stored() == before, attempt


@pytest.mark.parametrize("door", ["graphql", "inspector", "cli"])
def test_a_payload_naming_another_event_type_than_the_door_is_refused(
    shop: Shop, door: str
) -> None:
    before = shop.stored()
    DOORS[door](shop, "DECLINE", {"type": "ACCEPT", "reason": "x"})
    assert shop.stored() == before


@pytest.mark.parametrize(
    ("attempt", "event"),
    [
        ("no event at all", None),
        ("a number", 42),
        ("a list of pairs", [("type", "DECLINE"), ("reason", "x")]),
        ("an empty type", {"type": ""}),
        ("a value that is not JSON", {"type": "DECLINE", "reason": object()}),
        ("a number that is not finite", {"type": "DECLINE", "reason": float("nan")}),
        ("an infinite decimal", {"type": "NO_SUCH_EVENT", "amount": Decimal("Infinity")}),
    ],
)
def test_events_only_python_can_send_are_refused_by_the_service(
    shop: Shop, attempt: str, event: Any
) -> None:
    before = shop.stored()
    with pytest.raises(OrderflowError):
        shop.service.send(shop.quotation, event, actor=CLERK)
    assert shop.stored() == before, attempt


def test_target_state_params_naming_an_actor_change_nothing(shop: Shop) -> None:
    before = shop.stored()
    with pytest.raises(OrderflowError):
        shop.service.transition(shop.quotation, "declined", actor=CLERK,
                                params={"reason": "x", "actor": {"id": "u-boss"}})  # fmt: skip
    result = shop.service.transition(shop.quotation, "expired", actor=CLERK)
    assert not result.success  # only the timer reaches it
    assert shop.stored() == before


@pytest.mark.parametrize("door", ["service", "graphql", "inspector", "cli"])
def test_a_record_id_too_large_for_the_database_is_a_clear_refusal(shop: Shop, door: str) -> None:
    before = shop.stored()
    if door == "service":
        with pytest.raises(OrderflowError):
            shop.service.send((Quotation, TOO_LARGE), "ACCEPT", actor=CLERK)
    else:
        DOORS[door](shop, "ACCEPT", {}, record_id=TOO_LARGE)
    assert shop.stored() == before


def test_the_record_is_still_alive_after_the_corpus(shop: Shop) -> None:
    """The corpus refused everything, so the quotation is still waiting for its customer."""
    assert shop.service.snapshot(shop.quotation).value == "sent"
