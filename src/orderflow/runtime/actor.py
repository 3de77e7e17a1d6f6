"""An in-memory actor: the pure core plus the effects it asks for, timers on a clock, and listeners.

    actor = orderflow.create_actor(machine, clock=SimulatedClock())
    actor.start()
    actor.send({"type": "PAY", "amount": "10.00"})
    actor.get_snapshot().value

``send`` runs one macrostep through ``machine.transition`` and then performs
the returned actions in order: named effects through their implementations,
``emit`` to the ``on(...)`` handlers, ``log`` to the ``orderflow.actor``
logger, and ``schedule`` / ``cancel`` on the clock.  An effect may answer
with an event (or a list of events); the actor processes those next, before
anything else it was sent.

One processing path serves both flavours: :meth:`Actor._macrostep` is a
generator that yields each effect call; ``send`` drives it calling effects,
``send_async`` drives it awaiting async effects.

Child actors: machine children live in the snapshot and move inside
``machine.transition``; the actor runs their effects and timers (an action's
``actor`` names the child; a child's timer is delivered with ``to=`` its path).
A function actor's ``start_actor`` record runs the function on its input: a
plain function at once (its result is the next event), an ``async def`` as an
asyncio task when a loop runs (else on a thread); its result or failure comes
back as ``xstate.done.actor.<id>`` / ``xstate.error.actor.<id>``, and a
``stop_actor`` record cancels it.  ``actor.system.get(system_id)`` finds a child.
An SCXML ``<invoke>`` runs its session as a child actor the same way
(``sessions.py``): function actors and sessions are kept in the actor's one
:class:`~orderflow.runtime.children.Children`.  Child sessions share the
actor's clock and its inspection hook.
"""

from __future__ import annotations

import asyncio
import dataclasses
import inspect as inspection
import logging
import threading
from collections import deque
from collections.abc import Awaitable, Callable, Generator, Mapping
from typing import Any

from orderflow.chart import Action, Machine, Snapshot, with_due
from orderflow.chart.definition import DONE_ACTOR_PREFIX, ERROR_ACTOR_PREFIX
from orderflow.chart.implementations import call_function_actor
from orderflow.chart.machine import Step
from orderflow.chart.snapshot import Child
from orderflow.errors import ActorNotRunningError as ActorNotRunningError  # its old home
from orderflow.errors import MissingImplementationError
from orderflow.runtime.children import Children, Key, Running, Task, Thread
from orderflow.runtime.clock import ThreadingClock
from orderflow.runtime.sessions import RECORDS, Sessions, Spawn

logger = logging.getLogger("orderflow.actor")

EventLike = str | Mapping[str, Any]
Listener = Callable[[Snapshot], None]
EmitHandler = Callable[[Mapping[str, Any]], None]
Inspector = Callable[[Step], None]
EffectCall = Callable[[], Any]

IDLE, RUNNING, STOPPED = "idle", "running", "stopped"


class Subscription:
    """Returned by :meth:`Actor.subscribe` and :meth:`Actor.on`; ``unsubscribe()`` ends it."""

    def __init__(self, remove: Callable[[], None]) -> None:
        self._remove = remove

    def unsubscribe(self) -> None:
        self._remove()


