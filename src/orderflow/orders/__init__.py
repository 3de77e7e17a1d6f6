"""The order domain: the quotation, sale, fulfilment and order machines, ready to run.

    from orderflow.orders import load_machine

    machine = load_machine("sale")                     # in-memory ports, default policies
    snapshot, actions = machine.initial_transition(input={
        "customer_id": "C-1", "currency": "EUR", "total": "120.00",
    })
    snapshot, actions = machine.transition(
        snapshot, {"type": "SELECT_PAYMENT_METHOD", "method": "card"}
    )
    snapshot.value  # {"processing": {"awaiting_payment": "unpaid"}}

The definitions are the JSON files in ``machines/`` (shipped in the wheel);
this package holds what their names refer to, one module per machine
(``quotation``, ``sale``, ``fulfilment``, ``order``: context and event
models, guards, assignments, domain events and effects), the ports the
effects reach the world through (``ports``, ``in_memory``), the
configurable rules (``policies``) and the hand-over from one phase to the
next (``handoff``).

Effects whose result the machine needs answer with an event: run by an
actor, ``reserve_stock`` answers ``STOCK_RESERVED`` or ``STOCK_SHORT``,
which the actor processes next.  Through the pure core, the caller runs the
effect and sends its answer.
"""

from orderflow.orders.handoff import HandoffError, fulfilment_input_from, sale_input_from
from orderflow.orders.in_memory import InMemoryPorts, in_memory_ports
from orderflow.orders.loading import (
    MACHINE_NAMES,
    UnknownMachineError,
    load_machine,
    read_definition,
)
from orderflow.orders.policies import DAY_MS, Policies
from orderflow.orders.ports import (
    CreditPort,
    CreditSnapshot,
    InventoryError,
    InventoryPort,
    NotificationPort,
    PaymentError,
    PaymentPort,
    Ports,
)
from orderflow.orders.values import ActingUser

__all__ = [
    "DAY_MS",
    "MACHINE_NAMES",
    "ActingUser",
    "CreditPort",
    "CreditSnapshot",
    "HandoffError",
    "InMemoryPorts",
    "InventoryError",
    "InventoryPort",
    "NotificationPort",
    "PaymentError",
    "PaymentPort",
    "Policies",
    "Ports",
    "UnknownMachineError",
    "fulfilment_input_from",
    "in_memory_ports",
    "load_machine",
    "read_definition",
    "sale_input_from",
]
