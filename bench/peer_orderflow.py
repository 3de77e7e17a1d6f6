"""orderflow's pure core as a peer of ../shared/bench (contract in its README.md).

The reference chart of ``spec.py`` written as an XState v5 JSON config;
``send`` is ``machine.transition``, ``dump`` is ``snapshot.to_json()`` and
``load`` is ``machine.resolve_snapshot``.  Run it beside the other engines:

    BENCH_PROJECT=$PWD ../shared/bench/run.sh --peer bench/peer_orderflow.py
    BENCH_PROJECT=$PWD ../shared/bench/run.sh --variant data --peer bench/peer_orderflow.py

``make_data_engine()`` is the data variant: the same chart with a context that most
transitions assign to and a guard that reads it and the event's payload, written with the
public API only (the definition names them, ``orderflow.setup`` implements them).
"""

from __future__ import annotations

from importlib.metadata import version
from types import SimpleNamespace
from typing import Any

import orderflow
from orderflow import TypedEvent

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


# --------------------------------------------------------------------------- the data variant

# The same chart with a context: every transition taken on a script event names an action that
# assigns, and CAPTURE names a guard. The names are implemented in make_data_engine().
SALE_DATA = {
    "id": "sale",
    "initial": "awaiting_payment_method",
    "context": {"captured": 0, "events": 0, "total": 100},
    "states": {
        "awaiting_payment_method": {
            "on": {
                "SELECT_CARD": {"target": "awaiting_payment", "actions": "count"},
                "SELECT_CREDIT": {"target": "credit_review", "actions": "count"},
            }
        },
        "awaiting_payment": {
            "initial": "pending",
            "states": {
                "pending": {"on": {"AUTHORIZE": {"target": "authorized", "actions": "count"}}},
                "authorized": {
                    "on": {
                        "CAPTURE": {
                            "target": "captured",
                            "guard": "covers_total",
                            "actions": "capture",
                        }
                    }
                },
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
                        "checking": {
                            "on": {"CREDIT_OK": {"target": "approved", "actions": "count"}}
                        },
                        "approved": {"type": "final"},
                    },
                },
                "admin": {
                    "initial": "reviewing",
                    "states": {
                        "reviewing": {
                            "on": {"ADMIN_OK": {"target": "approved", "actions": "count"}}
                        },
                        "approved": {"type": "final"},
                    },
                },
            },
            "onDone": "clearing",
        },
        "clearing": {"on": {"CLEAR": {"target": "cleared", "actions": "count"}}},
        "cleared": {"on": {"RESET": {"target": "awaiting_payment_method", "actions": "settle"}}},
    },
}


# Guards and assignments get (context, event, params); with no context or event models given
# to setup(), the context is a dict and the event a TypedEvent whose payload is the event dict
# {"type": ..., "amount": ...}: its fields read as attributes (event.amount).
def covers_total(context: dict[str, Any], event: TypedEvent[Any], params: Any) -> bool:
    return bool(context["captured"] + event.amount >= context["total"])


def count(context: dict[str, Any], event: TypedEvent[Any], params: Any) -> dict[str, Any]:
    return {"events": context["events"] + 1}


def capture(context: dict[str, Any], event: TypedEvent[Any], params: Any) -> dict[str, Any]:
    return {"captured": context["captured"] + event.amount, "events": context["events"] + 1}


def settle(context: dict[str, Any], event: TypedEvent[Any], params: Any) -> dict[str, Any]:
    return {"captured": 0, "events": context["events"] + 1}


DATA_NOTES = (
    "as the plain chart, plus the context in the definition's 'context'; the definition names "
    "the guard and the actions, implemented with orderflow.setup(guards={'covers_total': ...}, "
    "actions={name: orderflow.assign(fn)}) (a plain dict context, no pydantic context or event "
    "models); send = machine.transition(snapshot, {'type': 'CAPTURE', 'amount': 100}) (the "
    "bench's event dicts are orderflow's native events, so nothing is prepared); dump = "
    "snapshot.to_json() (value and context); load = machine.resolve_snapshot (validated)."
)


def make_data_engine() -> SimpleNamespace:
    """The data variant: the adapter functions for SALE_DATA, plus context()."""
    data_machine = orderflow.setup(
        guards={"covers_total": covers_total},
        actions={
            "count": orderflow.assign(count),
            "capture": orderflow.assign(capture),
            "settle": orderflow.assign(settle),
        },
    ).create_machine(SALE_DATA)

    def new() -> orderflow.Snapshot:
        return data_machine.initial_transition()[0]

    def send(snapshot: orderflow.Snapshot, event: dict[str, Any]) -> orderflow.Snapshot:
        return data_machine.transition(snapshot, event)[0]

    def context(snapshot: orderflow.Snapshot) -> dict[str, Any]:
        return dict(snapshot.context)

    def load(stored: dict[str, Any]) -> orderflow.Snapshot:
        return data_machine.resolve_snapshot(stored)

    return SimpleNamespace(
        NOTES=DATA_NOTES, new=new, send=send, leaves=leaves, context=context, dump=dump, load=load
    )
