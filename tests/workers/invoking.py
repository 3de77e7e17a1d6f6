"""A machine and a table of the invocation tests' own: a booking that charges through a function actor.

``booking`` invokes the function actor ``charge`` while ``charging``; its
result is kept in the context (``receipts``) and, while fewer than
``rounds`` receipts are kept, the state is entered again, which invokes
``charge`` again under the same child id (the pattern where a late or
repeated result would reach the wrong invocation).  ``CANCEL`` leaves
``charging``; ``RESTART`` leaves and re-enters it.  A failure the worker
gives up on takes ``onError`` to ``declined``.

A delivery is counted by its log row (event ``xstate.done.actor.charge``)
and by the receipts in the context; a run of the function by the calls the
test's function records.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

import orderflow
from orderflow.chart import assign
from orderflow.service import WorkflowService
from orderflow.store import Invocation, TransitionLog, WorkflowRecord
from workflow_db import Database

DONE_EVENT = "xstate.done.actor.charge"


class BookingBase(DeclarativeBase):
    pass


class Booking(BookingBase, WorkflowRecord):
    """The test's own record type, with its own table name."""

    __tablename__ = "invocation_bookings"

    id: Mapped[int] = mapped_column(primary_key=True)


MODELS = {"invocation_bookings": Booking}


def booking_machine(
    charge: Callable[..., Any], *, machine_id: str = "booking"
) -> orderflow.Machine:
    """The booking machine, charging through ``charge(input)``."""

    def wants_more(context: Any, event: Any, params: Any) -> bool:
        return len(context["receipts"]) + 1 < context["rounds"]

    return orderflow.setup(
        actors={"charge": charge},
        guards={"wants_more": wants_more},
        actions={
            "keep_receipt": assign(
                lambda context, event, params: {"receipts": [*context["receipts"], event.output]}
            ),
            "keep_error": assign(lambda context, event, params: {"error": event.error}),
        },
    ).create_machine(
        {
            "id": machine_id,
            "context": {"receipts": [], "rounds": 1, "error": None},
            "initial": "charging",
            "states": {
                "charging": {
                    "invoke": {
                        "id": "charge",
                        "src": "charge",
                        "input": {"amount": 25},
                        "onDone": [
                            {
                                "guard": "wants_more",
                                "target": "charging",
                                "reenter": True,
                                "actions": ["keep_receipt"],
                            },
                            {"target": "charged", "actions": ["keep_receipt"]},
                        ],
                        "onError": {"target": "declined", "actions": ["keep_error"]},
                    },
                    "on": {
                        "CANCEL": "cancelled",
                        "RESTART": {"target": "charging", "reenter": True},
                    },
                },
                "charged": {"type": "final"},
                "declined": {"type": "final"},
                "cancelled": {"type": "final"},
            },
        }
    )


class Charges:
    """A charge function that counts its runs and answers with a numbered receipt."""

    def __init__(self) -> None:
        self.calls: list[Any] = []

    def __call__(self, value: Any) -> dict[str, Any]:
        self.calls.append(value)
        return {"receipt": len(self.calls), "amount": value["amount"]}


def booking_service(
    Session: Callable[[], Session], charge: Callable[..., Any] | None = None
) -> WorkflowService:
    return WorkflowService(Session, {"booking": booking_machine(charge or Charges())})


def create_tables(database: Database) -> None:
    BookingBase.metadata.create_all(database.engine)


def deliveries(database: Database) -> Counter[str]:
    """How many times a result was delivered, by record id (log rows of the done event)."""
    with database.Session() as session:
        rows = session.execute(
            select(TransitionLog.record_id, func.count())
            .where(TransitionLog.event == DONE_EVENT)
            .group_by(TransitionLog.record_id)
        ).all()
    return Counter({record_id: count for record_id, count in rows})


def invocation_states(database: Database) -> Counter[str]:
    with database.Session() as session:
        return Counter(session.scalars(select(Invocation.state)).all())


def invocations(database: Database, record_id: int) -> list[Invocation]:
    with database.Session() as session:
        return list(
            session.scalars(
                select(Invocation)
                .where(Invocation.record_id == str(record_id))
                .order_by(Invocation.id)
            )
        )
