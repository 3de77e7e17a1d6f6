"""``wait_for``: block (or await) until an actor's snapshot satisfies a predicate.

XState v5's ``waitFor(actor, predicate, {timeout})``, in both of the runtime's
flavours: :func:`wait_for` returns the first snapshot for which
``predicate(snapshot)`` is true, :func:`wait_for_async` awaits it.  The current
snapshot is checked first, then every snapshot the actor publishes.

It gives up with an error from :mod:`orderflow.errors`:

- :class:`~orderflow.errors.WaitForTimeoutError` when ``timeout`` milliseconds
  (XState's unit and the clocks') pass first; ``None`` waits without limit;
- :class:`~orderflow.errors.WaitForError` when the actor finishes (its done
  snapshot is offered to the predicate first), fails (the effect's exception is
  the cause) or is stopped.

Time is the actor's clock.  On a :class:`~orderflow.runtime.clock.SimulatedClock`
nothing else moves time, so ``wait_for`` moves it: from one due timer to the next
until the predicate holds or the timeout is reached (then the clock stands at
the deadline).  With nothing pending and no timeout, it says so instead of
waiting for ever.  On real clocks it waits for the actor's own threads or tasks;
a stop is noticed within :data:`STOP_POLL_SECONDS`.
"""

from __future__ import annotations

import asyncio
import math
import threading
import time
from collections.abc import Callable

from orderflow.chart import Snapshot
from orderflow.errors import ConfigurationError, WaitForError, WaitForTimeoutError
from orderflow.runtime.actor import STOPPED, Actor
from orderflow.runtime.clock import SimulatedClock

Predicate = Callable[[Snapshot], bool]

#: how often a real-time wait looks whether the actor was stopped (stop() notifies no listener)
STOP_POLL_SECONDS = 0.05


class _Outcome:
    """What the listener saw: the satisfying snapshot, or why waiting ended without one."""

    def __init__(self, predicate: Predicate) -> None:
        self.predicate = predicate
        self.snapshot: Snapshot | None = None
        self.failure: WaitForError | None = None
        self.settled = threading.Event()
        self.on_settle: Callable[[], None] | None = None

    def offer(self, snapshot: Snapshot, actor: Actor, *, current: bool = False) -> None:
        """Judge one snapshot (XState: ``next``, then ``error`` or ``complete``).

        The ``current`` snapshot goes to the predicate whatever its status, as in XState;
        a published failure ends the wait without it (XState's ``error`` channel).
        """
        if self.settled.is_set():
            return
        if current and self.predicate(snapshot):
            self._settle(snapshot, None)
        elif snapshot.status == "error":
            failure = WaitForError(
                f"the actor failed before satisfying the predicate: {_reason(snapshot)}", snapshot
            )
            failure.__cause__ = actor.error
            self._settle(None, failure)
        elif self.predicate(snapshot):
            self._settle(snapshot, None)
        elif snapshot.status == "done":
            self._settle(None, WaitForError(
                f"the actor finished in {snapshot.value!r} without satisfying the predicate",
                snapshot,
            ))  # fmt: skip

    def check_stopped(self, actor: Actor) -> None:
        if actor.status == STOPPED and not self.settled.is_set():
            self._settle(None, WaitForError(
                "the actor was stopped before satisfying the predicate", _last(actor)
            ))  # fmt: skip

    def _settle(self, snapshot: Snapshot | None, failure: WaitForError | None) -> None:
        self.snapshot, self.failure = snapshot, failure
        self.settled.set()
        if self.on_settle is not None:
            self.on_settle()

    def result(self) -> Snapshot:
        if self.failure is not None:
            raise self.failure
        assert self.snapshot is not None
        return self.snapshot


def wait_for(actor: Actor, predicate: Predicate, timeout: float | None = None) -> Snapshot:
    """The first snapshot of ``actor`` that satisfies ``predicate``, waiting up to ``timeout`` ms."""
    _check_timeout(timeout)
    outcome = _Outcome(predicate)
    current = _last(actor)
    if current is not None:
        outcome.offer(current, actor, current=True)
    outcome.check_stopped(actor)
    if outcome.settled.is_set():
        return outcome.result()
    subscription = actor.subscribe(lambda snapshot: outcome.offer(snapshot, actor))
    try:
        if isinstance(actor.clock, SimulatedClock):
            _run_simulated(actor, actor.clock, outcome, timeout)
        else:
            _block(actor, outcome, timeout)
    finally:
        subscription.unsubscribe()
    return outcome.result()


