"""A FastAPI service on orderflow's async driver: invoices that move through their own machine.

    pip install 'orderflow[fastapi]'
    ORDERFLOW_API_SECRET=... uvicorn examples.fastapi_app:app

What a team would copy:

- **its own table and machine**: ``Invoice`` mixes in ``WorkflowRecord``;
  the machine is JSON data, its guard and effect are Python;
- **one request-scoped ``AsyncSession``** (:func:`session`): every endpoint
  works in it and commits once, at the end; the service joins that
  transaction (``service.joined(session)``, a SAVEPOINT), so creating an
  invoice and starting its workflow commit together or not at all;
- **who acts comes from the bearer token** (:func:`principal`), never from
  the request body: a body that names an ``actor`` is refused;
- **the typed result**: a send answers with what moved, or with a
  ``refusal`` whose ``kind`` picks the HTTP status (403 for ``forbidden``,
  409 for the machine's refusals); errors from ``orderflow.errors`` carry a
  stable ``code``.

Run as a script, it starts an in-process client against a SQLite file and
walks one invoice through.
"""

import asyncio
import os
import tempfile
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Header, HTTPException, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy import ForeignKey, Numeric, String
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

import orderflow
from orderflow.api.tokens import TokenVerifier, issue_token
from orderflow.chart import Action
from orderflow.errors import (
    AuthenticationError,
    IdempotencyKeyReusedError,
    InvalidEventError,
    OrderflowError,
    RecordNotFoundError,
    StaleRecordError,
)
from orderflow.service import AsyncWorkflowService, Principal, TransitionResult
from orderflow.store import WorkflowRecord, create_async_engine, upgrade
from orderflow.store.engine import create_engine


class Base(DeclarativeBase):
    pass


class Invoice(Base, WorkflowRecord):
    """The application's own table: orderflow adds the workflow columns."""

    __tablename__ = "invoices"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(40), unique=True)
    amount: Mapped[Decimal] = mapped_column(Numeric(12, 2))


class Payment(BaseModel):
    amount: Decimal = Field(gt=0)


def covers_the_amount(
    context: Any, event: orderflow.TypedEvent[Payment], params: Any
) -> tuple[bool, str]:
    due = Decimal(context["amount"])
    return event.amount >= due, f"{event.amount} does not cover the {due} due"


class Receipt(Base):
    """What the ``sendReceipt`` effect writes, in the transaction of the step that took the money."""

    __tablename__ = "receipts"

    id: Mapped[int] = mapped_column(primary_key=True)
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoices.id"))
    amount: Mapped[Decimal] = mapped_column(Numeric(12, 2))


async def send_receipt(session: AsyncSession, invoice: Invoice, action: Action) -> None:
    """An ``async def`` effect: it gets the request's ``AsyncSession`` and writes with it."""
    session.add(Receipt(invoice_id=invoice.id, amount=action.event.amount))  # the Payment model's
    await session.flush()


INVOICE = orderflow.setup(
    guards={"coversTheAmount": covers_the_amount},
    actions={"sendReceipt": lambda *_: None},
    events={"PAY": Payment},
).create_machine(
    {
        "id": "invoice",
        "initial": "draft",
        "context": {"amount": "0"},
        "states": {
            "draft": {"on": {"ISSUE": "issued", "DISCARD": "discarded"}},
            "issued": {
                "on": {
                    "PAY": {
                        "target": "paid",
                        "guard": "coversTheAmount",
                        "actions": [
                            "sendReceipt",
                            {"type": "emit", "params": {"event": {"type": "invoice.paid"}}},
                        ],
                    },
                    "VOID": "void",
                }
            },
            "paid": {"type": "final"},
            "void": {"type": "final"},
            "discarded": {"type": "final"},
        },
    }
)


class NewInvoice(BaseModel):
    number: str = Field(min_length=1, max_length=40)
    amount: Decimal = Field(gt=0)


class EventBody(BaseModel):
    """``{"type": "PAY", "amount": "12.50"}``: the event's type and its payload."""

    model_config = {"extra": "allow"}
    type: str


async def session(request: Request) -> AsyncIterator[AsyncSession]:
    """One session per request, committed by the endpoint, rolled back on any error."""
    async with request.app.state.sessions() as request_session:
        yield request_session


def principal(request: Request, authorization: Annotated[str | None, Header()] = None) -> Principal:
    """Who acts: the principal the bearer token vouches for (401 without a valid one)."""
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise HTTPException(401, "send 'Authorization: Bearer <token>'")
    try:
        found: Principal = request.app.state.tokens.read(token)
    except AuthenticationError as exc:
        raise HTTPException(401, str(exc)) from None
    return found


Db = Annotated[AsyncSession, Depends(session)]
Who = Annotated[Principal, Depends(principal)]


