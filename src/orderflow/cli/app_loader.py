"""The user's app, named once: ``--app module:attribute``, ``ORDERFLOW_APP``, or pyproject.toml.

    orderflow --app helpdesk.workflows:service inspect helpdesk_tickets:1
    ORDERFLOW_APP=helpdesk.workflows:make_service orderflow worker --once

    # pyproject.toml
    [tool.orderflow]
    app = "helpdesk.workflows:make_service"

The attribute is a :class:`~orderflow.service.WorkflowService`, or a factory
returning one; a factory that takes a ``database_url`` parameter is given the
command's ``--database-url``.  The current folder is importable, as uvicorn
and celery make it.  Without an app the commands serve the shipped order
machines.  The record types an app serves are the tables of the mapped
``WorkflowRecord`` models its module imported.
"""

from __future__ import annotations

import importlib
import inspect
import os
import sys
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any

APP_ENV = "ORDERFLOW_APP"
_CHOSEN: ContextVar[str | None] = ContextVar("orderflow_cli_app", default=None)


class AppError(Exception):
    """The app cannot be found or is not a service: said in one line by the CLI."""


def choose(spec: str | None) -> None:
    """The root ``--app`` option: it wins over the environment and pyproject.toml."""
    _CHOSEN.set(spec)


def app_spec(folder: Path | None = None) -> str | None:
    """The app named for this run: ``--app``, then ``ORDERFLOW_APP``, then ``[tool.orderflow] app``."""
    chosen = _CHOSEN.get() or os.environ.get(APP_ENV)
    if chosen:
        return chosen
    pyproject = (folder or Path.cwd()) / "pyproject.toml"
    if not pyproject.is_file():
        return None
    try:
        settings = tomllib.loads(pyproject.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise AppError(f"{pyproject} cannot be read: {exc}") from None
    app = settings.get("tool", {}).get("orderflow", {}).get("app")
    if app is not None and not isinstance(app, str):
        raise AppError(f"[tool.orderflow] app in {pyproject} must be 'module:attribute'")
    return app


def import_app(spec: str) -> Any:
    """The attribute ``spec`` names: a service, or a factory of one (not called yet)."""
    from orderflow.service import AsyncWorkflowService, WorkflowService

    module_name, sep, attribute = spec.partition(":")
    if not sep or not module_name or not attribute:
        raise AppError(
            f"name the app as module:attribute (e.g. helpdesk.app:service), not {spec!r}"
        )
    if str(Path.cwd()) not in sys.path:
        sys.path.insert(0, str(Path.cwd()))
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise AppError(f"the app module {module_name!r} cannot be imported: {exc}") from None
    found = getattr(module, attribute, None)
    if found is None:
        raise AppError(f"the app module {module_name!r} has no attribute {attribute!r}")
    if isinstance(found, AsyncWorkflowService):
        raise AppError(
            f"{spec} is an AsyncWorkflowService; the command line drives a WorkflowService: "
            "name a factory that returns one over the same database"
        )
    if not isinstance(found, WorkflowService) and not inspect.isfunction(found):
        raise AppError(
            f"{spec} is a {type(found).__name__}, not a WorkflowService (or a function returning one)"
        )
    return found


def load_app(spec: str, database_url: str | None) -> Any:
    """The service ``spec`` names (calling a factory, with ``database_url`` if it takes one)."""
    from orderflow.service import WorkflowService

    found = import_app(spec)
    if inspect.isfunction(found):
        takes_url = "database_url" in inspect.signature(found).parameters
        found = found(database_url=database_url) if takes_url else found()
        if not isinstance(found, WorkflowService):
            raise AppError(f"{spec} returned a {type(found).__name__}, not a WorkflowService")
    return found


#: the shipped order machines: an app whose service has none of them serves none of their tables
ORDER_MACHINES = ("quotation", "sale", "fulfilment", "order")


def record_models(service: Any = None, spec: str | None = None) -> dict[str, type[Any]]:
    """The record types an app serves, by table name: the mapped ``WorkflowRecord`` models imported.

    orderflow's own order records count only for a service that runs an order machine.
    The models the app's module (``spec``) holds win a table name that another
    module of the process maps too: the app's class is the one its service moves.
    """
    from orderflow.workers.timers import workflow_models

    models = workflow_models()
    machines = getattr(service, "machines", None)
    if machines is not None and not any(name in machines for name in ORDER_MACHINES):
        models = {t: m for t, m in models.items() if not m.__module__.startswith("orderflow.")}
    if spec is not None:
        models.update(_module_models(spec.partition(":")[0]))
    return models


def _module_models(module_name: str) -> dict[str, type[Any]]:
    """The mapped ``WorkflowRecord`` models an imported module holds, by table name."""
    from sqlalchemy import inspect as inspect_model

    from orderflow.store import WorkflowRecord

    module = sys.modules.get(module_name)
    found: dict[str, type[Any]] = {}
    for value in vars(module).values() if module is not None else ():
        table = getattr(value, "__tablename__", None)
        if (
            isinstance(value, type)
            and issubclass(value, WorkflowRecord)
            and isinstance(table, str)
            and inspect_model(value, raiseerr=False) is not None
        ):
            found[table] = value
    return found


@contextmanager
def app_service(database_url: str | None) -> Iterator[Any | None]:
    """The app's service for this run, or None when no app is named (the shipped order service)."""
    spec = app_spec()
    yield None if spec is None else load_app(spec, database_url)
