"""The in-memory runtime: actors that run a machine's effects and fire its timers on a clock.

The pure core (``orderflow.chart``) decides; an :class:`Actor` does what it
decided, in order, and delivers ``after`` timers when its clock says they are
due.  Use :class:`SimulatedClock` in tests, :class:`ThreadingClock` (the
default) or :class:`AsyncioClock` for real time.
"""

from orderflow.runtime.actor import (
    Actor,
    ActorNotRunningError,
    ActorSystem,
    ChildRef,
    FunctionChildRef,
    SessionActor,
    Subscription,
    create_actor,
    create_session,
)
from orderflow.runtime.clock import AsyncioClock, Clock, SimulatedClock, ThreadingClock
from orderflow.runtime.waiting import wait_for, wait_for_async

__all__ = [
    "Actor",
    "ActorNotRunningError",
    "ActorSystem",
    "AsyncioClock",
    "ChildRef",
    "Clock",
    "FunctionChildRef",
    "SessionActor",
    "SimulatedClock",
    "Subscription",
    "ThreadingClock",
    "create_actor",
    "create_session",
    "wait_for",
    "wait_for_async",
]
