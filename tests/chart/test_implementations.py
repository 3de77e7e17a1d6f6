"""Implementations are passed explicitly, as callables or dotted paths; there is no global registry."""

from __future__ import annotations

import itertools
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

import orderflow
from orderflow.errors import DefinitionError, MissingImplementationError

_counter = itertools.count()

MODULE = """
from pydantic import BaseModel

import orderflow


class Ctx(BaseModel):
    count: int = 0


class Pay(BaseModel):
    amount: int


def is_big(context, event, params):
    return event.amount > 100


def add(context, event, params):
    return {"count": context.count + 1}


def slow(context, event, params):
    return 5000


class Policies:
    @staticmethod
    def never(context, event, params):
        return False


increment = orderflow.assign(add)
"""

CONFIG = {
    "id": "m",
    "initial": "a",
    "states": {
        "a": {
            "on": {
                "PAY": [
                    {"target": "big", "guard": "isBig", "actions": ["increment"]},
                    {"target": "small"},
                ],
                "NEVER": {"target": "big", "guard": "never"},
            }
        },
        "big": {"after": {"slow": "a"}},
        "small": {"after": {"slow": "a"}},
    },
}


@pytest.fixture
def module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh importable module of implementations; returns its name."""
    name = f"orderflow_test_impls_{next(_counter)}"
    (tmp_path / f"{name}.py").write_text(textwrap.dedent(MODULE))
    monkeypatch.syspath_prepend(str(tmp_path))
    yield name  # type: ignore[misc]
    sys.modules.pop(name, None)


def test_implementations_can_be_dotted_paths(module: str) -> None:
    machine = orderflow.setup(
        guards={"isBig": f"{module}:is_big", "never": f"{module}:Policies.never"},
        actions={"increment": f"{module}:increment"},
        delays={"slow": f"{module}:slow"},
        context=f"{module}:Ctx",
        events={"PAY": f"{module}:Pay"},
    ).create_machine(CONFIG)
    snapshot, _ = machine.initial_transition()
    assert type(snapshot.context).__name__ == "Ctx"
    big, actions = machine.transition(snapshot, {"type": "PAY", "amount": 500})
    assert (big.status, big.value) == ("active", "big")
    assert big.context.count == 1
    assert [(a.type, a.params["delay"]) for a in actions] == [("schedule", 5000)]
    small, _ = machine.transition(snapshot, {"type": "PAY", "amount": 5})
    assert small.value == "small"
    assert machine.transition(snapshot, "NEVER")[0].value == "a"


def test_a_dotted_path_is_imported_when_the_setup_is_made(module: str) -> None:
    assert module not in sys.modules
    orderflow.setup(guards={"isBig": f"{module}:is_big"})
    assert module in sys.modules


def test_a_dotted_path_that_does_not_import_is_a_definition_error(module: str) -> None:
    with pytest.raises(DefinitionError) as caught:
        orderflow.setup(
            guards={"isBig": f"{module}:no_such_function"},
            actions={"increment": "no_such_package_for_orderflow.effects:increment"},
        )
    assert {p.path for p in caught.value.problems} == {
        "setup.guards.isBig",
        "setup.actions.increment",
    }


def test_a_context_model_path_that_is_not_a_model_is_a_definition_error(module: str) -> None:
    with pytest.raises(DefinitionError) as caught:
        orderflow.setup(context=f"{module}:is_big")
    assert [p.path for p in caught.value.problems] == ["setup.context"]


def test_a_built_in_action_name_cannot_be_redefined() -> None:
    with pytest.raises(DefinitionError) as caught:
        orderflow.setup(actions={"assign": lambda c, e, p: None})
    assert [p.path for p in caught.value.problems] == ["setup.actions.assign"]


def big_guard(context: Any, event: Any, params: Any) -> bool:
    return True


def small_guard(context: Any, event: Any, params: Any) -> bool:
    return False


SIMPLE = {
    "initial": "a",
    "states": {
        "a": {"on": {"GO": [{"target": "yes", "guard": "check"}, {"target": "no"}]}},
        "yes": {},
        "no": {},
    },
}


def test_two_setups_with_different_implementations_do_not_leak_into_each_other() -> None:
    first = orderflow.setup(guards={"check": big_guard}).create_machine(SIMPLE)
    second = orderflow.setup(guards={"check": small_guard}).create_machine(SIMPLE)
    for machine, expected in ((first, "yes"), (second, "no"), (first, "yes")):
        snapshot, _ = machine.initial_transition()
        assert machine.transition(snapshot, "GO")[0].value == expected


def test_a_machine_without_implementations_does_not_see_another_setups() -> None:
    orderflow.setup(guards={"check": big_guard}).create_machine(SIMPLE)
    bare = orderflow.create_machine(SIMPLE)
    snapshot, _ = bare.initial_transition()
    with pytest.raises(MissingImplementationError):
        bare.transition(snapshot, "GO")


def test_one_setup_compiles_several_definitions_against_the_same_implementations() -> None:
    shared = orderflow.setup(guards={"check": small_guard})
    other = {
        "id": "other",
        "initial": "x",
        "states": {"x": {"on": {"GO": {"target": "y", "guard": "check"}}}, "y": {}},
    }
    simple = shared.create_machine(SIMPLE)
    second = shared.create_machine(other)
    assert simple.transition(simple.initial_transition()[0], "GO")[0].value == "no"
    assert second.transition(second.initial_transition()[0], "GO")[0].value == "x"


def test_changing_the_mapping_after_setup_does_not_change_the_machine() -> None:
    guards: dict[str, Any] = {"check": big_guard}
    machine = orderflow.setup(guards=guards).create_machine(SIMPLE)
    guards["check"] = small_guard
    snapshot, _ = machine.initial_transition()
    assert machine.transition(snapshot, "GO")[0].value == "yes"


def test_a_non_callable_guard_implementation_is_a_definition_error() -> None:
    with pytest.raises(DefinitionError) as caught:
        orderflow.setup(guards={"check": 42}).create_machine(SIMPLE)  # type: ignore[dict-item]
    assert [p.path for p in caught.value.problems] == ["$.states.a.on.GO[0].guard"]


def test_the_same_definition_is_valid_without_implementations_for_drawing() -> None:
    machine = orderflow.create_machine(CONFIG)
    assert machine.events == (
        "PAY",
        "NEVER",
        "xstate.after.slow.m.big",
        "xstate.after.slow.m.small",
    )
    assert [n.id for n in machine.nodes] == ["m", "m.a", "m.big", "m.small"]