class Actor:
    """A running instance of a machine.  Create it with :func:`create_actor` (or
    :func:`create_session` for an SCXML document that invokes other documents)."""

    def __init__(
        self,
        machine: Machine,
        snapshot: Snapshot | Mapping[str, Any] | None = None,
        clock: Any = None,
        implementations: Mapping[str, Callable[..., Any]] | None = None,
        *,
        input: Any = None,
        inspect: Inspector | None = None,
        spawn: Spawn | None = None,
        parent: Actor | None = None,
        invokeid: str | None = None,
    ) -> None:
        self.machine = machine
        self.clock = clock if clock is not None else ThreadingClock()
        saved_sessions: Mapping[str, Any] = {}
        if isinstance(snapshot, Mapping) and machine.scxml and "children" in snapshot:
            saved_sessions = snapshot["children"] or {}  # SCXML sessions, beside the snapshot
            snapshot = {k: v for k, v in snapshot.items() if k != "children"}
        if snapshot is not None and not isinstance(snapshot, Snapshot):
            snapshot = machine.resolve_snapshot(snapshot)
        self._snapshot: Snapshot | None = snapshot
        self._effects: dict[str, Callable[..., Any]] = {
            **machine.effects,
            **(implementations or {}),
        }
        self._input = input
        self._inspect = inspect
        self._listeners: list[Listener] = []
        self._emit_handlers: dict[str, list[EmitHandler]] = {}
        self._timers: dict[str, tuple[Any, object]] = {}  # timer id -> (clock handle, token)
        self._mailbox: deque[EventLike] = deque()
        self._lock = threading.RLock()
        self._processing = False
        self._tasks: set[asyncio.Future[Any]] = set()
        #: what runs beside the snapshot: function actors and invoked SCXML sessions
        self.children = Children()
        #: turns an SCXML invoke's parameters into a child machine and its input
        self.spawn = spawn
        self.parent = parent
        #: the invoke id this actor runs under in its parent, and how deep it is nested
        self.invokeid = invokeid
        self.depth: int = parent.depth + 1 if parent is not None else 0
        #: set when the parent cancelled this session's invocation
        self.cancelled = False
        self.sessions = Sessions(self, saved_sessions)
        self.system = ActorSystem(self)
        self.status = IDLE
        #: the exception of the last effect that failed (the snapshot then has status "error")
        self.error: BaseException | None = None

    # -- life cycle ---------------------------------------------------------------------------

    def start(self) -> Actor:
        """Enter the initial state, or resume a restored snapshot's timers (no entry actions re-run)."""
        with self._lock:
            if self.status == RUNNING:
                return self
            if self.status == STOPPED:
                raise ActorNotRunningError(
                    "a stopped actor cannot be started again; create a new one"
                )
            self.status = RUNNING
            if self._snapshot is None:
                self._drive(self._macrostep(None))
            else:
                self._resume_timers()
                self._notify(self._snapshot)
                self.sessions.restore()
            self._drain()
        return self

    async def start_async(self) -> Actor:
        """:meth:`start`, awaiting async entry effects."""
        if self.status == RUNNING:
            return self
        if self.status == STOPPED:
            raise ActorNotRunningError("a stopped actor cannot be started again; create a new one")
        self.status = RUNNING
        if self._snapshot is None:
            await self._drive_async(self._macrostep(None))
        else:
            self._resume_timers()
            self._notify(self._snapshot)
            self.sessions.restore()
        await self._drain_async()
        return self

    def stop(self) -> None:
        """Cancel every pending timer and accept no more events."""
        with self._lock:
            for handle, _ in self._timers.values():
                self.clock.cancel(handle)
            self._timers.clear()
            self._mailbox.clear()
            self.children.stop_all()
            self.sessions.stop()
            self.status = STOPPED

    # -- events -----------------------------------------------------------------------------

    def send(self, event: EventLike) -> Snapshot:
        """Process ``event`` (and whatever it causes) now; return the snapshot afterwards.

        Sent from inside an effect or a listener, the event is queued and processed as soon
        as the current macrostep's actions are done.
        """
        with self._lock:
            self._check_running()
            self._mailbox.append(event)
            if not self._processing:
                self._drain()
            return self.get_snapshot()

    async def send_async(self, event: EventLike) -> Snapshot:
        """:meth:`send` for async effect implementations (each awaited in order)."""
        self._check_running()
        self._mailbox.append(event)
        if not self._processing:
            await self._drain_async()
        return self.get_snapshot()

    def _check_running(self) -> None:
        if self.status != RUNNING:
            raise ActorNotRunningError(
                f"the actor is {self.status}; call start() before sending events"
            )

    def _drain(self) -> None:
        self._processing = True
        try:
            while self._mailbox and self.status == RUNNING:
                self._drive(self._macrostep(self._mailbox.popleft()))
        finally:
            self._processing = False

    async def _drain_async(self) -> None:
        self._processing = True
        try:
            while self._mailbox and self.status == RUNNING:
                await self._drive_async(self._macrostep(self._mailbox.popleft()))
        finally:
            self._processing = False

    def _drive(self, steps: Generator[EffectCall, Any, None]) -> None:
        result: Any = None
        while True:
            try:
                call = steps.send(result)
            except StopIteration:
                return
            try:
                result = call()
                if inspection.isawaitable(result):
                    _close(result)
                    raise TypeError(
                        f"effect {getattr(call, 'name', '?')} is async; use send_async()"
                    )
            except Exception as exc:
                result = _Failure(exc)

    async def _drive_async(self, steps: Generator[EffectCall, Any, None]) -> None:
        result: Any = None
        while True:
            try:
                call = steps.send(result)
            except StopIteration:
                return
            try:
                result = call()
                if inspection.isawaitable(result):
                    result = await result
            except Exception as exc:
                result = _Failure(exc)

    def send_to(self, path: str, event: EventLike) -> Snapshot:
        """Send ``event`` to the child machine at ``path`` (child ids joined by ``/``)."""
        return self.send(_Addressed(path, event))  # type: ignore[arg-type]

    def deliver(self, event: Mapping[str, Any]) -> None:
        """An event from another session: processed if this actor still runs, else dropped."""
        if self.status == RUNNING and self._snapshot is not None and self._snapshot.status == "active":
            self.send(dict(event))

    def session_child(self, machine: Machine, snapshot: Any, input: Any, ident: str) -> Actor:
        """A child session of this actor, on its clock, seen by its inspection hook."""
        return Actor(machine, snapshot, self.clock, input=input, inspect=self._inspect,
                     spawn=self.spawn, parent=self, invokeid=ident)  # fmt: skip

    def _macrostep(self, event: EventLike | None) -> Generator[EffectCall, Any, None]:
        """One macrostep and its actions, then the sessions it invoked start (SCXML)."""
        yield from self._actions_of(event)
        self.sessions.after_macrostep()

    def _actions_of(self, event: EventLike | None) -> Generator[EffectCall, Any, None]:
        """One macrostep and its actions; yields each effect call and receives its result."""
        before = self._snapshot
        to = None
        if isinstance(event, _Addressed):
            to, event = event.to or None, event.event
        if self._inspect is not None or before is None:
            step = self.machine.step(before, event, input=self._input, trace=True, to=to)
            snapshot, actions = step.snapshot, step.actions
            if self._inspect is not None:
                self._inspect(step)
        else:
            assert event is not None
            snapshot, actions = self.machine.transition(before, event, to=to)
        snapshot = self._apply_timers(snapshot, actions)
        self._snapshot = snapshot
        replies: list[EventLike] = []
        for action in actions:
            if action.type in ("schedule", "cancel"):
                continue
            if action.type == "emit":
                self._emit(action.params["event"])
            elif action.type == "log":
                logger.info("%s: %s", self.machine.id, action.params.get("message"))
            elif action.type == "start_actor":
                reply = yield from self._start_function(action)
                if reply is not None:
                    replies.append(reply)  # type: ignore[arg-type]
            elif action.type == "stop_actor":
                self.children.stop((action.actor, action.params["id"]))
            elif action.type in RECORDS:
                self.sessions.perform(action)
            else:
                context = _snapshot_at(snapshot, action.actor).context
                result = yield _EffectCall(self._effect(action), context, action)
                if isinstance(result, _Failure):
                    self._fail(action, result.exception)
                    return
                found = _events_from(result)
                if action.actor:  # a child's effect answers its child
                    found = [_Addressed(action.actor, e) for e in found]  # type: ignore[misc]
                replies.extend(found)
        self._mailbox.extendleft(reversed(replies))
        self._notify(self._snapshot)

    def _start_function(self, action: Action) -> Generator[EffectCall, Any, _Addressed | None]:
        """Run a function actor: a plain one now (its answer is the next event), an async one
        as a task (or on a thread) whose answer is sent when it comes."""
        assert self._snapshot is not None
        parent = action.actor
        ident, src, value = action.params["id"], action.params["src"], action.params["input"]
        owner = _snapshot_at(self._snapshot, parent).machine
        function = owner.actor_logic(src) if owner is not None else None
        if function is None:
            raise MissingImplementationError("actor", src)
        if not inspection.iscoroutinefunction(function):
            result = yield _FunctionCall(function, value, src)
            return _Addressed(parent, _answer(ident, result))
        key = (parent, ident)
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        if loop is not None:  # the task runs once this macrostep yields to the loop
            task = Task(None)
            pending = call_function_actor(function, value, task.signal)
            task.task = loop.create_task(self._await_function(key, task, pending))
            self._tasks.add(task.task)
            task.task.add_done_callback(self._tasks.discard)
            self.children.start(key, task)
        else:
            thread = Thread()
            self.children.start(key, thread)
            threading.Thread(
                target=self._run_on_thread, args=(key, thread, function, value), daemon=True
            ).start()
        return None

    async def _await_function(self, key: Key, running: Running, pending: Awaitable[Any]) -> None:
        try:
            result: Any = await pending
        except asyncio.CancelledError:
            return
        except Exception as exc:
            result = _Failure(exc)
        if self.children.finish(key, running) and self.status == RUNNING:
            await self.send_async(_Addressed(key[0], _answer(key[1], result)))  # type: ignore[arg-type]

    def _run_on_thread(
        self, key: Key, running: Thread, function: Callable[..., Any], value: Any
    ) -> None:
        try:
            result: Any = asyncio.run(call_function_actor(function, value, running.signal))
        except Exception as exc:
            result = _Failure(exc)
        with self._lock:
            if running.signal.is_set() or not self.children.finish(key, running):
                return
            if self.status == RUNNING:
                self.send(_Addressed(key[0], _answer(key[1], result)))  # type: ignore[arg-type]

    def _effect(self, action: Action) -> Callable[..., Any]:
        impl = None
        if action.actor and self._snapshot is not None:  # a child's effect: its machine's own
            owner = _snapshot_at(self._snapshot, action.actor).machine
            impl = getattr(owner, "effects", {}).get(action.type)
        if impl is None:
            impl = self._effects.get(action.type)
        if impl is None:
            raise MissingImplementationError("action", action.type)
        return impl

    def _fail(self, action: Action, exc: BaseException) -> None:
        logger.error(
            "effect %r of machine %r failed: %s", action.type, self.machine.id, exc, exc_info=exc
        )
        self.error = exc
        assert self._snapshot is not None
        error = {"type": type(exc).__name__, "message": str(exc), "action": action.type}
        self._snapshot = dataclasses.replace(self._snapshot, status="error", error=error)
        for handle, _ in self._timers.values():
            self.clock.cancel(handle)
        self._timers.clear()
        self._mailbox.clear()
        self._notify(self._snapshot)

    # -- timers ----------------------------------------------------------------------------

    def _apply_timers(self, snapshot: Snapshot, actions: list[Action]) -> Snapshot:
        """Arm and disarm clock callbacks for the schedule/cancel actions; record due times.

        A child machine's timer is kept under ``<child path>|<timer id>`` and delivered to
        that child; due times are recorded for the machine's own timers.
        """
        armed: list[str] = []
        for action in actions:
            if action.type == "cancel" and not action.actor:  # perhaps a send to another session
                self.sessions.cancel_send(action.params["id"])
            timer_id = _timer_key(action.actor, action.params["id"]) if action.type in (
                "schedule", "cancel") else ""  # fmt: skip
            if action.type == "schedule":
                self._disarm(timer_id)
                event = action.params["event"]
                if action.actor:
                    event = _Addressed(action.actor, event)
                self._arm(timer_id, event, float(action.params["delay"]))
                if not action.actor:
                    armed.append(timer_id)
            elif action.type == "cancel":
                self._disarm(timer_id)
        for timer_id in list(self._timers):  # delivered timers are no longer pending
            path, _, own_id = timer_id.rpartition("|")
            if not any(t.id == own_id for t in _snapshot_at(snapshot, path).timers):
                self._disarm(timer_id)
        return with_due(snapshot, armed, float(self.clock.now()))

    def _arm(self, timer_id: str, event: Mapping[str, Any], delay: float) -> float:
        token = object()
        handle = self.clock.call_later(delay, lambda: self._on_timer(timer_id, token, event))
        self._timers[timer_id] = (handle, token)
        return float(self.clock.now() + delay)

    def _disarm(self, timer_id: str) -> None:
        armed = self._timers.pop(timer_id, None)
        if armed is not None:
            self.clock.cancel(armed[0])

    def _resume_timers(self) -> None:
        assert self._snapshot is not None
        now = self.clock.now()
        resumed = []
        for timer in self._snapshot.timers:
            remaining = timer.delay if timer.due is None else max(0.0, timer.due - now)
            due = self._arm(timer.id, timer.event, remaining)
            resumed.append(timer if timer.due is not None else dataclasses.replace(timer, due=due))
        self._snapshot = dataclasses.replace(self._snapshot, timers=tuple(resumed))

    def _on_timer(self, timer_id: str, token: object, event: Mapping[str, Any]) -> None:
        with self._lock:
            armed = self._timers.get(timer_id)
            if armed is None or armed[1] is not token or self.status != RUNNING:
                return  # cancelled, re-armed, or the actor stopped meanwhile
            del self._timers[timer_id]
        delivered: Any = event if isinstance(event, _Addressed) else dict(event)
        if getattr(self.clock, "is_async", False):
            task = asyncio.ensure_future(self.send_async(delivered))
            self._tasks.add(task)  # keep a reference until it is done
            task.add_done_callback(self._tasks.discard)
        else:
            self.send(delivered)

    # -- observing ----------------------------------------------------------------------------

    def subscribe(self, listener: Listener) -> Subscription:
        """Call ``listener(snapshot)`` after every macrostep."""
        self._listeners.append(listener)
        return Subscription(
            lambda: self._listeners.remove(listener) if listener in self._listeners else None
        )

    def on(self, event_type: str, handler: EmitHandler) -> Subscription:
        """Call ``handler(event)`` for every emitted event of ``event_type`` (``"*"`` for all)."""
        handlers = self._emit_handlers.setdefault(event_type, [])
        handlers.append(handler)
        return Subscription(lambda: handlers.remove(handler) if handler in handlers else None)

    def _notify(self, snapshot: Snapshot) -> None:
        for listener in list(self._listeners):
            listener(snapshot)

    def _emit(self, event: Mapping[str, Any]) -> None:
        for handler in [
            *self._emit_handlers.get(event["type"], ()),
            *self._emit_handlers.get("*", ()),
        ]:
            handler(event)

    def get_snapshot(self) -> Snapshot:
        if self._snapshot is None:
            raise ActorNotRunningError("the actor has not started yet")
        return self._snapshot

    def get_persisted_snapshot(self) -> dict[str, Any]:
        """The snapshot as JSON, with the due times of pending timers, for ``create_actor(..., snapshot=...)``.

        An SCXML machine's running sessions are under ``children``, each with the invoke that
        started it and its own persisted snapshot.
        """
        data = self.get_snapshot().to_json()
        if self.machine.scxml:
            data["children"] = self.sessions.persisted()
        return data


