"""The shipped order flow behind one service with a PhaseCoordinator, for the coordinator and end-to-end tests."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from orderflow.service import (
    HANDOFF_EVENT,
    PhaseCoordinator,
    Principal,
    WorkflowService,
    database_ports,
    order_service,
)
from orderflow.store import Fulfillment, Quotation, SaleOrder, TransitionLog

CLERK = Principal("u-1", "Clara Clerk")
QUOTATION_INPUT = {"quotation_id": "Q-1", "customer_id": "C-1", "currency": "EUR"}
CHAIRS = {"type": "ADD_LINE", "sku": "CHAIR", "quantity": 2, "unit_price": "120.00"}


def flow_service(
    Session: Callable[[], Session],
    *,
    coordinator: PhaseCoordinator | None = None,
    clock: Callable[[], datetime] | None = None,
) -> WorkflowService:
    options: dict[str, Any] = {} if clock is None else {"clock": clock}
    hooks = [coordinator or PhaseCoordinator.for_orders()]
    return order_service(Session, finish_hooks=hooks, **options)


def sent_quotation(service: WorkflowService, reference: str = "Q-1") -> Quotation:
    """A quotation for two chairs, sent to the customer (it waits for ACCEPT)."""
    quotation = Quotation(reference=reference, customer_id="C-1", workflow_machine="quotation")
    assert service.start(quotation, input={**QUOTATION_INPUT, "quotation_id": reference})
    assert service.send(quotation, CHAIRS, actor=CLERK)
    assert service.send(quotation, "SUBMIT", actor=CLERK)
    assert service.snapshot(quotation).value == "sent"
    return quotation


def add_stock(Session: sessionmaker[Session], sku: str, quantity: int) -> None:
    with Session() as session:
        database_ports(lambda: session).inventory.add_stock(sku, quantity)
        session.commit()


def sales(Session: sessionmaker[Session]) -> list[SaleOrder]:
    with Session() as session:
        return list(session.scalars(select(SaleOrder).order_by(SaleOrder.id)))


def fulfilments(Session: sessionmaker[Session]) -> list[Fulfillment]:
    with Session() as session:
        return list(session.scalars(select(Fulfillment).order_by(Fulfillment.id)))


def handoff_rows(Session: sessionmaker[Session]) -> list[TransitionLog]:
    with Session() as session:
        return list(
            session.scalars(
                select(TransitionLog)
                .where(TransitionLog.event == HANDOFF_EVENT)
                .order_by(TransitionLog.id)
            )
        )


def history(Session: sessionmaker[Session], record_type: str, record_id: Any) -> list[str]:
    """The record's log as ``EVENT -> state`` lines, oldest first."""
    with Session() as session:
        rows = session.scalars(
            select(TransitionLog)
            .where(TransitionLog.record_type == record_type)
            .where(TransitionLog.record_id == str(record_id))
            .order_by(TransitionLog.id)
        )
        return [f"{row.event} -> {_dotted(row.to_state)}" for row in rows]


def _dotted(value: Any) -> str:
    parts = []
    while isinstance(value, dict) and len(value) == 1:
        ((key, value),) = value.items()
        parts.append(key)
    parts.append(str(value))
    return ".".join(parts)
