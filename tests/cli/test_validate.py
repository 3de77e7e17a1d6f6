"""``orderflow validate``: structure, then every guard, action and delay name, each with its path."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

import orderflow
from orderflow.cli import app
from orderflow.cli.validate_command import check, named_uses, shipped_implementations
from orderflow.errors import DefinitionError
from orderflow.io import scxml
from orderflow.orders import MACHINE_NAMES, read_definition

runner = CliRunner()
ROOT = Path(__file__).resolve().parents[2]

#: a help desk ticket of the user's own: guards (one nested in and/not), actions, a named delay
TICKET: dict[str, Any] = {
    "id": "ticket",
    "initial": "open",
    "states": {
        "open": {
            "entry": ["notify_team", {"type": "assign", "params": {"seen": True}}],
            "on": {
                "ASSIGN": {
                    "target": "assigned",
                    "guard": "is_asignee",  # the typo: is_assignee
                    "actions": [{"type": "record_assignee"}],
                },
                "CLOSE": [
                    {
                        "target": "closed",
                        "guard": {
                            "type": "and",
                            "guards": ["can_close", {"type": "stateIn", "state": "#ticket.open"}],
                        },
                    },
                ],
            },
            "after": {"sla_breach": "escalated", "1000": "open"},
        },
        "assigned": {"on": {"CLOSE": "closed"}},
        "escalated": {"always": {"target": "closed", "guard": {"type": "not", "guard": "too_old"}}},
        "closed": {"type": "final"},
    },
}

TICKET_NAMES = [
    "$.states.open.entry[0]: action 'notify_team'",
    "$.states.open.on.ASSIGN.guard: guard 'is_asignee'",
    "$.states.open.on.ASSIGN.actions[0]: action 'record_assignee'",
    "$.states.open.on.CLOSE[0].guard.guards[0]: guard 'can_close'",
    "$.states.open.after.sla_breach: delay 'sla_breach'",
    "$.states.escalated.always.guard.guards[0]: guard 'too_old'",
]

DOOR_SCXML = """<scxml xmlns="http://www.w3.org/2005/07/scxml" version="1.0" name="door"
       initial="closed" datamodel="python">
  <datamodel><data id="opened" expr="0"/></datamodel>
  <state id="closed">
    <transition event="open" cond="opened &lt; 3" target="open">
      <assign location="opened" expr="opened + 1"/>
    </transition>
  </state>
  <state id="open"><transition event="close" target="closed"/></state>
</scxml>
"""


def write_json(tmp_path: Path, config: Any, name: str = "ticket.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(config, indent=2))
    return path


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    """Through the ``orderflow`` script's entry point, where a user mistake becomes one line."""
    return subprocess.run(
        [sys.executable, "-m", "orderflow", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_a_typoed_guard_in_a_file_fails_naming_the_guard_and_its_path(tmp_path: Path) -> None:
    result = runner.invoke(app, ["validate", str(write_json(tmp_path, TICKET))])
    assert result.exit_code == 1, result.output
    assert "ticket.json: machine 'ticket', 5 states" in result.output
    assert (
        "6 name(s) still need an implementation (--allow-missing passes the file)" in result.output
    )
    assert "$.states.open.on.ASSIGN.guard: guard 'is_asignee'" in result.output


def test_every_guard_action_and_delay_name_is_listed_with_its_path(tmp_path: Path) -> None:
    result = runner.invoke(app, ["validate", str(write_json(tmp_path, TICKET))])
    listed = [line.strip() for line in result.output.splitlines()[1:]]
    assert listed == TICKET_NAMES  # built-ins, stateIn and the 1000 ms delay need nothing


def test_allow_missing_passes_the_file_and_still_lists_the_names(tmp_path: Path) -> None:
    ticket = write_json(tmp_path, TICKET)
    result = runner.invoke(app, ["validate", "--allow-missing", str(ticket)])
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"✓ {ticket}: machine 'ticket'")
    assert "--allow-missing passes" not in result.output
    assert "$.states.open.on.ASSIGN.guard: guard 'is_asignee'" in result.output


def test_a_file_that_names_nothing_passes_without_allow_missing(tmp_path: Path) -> None:
    plain = {"id": "plain", "initial": "a", "states": {"a": {"after": {"500": "b"}}, "b": {}}}
    result = runner.invoke(app, ["validate", str(write_json(tmp_path, plain, "plain.json"))])
    assert result.exit_code == 0, result.output
    assert "implementation" not in result.output


def test_structural_problems_fail_even_with_allow_missing(tmp_path: Path) -> None:
    broken = {**TICKET, "initial": "missing"}
    result = runner.invoke(app, ["validate", "--allow-missing", str(write_json(tmp_path, broken))])
    assert result.exit_code == 1
    assert "✗" in result.output and "$.initial: initial state 'missing'" in result.output


@pytest.mark.parametrize("name", MACHINE_NAMES)
def test_a_shipped_machine_validates_clean_against_its_implementations(name: str) -> None:
    result = runner.invoke(app, ["validate", name])
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"✓ {name}: machine '{name}'")
    assert "implementation" not in result.output


def test_a_shipped_machines_own_file_is_judged_by_its_implementations() -> None:
    files = [str(ROOT / "machines" / f"{name}.json") for name in MACHINE_NAMES]
    result = runner.invoke(app, ["validate", *files])
    assert result.exit_code == 0, result.output
    assert "implementation" not in result.output