class _EffectCall:
    """A named effect ready to run: ``impl(context, event, params)``."""

    __slots__ = ("action", "context", "impl", "name")

    def __init__(self, impl: Callable[..., Any], context: Any, action: Action) -> None:
        self.impl = impl
        self.context = context
        self.action = action
        self.name = action.type

    def __call__(self) -> Any:
        return self.impl(self.context, self.action.event, self.action.params)


class _FunctionCall:
    """A plain function actor ready to run on its input."""

    __slots__ = ("function", "input", "name")

    def __init__(self, function: Callable[..., Any], value: Any, name: str) -> None:
        self.function = function
        self.input = value
        self.name = name

    def __call__(self) -> Any:  # it runs to its end in this macrostep: nothing stops it meanwhile
        return call_function_actor(self.function, self.input, threading.Event())


class _Addressed:
    """An event for the child machine at ``to`` (child ids joined by ``/``), in the mailbox."""

    __slots__ = ("event", "to")

    def __init__(self, to: str, event: Any) -> None:
        self.to = to
        self.event = event


class ActorSystem:
    """``actor.system``: the actors of one tree, found by the ``systemId`` they were given."""

    def __init__(self, root: Actor) -> None:
        self._root = root

    def get(self, system_id: str) -> ChildRef | FunctionChildRef | None:
        """The child with ``system_id`` among the running actors, or None: a machine child's
        :class:`ChildRef`, a function actor's :class:`FunctionChildRef`."""
        found = _find_system_id(self._root.get_snapshot(), system_id, "")
        if found is None:
            return None
        path, child = found
        if child.is_machine:
            return ChildRef(self._root, path)
        return FunctionChildRef(self._root, path, child)


