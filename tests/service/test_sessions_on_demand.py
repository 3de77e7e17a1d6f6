"""A call makes an ORM session only when something asks for one, and then it is the user's own.

Most sends run no user code: the row is read and written with Core on the
transaction's connection, and building, beginning and committing an ORM
``Session`` would be a good part of their cost.  When an effect handler, a
finish hook or a database port does need one, it is made by the service's
own factory (its class and its events), in control of the same transaction,
and the call commits through it.  These tests hold both halves, for the
sync and the async driver, with a machine and a table defined here.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import String, event, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker

import orderflow
from orderflow.chart import Action
from orderflow.errors import EffectError
from orderflow.service import AsyncWorkflowService, WorkflowService
from orderflow.store import TransitionLog, WorkflowRecord
from workflow_db import Database, async_engine_for


class DepotBase(DeclarativeBase):
    pass


class Crate(DepotBase, WorkflowRecord):
    __tablename__ = "depot_crates"

    id: Mapped[int] = mapped_column(primary_key=True)
    label: Mapped[str] = mapped_column(String(40), default="")


class Note(DepotBase):
    """A row an effect handler writes through the session it is handed."""

    __tablename__ = "depot_notes"

    id: Mapped[int] = mapped_column(primary_key=True)
    crate_id: Mapped[int] = mapped_column()
    text: Mapped[str] = mapped_column(String(80))


CRATE = orderflow.create_machine(
    {
        "id": "crate",
        "initial": "packed",
        "context": {"moves": 0},
        "states": {
            "packed": {"on": {"SHIP": "shipped", "LABEL": {"actions": ["write_note"]}}},
            "shipped": {"on": {"RETURN": {"target": "packed", "actions": ["fail"]}}},
        },
    }
)


class CountingSession(Session):
    """The user's own session class: counts how many the service made."""

    made = 0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        type(self).made += 1
        super().__init__(*args, **kwargs)


def write_note(session: Any, crate: Crate, action: Action) -> None:
    assert isinstance(session, CountingSession), "the handler gets the user's own session class"
    session.add(Note(crate_id=crate.id, text="labelled"))


def fail(session: Any, crate: Crate, action: Action) -> None:
    session.add(Note(crate_id=crate.id, text="never kept"))
    raise RuntimeError("the carrier refused the return")


EFFECTS = {"write_note": write_note, "fail": fail}


@pytest.fixture
def depot(database: Database) -> Iterator[tuple[WorkflowService, list[str]]]:
    DepotBase.metadata.create_all(database.engine)
    commits: list[str] = []
    factory = sessionmaker(database.engine, class_=CountingSession, expire_on_commit=False)
    event.listen(factory, "after_commit", lambda session: commits.append("commit"))
    CountingSession.made = 0
    yield WorkflowService(factory, {"crate": CRATE}, effects=EFFECTS), commits


def notes(database: Database) -> list[str]:
    with database.Session() as session:
        return list(session.scalars(select(Note.text).order_by(Note.id)))


def test_a_send_that_runs_no_user_code_makes_no_session(
    depot: tuple[WorkflowService, list[str]], database: Database
) -> None:
    service, _ = depot
    crate = Crate(id=1, workflow_machine="crate")
    assert service.start(crate).success  # a start inserts the caller's instance: a session
    made = CountingSession.made

    assert service.send(crate, "SHIP").success
    assert service.snapshot(crate).value == "shipped"

    assert CountingSession.made == made, "moved and read with Core, no ORM session made"
    with database.Session() as session:
        assert session.scalar(select(func.count()).select_from(TransitionLog)) == 2


def test_a_handler_gets_a_session_of_the_users_factory_and_its_rows_commit_with_the_move(
    depot: tuple[WorkflowService, list[str]], database: Database
) -> None:
    service, commits = depot
    crate = Crate(id=2, workflow_machine="crate")
    service.start(crate)
    commits.clear()

    assert service.send(crate, "LABEL").success

    assert notes(database) == ["labelled"]
    assert commits == ["commit"], "the call commits through the session: its events fire"


def test_a_failing_handler_rolls_back_its_rows_and_the_move(
    depot: tuple[WorkflowService, list[str]], database: Database
) -> None:
    service, _ = depot
    crate = Crate(id=3, workflow_machine="crate")
    service.start(crate)
    service.send(crate, "SHIP")

    with pytest.raises(EffectError, match="the carrier refused the return"):
        service.send(crate, "RETURN")

    assert service.snapshot(crate).value == "shipped"
    assert notes(database) == []


def test_a_factory_that_is_not_a_sessionmaker_is_used_as_it_is(database: Database) -> None:
    DepotBase.metadata.create_all(database.engine)
    opened: list[Session] = []

    def factory() -> Session:
        session = CountingSession(database.engine, expire_on_commit=False)
        opened.append(session)
        return session

    service = WorkflowService(factory, {"crate": CRATE}, effects=EFFECTS)
    crate = Crate(id=4, workflow_machine="crate")
    service.start(crate)
    assert service.send(crate, "LABEL").success
    assert len(opened) == 2 and notes(database) == ["labelled"]


class CountingAsyncSession(AsyncSession):
    made = 0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        type(self).made += 1
        super().__init__(*args, **kwargs)


async def write_note_async(session: Any, crate: Crate, action: Action) -> None:
    assert isinstance(session, CountingAsyncSession)
    session.add(Note(crate_id=crate.id, text="labelled async"))


def test_the_async_driver_makes_its_session_only_when_a_handler_asks(database: Database) -> None:
    if database.kind == "sqlite-memory":
        pytest.skip("the async driver needs a SQLite file (in-memory SQLite is one connection)")
    DepotBase.metadata.create_all(database.engine)
    engine = async_engine_for(database)
    factory = async_sessionmaker(engine, class_=CountingAsyncSession, expire_on_commit=False)
    service = AsyncWorkflowService(
        factory, {"crate": CRATE}, effects={**EFFECTS, "write_note": write_note_async}
    )

    async def scenario() -> None:
        crate = Crate(id=5, workflow_machine="crate")
        assert (await service.start(crate)).success
        made = CountingAsyncSession.made
        assert (await service.send(crate, "SHIP")).success
        assert CountingAsyncSession.made == made
        other = Crate(id=6, workflow_machine="crate")
        await service.start(other)
        assert (await service.send(other, "LABEL")).success
        assert CountingAsyncSession.made == made + 2  # the start's and the handler's
        await engine.dispose()

    asyncio.run(scenario())
    assert notes(database) == ["labelled async"]
