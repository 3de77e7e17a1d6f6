"""A throwaway database for the persistence benchmarks: a fresh PostgreSQL schema, or a SQLite file."""

from __future__ import annotations

import tempfile
import uuid

import sqlalchemy as sa

from orderflow.store import create_engine, upgrade


class Database:
    """A fresh schema (or SQLite file) with orderflow's tables and, optionally, a bench's own."""

    def __init__(self, url: str | None, extra: sa.MetaData | None = None) -> None:
        self.url, self.schema = url, None
        if url is None:
            self.url = f"sqlite:///{tempfile.mkdtemp()}/bench.db"
        else:
            self.schema = f"bench_{uuid.uuid4().hex[:10]}"
            with sa.create_engine(url, isolation_level="AUTOCOMMIT").connect() as c:
                c.exec_driver_sql(f"CREATE SCHEMA {self.schema}")
        engine = self.engine()
        upgrade(engine)
        if extra is not None:
            extra.create_all(engine)
        engine.dispose()

    def engine(self) -> sa.Engine:
        assert self.url is not None
        if self.schema is None:
            return create_engine(self.url)
        return create_engine(
            self.url, connect_args={"options": f"-csearch_path={self.schema}"}, pool_size=2
        )

    def drop(self) -> None:
        if self.schema is not None and self.url is not None:
            with sa.create_engine(self.url, isolation_level="AUTOCOMMIT").connect() as c:
                c.exec_driver_sql(f"DROP SCHEMA {self.schema} CASCADE")
