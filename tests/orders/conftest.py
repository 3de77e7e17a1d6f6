"""Fixtures for the order machines: fresh in-memory ports and the machines bound to them."""

from __future__ import annotations

import pytest

from orderflow.chart import Machine
from orderflow.orders import InMemoryPorts, in_memory_ports, load_machine


@pytest.fixture
def ports() -> InMemoryPorts:
    return in_memory_ports(stock={"CHAIR": 10, "DESK": 2, "LAMP": 5})


@pytest.fixture
def quotation(ports: InMemoryPorts) -> Machine:
    return load_machine("quotation", ports=ports)


@pytest.fixture
def sale(ports: InMemoryPorts) -> Machine:
    return load_machine("sale", ports=ports)


@pytest.fixture
def fulfilment(ports: InMemoryPorts) -> Machine:
    return load_machine("fulfilment", ports=ports)


@pytest.fixture
def order(ports: InMemoryPorts) -> Machine:
    return load_machine("order", ports=ports)
