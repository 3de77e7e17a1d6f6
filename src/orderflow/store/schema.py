"""The schema of orderflow's tables, applied by the Alembic migrations shipped in ``migrations/``.

    from orderflow.store import upgrade
    upgrade("postgresql+psycopg://app@db/app")   # or an Engine

``upgrade`` runs inside one transaction on the engine it is given (PostgreSQL
runs DDL transactionally), so a failed migration leaves nothing behind there.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine
from sqlalchemy.engine import URL

from orderflow.store.engine import create_engine

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def alembic_config(engine: Engine) -> Config:
    """An Alembic configuration for orderflow's migrations, bound to ``engine``."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    # Alembic's options are configparser values, where % starts an interpolation: a URL's own
    # escapes (a password's %40, a connect option's %3D) must reach env.py as they are
    url = engine.url.render_as_string(hide_password=False)
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    config.attributes["engine"] = engine
    return config


def upgrade(engine_or_url: Engine | str | URL, revision: str = "head") -> None:
    """Bring the database to ``revision`` (the newest by default)."""
    engine = engine_or_url if isinstance(engine_or_url, Engine) else create_engine(engine_or_url)
    command.upgrade(alembic_config(engine), revision)


def downgrade(engine_or_url: Engine | str | URL, revision: str = "base") -> None:
    """Undo migrations down to ``revision`` (everything by default)."""
    engine = engine_or_url if isinstance(engine_or_url, Engine) else create_engine(engine_or_url)
    command.downgrade(alembic_config(engine), revision)
