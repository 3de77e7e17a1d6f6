"""examples/fastapi_app.py, over HTTP (httpx's ASGI transport) on a SQLite file and PostgreSQL."""

from __future__ import annotations

import asyncio
import runpy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from orderflow.api.tokens import issue_token
from orderflow.service import Principal
from orderflow.store import TransitionLog
from workflow_db import NO_POSTGRES, POSTGRES_URL, Database, async_engine_for, open_database

EXAMPLE = runpy.run_path(str(Path(__file__).parents[1] / "examples" / "fastapi_app.py"))
SECRET = "fastapi-example-" + "s3cr" * 8
CLERK = {"Authorization": f"Bearer {issue_token(SECRET, Principal('u-7', 'Clara Clerk'))}"}


@pytest.fixture
def database(shared_database: Database) -> Iterator[Database]:
    EXAMPLE["Base"].metadata.create_all(shared_database.engine)
    yield shared_database


def call(
    database: Database,
    *requests: tuple[str, str, dict[str, Any] | None, dict[str, str]],
    driver: str = "psycopg",
) -> list[httpx.Response]:
    """Send ``requests`` (method, path, JSON body, headers) to a fresh app on ``database``, in
    order; on PostgreSQL through the async ``driver`` (psycopg or asyncpg)."""

    async def main() -> list[httpx.Response]:
        engine = async_engine_for(database, driver)
        app = EXAMPLE["create_app"](engine, SECRET)
        replies = []
        try:
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
                for method, path, body, headers in requests:
                    replies.append(await client.request(method, path, json=body, headers=headers))
        finally:
            await engine.dispose()
        return replies

    return asyncio.run(main())


def count(database: Database, model: Any) -> int:
    with database.Session() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_an_invoice_is_created_issued_refused_and_paid(database: Database) -> None:
    walk_an_invoice(database)


def test_the_example_runs_on_asyncpg_too(tmp_path: Path) -> None:
    """The same walk with the app's engine on asyncpg (``postgresql+asyncpg://``)."""
    if POSTGRES_URL is None:
        pytest.skip(NO_POSTGRES)
    with open_database("postgresql", tmp_path) as database:
        EXAMPLE["Base"].metadata.create_all(database.engine)
        walk_an_invoice(database, "asyncpg")


def walk_an_invoice(database: Database, driver: str = "psycopg") -> None:
    created, issued, short, paid, again, read = call(
        database,
        ("POST", "/invoices", {"number": "INV-1", "amount": "40.00"}, CLERK),
        ("POST", "/invoices/1/events", {"type": "ISSUE"}, CLERK),
        ("POST", "/invoices/1/events", {"type": "PAY", "amount": "10.00"}, CLERK),
        ("POST", "/invoices/1/events", {"type": "PAY", "amount": "40.00"}, {**CLERK, "Idempotency-Key": "k-1"}),
        ("POST", "/invoices/1/events", {"type": "PAY", "amount": "40.00"}, {**CLERK, "Idempotency-Key": "k-1"}),
        ("GET", "/invoices/1", None, CLERK),
        driver=driver,
    )  # fmt: skip
    assert created.status_code == 201 and created.json()["to"] == "draft"
    assert issued.json()["to"] == "issued"
    assert short.status_code == 409
    assert short.json()["refusal"]["kind"] == "guarded"
    assert "does not cover the 40.00 due" in short.json()["refusal"]["reason"]
    assert paid.status_code == 200 and paid.json()["effects"] == ["sendReceipt"]
    assert again.json()["idempotent"] is True and again.json()["to"] == "paid"
    assert read.json()["state"] == "paid" and read.json()["status"] == "done"
    assert count(database, EXAMPLE["Receipt"]) == 1  # the async effect ran once
    with database.Session() as session:
        log = session.scalars(select(TransitionLog).order_by(TransitionLog.id)).all()
    assert [row.event for row in log] == ["xstate.init", "ISSUE", "PAY"]
    assert {row.actor_user for row in log} == {"u-7"}


def test_who_acts_comes_from_the_token_only(database: Database) -> None:
    forged = {"type": "ISSUE", "actor": {"id": "u-boss", "roles": ["admin"]}}
    made, anonymous, bad_token, named = call(
        database,
        ("POST", "/invoices", {"number": "INV-2", "amount": "5.00"}, CLERK),
        ("POST", "/invoices/1/events", {"type": "ISSUE"}, {}),
        ("POST", "/invoices/1/events", {"type": "ISSUE"}, {"Authorization": "Bearer nope"}),
        ("POST", "/invoices/1/events", forged, CLERK),
    )  # fmt: skip
    assert made.status_code == 201
    assert anonymous.status_code == 401 and bad_token.status_code == 401
    assert named.status_code == 422 and named.json()["code"] == "INVALID_EVENT"
    assert count(database, TransitionLog) == 1  # only the start was written


def test_errors_carry_their_code_and_write_nothing(database: Database) -> None:
    missing, made, internal = call(
        database,
        ("POST", "/invoices/99/events", {"type": "ISSUE"}, CLERK),
        ("POST", "/invoices", {"number": "INV-3", "amount": "5.00"}, CLERK),
        ("POST", "/invoices/1/events", {"type": "xstate.init"}, CLERK),
    )  # fmt: skip
    assert missing.status_code == 404 and missing.json()["code"] == "NOT_FOUND"
    assert made.status_code == 201
    assert internal.status_code == 422 and internal.json()["code"] == "UNKNOWN_EVENT"
    assert count(database, TransitionLog) == 1


def test_a_duplicate_invoice_is_a_conflict_and_writes_nothing(database: Database) -> None:
    first, duplicate = call(
        database,
        ("POST", "/invoices", {"number": "INV-4", "amount": "5.00"}, CLERK),
        ("POST", "/invoices", {"number": "INV-4", "amount": "6.00"}, CLERK),
    )
    assert first.status_code == 201
    assert duplicate.status_code == 409  # the unique number: the request's transaction rolls back
    assert count(database, EXAMPLE["Invoice"]) == 1 and count(database, TransitionLog) == 1
