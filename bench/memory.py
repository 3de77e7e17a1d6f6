"""Memory of orderflow snapshots: bytes persisted per record, and the size of 100,000 live snapshots.

    .venv/bin/python bench/memory.py

Uses the shared benchmark's reference chart (bench/peer_orderflow.py).  Each live
snapshot gets its own small context (as rehydrated records would), and is moved
two events on so it is a real transition result, not the initial snapshot.
"""

from __future__ import annotations

import gc
import json
import resource
import sys
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import peer_orderflow

import orderflow

COUNT = 100_000


def main() -> None:
    machine = peer_orderflow.machine
    snapshot, _ = machine.initial_transition()
    for event in ("SELECT_CREDIT", "CREDIT_OK"):
        snapshot, _ = machine.transition(snapshot, event)
    persisted = json.dumps(snapshot.to_json(), separators=(",", ":"))
    state_only = json.dumps({k: v for k, v in snapshot.to_json().items() if k != "context"}, separators=(",", ":"))

    gc.collect()
    rss_before = _rss()
    live = _live_snapshots(machine)
    gc.collect()
    rss_growth = _rss() - rss_before
    del live
    gc.collect()

    tracemalloc.start()
    start = tracemalloc.take_snapshot()
    live = _live_snapshots(machine)
    gc.collect()
    end = tracemalloc.take_snapshot()
    tracemalloc.stop()
    traced = sum(stat.size_diff for stat in end.compare_to(start, "filename"))

    print("| measure | value |")
    print("|---|---:|")
    print(f"| persisted snapshot (compact JSON, with context) | {len(persisted)} bytes |")
    print(f"| `workflow_state` column (compact JSON, without context) | {len(state_only)} bytes |")
    print(f"| {COUNT:,} live snapshots, Python heap (tracemalloc) | {traced / 1e6:.1f} MB ({traced / COUNT:.0f} bytes each) |")
    print(f"| {COUNT:,} live snapshots, resident size growth | {rss_growth / 1e6:.1f} MB |")
    assert len(live) == COUNT


def _live_snapshots(machine: orderflow.Machine) -> list[orderflow.Snapshot]:
    live = []
    for i in range(COUNT):
        s, _ = machine.initial_transition(input={"record": i})
        s, _ = machine.transition(s, "SELECT_CREDIT")
        s, _ = machine.transition(s, "CREDIT_OK")
        live.append(s)
    return live


def _rss() -> int:
    """The current resident set size in bytes (Linux)."""
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * resource.getpagesize()


if __name__ == "__main__":
    main()
