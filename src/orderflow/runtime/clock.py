"""Clocks for actors: when is now, and run this later.

The core never reads a clock; an actor asks its clock to call it back when a
timer is due.  :class:`SimulatedClock` is advanced by hand (tests, the demo);
:class:`ThreadingClock` uses real time and a timer thread per call;
:class:`AsyncioClock` uses the running event loop.  All times are milliseconds.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol


class Clock(Protocol):
    """What an actor needs of a clock."""

    def now(self) -> float:
        """The current time in milliseconds."""
        ...

    def call_later(self, delay_ms: float, callback: Callable[[], None]) -> Any:
        """Call ``callback`` once, ``delay_ms`` from now; return a handle for :meth:`cancel`."""
        ...

    def cancel(self, handle: Any) -> None:
        """Make sure the callback of ``handle`` does not run (a no-op if it already ran)."""
        ...


class SimulatedClock:
    """A clock that moves only when told to: ``advance(ms)`` runs what fell due, in order of due time."""

    def __init__(self, start_ms: float = 0.0) -> None:
        self._now = float(start_ms)
        self._queue: list[tuple[float, int, Callable[[], None]]] = []
        self._cancelled: set[int] = set()
        self._sequence = itertools.count()
        self._lock = threading.RLock()

    def now(self) -> float:
        return self._now

    def call_later(self, delay_ms: float, callback: Callable[[], None]) -> int:
        with self._lock:
            handle = next(self._sequence)
            heapq.heappush(self._queue, (self._now + max(0.0, delay_ms), handle, callback))
            return handle

    def cancel(self, handle: Any) -> None:
        with self._lock:
            self._cancelled.add(handle)

    @property
    def pending(self) -> int:
        """How many callbacks are waiting (cancelled ones not counted)."""
        with self._lock:
            return sum(1 for _, handle, _ in self._queue if handle not in self._cancelled)

    def advance(self, ms: float) -> None:
        """Move time forward by ``ms``, running every callback that falls due on the way.

        A callback scheduled by another callback runs too if it falls due within the window.
        """
        if ms < 0:
            raise ValueError("a clock cannot go backwards")
        target = self._now + ms
        while True:
            with self._lock:
                if not self._queue or self._queue[0][0] > target:
                    break
                due, handle, callback = heapq.heappop(self._queue)
                self._now = max(self._now, due)
                if handle in self._cancelled:
                    self._cancelled.discard(handle)
                    continue
            callback()
        self._now = target

    def next_due(self) -> float | None:
        """The time the next pending callback falls due (``None`` when nothing is pending)."""
        with self._lock:
            live = [entry[0] for entry in self._queue if entry[1] not in self._cancelled]
        return min(live) if live else None

    def run_all(self, limit: int = 10_000) -> None:
        """Advance until nothing is pending (at most ``limit`` callbacks: timers can re-arm forever)."""
        for _ in range(limit):
            with self._lock:
                live = [entry for entry in self._queue if entry[1] not in self._cancelled]
                if not live:
                    return
                next_due = min(entry[0] for entry in live)
            self.advance(max(0.0, next_due - self._now))
        raise RuntimeError(
            f"timers still pending after {limit} callbacks; is a timer re-arming itself?"
        )


class ThreadingClock:
    """Real time: ``time.time()``, with a daemon ``threading.Timer`` per callback."""

    def now(self) -> float:
        return time.time() * 1000.0

    def call_later(self, delay_ms: float, callback: Callable[[], None]) -> threading.Timer:
        timer = threading.Timer(max(0.0, delay_ms) / 1000.0, callback)
        timer.daemon = True
        timer.start()
        return timer

    def cancel(self, handle: Any) -> None:
        handle.cancel()


class AsyncioClock:
    """Real time on an asyncio event loop (the running one unless given); actors deliver its timers with ``send_async``."""

    is_async = True

    def __init__(self, loop: asyncio.AbstractEventLoop | None = None) -> None:
        self._loop = loop

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        return self._loop or asyncio.get_running_loop()

    def now(self) -> float:
        return time.time() * 1000.0

    def call_later(self, delay_ms: float, callback: Callable[[], None]) -> asyncio.TimerHandle:
        return self.loop.call_later(max(0.0, delay_ms) / 1000.0, callback)

    def cancel(self, handle: Any) -> None:
        handle.cancel()
