"""The harness for tests that run workers as forked processes, each with its own engine.

``in_child`` wraps a worker's body: the process leaves with ``os._exit``
(never running the parent's atexit handlers or closing its connections),
with exit code 1 if the body raised, so a test that expects ``0`` from each
worker sees a crash.  ``until_idle`` runs batches until a few come back
empty in a row: a batch can be empty while other workers hold the rest.
"""

from __future__ import annotations

import functools
import multiprocessing
import os
import traceback
from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from workflow_db import Database, make_engine

fork = multiprocessing.get_context("fork")


def child_sessions(database: Database) -> sessionmaker[Session]:
    """A session factory on a new engine, for a forked process (never the parent's connections)."""
    return sessionmaker(make_engine(database.engine_url(), database.schema), expire_on_commit=False)


def in_child(body: Callable[..., object]) -> Callable[..., None]:
    """``body`` as a forked process's target: exit 0 when it returns, 1 when it raises."""

    @functools.wraps(body)
    def target(*args: Any) -> None:
        code = 1
        try:
            body(*args)
            code = 0
        except BaseException:
            traceback.print_exc()
        finally:
            os._exit(code)

    return target


def until_idle(batch: Callable[[], object], idle_batches: int = 3) -> None:
    """Call ``batch`` until it returns something empty ``idle_batches`` times in a row."""
    idle = 0
    while idle < idle_batches:
        idle = 0 if batch() else idle + 1


def workers(count: int, target: Callable[..., None], *args: Any) -> list[Any]:
    """``count`` forked processes running ``target(*args)``, not started."""
    return [fork.Process(target=target, args=args) for _ in range(count)]


def run(processes: list[Any], timeout: float = 120) -> list[int | None]:
    """Start the processes, wait for each, and return their exit codes."""
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=timeout)
    return [process.exitcode for process in processes]
