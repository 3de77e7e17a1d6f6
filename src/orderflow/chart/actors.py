"""Child actors inside one transition: a machine, its children, and XState v5's order of delivery.

XState v5 gives every actor a mailbox.  An actor processes one event at a time
(a macrostep); its named actions run during the macrostep, while starting a
child, stopping one and sending an event are *deferred* until the macrostep is
done.  A send puts the event in the target's mailbox, and a target that is
not busy processes it at once; one that is busy (the parent that is sending)
processes it after the event in hand.  A child that finishes sends its parent
``xstate.done.actor.<id>`` (with its output), one that fails
``xstate.error.actor.<id>``, and one invoked with ``onSnapshot``
``xstate.snapshot.<id>`` after each of its steps.

This module plays that system out on data, inside ``machine.transition``:
each actor of the snapshot's tree becomes a :class:`Cell` (its machine, its
snapshot, its mailbox), the event is delivered to the root or to the child it
is addressed to, and the cells run until every mailbox is empty.  Then the
tree is written back into one new snapshot.  Machine children are thereby
as pure as their parent.  A function actor (XState's promise actor) is not
run here: starting it returns a ``start_actor`` record for the caller, and
stopping it a ``stop_actor`` record; its result comes back as the
``xstate.done.actor.<id>`` (``output``) or ``xstate.error.actor.<id>``
(``error``) event addressed to its parent, and is dropped when that child is
no longer running.

Machines with no actor at all never come here (``Machine.uses_actors``).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from orderflow.chart import algorithm
from orderflow.chart.actions import (
    Action,
    ActionSpec,
    Assign,
    Block,
    Builtin,
    Cancel,
    Emit,
    EnqueueActions,
    Log,
    Raise,
    SendParent,
    SendTo,
    SpawnChild,
    StopChild,
    builtin_from_json,
    builtin_name,
)
from orderflow.chart.definition import DONE_ACTOR_PREFIX, ERROR_ACTOR_PREFIX, SNAPSHOT_PREFIX
from orderflow.chart.events import TypedEvent
from orderflow.chart.execution import Microstep, Run, compute, event_data, execute
from orderflow.chart.nodes import StateNode
from orderflow.chart.snapshot import (
    ACTIVE,
    DONE,
    ERROR,
    NO_CHILDREN,
    Child,
    FrozenValue,
    Snapshot,
    json_problem,
)
from orderflow.errors import (
    ActorInputError,
    InfiniteLoopError,
    InvalidEventError,
    MissingImplementationError,
    OrderflowError,
)

#: what the addressed actor's first macrostep did (``algorithm.Outcome``)
Outcome = tuple[bool, str | None, tuple[Any, ...]]
#: an event an actor processed: the actor's path and the event
Delivery = tuple[str, Mapping[str, Any]]


def initial(
    machine: Any,
    start: Snapshot,
    event: TypedEvent[Any],
    trace: list[Microstep] | None,
    every_trace: list[tuple[str, Microstep]] | None = None,
) -> tuple[Snapshot, list[Action], tuple[Delivery, ...]]:
    """The initial snapshot of a machine with actors: enter it, then start it (XState's start)."""
    system = _System(machine, trace, every_trace)
    root = Cell(system, machine, None, None)
    root.enter(start, event, trace)
    root.start()
    return root.final_snapshot(), system.actions, tuple(system.deliveries)


def entered(
    machine: Any, snapshot: Snapshot, event: TypedEvent[Any]
) -> tuple[Snapshot, list[Action], tuple[Delivery, ...]]:
    """Start the invocations of a snapshot put into its states from outside (``enter_state``).

    No entry action runs there, so nothing else is spawned.  The states' invocations
    start in entry order, as a transition entering the states would start them, and
    what they do at once follows (a child's own start, a function actor's
    ``start_actor`` record, a child that finishes at once and its parent's answer).
    """
    system = _System(machine, None)
    root = Cell(system, machine, None, None)
    root.running = True
    run = Run(machine, snapshot)
    run.replayable = False
    run.actors = root
    try:
        for state in sorted(snapshot.configuration, key=lambda node: node.order):
            if state.invoke:
                root.start_invocations(run, state, event)
    except OrderflowError:
        raise
    except Exception as exc:  # an input function raised: as in a transition, nothing applies
        error = {"type": type(exc).__name__, "message": str(exc), "event": event.type}
        return replace(snapshot, status=ERROR, error=error, timers=()), [], ()
    root.snapshot = replace(snapshot, children=run.children)
    root.flushing = True  # what the children answer waits for their starts, as after a macrostep
    try:
        root.update(run.deferred, event)
    finally:
        root.flushing = False
    if root.running:
        root.flush()
    return root.final_snapshot(), system.actions, tuple(system.deliveries)


def transition(
    machine: Any,
    snapshot: Snapshot,
    event: Any,
    to: str | None,
    trace: list[Microstep] | None,
    every_trace: list[tuple[str, Microstep]] | None = None,
) -> tuple[Snapshot, list[Action], Outcome, tuple[Delivery, ...], TypedEvent[Any], bool]:
    """Deliver ``event`` to the root (``to`` empty) or the child at path ``to``, and run the system.

    ``event`` is read by the addressed machine (its payload models); the item before the
    last of the answer is the event as it read it.  ``trace`` gets the addressed actor's first
    macrostep's microsteps, ``every_trace`` every actor's, with the actor's path.  The last
    item says whether the machine is in error because an actor's error event went unhandled
    (XState's rule, see :meth:`Cell.process`) with no user code raising in this transition.
    """
    system = _System(machine, trace, every_trace)
    root = Cell.restored(system, machine, snapshot, None, None)
    target = root.find(to) if to else root
    system.target = target
    event = target.machine.event(event)
    if not target.accepts(event):
        return snapshot, [], (False, None, ()), (), event, False
    target.deliver(event)
    outcome = system.outcome if system.outcome is not None else (False, None, ())
    result = root.final_snapshot()
    unhandled = result.status == ERROR and snapshot.status == ACTIVE and not system.raised
    return result, system.actions, outcome, tuple(system.deliveries), event, unhandled


class _System:
    """What all cells of one transition share: the caller's actions, the system ids, the bound."""

    __slots__ = (
        "actions", "deliveries", "every_trace", "limit", "outcome", "raised", "registry",
        "target", "trace",
    )  # fmt: skip

    def __init__(
        self,
        machine: Any,
        trace: list[Microstep] | None,
        every_trace: list[tuple[str, Microstep]] | None = None,
    ) -> None:
        self.actions: list[Action] = []
        self.deliveries: list[Delivery] = []
        self.registry: dict[str, Cell] = {}
        #: the addressed actor's first macrostep's microsteps (``Step.microsteps``)
        self.trace = trace
        #: every actor's microsteps, with its path (``Step.actor_microsteps``)
        self.every_trace = every_trace
        self.target: Cell | None = None
        self.outcome: Outcome | None = None
        #: events delivered between actors before the system is said not to settle
        self.limit: int = machine.max_microsteps
        #: whether user code raised in some actor's macrostep (that actor is in error): a
        #: parent that fails with it fails because of that code, not of an unhandled event
        self.raised = False

    def tracing(self, trace: list[Microstep] | None) -> list[Microstep] | None:
        """The list an actor's macrostep records its microsteps in (``None``: none)."""
        return [] if self.every_trace is not None else trace

    def traced(
        self, cell: Cell, mine: list[Microstep] | None, trace: list[Microstep] | None
    ) -> None:
        """Keep what one actor's macrostep recorded: every actor's, and the addressed one's."""
        if self.every_trace is None or mine is None:
            return
        self.every_trace.extend((cell.path, micro) for micro in mine)
        if trace is not None:
            trace.extend(mine)

    def delivered(self, cell: Cell, event: TypedEvent[Any]) -> None:
        self.deliveries.append((cell.path, event.data))
        if len(self.deliveries) > self.limit:
            raise InfiniteLoopError(self.limit, sorted({p or "(root)" for p, _ in self.deliveries[-64:]}),
                                    event.type)  # fmt: skip


class Cell:
    """One actor while a transition runs: a machine with its snapshot, or a function actor."""

    __slots__ = (
        "cells",
        "entering",
        "flushing",
        "id",
        "machine",
        "mailbox",
        "parent",
        "path",
        "pending",
        "record",
        "running",
        "snapshot",
        "stopped",
        "system",
        "unresolved",
    )

    def __init__(self, system: _System, machine: Any, parent: Cell | None, record: Child | None):
        self.system = system
        #: the machine, or None for a function actor
        self.machine = machine
        self.parent = parent
        self.record = record
        self.id: str = record.id if record is not None else ""
        #: child ids from the root, joined by "/"; empty for the root
        self.path: str = (
            f"{parent.path}/{self.id}" if parent is not None and parent.path else self.id
        )
        self.snapshot: Snapshot | None = None
        self.cells: dict[Child, Cell] = {}  # the machine children's and function children's cells
        self.mailbox: deque[TypedEvent[Any]] = deque()
        self.flushing = False
        self.running = False
        self.stopped = False
        #: the initial step's actions and deferred work, kept until the child starts (XState
        #: defers them); a function actor keeps only the event that spawned it
        self.pending: tuple[list[Action], list[_Op] | None, TypedEvent[Any]] | None = None
        #: the state whose entry actions run now: sends to its invocations resolve after them
        self.entering: StateNode | None = None
        self.unresolved: list[_Send] = []

    @staticmethod
    def restored(
        system: _System, machine: Any, snapshot: Snapshot, parent: Cell | None, record: Child | None
    ) -> Cell:
        """A running cell for a persisted actor, with cells for its children (recursively)."""
        cell = Cell(system, machine, parent, record)
        cell.snapshot = snapshot
        cell.running = snapshot.status == ACTIVE
        for child in snapshot.children.values():
            logic = machine.actor_logic(child.src)
            if child.snapshot is not None:
                cell.cells[child] = Cell.restored(system, logic, child.snapshot, cell, child)
            else:
                function_cell = Cell(system, None, cell, child)
                function_cell.running = child.status == ACTIVE
                cell.cells[child] = function_cell
            if child.system_id is not None:
                system.registry[child.system_id] = cell.cells[child]
        return cell

    def find(self, path: str) -> Cell:
        """The machine cell at ``path`` (child ids joined by ``/``) below this one."""
        cell = self
        for ident in path.split("/"):
            assert cell.snapshot is not None
            record = cell.snapshot.children.get(ident)
            if record is None or record.snapshot is None:
                raise InvalidEventError(
                    f"no child machine '{path}' to deliver the event to (at '{ident}')"
                )
            cell = cell.cells[record]
        return cell

    # -- delivering events --------------------------------------------------------------------

    def accepts(self, event: TypedEvent[Any]) -> bool:
        """May an event from outside be delivered here?  A function child's result is
        delivered once, while that child runs; otherwise it is stale and dropped."""
        assert self.snapshot is not None
        if self.snapshot.status != ACTIVE:
            return False
        for prefix, status in ((DONE_ACTOR_PREFIX, DONE), (ERROR_ACTOR_PREFIX, ERROR)):
            if event.type.startswith(prefix):
                record = self.snapshot.children.get(event.type[len(prefix) :])
                if record is not None and record.snapshot is not None:
                    raise InvalidEventError(
                        f"'{event.type}' comes from child machine '{record.id}' itself; "
                        "it cannot be sent from outside",
                        event.type,
                    )
                if record is None or record.status != ACTIVE:
                    return False
                self._settle_function_child(record, status, event)
        return True

    def _settle_function_child(self, record: Child, status: str, event: TypedEvent[Any]) -> None:
        assert self.snapshot is not None
        result = event.data.get("output" if status == DONE else "error")
        settled = (  # the input is dropped, as XState does
            replace(record, status=status, input=None, output=result)
            if status == DONE
            else replace(record, status=status, input=None, error=result)
        )
        children = FrozenValue(
            {k: settled if v is record else v for k, v in self.snapshot.children.items()}
        )
        self.snapshot = replace(self.snapshot, children=children)
        cell = self.cells.pop(record)
        cell.record, cell.running = settled, False
        self.cells[settled] = cell

    def deliver(self, event: TypedEvent[Any]) -> None:
        """Put ``event`` in the mailbox; an actor that is running and not busy processes it now."""
        if self.stopped:
            return
        if self.machine is None:  # a function actor hears nothing but its own result
            return
        self.mailbox.append(event)
        if self.running and not self.flushing:
            self.flush()

    def flush(self) -> None:
        self.flushing = True
        try:
            while self.mailbox and self.running:
                self.process(self.mailbox.popleft())
        finally:
            self.flushing = False

    def process(self, event: TypedEvent[Any]) -> None:
        """One macrostep of this actor, then what it deferred (XState's ``_process`` and ``update``)."""
        assert self.snapshot is not None
        system = self.system
        system.delivered(self, event)
        trace = system.trace if system.target is self and system.outcome is None else None
        if event.type.startswith(ERROR_ACTOR_PREFIX) and not self._selects(event):
            self._fail_with(event)
            if system.target is self and system.outcome is None:
                system.outcome = (False, None, ())
            self.update(None, event)
            return
        mine = system.tracing(trace)
        snapshot, actions, outcome, deferred = algorithm.actor_macrostep(
            self.machine, self.snapshot, event, self, mine
        )
        if snapshot.status == ERROR:  # only user code raising puts a macrostep in error
            system.raised = True
        system.traced(self, mine, trace)
        if system.target is self and system.outcome is None:
            system.outcome = outcome
        self.snapshot = snapshot
        self._record(actions)
        self.update(deferred, event)

    def _fail_with(self, event: TypedEvent[Any]) -> None:
        """XState's rule: a child's error event that no transition takes is this actor's error.

        The error is the child's (a mapping of JSON values, as a persisted snapshot keeps
        it; anything else is described by its text), this actor's timers are cancelled
        (XState cancels an actor's delayed events when it fails) and, in :meth:`update`,
        its children are stopped.
        """
        assert self.snapshot is not None
        error = event.data.get("error")
        if not isinstance(error, Mapping) or json_problem(error, "$.error") is not None:
            error = {"type": "Error", "message": str(error), "event": event.type}
        for timer in self.snapshot.timers:
            self.system.actions.append(Action("cancel", {"id": timer.id}, event, self.path))
        self.snapshot = replace(self.snapshot, status=ERROR, error=dict(error), timers=())

    def _selects(self, event: TypedEvent[Any]) -> bool:
        assert self.snapshot is not None
        return bool(algorithm.select_transitions(Run(self.machine, self.snapshot), event))

    def _record(self, actions: list[Action]) -> None:
        if not self.path:
            self.system.actions.extend(actions)
        else:
            self.system.actions.extend(replace(a, actor=self.path) for a in actions)

    def update(self, deferred: list[_Op] | None, event: TypedEvent[Any]) -> None:
        """What follows a macrostep: the deferred starts, stops and sends, then the status."""
        assert self.snapshot is not None
        for op in deferred or ():
            op.run(self)
        status = self.snapshot.status
        if status == ACTIVE:
            if self.record is not None and self.record.sync_snapshot and self.parent is not None:
                self.parent.deliver(_internal(self.parent, {
                    "type": SNAPSHOT_PREFIX + self.id, "snapshot": self.snapshot.to_json()
                }))  # fmt: skip
            return
        # done or failed: its children stop, its mailbox closes, its parent hears of it
        for record in list(self.snapshot.children.values()):
            self.cells[record].stop(event)
        if self.snapshot.children:
            self.snapshot = replace(self.snapshot, children=NO_CHILDREN)
        self.running = False
        self.mailbox.clear()
        self._unregister()
        if self.parent is not None:
            if status == DONE:
                done = {"type": DONE_ACTOR_PREFIX + self.id, "output": self.snapshot.output}
                self.parent.deliver(_internal(self.parent, done))
            else:
                failed = {"type": ERROR_ACTOR_PREFIX + self.id, "error": self.snapshot.error}
                self.parent.deliver(_internal(self.parent, failed))

    # -- life cycle -------------------------------------------------------------------------------

    def enter(
        self, start: Snapshot, event: TypedEvent[Any], trace: list[Microstep] | None = None
    ) -> None:
        """Compute the initial snapshot (XState does it when the actor is created); run nothing yet."""
        mine = self.system.tracing(trace)
        snapshot, actions, _, deferred = algorithm.actor_macrostep(
            self.machine, start, event, self, mine, initial=True
        )
        if snapshot.status == ERROR:  # its entry raised
            self.system.raised = True
        self.system.traced(self, mine, trace)
        self.snapshot = snapshot
        self.pending = (actions, deferred, event)
        self.system.deliveries.append((self.path, event.data))

    def start(self) -> None:
        """Start: the initial actions and deferred work run now, then the mailbox opens."""
        if self.stopped or self.running:
            return
        self.running = True
        if self.machine is None:
            self._start_function()
            return
        assert self.pending is not None and self.snapshot is not None
        actions, deferred, event = self.pending
        self.pending = None
        self._record(actions)
        self.flushing = (
            True  # XState opens the mailbox after the start: what arrives meanwhile waits
        )
        try:
            self.update(deferred, event)
        finally:
            self.flushing = False
        if self.running:
            self.flush()

    def _start_function(self) -> None:
        assert self.record is not None and self.parent is not None and self.pending is not None
        record = self.record
        params: dict[str, Any] = {"id": record.id, "src": record.src, "input": record.input}
        if record.system_id is not None:
            params["systemId"] = record.system_id
        event = self.pending[2]
        self.pending = None
        self.system.actions.append(Action("start_actor", params, event, self.parent.path))

    def stop(self, event: TypedEvent[Any]) -> None:
        """Stop this actor and its children: no exit actions (XState), its timers cancelled."""
        if self.stopped:
            return
        self.stopped = True
        self.running = False
        self.mailbox.clear()
        self._unregister()
        if self.machine is None:  # the caller cancels a function it started that has not answered
            assert self.record is not None and self.parent is not None
            if self.pending is None and self.record.status == ACTIVE:
                params = {"id": self.record.id, "src": self.record.src}
                self.system.actions.append(Action("stop_actor", params, event, self.parent.path))
            return
        assert self.snapshot is not None
        if self.pending is None:  # it started: its timers are the caller's to cancel
            for timer in self.snapshot.timers:
                self.system.actions.append(Action("cancel", {"id": timer.id}, event, self.path))
        for record in self.snapshot.children.values():
            self.cells[record].stop(event)

    def _unregister(self) -> None:
        record = self.record
        system_id = record.system_id if record is not None else None
        if system_id is not None and self.system.registry.get(system_id) is self:
            del self.system.registry[system_id]

    # -- the actor built-ins, called by execution.execute during this cell's macrostep ---------

    def perform(self, run: Run, builtin: Builtin, params: Any, event: TypedEvent[Any]) -> None:
        run.replayable = False  # a plan replays no actor's work
        if isinstance(builtin, SpawnChild):
            ident = compute(run, builtin.id, event, params) if builtin.id is not None else None
            self.spawn(run, builtin, ident, params, event)
        elif isinstance(builtin, StopChild):
            ident = compute(run, builtin.id, event, params)
            if not isinstance(ident, str):
                raise TypeError(f"stopChild needs a child id, not {ident!r}")
            self.stop_child(run, ident, event)
        elif isinstance(builtin, SendTo):
            data = (
                dict(event.data)
                if builtin.event is None
                else event_data(compute(run, builtin.event, event, params))
            )
            self._send_to(run, builtin, data, params, event)
        elif isinstance(builtin, SendParent):
            if self.parent is None:
                raise ValueError(
                    f"machine '{self.machine.id}' has no parent to send "
                    f"{event_data(compute(run, builtin.event, event, params))['type']!r} to"
                )
            data = event_data(compute(run, builtin.event, event, params))
            _defer(run, _Send(self.parent, None, data))
        elif isinstance(builtin, EnqueueActions):
            execute(run, _enqueued(self.machine, run, builtin, event), event)

    def spawn(
        self, run: Run, spawn: SpawnChild, ident: Any, params: Any, event: TypedEvent[Any]
    ) -> None:
        logic = self.machine.actor_logic(spawn.src)
        if logic is None:
            raise MissingImplementationError("actor", spawn.src)
        if ident is None:
            ident = _fresh_id(run.children, spawn.src)
        if not isinstance(ident, str) or not ident or "/" in ident:
            raise ValueError(f"a child id must be a non-empty string without '/', not {ident!r}")
        if ident in run.children:  # XState puts the new child in its place; the old one stops
            self.stop_child(run, ident, event)
        system_id = spawn.system_id
        if system_id is not None and system_id in self.system.registry:
            raise ValueError(f"an actor with the system id '{system_id}' is already running")
        value = compute(run, spawn.input, event, params)
        is_machine = hasattr(logic, "initial_transition")
        cell = Cell(self.system, logic if is_machine else None, self, None)
        cell.id = ident
        cell.path = f"{self.path}/{ident}" if self.path else ident
        if is_machine:
            start, init = logic.start_for(value)  # XState computes it when it creates the actor
            cell.enter(start, init)
            record = Child(ident, spawn.src, cell.snapshot, input=None, system_id=system_id,
                           sync_snapshot=spawn.sync_snapshot)  # fmt: skip
        else:
            _check_json_input(ident, spawn.src, value)
            record = Child(ident, spawn.src, None, ACTIVE, value, system_id)
            cell.pending = ([], None, event)
        cell.record = record
        self.cells[record] = cell
        if system_id is not None:
            self.system.registry[system_id] = cell
        run.children = FrozenValue({**run.children, ident: record})
        _defer(run, _Start(record))

    def stop_child(self, run: Run, ident: str, event: TypedEvent[Any]) -> None:
        record = run.children.get(ident)
        if record is None:
            return
        run.children = FrozenValue({k: v for k, v in run.children.items() if k != ident})
        cell = self.cells[record]
        cell._unregister()
        if cell.running:
            _defer(run, _Stop(record))
        else:
            cell.stop(event)

    def _send_to(
        self, run: Run, send: SendTo, data: dict[str, Any], params: Any, event: TypedEvent[Any]
    ) -> None:
        if send.system_id is not None:
            target = self.system.registry.get(send.system_id)
            if target is None:
                raise ValueError(f"no actor has the system id '{send.system_id}'")
            _defer(run, _Send(target, None, data))
            return
        ident = compute(run, send.to, event, params)
        if not isinstance(ident, str):
            raise TypeError(f"sendTo needs a child id, not {ident!r}")
        record = run.children.get(ident)
        if record is not None:
            _defer(run, _Send(None, record, data))
            return
        entering = self.entering
        if entering is not None and any(i.id == ident for i in entering.invoke):
            op = _Send(None, None, data, ident)  # the child starts right after these actions
            self.unresolved.append(op)
            _defer(run, op)
            return
        raise ValueError(
            f"unable to send '{data['type']}' to actor '{ident}' from machine "
            f"'{self.machine.id}': it has no such child"
        )

    def start_invocations(self, run: Run, state: StateNode, event: TypedEvent[Any]) -> None:
        """Spawn the state's invocations (after its entry actions, as XState orders them)."""
        run.replayable = False
        self.entering = None
        for invocation in state.invoke:
            spawn = SpawnChild(invocation.src, invocation.id, invocation.system_id,
                               invocation.input, invocation.sync_snapshot)  # fmt: skip
            self.spawn(run, spawn, invocation.id, None, event)
        for op in self.unresolved:
            op.record = run.children.get(op.ident or "")
        self.unresolved = []

    def before_entry(self, state: StateNode) -> None:
        self.entering = state

    def stop_invocations(self, run: Run, state: StateNode, event: TypedEvent[Any]) -> None:
        """Stop the state's invocations (after its exit actions)."""
        run.replayable = False
        for invocation in state.invoke:
            self.stop_child(run, invocation.id, event)

    # -- the result -------------------------------------------------------------------------------

    def final_snapshot(self) -> Snapshot:
        """This cell's snapshot with its machine children's latest snapshots written in."""
        snapshot = self.snapshot
        assert snapshot is not None
        if not snapshot.children:
            return snapshot
        changed = False
        children: dict[str, Child] = {}
        for ident, record in snapshot.children.items():
            cell = self.cells.get(record)
            if cell is not None and cell.machine is not None:
                latest = cell.final_snapshot()
                if latest is not record.snapshot:
                    record = replace(record, snapshot=latest)
                    changed = True
            children[ident] = record
        return replace(snapshot, children=FrozenValue(children)) if changed else snapshot


# -- deferred work ------------------------------------------------------------------------------


class _Start:
    __slots__ = ("record",)

    def __init__(self, record: Child) -> None:
        self.record = record

    def run(self, cell: Cell) -> None:
        child = cell.cells.get(self.record)
        if child is not None:
            child.start()


class _Stop:
    __slots__ = ("record",)

    def __init__(self, record: Child) -> None:
        self.record = record

    def run(self, cell: Cell) -> None:
        child = cell.cells.get(self.record)
        if child is not None:
            child.stop(TypedEvent.internal({"type": "xstate.stop"}))


class _Send:
    """A deferred send: to a cell (the parent, a system id) or to a child of the sender."""

    __slots__ = ("data", "ident", "record", "target")

    def __init__(
        self,
        target: Cell | None,
        record: Child | None,
        data: dict[str, Any],
        ident: str | None = None,
    ) -> None:
        self.target = target
        self.record = record
        self.data = data
        self.ident = ident

    def run(self, cell: Cell) -> None:
        target = self.target
        if target is None and self.record is not None:
            target = cell.cells.get(self.record)
        if target is None or target.machine is None:
            return
        target.deliver(_internal(target, self.data))


_Op = _Start | _Stop | _Send


def _defer(run: Run, op: _Op) -> None:
    if run.deferred is None:
        run.deferred = []
    run.deferred.append(op)


def _internal(cell: Cell, data: Mapping[str, Any]) -> TypedEvent[Any]:
    """An event between actors, read through the receiving machine's event models."""
    return cell.machine.event(data)  # type: ignore[no-any-return]


def _fresh_id(children: Mapping[str, Child], src: str) -> str:
    """A spawned child's id when the definition gives none: ``<src>:<n>``, the first free n."""
    n = 0
    while f"{src}:{n}" in children:
        n += 1
    return f"{src}:{n}"


def _enqueued(
    machine: Any, run: Run, builtin: EnqueueActions, event: TypedEvent[Any]
) -> list[ActionSpec]:
    """The actions an enqueueActions builder chose, compiled as a definition's would be.

    A name (or XState's ``{"type": name, "params": ...}``) resolves as in a definition: a
    built-in's JSON name, else the machine's implementation of that name (an effect, or a
    built-in given under a name); a name with no implementation is refused, never passed on.
    """
    specs: list[ActionSpec] = []

    def enqueue(action: Any, params: Any = None) -> None:
        if isinstance(action, Mapping) and isinstance(action.get("type"), str):
            action, params = action["type"], action.get("params", params)
        if isinstance(action, str):
            specs.append(_named_action(machine, action, params))
        elif isinstance(action, ActionSpec):
            specs.append(action)
        elif callable(action) and not isinstance(action, type) and not _is_builtin(action):
            specs.append(ActionSpec(getattr(action, "__name__", "inline effect"), params))
        elif _is_builtin(action):
            specs.append(ActionSpec(type(action).__name__.lower(), params, action))
        else:
            raise TypeError(f"enqueue() takes an action name or a built-in action, not {action!r}")

    build: Callable[..., None] = builtin.build
    run.replayable = False
    build(enqueue, run.context, event)
    return specs


def _named_action(machine: Any, name: str, params: Any) -> ActionSpec:
    """An action an enqueueActions builder named, resolved as the definition's names are."""
    kind = builtin_name(name)
    if kind is not None:
        return ActionSpec(kind, params, builtin_from_json(kind, params))
    impl = machine.implementations.actions.get(name)
    if _is_builtin(impl):
        return ActionSpec(name, params, impl)
    if impl is None and machine.implementations.given:
        raise ValueError(
            f"enqueue() named action {name!r}, which machine '{machine.id}' has no "
            f"implementation for; pass it to orderflow.setup(actions={{{name!r}: ...}})"
        )
    return ActionSpec(name, params, None, impl)


_BUILTINS = (Assign, Raise, Emit, Log, Cancel, Block, SpawnChild, StopChild, SendTo, SendParent,
             EnqueueActions)  # fmt: skip


def _check_json_input(ident: str, src: str, value: Any) -> None:
    """Refuse a function actor's input that is not JSON: it is stored in its parent's snapshot."""
    problem = json_problem(value, "$.input")
    if problem is not None:
        raise ActorInputError(ident, src, *problem)


def _is_builtin(value: Any) -> bool:
    return isinstance(value, _BUILTINS)
