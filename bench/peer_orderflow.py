"""orderflow's pure core as a peer of ../shared/bench (contract in its README.md).

The reference chart of ``spec.py`` written as an XState v5 JSON config;
``send`` is ``machine.transition``, ``dump`` is ``snapshot.to_json()`` and
``load`` is ``machine.resolve_snapshot``.  Run it beside the other engines:

    BENCH_PROJECT=$PWD ../shared/bench/run.sh --peer bench/peer_orderflow.py
"""

from __future__ import annotations

from importlib.metadata import version
from typing import Any

import orderflow

NAME = "orderflow pure transition()"
VERSION = version("orderflow")
NOTES = (
    "XState v5 JSON config; send = machine.transition (pure, returns a new snapshot); "
    "done events native (onDone); dump = snapshot.to_json(); load = machine.resolve_snapshot (validated)."
)
ORDER = 45

SALE = {
    "id": "sale",
    "initial": "awaiting_payment_method",
    "states": {
        "awaiting_payment_method": {
            "on": {"SELECT_CARD": "awaiting_payment", "SELECT_CREDIT": "credit_review"}
        },
        "awaiting_payment": {
            "initial": "pending",
            "states": {
                "pending": {"on": {"AUTHORIZE": "authorized"}},
                "authorized": {"on": {"CAPTURE": "captured"}},
                "captured": {"type": "final"},
            },
            "onDone": "clearing",
        },
        "credit_review": {
            "type": "parallel",
            "states": {
                "credit": {
                    "initial": "checking",
                    "states": {
                        "checking": {"on": {"CREDIT_OK": "approved"}},
                        "approved": {"type": "final"},
                    },
                },
                "admin": {
                    "initial": "reviewing",
                    "states": {
                        "reviewing": {"on": {"ADMIN_OK": "approved"}},
                        "approved": {"type": "final"},
                    },
                },
            },
            "onDone": "clearing",
        },
        "clearing": {"on": {"CLEAR": "cleared"}},
        "cleared": {"on": {"RESET": "awaiting_payment_method"}},
    },
}

machine = orderflow.create_machine(SALE)


def new() -> orderflow.Snapshot:
    return machine.initial_transition()[0]


def send(snapshot: orderflow.Snapshot, event: str) -> orderflow.Snapshot:
    return machine.transition(snapshot, event)[0]


def leaves(snapshot: orderflow.Snapshot) -> frozenset[str]:
    return frozenset(".".join(node.path) for node in snapshot.configuration if node.is_atomic)


def dump(snapshot: orderflow.Snapshot) -> dict[str, Any]:
    return snapshot.to_json()


def load(stored: dict[str, Any]) -> orderflow.Snapshot:
    return machine.resolve_snapshot(stored)
