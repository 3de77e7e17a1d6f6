"""The children an actor runs beside its snapshot: function actors and invoked SCXML sessions.

A JSON machine's child *machines* live in its snapshot and move inside
``machine.transition`` (``orderflow.chart.actors``); the actor only runs their
effects and timers.  What cannot live in a snapshot runs here, one mechanism
for both kinds, driven by the core's records:

============================  ===========================  ===================================
started by                    runs as                      stopped by
============================  ===========================  ===================================
``start_actor`` (a function)  the call, an asyncio task,   ``stop_actor``
                              or a thread
``scxml.invoke``              a child :class:`Actor` on    ``scxml.cancel_invoke``
                              the parent's clock
============================  ===========================  ===================================

Each running child is kept in its parent actor's :class:`Children` under
``(parent path, id)``.  Starting a child under a key stops the one there;
stopping cancels it; and its answer (a function's result, a session's
``done.invoke``) reaches the parent only while that very child is still the
one under its key, so an answer from a child that was stopped is dropped.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any, Protocol

#: a running child's place: the path of the machine that started it ("" for the actor's own
#: machine) and the child's id
Key = tuple[str, str]


class Running(Protocol):
    """A child running beside the snapshot; ``stop()`` cancels it and silences its answer."""

    def stop(self) -> None: ...


class Task:
    """A function actor running as an asyncio task: stopping it cancels the task and sets its
    ``signal`` (the one the function was given, if it takes one)."""

    __slots__ = ("signal", "task")

    def __init__(self, task: Any) -> None:
        self.task = task
        self.signal = threading.Event()

    def stop(self) -> None:
        self.signal.set()
        self.task.cancel()


class Thread:
    """A function actor running on a thread; a thread cannot be interrupted, so stopping it
    sets its ``signal``: a function that takes one polls it and returns."""

    __slots__ = ("signal",)

    def __init__(self) -> None:
        self.signal = threading.Event()

    def stop(self) -> None:
        self.signal.set()


class Session:
    """An invoked SCXML session: a child actor, with the invoke that started it."""

    __slots__ = ("actor", "invoke")

    def __init__(self, actor: Any, invoke: Any) -> None:
        self.actor = actor
        self.invoke = invoke

    def stop(self) -> None:
        self.actor.cancelled = True
        self.actor.stop()


class Children:
    """The running children of one actor, by :data:`Key` (see the module docstring)."""

    def __init__(self) -> None:
        self._running: dict[Key, Running] = {}

    def start(self, key: Key, running: Running) -> None:
        """Keep ``running`` under ``key``; a child already there is stopped first."""
        self.stop(key)
        self._running[key] = running

    def stop(self, key: Key) -> None:
        """Stop the child under ``key``, if one runs."""
        running = self._running.pop(key, None)
        if running is not None:
            running.stop()

    def finish(self, key: Key, running: Running) -> bool:
        """``running`` answers: True (and it is gone) if it still runs under ``key``, else False."""
        if self._running.get(key) is not running:
            return False
        del self._running[key]
        return True

    def is_current(self, key: Key, running: Running) -> bool:
        return self._running.get(key) is running

    def stop_all(self) -> None:
        running, self._running = self._running, {}
        for child in running.values():
            child.stop()

    def sessions(self) -> Iterator[tuple[str, Session]]:
        """The invoked sessions of the actor's own machine, by invoke id, in start order."""
        for (path, ident), running in self._running.items():
            if not path and isinstance(running, Session):
                yield ident, running
