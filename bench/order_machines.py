"""The shipped order machines on the pure core: µs per event along their real paths.

    .venv/bin/python bench/order_machines.py [--rounds 7] [--loops 300] [--profile]

Each shipped machine (``orderflow.orders.load_machine``, bound to the in-memory ports)
walks its happy path and its override, backorder and return paths: the start with a
typical record's input, then the events a record meets, with the payloads the service
would pass (the acting principal included, as the service puts it into the event).
Only the core runs: ``machine.transition``, no database, no effect handlers.  The walk is
checked before timing (every event taken, the path ends where it should).

A cell is the median [min-max] over ``--rounds`` of the mean µs per event of ``--loops``
walks (the initial transition counted as one event).  ``--profile`` prints where the
time goes (cProfile, by own time) over all paths.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import pstats
import statistics
import time
from collections.abc import Mapping
from typing import Any

from orderflow import Machine, Snapshot
from orderflow.orders import load_machine

Event = dict[str, Any]

CLERK = {"id": "cleo", "roles": ["sales"], "permissions": ["order.change"]}
SALES_APPROVER = {"id": "ann", "roles": ["sales-approver"]}
CREDIT_APPROVER = {"id": "carl", "roles": ["credit-approver"]}
ADMIN = {"id": "ada", "roles": ["admin"]}
LINES = [
    {"sku": "CHAIR", "quantity": 4, "unit_price": "120.00"},
    {"sku": "DESK", "quantity": 1, "unit_price": "480.00"},
]
RESERVATIONS = [
    {"reservation_id": "RSV-CHAIR", "sku": "CHAIR", "quantity": 4},
    {"reservation_id": "RSV-DESK", "sku": "DESK", "quantity": 1},
]
GOOD_CREDIT = {
    "limit": "5000.00",
    "open_balance": "1000.00",
    "overdue": "0.00",
    "available": "4000.00",
    "taken_at": "2024-05-01T12:00:00Z",
}
POOR_CREDIT = {**GOOD_CREDIT, "open_balance": "4500.00", "available": "500.00"}

QUOTATION = {"quotation_id": "Q-1", "customer_id": "C-1", "currency": "EUR"}
SALE = {
    "sale_id": "S-1",
    "quotation_id": "Q-1",
    "customer_id": "C-1",
    "currency": "EUR",
    "lines": LINES,
    "total": "960.00",
}
FULFILMENT = {"sale_id": "S-1", "currency": "EUR", "lines": LINES, "discount_percent": "5"}
ORDER = {
    "order_id": "O-1",
    "customer_email": "buyer@example.com",
    "currency": "EUR",
    "total": "99.90",
    "lines": [{"sku": "LAMP", "quantity": 2}],
}
PICK_PACK_SHIP = [
    {"type": "STOCK_RESERVED", "reservations": RESERVATIONS},
    {"type": "PICKED"},
    {"type": "PACKED"},
    {"type": "SHIP", "carrier": "DHL", "tracking": "JD0001"},
    {"type": "DELIVER"},
]

#: (machine, path) -> (input, events, the state value the walk ends in)
PATHS: dict[tuple[str, str], tuple[Mapping[str, Any], list[Event], Any]] = {
    ("quotation", "happy"): (
        QUOTATION,
        [
            {"type": "ADD_LINE", "sku": "CHAIR", "quantity": 4, "unit_price": "120.00"},
            {"type": "ADD_LINE", "sku": "DESK", "quantity": 1, "unit_price": "480.00"},
            {"type": "SUBMIT"},
            {"type": "ACCEPT"},
        ],
        "approved",
    ),
    ("quotation", "override (discount approval)"): (
        QUOTATION,
        [
            {"type": "ADD_LINE", "sku": "TABLE", "quantity": 10, "unit_price": "1500.00"},
            {"type": "SET_DISCOUNT", "percent": "25"},
            {"type": "SUBMIT"},
            {"type": "APPROVE", "actor": SALES_APPROVER},
            {"type": "ACCEPT"},
        ],
        "approved",
    ),
    ("sale", "happy"): (
        SALE,
        [
            {"type": "SELECT_PAYMENT_METHOD", "method": "card"},
            {"type": "CAPTURE", "amount": "480.00", "reference": "PSP-1"},
            {"type": "CAPTURE", "amount": "480.00", "reference": "PSP-2"},
        ],
        "cleared",
    ),
    ("sale", "override (credit)"): (
        SALE,
        [
            {"type": "SELECT_PAYMENT_METHOD", "method": "on_account"},
            {"type": "CREDIT_CHECKED", "credit": POOR_CREDIT},
            {"type": "REQUEST_CREDIT_OVERRIDE", "reason": "long-standing customer", "actor": CLERK},
            {"type": "CREDIT_OVERRIDE_APPROVED", "request_id": "credit-1", "actor": CREDIT_APPROVER},
        ],
        "cleared",
    ),
    ("fulfilment", "happy"): (FULFILMENT, PICK_PACK_SHIP, "delivered"),
    ("fulfilment", "backorder"): (
        FULFILMENT,
        [
            {"type": "STOCK_SHORT", "shortages": [{"sku": "DESK", "requested": 1, "available": 0}]},
            {"type": "RESTOCKED"},
            *PICK_PACK_SHIP,
        ],
        "delivered",
    ),
    ("fulfilment", "return"): (
        FULFILMENT,
        [
            *PICK_PACK_SHIP,
            {"type": "REQUEST_RETURN", "reason": "wobbly", "lines": [{"sku": "CHAIR", "quantity": 1}]},
            {"type": "APPROVE_RETURN"},
            {"type": "RETURN_RECEIVED"},
            {"type": "ACCEPT_RETURN"},
        ],
        "returned",
    ),
    ("order", "happy"): (
        ORDER,
        [
            {"type": "MARK_PAID", "payment_reference": "PAY-1", "amount": "99.90", "actor": CLERK},
            {"type": "INVENTORY_RESERVED", "reservations": [{"reservation_id": "RSV-1", "sku": "LAMP", "quantity": 2}]},
            {"type": "SHIP", "tracking_number": "JD0002", "actor": CLERK},
            {"type": "FULFILL", "actor": CLERK},
        ],
        "fulfilled",
    ),
    ("order", "backorder and return"): (
        ORDER,
        [
            {"type": "MARK_PAID", "payment_reference": "PAY-1", "amount": "99.90", "actor": CLERK},
            {"type": "INVENTORY_UNAVAILABLE", "shortages": [{"sku": "LAMP", "requested": 2, "available": 0}]},
            {"type": "RETRY_RESERVATION", "actor": CLERK},
            {"type": "INVENTORY_RESERVED", "reservations": [{"reservation_id": "RSV-1", "sku": "LAMP", "quantity": 2}]},
            {"type": "SHIP", "tracking_number": "JD0002", "actor": CLERK},
            {"type": "FULFILL", "actor": CLERK},
            {"type": "RETURN", "actor": CLERK},
        ],
        "returned",
    ),
}  # fmt: skip

_MACHINES: dict[str, Machine] = {}


def load(name: str) -> Machine:
    """The shipped machine, bound to the in-memory ports (one per name: plans are per machine)."""
    if name not in _MACHINES:
        _MACHINES[name] = load_machine(name)
    return _MACHINES[name]


def walk(machine: Machine, start: Mapping[str, Any], events: list[Event]) -> Snapshot:
    snapshot, _ = machine.initial_transition(input=dict(start))
    for event in events:
        snapshot, _ = machine.transition(snapshot, event)
    return snapshot


def check(name: str, path: str) -> None:
    start, events, expected = PATHS[name, path]
    machine = load(name)
    snapshot, _ = machine.initial_transition(input=dict(start))
    for event in events:
        step = machine.step(snapshot, event)
        if not step.taken:
            raise SystemExit(f"{name} / {path}: {event['type']} was not taken: {step.refusal}")
        snapshot = step.snapshot
    if not snapshot.matches(expected):
        raise SystemExit(f"{name} / {path}: ended in {snapshot.value}, not {expected}")


def measure(name: str, path: str, loops: int) -> float:
    """Mean µs per event over ``loops`` walks (the initial transition counts as an event)."""
    start, events, _ = PATHS[name, path]
    machine = load(name)
    gc.collect()
    began = time.perf_counter()
    for _ in range(loops):
        walk(machine, start, events)
    return (time.perf_counter() - began) / (loops * (len(events) + 1)) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--loops", type=int, default=300)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    for name, path in PATHS:
        check(name, path)
        measure(name, path, max(1, args.loops // 10))  # warm-up: plans recorded
    print("| machine | path | events | µs/event, median [min-max] |")
    print("|---|---|---:|---:|")
    for name, path in PATHS:
        samples = [measure(name, path, args.loops) for _ in range(args.rounds)]
        print(
            f"| {name} | {path} | {len(PATHS[name, path][1]) + 1} | "
            f"{statistics.median(samples):.1f} [{min(samples):.1f}-{max(samples):.1f}] |"
        )
    if args.profile:
        profiler = cProfile.Profile()
        profiler.enable()
        for name, path in PATHS:
            start, events, _ = PATHS[name, path]
            for _ in range(args.loops):
                walk(load(name), start, events)
        profiler.disable()
        pstats.Stats(profiler).sort_stats("tottime").print_stats(20)


if __name__ == "__main__":
    main()