class ChildRef:
    """A handle on a child machine of a running actor: send to it, read its snapshot.

    Once the child has stopped (its state left, ``stopChild``, the parent done) the handle
    reads nothing: ``get_snapshot`` raises ``ActorNotRunningError`` rather than answer with
    another actor's snapshot.
    """

    def __init__(self, root: Actor, path: str) -> None:
        self.root = root
        self.path = path

    def send(self, event: EventLike) -> Snapshot | None:
        """Deliver ``event`` to the child; its snapshot after it, or None if that ended the child."""
        self.root.send_to(self.path, event)
        return self._current()

    def get_snapshot(self) -> Snapshot:
        current = self._current()
        if current is None:
            raise ActorNotRunningError(f"the child actor '{self.path}' is no longer running")
        return current

    def _current(self) -> Snapshot | None:
        child = self.root.get_snapshot().child_at(self.path)
        return None if child is None else child.snapshot


class FunctionChildRef:
    """A handle on a function actor (XState's promise actor) of a running actor.

    ``get_snapshot()`` is its entry in the parent's ``snapshot.children`` (``status``
    ``active``, ``done`` with its ``output`` or ``error`` with its ``error``); an event sent
    to it is dropped, as a promise actor drops events.  Once it is stopped (its state left,
    ``stopChild``) the handle reads nothing: ``get_snapshot`` raises ``ActorNotRunningError``.
    """

    def __init__(self, root: Actor, path: str, child: Child) -> None:
        self.root = root
        self.path = path
        self._child = child  # as found: a spawn since under the id with another src is another actor

    def send(self, event: EventLike) -> None:
        """A function actor takes no events: nothing happens (XState drops them too)."""

    def get_snapshot(self) -> Child:
        current = self._current()
        if current is None:
            raise ActorNotRunningError(f"the function actor '{self.path}' is no longer running")
        return current

    def _current(self) -> Child | None:
        child = self.root.get_snapshot().child_at(self.path)
        mine = self._child
        if child is None or (child.src, child.system_id) != (mine.src, mine.system_id):
            return None  # stopped, or another actor spawned under the id since
        return child


