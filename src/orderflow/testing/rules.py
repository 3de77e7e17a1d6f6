"""Model-based tests: a hypothesis ``RuleBasedStateMachine`` that walks a machine and checks invariants.

    TestSale = machine_rules(machine, invariants=[never_negative_total]).TestCase

Each hypothesis example starts a record at the machine's initial snapshot and
sends it up to ``stateful_step_count`` enabled events (drawn with
:mod:`orderflow.testing.strategies`).  After the start and after every event,
every invariant runs on the snapshot: a function of the snapshot that returns
``False`` or raises ``AssertionError`` when something is wrong.

A step that puts the snapshot in status ``"error"`` fails too, unless
``fail_on_error=False``.

With ``persist_each_step=True`` the walk does what a service does between
requests: ``json.dumps(snapshot.to_json())``, then ``machine.resolve_snapshot``,
and carries on from the restored snapshot.  A snapshot that does not come back
equal fails there.

A machine with child machines is walked as one system: the events its running
children take are drawn too, and sent to them (``transition(..., to=path)``);
the children's snapshots are part of every persisted round trip.

Every failure is a :class:`WalkFailure` (an ``AssertionError``) carrying the
:class:`~orderflow.testing.paths.Path` that led to it; hypothesis shrinks the
walk, so the path you read is a short one.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from typing import Any, ClassVar

from hypothesis import settings as Settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from orderflow.chart import Machine, Snapshot
from orderflow.errors import InvalidSnapshotError
from orderflow.testing.paths import ChildEvent, Path, PathStep, fired
from orderflow.testing.paths import step as take_step
from orderflow.testing.strategies import EventDrawer, Payloads

Invariant = Callable[[Snapshot], object]


class WalkFailure(AssertionError):
    """A walk broke an invariant or a persisted round trip; ``path`` is how it got there."""

    def __init__(self, problem: str, path: Path) -> None:
        self.problem = problem
        self.path = path
        super().__init__(f"{problem}\n{describe_walk(path)}")

    @property
    def events(self) -> list[Any]:
        return list(self.path.events)


def describe_walk(path: Path) -> str:
    """The path as two indented lines: the state values it passed, and the events to replay it."""
    shown = [e.to_json() if isinstance(e, ChildEvent) else _event(e) for e in path.events]
    events = json.dumps(shown, default=str)
    return f"  after {len(path)} event(s): {path.describe()}\n  events: {events}"


class MachineRules(RuleBasedStateMachine):
    """The walk itself; :func:`machine_rules` makes a subclass bound to one machine."""

    machine: ClassVar[Machine]
    checks: ClassVar[tuple[Invariant, ...]] = ()
    persist_each_step: ClassVar[bool] = False
    fail_on_error: ClassVar[bool] = True
    input: ClassVar[Any] = None
    drawer: ClassVar[EventDrawer]

    def __init__(self) -> None:
        super().__init__()
        start, _ = self.machine.initial_transition(input=self.input)
        self.start = start
        self.steps: list[PathStep] = []
        self.snapshot = self._persisted(start) if self.persist_each_step else start

    @property
    def path(self) -> Path:
        return Path(self.start, tuple(self.steps))

    @rule(data=st.data())
    def send_enabled_event(self, data: st.DataObject) -> None:
        """Send one enabled event (to a child machine, too); a snapshot that takes none
        (final, or every guard shut) stays put."""
        event: dict[str, Any] | ChildEvent | None = None
        try:
            event = self.drawer.draw(data.draw, self.snapshot)
            if event is None:
                return
            step = take_step(self.machine, self.snapshot, event)
        except Exception as exc:
            shown = event.to_json() if isinstance(event, ChildEvent) else event
            doing = (
                "choosing an event"
                if event is None
                else f"sending {json.dumps(shown, default=str)}"
            )
            exc.add_note(f"while {doing} after this walk:\n{describe_walk(self.path)}")
            raise
        to = event.to if isinstance(event, ChildEvent) else None
        self.steps.append(PathStep(step.event, step.snapshot, fired(step), to))
        if self.fail_on_error and step.snapshot.status == "error":
            raise WalkFailure(
                f"the snapshot went into status 'error': {step.snapshot.error}", self.path
            )
        self.snapshot = self._persisted(step.snapshot) if self.persist_each_step else step.snapshot

    @invariant()
    def invariants_hold(self) -> None:
        for check in self.checks:
            name = getattr(check, "__name__", repr(check))
            try:
                result = check(self.snapshot)
            except AssertionError as exc:
                detail = f": {exc}" if str(exc) else ""
                raise WalkFailure(f"invariant {name} failed{detail}", self.path) from exc
            if result is not None and not result:
                raise WalkFailure(
                    f"invariant {name} returned {result!r} in {_show_value(self.snapshot)}",
                    self.path,
                )

    def _persisted(self, snapshot: Snapshot) -> Snapshot:
        """``snapshot`` after ``json.dumps`` and ``resolve_snapshot``; it must come back equal."""
        try:
            stored = json.dumps(snapshot.to_json())
        except (TypeError, ValueError) as exc:
            raise WalkFailure(f"the snapshot cannot be written as JSON: {exc}", self.path) from exc
        try:
            restored = self.machine.resolve_snapshot(json.loads(stored))
        except InvalidSnapshotError as exc:
            raise WalkFailure(f"the persisted snapshot does not restore: {exc}", self.path) from exc
        if restored != snapshot:
            raise WalkFailure(
                "the snapshot changed in a persisted round trip:\n"
                f"    before: {_fields(snapshot)}\n    after:  {_fields(restored)}",
                self.path,
            )
        return restored


def machine_rules(
    machine: Machine,
    invariants: Sequence[Invariant] = (),
    *,
    persist_each_step: bool = False,
    fail_on_error: bool = True,
    input: Any = None,
    extra_events: Iterable[str] = (),
    payloads: Payloads | None = None,
    settings: Settings | None = None,
    name: str | None = None,
) -> type[MachineRules]:
    """A ``RuleBasedStateMachine`` class that walks ``machine``; use its ``.TestCase`` as a test.

    A step that leaves the snapshot in status ``"error"`` (a guard or an assignment raised)
    fails the walk unless ``fail_on_error=False``; the walk then stops there, as the machine does.
    ``input`` goes to ``initial_transition``; ``extra_events`` and ``payloads`` are as for
    :func:`orderflow.testing.strategies.events`; ``settings`` become ``TestCase.settings``
    (``stateful_step_count`` is the longest walk).
    """
    attributes: dict[str, Any] = {
        "machine": machine,
        "checks": tuple(invariants),
        "persist_each_step": persist_each_step,
        "fail_on_error": fail_on_error,
        "input": input,
        "drawer": EventDrawer(machine, extra_events=extra_events, payloads=payloads, children=True),
    }
    rules: type[MachineRules] = type(
        name or f"{_class_name(machine.id)}Rules", (MachineRules,), attributes
    )
    if settings is not None:
        rules.TestCase.settings = settings
    return rules


def _event(event: Any) -> Any:
    return {"type": event} if isinstance(event, str) else dict(event)


def _class_name(machine_id: str) -> str:
    words = "".join(c if c.isalnum() else " " for c in machine_id).split()
    return "".join(w[:1].upper() + w[1:] for w in words) or "Machine"


def _show_value(snapshot: Snapshot) -> str:
    return json.dumps(snapshot.to_json()["value"], sort_keys=True)


def _fields(snapshot: Snapshot) -> dict[str, Any]:
    return {
        "value": snapshot.value,
        "status": snapshot.status,
        "context": snapshot.context,
        "history": dict(snapshot.history),
        "timers": snapshot.timers,
        "output": snapshot.output,
        "error": snapshot.error,
    }