def create_app(engine: AsyncEngine, secret: str) -> FastAPI:
    """The app on ``engine`` (its tables made), trusting HS256 tokens signed with ``secret``."""
    Session = async_sessionmaker(engine, expire_on_commit=False)
    service = AsyncWorkflowService(
        Session, {"invoice": INVOICE}, effects={"sendReceipt": send_receipt}
    )
    app = FastAPI(title="invoices")
    app.state.sessions = Session
    app.state.tokens = TokenVerifier(secret)

    @app.exception_handler(OrderflowError)
    async def orderflow_error(request: Request, exc: OrderflowError) -> JSONResponse:
        status = 422
        if isinstance(exc, RecordNotFoundError):
            status = 404
        elif isinstance(exc, StaleRecordError | IdempotencyKeyReusedError):
            status = 409
        elif not isinstance(exc, InvalidEventError):
            status = 500
        return JSONResponse({"code": exc.code, "detail": str(exc)}, status_code=status)

    @app.post("/invoices", status_code=201)
    async def create(body: NewInvoice, db: Db, actor: Who) -> dict[str, Any]:
        invoice = Invoice(number=body.number, amount=body.amount, workflow_machine="invoice")
        db.add(invoice)
        try:
            await db.flush()
        except IntegrityError:
            raise HTTPException(409, f"invoice {body.number} exists already") from None
        result = await service.joined(db).start(
            invoice, input={"amount": str(body.amount)}, actor=actor
        )
        await db.commit()
        return {"id": invoice.id, **answer(result)}

    @app.post("/invoices/{invoice_id}/events")
    async def send(
        invoice_id: int,
        event: EventBody,
        db: Db,
        actor: Who,
        idempotency_key: Annotated[str | None, Header()] = None,
    ) -> JSONResponse:
        result = await service.joined(db).send(
            (Invoice, invoice_id), event.model_dump(), actor=actor,
            idempotency_key=idempotency_key,
        )  # fmt: skip
        await db.commit()
        if result.success:
            return JSONResponse(answer(result))
        status = 403 if result.refusal and result.refusal.kind == "forbidden" else 409
        return JSONResponse(answer(result), status_code=status)

    @app.get("/invoices/{invoice_id}")
    async def read(invoice_id: int, actor: Who) -> dict[str, Any]:
        snapshot = await service.snapshot((Invoice, invoice_id))
        options = await service.allowed_events((Invoice, invoice_id), actor=actor)
        return {
            "state": snapshot.value,
            "status": snapshot.status,
            "events": {o.event: o.reason if not o.allowed else True for o in options},
        }

    return app


def answer(result: TransitionResult) -> dict[str, Any]:
    """The typed result as JSON: what moved, or the refusal's kind and reason."""
    data: dict[str, Any] = {
        "success": result.success, "from": result.from_state, "to": result.to_state,
        "version": result.version, "effects": list(result.effects), "idempotent": result.idempotent,
    }  # fmt: skip
    if result.refusal is not None:
        data["refusal"] = {"kind": result.refusal.kind, "reason": result.refusal.reason}
    return data


def make_tables(url: str) -> None:
    """orderflow's tables (Alembic) and the app's own, with a sync engine, before serving."""
    engine = create_engine(url)
    try:
        upgrade(engine)
        Base.metadata.create_all(engine)
    finally:
        engine.dispose()


def app_from_environment() -> FastAPI:
    url = os.environ.get("DATABASE_URL", "sqlite:///invoices.db")
    make_tables(url)
    return create_app(create_async_engine(url), os.environ["ORDERFLOW_API_SECRET"])


async def walk_one_invoice(url: str) -> list[str]:
    """An in-process client (httpx's ASGI transport) walking one invoice to paid."""
    import httpx

    secret = "example-secret-" + "k3y9" * 8
    engine = create_async_engine(url)
    app = create_app(engine, secret)
    clerk = issue_token(secret, Principal("u-7", "Clara Clerk"))
    auth = {"Authorization": f"Bearer {clerk}"}
    lines = []
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://invoices") as client:
        made = (
            await client.post(
                "/invoices", json={"number": "INV-1", "amount": "40.00"}, headers=auth
            )
        ).json()
        lines.append(f"created invoice {made['id']} in {made['to']}")
        path = f"/invoices/{made['id']}/events"
        for body in (
            {"type": "ISSUE"},
            {"type": "PAY", "amount": "10.00"},
            {"type": "PAY", "amount": "40.00"},
        ):
            reply = await client.post(path, json=body, headers=auth)
            data = reply.json()
            outcome = data["to"] if data["success"] else f"refused: {data['refusal']['reason']}"
            lines.append(f"{body['type']}: {reply.status_code} {outcome}")
    await engine.dispose()
    return lines


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{folder}/invoices.db"
        make_tables(url)
        for line in asyncio.run(walk_one_invoice(url)):
            print(line)


if __name__ == "__main__":
    main()
else:  # ``uvicorn examples.fastapi_app:app`` (needs ORDERFLOW_API_SECRET)
    app = app_from_environment() if "ORDERFLOW_API_SECRET" in os.environ else None