def _find_system_id(snapshot: Snapshot, system_id: str, path: str) -> tuple[str, Child] | None:
    for ident, child in snapshot.children.items():
        here = f"{path}/{ident}" if path else ident
        if child.system_id == system_id:
            return here, child
        if child.snapshot is not None:
            found = _find_system_id(child.snapshot, system_id, here)
            if found is not None:
                return found
    return None


def _snapshot_at(snapshot: Snapshot, path: str) -> Snapshot:
    """The snapshot of the child machine at ``path`` (the root's for an empty path)."""
    child = snapshot.child_at(path) if path else None
    if child is None or child.snapshot is None:
        return snapshot  # the root's, or it stopped in this step: read against the root
    return child.snapshot


def _timer_key(actor: str, timer_id: str) -> str:
    return f"{actor}|{timer_id}" if actor else timer_id


def _answer(ident: str, result: Any) -> dict[str, Any]:
    """A function actor's result as the event its parent hears."""
    if isinstance(result, _Failure):
        exc = result.exception
        return {"type": ERROR_ACTOR_PREFIX + ident,
                "error": {"type": type(exc).__name__, "message": str(exc)}}  # fmt: skip
    return {"type": DONE_ACTOR_PREFIX + ident, "output": result}


class _Failure:
    __slots__ = ("exception",)

    def __init__(self, exception: Exception) -> None:
        self.exception = exception


