"""Finding the shipped machine definitions and compiling them with their implementations.

The definitions are JSON files in the repository's ``machines/`` directory.
The wheel ships them as package data at ``orderflow/machines`` (see
``pyproject.toml``); an editable install has no copy there, so the loader
falls back to the repository's directory.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

from orderflow.chart import Machine, Setup
from orderflow.errors import UnknownMachineError as UnknownMachineError  # its old home
from orderflow.orders import fulfilment, order, quotation, sale
from orderflow.orders.in_memory import in_memory_ports
from orderflow.orders.policies import Policies
from orderflow.orders.ports import Ports

#: name -> the function binding that machine's implementations to ports and policies
IMPLEMENTATIONS: dict[str, Callable[[Ports, Policies], Setup]] = {
    "quotation": quotation.implementations,
    "sale": sale.implementations,
    "fulfilment": fulfilment.implementations,
    "order": order.implementations,
}
MACHINE_NAMES = tuple(IMPLEMENTATIONS)

_REPOSITORY_MACHINES = Path(__file__).resolve().parents[3] / "machines"


def definition_roots() -> Iterator[Traversable]:
    """Where definitions are looked for, in order: the installed package data, then the repository."""
    yield resources.files("orderflow") / "machines"
    yield _REPOSITORY_MACHINES


def read_definition(name: str) -> dict[str, Any]:
    """The JSON definition of the shipped machine ``name``."""
    if name not in IMPLEMENTATIONS:
        raise UnknownMachineError(name, MACHINE_NAMES)
    for root in definition_roots():
        candidate = root / f"{name}.json"
        if candidate.is_file():
            definition: dict[str, Any] = json.loads(candidate.read_text(encoding="utf-8"))
            return definition
    raise FileNotFoundError(
        f"the definition of '{name}' is in neither the installed package nor the repository "
        f"({_REPOSITORY_MACHINES}); is the installation complete?"
    )


def load_machine(
    name: str, *, ports: Ports | None = None, policies: Policies | None = None
) -> Machine:
    """The shipped machine ``name`` compiled with its guards, actions, delays and models.

    ``ports`` default to fresh in-memory ports; ``policies`` to :class:`Policies`' defaults.
    Every name the definition uses is resolved now, so a missing one fails here.
    """
    definition = read_definition(name)
    bind = IMPLEMENTATIONS[name]
    return bind(ports or in_memory_ports(), policies or Policies()).create_machine(definition)
