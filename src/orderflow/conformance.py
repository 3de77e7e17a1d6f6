"""Run a directory of W3C SCXML conformance tests: ``python -m orderflow.conformance DIR``.

Each ``*.scxml`` file in DIR (except the ``*sub*`` children other tests
invoke) is loaded with ``orderflow.io.scxml.load`` and run as a
:class:`~orderflow.runtime.actor.Actor` (``create_session``) on a simulated clock, so
delayed events cost no waiting.  A test passes when the machine finishes in
its final state ``pass``.  Each test has a time limit (wall clock, and an
hour of simulated time); one line is printed per failure with the reason, and
the last line is ``N passed, M failed``.  The exit status is 1 if any failed.

``--trusted`` loads the documents with full Python (``load(..., trusted=True)``);
``docs/conformance.md`` lists the one W3C test that needs it and why.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from orderflow.chart import DefinitionWarning
from orderflow.errors import OrderflowError
from orderflow.io.scxml import load
from orderflow.io.scxml.children import ChildLoader
from orderflow.runtime import SimulatedClock, create_session

DEFAULT_TIME_LIMIT = 5.0
SIMULATED_LIMIT_MS = 3_600_000.0


@dataclass(frozen=True)
class Outcome:
    """One test's result: ``reason`` says why it failed (``None`` when it passed)."""

    name: str
    passed: bool
    reason: str | None = None


def collect_tests(directory: Path) -> list[Path]:
    """The tests of a directory: every ``*.scxml`` except the ``*sub*`` children."""
    return sorted(p for p in directory.glob("*.scxml") if "sub" not in p.name)


def run_test(
    path: Path, *, time_limit: float = DEFAULT_TIME_LIMIT, trusted: bool = False
) -> Outcome:
    """Load and run one test document until it finishes, nothing is pending, or time runs out."""
    try:
        with _time_limit(time_limit):
            return _run(path, time_limit, trusted)
    except _TimedOut:
        return Outcome(path.name, False, f"timed out after {time_limit:g} s")


def _run(path: Path, time_limit: float, trusted: bool) -> Outcome:
    try:
        with warnings.catch_warnings():  # test documents have unreachable states on purpose
            warnings.simplefilter("ignore", DefinitionWarning)
            machine = load(path, trusted=trusted)
    except OrderflowError as exc:
        return Outcome(path.name, False, f"cannot load: {exc}")
    clock = SimulatedClock()
    session = create_session(machine, clock=clock, spawn=ChildLoader())
    deadline = time.monotonic() + time_limit
    try:
        session.start()
        while session.get_snapshot().status == "active":
            due = clock.next_due()
            if due is None:
                break
            if due > SIMULATED_LIMIT_MS or time.monotonic() > deadline:
                raise _TimedOut
            clock.advance(max(0.0, due - clock.now()))
    except OrderflowError as exc:
        return Outcome(path.name, False, f"{type(exc).__name__}: {exc}")
    finally:
        session.stop()
    snapshot = session.get_snapshot()
    finals = sorted(n.key for n in snapshot.configuration if n.type == "final")
    if snapshot.status == "done" and "pass" in finals:
        return Outcome(path.name, True)
    if snapshot.status == "done":
        return Outcome(path.name, False, f"finished in {', '.join(finals) or 'a final state'}")
    if snapshot.status == "error":
        return Outcome(path.name, False, f"error: {snapshot.error}")
    return Outcome(path.name, False, f"stopped in {snapshot.value!r} with no event pending")


class _TimedOut(Exception):
    pass


@contextmanager
def _time_limit(seconds: float) -> Iterator[None]:
    """Interrupt a test that hangs inside one step (only possible in the main thread)."""
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "SIGALRM"):
        yield
        return

    def interrupt(signum: int, frame: object) -> None:
        raise _TimedOut

    previous = signal.signal(signal.SIGALRM, interrupt)
    signal.setitimer(signal.ITIMER_REAL, seconds + 1.0)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def run_directory(
    directory: Path, *, time_limit: float = DEFAULT_TIME_LIMIT, trusted: bool = False
) -> list[Outcome]:
    return [run_test(p, time_limit=time_limit, trusted=trusted) for p in collect_tests(directory)]


def report(outcomes: Sequence[Outcome]) -> tuple[list[str], int]:
    """The lines to print (failures, then the count) and the exit status."""
    failed = [o for o in outcomes if not o.passed]
    lines = [f"FAIL {o.name}: {o.reason}" for o in failed]
    lines.append(f"{len(outcomes) - len(failed)} passed, {len(failed)} failed")
    return lines, 1 if failed else 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m orderflow.conformance", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("directory", type=Path, help="a directory of *.scxml tests")
    parser.add_argument(
        "--time-limit", type=float, default=DEFAULT_TIME_LIMIT, help="seconds per test"
    )
    parser.add_argument("--trusted", action="store_true", help="load documents with full Python")
    args = parser.parse_args(argv)
    if not args.directory.is_dir():
        print(f"{args.directory} is not a directory", file=sys.stderr)
        return 2
    outcomes = run_directory(args.directory, time_limit=args.time_limit, trusted=args.trusted)
    lines, status = report(outcomes)
    for line in lines:
        print(line)
    return status


if __name__ == "__main__":
    sys.exit(main())