def _events_from(result: Any) -> list[EventLike]:
    """An effect's answer: nothing, one event, or a list of events for the actor to process next."""
    if result is None:
        return []
    if isinstance(result, str | Mapping):
        return [result]
    if isinstance(result, list | tuple):
        return list(result)
    raise TypeError(
        f"an effect may return None, an event or a list of events, not {type(result).__name__}"
    )


def _close(awaitable: Awaitable[Any]) -> None:
    close = getattr(awaitable, "close", None)
    if close is not None:
        close()


def create_actor(
    machine: Machine,
    snapshot: Snapshot | Mapping[str, Any] | None = None,
    clock: Any = None,
    implementations: Mapping[str, Callable[..., Any]] | None = None,
    *,
    input: Any = None,
    inspect: Inspector | None = None,
) -> Actor:
    """An actor for ``machine``, from its initial state or from a (persisted) snapshot; call ``start()``."""
    return Actor(machine, snapshot, clock, implementations, input=input, inspect=inspect)


def create_session(
    machine: Machine,
    snapshot: Snapshot | Mapping[str, Any] | None = None,
    clock: Any = None,
    *,
    spawn: Spawn | None = None,
    input: Any = None,
    inspect: Inspector | None = None,
) -> Actor:
    """An actor for an SCXML ``machine`` whose ``<invoke>`` children ``spawn`` loads; call ``start()``."""
    return Actor(machine, snapshot, clock, input=input, inspect=inspect, spawn=spawn)


#: the actor of an SCXML session: every actor runs invoked sessions (its old name)
SessionActor = Actor
