"""Every definition in machines/ fits the schema, loads with every name resolved, and ships in the wheel."""

from __future__ import annotations

import json
import tomllib
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from definition_schema import validate

from orderflow.chart import Machine
from orderflow.orders import (
    MACHINE_NAMES,
    Policies,
    UnknownMachineError,
    in_memory_ports,
    load_machine,
    read_definition,
)
from orderflow.orders import loading as loading_module
from orderflow.orders.loading import IMPLEMENTATIONS
from orderflow.orders.policies import LOGICAL_ROLES

ROOT = Path(__file__).resolve().parents[2]
MACHINES = sorted((ROOT / "machines").glob("*.json"))


def test_the_machines_directory_holds_exactly_the_shipped_machines() -> None:
    assert sorted(p.stem for p in MACHINES) == sorted(MACHINE_NAMES)
    assert not (ROOT / "machines" / ".gitkeep").exists()


@pytest.mark.parametrize("path", MACHINES, ids=lambda p: p.name)
def test_every_definition_fits_the_definition_schema(path: Path) -> None:
    assert validate(json.loads(path.read_text())) == []


def test_the_schema_check_catches_a_typo_with_its_path() -> None:
    definition = read_definition("order")
    definition["states"]["paid"]["on"]["SHIP"]["gaurd"] = "inventory_available"
    assert validate(definition) == ["$.states.paid.on.SHIP.gaurd: unknown key"]


@pytest.mark.parametrize("name", MACHINE_NAMES)
def test_every_definition_loads_with_every_name_resolved_and_no_warning(name: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        machine = load_machine(name)
    assert machine.id == name
    assert machine.version == "1"
    for node in machine.nodes:
        for transition in (*[t for ts in node.on.values() for t in ts], *node.always):
            for spec in transition.actions:
                assert spec.builtin is not None or spec.impl is not None, (transition.path, spec)
        for spec in (*node.entry, *node.exit):
            assert spec.builtin is not None or spec.impl is not None, (node.id, spec)


def _named(definition: Any, kind: str) -> Iterator[tuple[str, Any]]:
    """(name, params) of every guard (kind="guard") or action (kind="action") a definition uses."""
    if isinstance(definition, dict):
        for key, value in definition.items():
            if kind == "guard" and key == "guard":
                yield from _guards(value)
            elif kind == "action" and key in ("actions", "entry", "exit"):
                for item in value if isinstance(value, list) else [value]:
                    yield (
                        (item, None)
                        if isinstance(item, str)
                        else (item["type"], item.get("params"))
                    )
            else:
                yield from _named(value, kind)
    elif isinstance(definition, list):
        for item in definition:
            yield from _named(item, kind)


def _guards(guard: Any) -> Iterator[tuple[str, Any]]:
    if isinstance(guard, str):
        yield guard, None
    elif guard["type"] in ("and", "or", "not"):
        for inner in guard["guards"]:
            yield from _guards(inner)
    else:
        yield guard["type"], guard.get("params")


@pytest.mark.parametrize("name", MACHINE_NAMES)
def test_every_implementation_is_used_by_the_definition(name: str) -> None:
    implementations = IMPLEMENTATIONS[name](in_memory_ports(), Policies()).implementations
    definition = read_definition(name)
    guards = {g for g, _ in _named(definition, "guard")}
    actions = {a for a, _ in _named(definition, "action")}
    assert set(implementations.guards) == guards
    assert set(implementations.actions) == actions - {"raise", "cancel", "emit", "assign", "log"}


@pytest.mark.parametrize("name", MACHINE_NAMES)
def test_every_role_a_definition_asks_for_is_a_configured_role(name: str) -> None:
    for guard, params in _named(read_definition(name), "guard"):
        if guard == "actor_has_role":
            assert params["role"] in LOGICAL_ROLES
            assert Policies().role(params["role"])


def test_load_machine_binds_the_given_ports_and_policies() -> None:
    ports = in_memory_ports()
    machine = load_machine("quotation", ports=ports, policies=Policies(approval_total=0))
    snapshot, _ = machine.initial_transition(input={"customer_id": "C-1", "currency": "EUR"})
    snapshot, _ = machine.transition(
        snapshot, {"type": "ADD_LINE", "sku": "A", "quantity": 1, "unit_price": "1"}
    )
    snapshot, actions = machine.transition(snapshot, "SUBMIT")
    assert snapshot.value == "pending_approval"  # any total is above a threshold of 0
    effect = next(a for a in actions if a.type == "notify_approvers")
    machine.effects["notify_approvers"](snapshot.context, effect.event, effect.params)
    assert ports.notifications.templates() == ["quotation.approval_requested"]


def test_an_unknown_machine_name_is_refused_with_the_known_names() -> None:
    with pytest.raises(UnknownMachineError, match=r"choose one of .*'quotation'"):
        load_machine("invoice")
    with pytest.raises(LookupError):
        read_definition("../pyproject")


def test_the_installed_package_data_is_preferred_to_the_repository(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    packaged = tmp_path / "orderflow" / "machines"
    packaged.mkdir(parents=True)
    definition = read_definition("order")
    definition["description"] = "the packaged copy"
    (packaged / "order.json").write_text(json.dumps(definition))
    monkeypatch.setattr(
        loading_module, "definition_roots", lambda: iter([packaged, ROOT / "machines"])
    )
    assert read_definition("order")["description"] == "the packaged copy"
    assert "packaged" not in read_definition("sale").get("description", "")  # falls back


def test_the_default_roots_are_the_package_data_then_the_repository() -> None:
    roots = list(loading_module.definition_roots())
    assert str(roots[0]).replace("\\", "/").endswith("orderflow/machines")
    assert Path(str(roots[1])) == ROOT / "machines"


def test_the_wheel_force_includes_the_machines_as_package_data() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    include = config["tool"]["hatch"]["build"]["targets"]["wheel"]["force-include"]
    assert include["machines"] == "orderflow/machines"


def test_the_package_docstring_example_runs() -> None:
    import orderflow.orders

    assert orderflow.orders.__doc__ is not None
    lines = orderflow.orders.__doc__.splitlines()[2:]
    end = next(i for i, line in enumerate(lines) if line and not line.startswith("    "))
    namespace: dict[str, Any] = {}
    exec("\n".join(line[4:] for line in lines[:end]), namespace)  # the indented example
    snapshot = namespace["snapshot"]
    assert snapshot.value == {"processing": {"awaiting_payment": "unpaid"}}
    assert isinstance(namespace["machine"], Machine)
    assert orderflow.orders.load_machine is load_machine