async def wait_for_async(
    actor: Actor, predicate: Predicate, timeout: float | None = None
) -> Snapshot:
    """:func:`wait_for` for asyncio: awaits the snapshot while the loop runs the actor's timers."""
    _check_timeout(timeout)
    if isinstance(actor.clock, SimulatedClock):  # its timers run inside advance(): nothing to await
        return wait_for(actor, predicate, timeout)
    outcome = _Outcome(predicate)
    current = _last(actor)
    if current is not None:
        outcome.offer(current, actor, current=True)
    outcome.check_stopped(actor)
    if outcome.settled.is_set():
        return outcome.result()
    loop = asyncio.get_running_loop()
    woken = asyncio.Event()
    outcome.on_settle = lambda: _wake(loop, woken)
    subscription = actor.subscribe(lambda snapshot: outcome.offer(snapshot, actor))
    deadline = math.inf if timeout is None else loop.time() + timeout / 1000.0
    try:
        while not outcome.settled.is_set():
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise WaitForTimeoutError(_timeout(timeout), _last(actor))
            try:
                await asyncio.wait_for(woken.wait(), min(remaining, STOP_POLL_SECONDS))
            except TimeoutError:
                outcome.check_stopped(actor)
    finally:
        subscription.unsubscribe()
    return outcome.result()


def _run_simulated(
    actor: Actor, clock: SimulatedClock, outcome: _Outcome, timeout: float | None
) -> None:
    """Move the simulated clock from due timer to due timer until the outcome is settled."""
    deadline = math.inf if timeout is None else clock.now() + timeout
    while not outcome.settled.is_set():
        outcome.check_stopped(actor)
        if outcome.settled.is_set():
            return
        due = clock.next_due()
        if due is None or due > deadline:
            if timeout is None:
                raise WaitForError(
                    "nothing can happen any more: no timer is pending on the simulated clock, "
                    "and the predicate does not hold; give a timeout or send the actor an event",
                    _last(actor),
                )
            clock.advance(max(0.0, deadline - clock.now()))
            if not outcome.settled.is_set():
                raise WaitForTimeoutError(timeout, _last(actor))
            return
        clock.advance(max(0.0, due - clock.now()))


def _block(actor: Actor, outcome: _Outcome, timeout: float | None) -> None:
    """Wait on real time for the actor's threads to publish a satisfying snapshot."""
    deadline = math.inf if timeout is None else time.monotonic() + timeout / 1000.0
    while not outcome.settled.is_set():
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise WaitForTimeoutError(_timeout(timeout), _last(actor))
        if not outcome.settled.wait(min(remaining, STOP_POLL_SECONDS)):
            outcome.check_stopped(actor)


def _check_timeout(timeout: float | None) -> None:
    if timeout is not None and (
        isinstance(timeout, bool) or not isinstance(timeout, int | float) or not timeout >= 0
    ):
        raise ConfigurationError(
            f"must be a number of milliseconds >= 0, or None to wait without limit; not {timeout!r}",
            setting="timeout",
        )


def _timeout(timeout: float | None) -> float:
    assert timeout is not None
    return timeout


def _last(actor: Actor) -> Snapshot | None:
    try:
        return actor.get_snapshot()
    except Exception:  # not started yet: there is no snapshot to offer
        return None


def _reason(snapshot: Snapshot) -> str:
    error = snapshot.error if isinstance(snapshot.error, dict) else {}
    return f"{error.get('type', 'error')}: {error.get('message', '')}".rstrip(": ")


def _wake(loop: asyncio.AbstractEventLoop, woken: asyncio.Event) -> None:
    """Set ``woken`` on its loop (listeners may run on another thread)."""
    loop.call_soon_threadsafe(woken.set)
