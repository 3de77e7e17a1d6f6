"""The shipped Alembic migrations build exactly the models' schema; the log is append-only on PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.exc import DBAPIError

from orderflow.store import Base, TransitionLog, downgrade, upgrade
from workflow_db import Database


def test_the_migrations_match_the_models(database: Database) -> None:
    with database.engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    ours = set(Base.metadata.tables)
    relevant = [
        d
        for d in differences
        if d[1].name in ours
        or (getattr(d[1], "table", None) is not None and d[1].table.name in ours)
    ]
    assert relevant == []


def test_downgrade_removes_everything_and_upgrade_brings_it_back(database: Database) -> None:
    downgrade(database.engine)
    names = set(sa.inspect(database.engine).get_table_names())
    assert not names & set(Base.metadata.tables)
    upgrade(database.engine)
    assert set(Base.metadata.tables) <= set(sa.inspect(database.engine).get_table_names())


def _log_row(database: Database) -> int:
    with database.Session.begin() as session:
        row = TransitionLog(
            record_type="tickets", record_id="1", machine="ticket", event="GO",
            from_state="a", to_state="b", record_version=1, note="", details={},
        )  # fmt: skip
        session.add(row)
        session.flush()
        return row.id


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE workflow_transition_log SET note = 'rewritten'",
        "DELETE FROM workflow_transition_log",
        "TRUNCATE workflow_transition_log CASCADE",
    ],
)
def test_postgresql_refuses_to_change_the_transition_log(
    postgres: Database, statement: str
) -> None:
    _log_row(postgres)
    with pytest.raises(DBAPIError, match="append-only"), postgres.engine.begin() as connection:
        connection.exec_driver_sql(statement)
    with postgres.Session() as session:
        assert session.scalars(sa.select(TransitionLog.note)).all() == [""]


def test_a_url_with_a_percent_sign_is_handed_to_alembic_as_it_is(tmp_path: Path) -> None:
    """A password or a connect option escaped in the URL (``%40``, ``%3D``) is no config syntax."""
    from sqlalchemy import inspect as inspect_database

    from orderflow.store import create_engine, upgrade
    from orderflow.store.schema import alembic_config

    folder = tmp_path / "100% sure"
    folder.mkdir()
    engine = create_engine(sa.URL.create("sqlite", database=str(folder / "flow.sqlite3")))
    url = "postgresql+psycopg://app:p%40ss@db/app?options=-csearch_path%3Dflows"
    remote = create_engine(url)
    assert alembic_config(remote).get_main_option("sqlalchemy.url") == url
    upgrade(engine)
    assert "workflow_transition_log" in inspect_database(engine).get_table_names()
    engine.dispose()
    remote.dispose()