def test_a_copy_of_a_shipped_machine_is_a_file_of_ones_own(tmp_path: Path) -> None:
    copy = write_json(tmp_path, read_definition("quotation"), "quotation.json")
    result = runner.invoke(app, ["validate", str(copy)])
    assert result.exit_code == 1
    assert "$.states.draft.on.SUBMIT.guard: guard 'has_lines'" in result.output


def test_a_shipped_machine_missing_an_implementation_fails_with_every_path() -> None:
    implementations = shipped_implementations("sale")
    config = read_definition("sale")
    uses = named_uses(orderflow.create_machine(config))
    guard = next(use.name for use in uses if use.kind == "guard")
    without = dataclasses.replace(
        implementations, guards={k: v for k, v in implementations.guards.items() if k != guard}
    )
    verdict = check("sale", lambda: orderflow.create_machine(config), without)
    assert verdict.unimplemented == tuple(u for u in uses if u.kind == "guard" and u.name == guard)
    assert verdict.known_implementations
    assert not verdict.passes(allow_missing=True)  # a table was known: a missing name is an error


def test_an_implementation_create_machine_would_refuse_is_a_problem() -> None:
    guards = {"is_asignee": "not callable", "can_close": len, "too_old": len}
    implementations = dataclasses.replace(
        orderflow.setup(actions={"notify_team": len, "record_assignee": len}).implementations,
        guards=guards,
        delays={"sla_breach": 60_000},
    )
    verdict = check("ticket", lambda: orderflow.create_machine(TICKET), implementations)
    assert verdict.unimplemented == ()
    assert [str(p) for p in verdict.problems] == [
        "$.states.open.on.ASSIGN.guard: the implementation of guard 'is_asignee' is not callable"
    ]
    assert not verdict.passes()


WITH_CONTEXT_FUNCTION = {**TICKET, "context": "fromTicket"}
WITH_ACTORS = {
    "id": "depot", "initial": "loading",
    "states": {
        "loading": {
            "invoke": [
                {"id": "scale", "src": "weigh", "inputFrom": "parcel",
                 "onDone": {"target": "sent", "guard": "light", "actions": ["keep_weight"]},
                 "onError": {"target": "sent", "actions": [{"type": "complain"}]}},
                {"id": "cam", "src": "camera", "input": {"fps": 2}, "onSnapshot": {"actions": "look"}},
            ],
            "on": {"HELP": {"actions": {"type": "spawnChild",
                                        "params": {"src": "helper", "inputFrom": "who"}}}},
        },
        "sent": {"type": "final"},
    },
}  # fmt: skip


@pytest.mark.parametrize(
    "config",
    [TICKET, WITH_CONTEXT_FUNCTION, WITH_ACTORS, *(read_definition(n) for n in MACHINE_NAMES)],
)
def test_named_uses_are_the_names_and_paths_create_machine_refuses(config: Any) -> None:
    said = {  # how the compiler words a missing actor or input function
        "actor": "no actor '{}' was given to setup(actors=...)",
        "input": "no input function '{}' was given to setup(inputs=...)",
    }
    ours = {
        f"{use.path}: "
        + said.get(use.kind, f"no implementation for {use.kind} '{{}}'").format(use.name)
        for use in named_uses(orderflow.create_machine(config))
    }
    with pytest.raises(DefinitionError) as refused:
        orderflow.setup(guards={"\0unused": len}).create_machine(config)
    assert ours == {str(problem) for problem in refused.value.problems}


def test_a_context_function_is_a_name_that_needs_an_implementation(tmp_path: Path) -> None:
    path = write_json(tmp_path, WITH_CONTEXT_FUNCTION)
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 1, result.output
    assert "$.context: context 'fromTicket'" in result.output


def test_an_scxml_document_validates(tmp_path: Path) -> None:
    door = tmp_path / "door.scxml"
    door.write_text(DOOR_SCXML)
    result = runner.invoke(app, ["validate", str(door)])
    assert result.exit_code == 0, result.output
    assert "✓" in result.output and "door.scxml: machine 'door', 3 states" in result.output


def test_an_scxml_copy_of_a_json_machine_lists_the_names_it_needs(tmp_path: Path) -> None:
    copy = tmp_path / "ticket.scxml"
    copy.write_text(scxml.dump(orderflow.create_machine(TICKET)))
    result = runner.invoke(app, ["validate", str(copy)])
    assert result.exit_code == 1, result.output
    assert "$.states.open.on.ASSIGN[0].guard: guard 'is_asignee'" in result.output
    assert runner.invoke(app, ["validate", "--allow-missing", str(copy)]).exit_code == 0


def test_exit_1_when_any_source_fails_and_each_is_still_reported(tmp_path: Path) -> None:
    result = runner.invoke(app, ["validate", str(write_json(tmp_path, TICKET)), "sale"])
    assert result.exit_code == 1
    assert "✗ " in result.output and "✓ sale: machine 'sale'" in result.output


def test_broken_json_is_one_line_with_its_line_and_column(tmp_path: Path) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text('{"id": "x",\n  "initial": "a"\n  "states": {}}\n')
    result = run_cli("validate", str(broken))
    assert result.returncode == 2
    assert result.stderr == (
        f"error: {broken} is not valid JSON: Expecting ',' delimiter at line 3, column 3\n"
    )


def test_a_file_that_is_not_scxml_is_one_line(tmp_path: Path) -> None:
    broken = tmp_path / "broken.scxml"
    broken.write_text("<scxml><state id='a'></scxml>")
    result = run_cli("validate", str(broken))
    assert result.returncode == 2
    assert result.stderr.startswith(f"error: {broken} cannot be loaded as SCXML:")
    assert len(result.stderr.splitlines()) == 1 and "Traceback" not in result.stderr
