"""What ``orderflow validate`` checks: the definition's structure, then the names it uses.

A definition *names* guards, actions and delays; ``setup(...).create_machine``
refuses one whose names have no implementation, but only when the machine is
built at start-up.  ``validate`` finds them first.  :func:`named_uses` lists
every name a compiled definition uses, with the JSON path the compiler reports
it at; :func:`check` then judges them against an implementations table:

- a shipped machine, by name or as its own file in ``machines/``, is checked
  against the implementations orderflow binds to it (:func:`shipped_implementations`);
- a file of the user's own has no table known here (``implementations=None``):
  its names are listed as still needing an implementation;
- an application's table (``orderflow --app``) is passed the same way:
  ``check(label, compile, machine.implementations)``.

orderflow definitions name no actors: a JSON machine refuses ``invoke`` and an
SCXML ``<invoke>`` runs another document, not an implementation.  Built-in
actions (``assign``, ``raise``, ...), ``stateIn`` guards, numeric delays and an
SCXML document's own ``cond``/executable content need none either.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from orderflow.chart import Machine
from orderflow.chart.actions import builtin_name
from orderflow.chart.guards import COMBINATORS
from orderflow.chart.implementations import Implementations
from orderflow.errors import DefinitionError, Problem


@dataclass(frozen=True)
class NamedUse:
    """One place a definition names a guard, action, delay, context function (``kind``:
    ``context``), actor (``actor``, an invoke's or spawnChild's ``src``) or input function
    (``input``, its ``inputFrom``)."""

    kind: str
    name: str
    path: str


@dataclass(frozen=True)
class Verdict:
    """What ``validate`` found in one definition.

    ``machine`` is ``None`` when the definition does not compile (then
    ``problems`` says why).  ``unimplemented`` are the names with no
    implementation; ``known_implementations`` says whether they were judged
    against a table (then each is an error) or no table was known (then they
    are the names still to implement).
    """

    label: str
    machine: Machine | None
    problems: tuple[Problem, ...] = ()
    unimplemented: tuple[NamedUse, ...] = ()
    known_implementations: bool = False
    warnings: tuple[str, ...] = ()

    def passes(self, *, allow_missing: bool = False) -> bool:
        """Clean, or only names still to implement and ``allow_missing``."""
        if self.machine is None or self.problems:
            return False
        if not self.unimplemented:
            return True
        return allow_missing and not self.known_implementations


def shipped_implementations(name: str) -> Implementations:
    """The implementations ``orderflow.orders.load_machine(name)`` binds (in-memory ports, default policies).

    Bound without compiling the definition, so a name the definition uses and
    the table lacks is reported by :func:`check` rather than refused here.
    """
    from orderflow.orders import Policies, in_memory_ports
    from orderflow.orders.loading import IMPLEMENTATIONS

    return IMPLEMENTATIONS[name](in_memory_ports(), Policies()).implementations


def shipped_machine_at(path: Path) -> str | None:
    """The name of the shipped machine whose definition file ``path`` is (``machines/sale.json``), else None.

    So ``orderflow validate machines/*.json`` judges those files by their own
    implementations; a copy elsewhere, perhaps edited, is a file of the user's own.
    """
    from orderflow.orders import MACHINE_NAMES
    from orderflow.orders.loading import definition_roots

    for name in MACHINE_NAMES:
        for root in definition_roots():
            try:
                if os.path.samefile(path, str(root / f"{name}.json")):
                    return name
            except OSError:  # not there, or inside a zip: not this file
                continue
    return None


def check(
    label: str,
    compile: Callable[[], Machine],
    implementations: Implementations | None,
) -> Verdict:
    """Compile a definition without implementations, then judge its names against ``implementations``.

    ``compile`` builds the machine with no implementations (``orderflow.create_machine``
    or ``orderflow.io.scxml.load``); a :class:`DefinitionError` it raises becomes the
    verdict's problems.  With a table, a definition whose every name is in it is
    also compiled against it, so whatever else ``create_machine`` would refuse
    (an implementation that is not callable) is reported too.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            machine = compile()
        except DefinitionError as exc:
            return Verdict(label, None, problems=exc.problems)
    said = tuple(str(w.message) for w in caught)
    uses = named_uses(machine)
    if implementations is None:
        return Verdict(label, machine, unimplemented=uses, warnings=said)
    missing = unimplemented(uses, implementations)
    problems: tuple[Problem, ...] = ()
    if uses and not missing:
        try:
            Machine(machine.config, implementations, machine.conventions)
        except DefinitionError as exc:
            problems = exc.problems
    return Verdict(
        label,
        machine,
        problems=problems,
        unimplemented=missing,
        known_implementations=True,
        warnings=said,
    )


def unimplemented(
    uses: tuple[NamedUse, ...], implementations: Implementations
) -> tuple[NamedUse, ...]:
    """The ``uses`` whose name ``implementations`` has no entry for, of its kind."""
    tables: Mapping[str, Mapping[str, Any]] = {
        "guard": implementations.guards,
        "action": implementations.actions,
        "delay": implementations.delays,
        "context": implementations.contexts,
        "actor": implementations.actors,
        "input": implementations.inputs,
    }
    return tuple(use for use in uses if use.name not in tables[use.kind])


def named_uses(machine: Machine) -> tuple[NamedUse, ...]:
    """Every guard, action, delay and context-function name ``machine``'s definition uses, in order.

    Walks ``machine.config`` where the compiler (``orderflow.chart.definition``)
    resolves names, and gives each the JSON path the compiler reports a missing
    implementation at (``$.states.open.on.ASSIGN[0].guard``).  Meant for a
    machine that compiled: the config's shape is known to be valid.
    """
    walker = _NameWalker(scxml=machine.scxml)
    context = machine.config.get("context")
    if isinstance(context, str):  # a context function of the input (setup(contexts=...))
        walker.found.append(NamedUse("context", context, "$.context"))
    walker.state(machine.config, "$")
    return tuple(walker.found)


class _NameWalker:
    def __init__(self, *, scxml: bool) -> None:
        self.scxml = scxml
        self.found: list[NamedUse] = []

    def state(self, config: Any, path: str) -> None:
        if not isinstance(config, Mapping):
            return
        children = config.get("states") or {}
        kind = config.get("type") or (
            "compound" if children else "history" if "history" in config else "atomic"
        )
        if kind == "history":
            default = config.get("target")
            if self.scxml and isinstance(default, Mapping):
                self.actions(default.get("actions"), f"{path}.target.actions")
            return
        initial = config.get("initial")
        if kind == "compound" and isinstance(initial, Mapping):
            self.actions(initial.get("actions"), f"{path}.initial.actions")
        self.actions(config.get("entry"), f"{path}.entry")
        self.actions(config.get("exit"), f"{path}.exit")
        if kind != "final":
            self.transitions_of(config, path)
        if not self.scxml and config.get("invoke") is not None:
            self.invocations(config["invoke"], f"{path}.invoke")
        if isinstance(children, Mapping):
            for key, child in children.items():
                self.state(child, f"{path}.states.{key}")

    def transitions_of(self, config: Mapping[str, Any], path: str) -> None:
        if self.scxml:
            items = config.get("transitions")
            for index, item in enumerate(items if isinstance(items, list) else []):
                if isinstance(item, Mapping):
                    self.transitions(item, f"{path}.transitions[{index}]")
            return
        on = config.get("on")
        for descriptor, transitions in (on if isinstance(on, Mapping) else {}).items():
            self.transitions(transitions, f"{path}.on.{descriptor}")
        self.transitions(config.get("onDone"), f"{path}.onDone")
        after = config.get("after")
        for delay, transitions in (after if isinstance(after, Mapping) else {}).items():
            where = f"{path}.after.{delay}"
            try:
                float(delay)  # milliseconds: nothing to implement
            except (TypeError, ValueError):
                self.found.append(NamedUse("delay", str(delay), where))
            self.transitions(transitions, where)
        self.transitions(config.get("always"), f"{path}.always")

    def invocations(self, config: Any, path: str) -> None:
        """An ``invoke`` (one or a list): its actor, its input function, its onDone/onError/onSnapshot."""
        items = config if isinstance(config, list) else [config]
        for index, item in enumerate(items):
            where = f"{path}[{index}]" if isinstance(config, list) else path
            if not isinstance(item, Mapping):
                continue
            self.started(item, where)
            for key in ("onDone", "onError", "onSnapshot"):
                self.transitions(item.get(key), f"{where}.{key}")

    def started(self, config: Mapping[str, Any], path: str) -> None:
        """The actor an invoke or a spawnChild names (``src``), and its input function."""
        if isinstance(config.get("src"), str):
            self.found.append(NamedUse("actor", config["src"], f"{path}.src"))
        if isinstance(config.get("inputFrom"), str):
            self.found.append(NamedUse("input", config["inputFrom"], f"{path}.inputFrom"))

    def transitions(self, config: Any, path: str) -> None:
        items = config if isinstance(config, list) else [config]
        for index, item in enumerate(items):
            where = f"{path}[{index}]" if isinstance(config, list) else path
            if not isinstance(item, Mapping):  # a target string, or null: names nothing
                continue
            if item.get("guard") is not None:
                self.guard(item["guard"], f"{where}.guard")
            self.actions(item.get("actions"), f"{where}.actions")

    def guard(self, config: Any, path: str) -> None:
        if isinstance(config, str):
            self.found.append(NamedUse("guard", config, path))
            return
        if not isinstance(config, Mapping) or not isinstance(config.get("type"), str):
            return  # a guard compiled by a format (an SCXML cond), or written in Python
        combinator = COMBINATORS.get(config["type"])
        if combinator is None:
            self.found.append(NamedUse("guard", config["type"], path))
        elif combinator != "stateIn":
            parts = config.get("guards")
            if combinator == "not" and parts is None and "guard" in config:
                parts = [config["guard"]]
            for index, part in enumerate(parts if isinstance(parts, list) else []):
                self.guard(part, f"{path}.guards[{index}]")

    def actions(self, config: Any, path: str) -> None:
        if config is None:
            return
        items = config if isinstance(config, list) else [config]
        for index, item in enumerate(items):
            where = f"{path}[{index}]" if isinstance(config, list) else path
            if isinstance(item, str):
                name = item
            elif isinstance(item, Mapping) and isinstance(item.get("type"), str):
                name = item["type"]
            else:
                continue  # a built-in or a block compiled by a format, or a Python callable
            if builtin_name(name) is None:
                self.found.append(NamedUse("action", name, where))
            elif builtin_name(name) == "spawnChild" and isinstance(item, Mapping):
                params = item.get("params")
                if isinstance(params, Mapping):
                    self.started(params, f"{where}.params")
