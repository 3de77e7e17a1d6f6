"""From an XState v5 JSON config to the compiled, indexed state tree.

Two passes over the config: the first builds every node (so ids are known),
the second resolves what refers to other nodes or to implementations
(targets, initial states, history defaults, guards, actions, delays).
Every problem is collected with its JSON path and reported together in one
:class:`~orderflow.errors.DefinitionError`; unreachable states are warnings.

Definitions may come from outside, so their size is bounded where the
compiler (or anything after it) would otherwise recurse without limit:
states nest at most :data:`MAX_STATE_DEPTH` levels and guards
(``and``/``or``/``not``) :data:`MAX_GUARD_DEPTH`; a delay is a finite number
of milliseconds up to :data:`~orderflow.chart.nodes.MAX_DELAY_MS` (100 years).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from orderflow.chart.actions import (
    MAX_DELAY_MS,
    ActionSpec,
    Builtin,
    EnqueueActions,
    SendParent,
    SendTo,
    SpawnChild,
    StopChild,
    builtin_from_json,
    builtin_name,
    valid_delay,
)
from orderflow.chart.conventions import XSTATE, Conventions
from orderflow.chart.guards import (
    COMBINATORS,
    AndGuard,
    Condition,
    Guard,
    NamedGuard,
    NotGuard,
    OrGuard,
    StateInGuard,
    reads_data,
)
from orderflow.chart.implementations import Implementations
from orderflow.chart.nodes import (
    ATOMIC,
    COMPOUND,
    FINAL,
    HISTORY,
    PARALLEL,
    Delayed,
    Invocation,
    StateNode,
    Transition,
    is_wildcard,
)
from orderflow.errors import MissingImplementationError, Problem

DEFAULT_MACHINE_ID = "(machine)"
#: how deeply states may nest below the machine (the root is level 0)
MAX_STATE_DEPTH = 100
#: how deeply and/or/not guards may nest
MAX_GUARD_DEPTH = 32
DONE_STATE_PREFIX = "xstate.done.state."
AFTER_PREFIX = "xstate.after."
#: the events a child actor sends its parent: finished (with its output), failed, a new snapshot
DONE_ACTOR_PREFIX = "xstate.done.actor."
ERROR_ACTOR_PREFIX = "xstate.error.actor."
SNAPSHOT_PREFIX = "xstate.snapshot."
_ACTOR_BUILTINS = (SpawnChild, StopChild, SendTo, SendParent, EnqueueActions)

_STATE_KEYS = frozenset({
    "id", "type", "initial", "states", "on", "always", "after", "entry", "exit", "onDone",
    "output", "history", "target", "tags", "meta", "description", "invoke",
})  # fmt: skip
_ROOT_KEYS = _STATE_KEYS | {"context", "version", "types", "schemas", "predictableActionArguments"}
#: under SCXML's conventions a state lists its transitions in document order, each with its "event"
_SCXML_STATE_KEYS = (_STATE_KEYS - {"on", "always", "after", "onDone", "invoke"}) | {"transitions"}
_INVOKE_KEYS = frozenset(
    {"id", "src", "input", "inputFrom", "systemId", "onDone", "onError", "onSnapshot"}
)
_SCXML_TRANSITION_KEYS = frozenset({"event", "target", "guard", "actions", "reenter"})
_TRANSITION_KEYS = frozenset({"target", "guard", "actions", "reenter", "description", "meta"})
_TYPES = frozenset({ATOMIC, COMPOUND, PARALLEL, FINAL, HISTORY})


@dataclass
class CompiledTree:
    """The result of compiling a definition: nodes in document order and their indexes."""

    machine_id: str
    root: StateNode
    nodes: tuple[StateNode, ...]
    by_id: dict[str, StateNode]
    version: str
    context: Any
    output: Any
    has_output: bool
    effects: dict[str, Callable[..., Any]]
    #: whether any state invokes or any action spawns, stops or sends to an actor
    uses_actors: bool = False
    #: whether any action spawns children (beyond the states' invocations)
    spawns: bool = False
    problems: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)


def compile_definition(
    config: Any, implementations: Implementations, conventions: Conventions = XSTATE
) -> CompiledTree:
    """Compile ``config``; the returned tree's ``problems`` is empty when the definition is valid.

    Under SCXML's conventions (``orderflow.io.scxml`` writes such configs) a state
    has ``transitions``, a document-ordered list whose items carry their ``event``
    descriptor (none for eventless ones); an ``initial`` may be ``{"target":
    ["#id", ...], "actions": [...]}`` naming descendants, and a history state's
    ``target`` may be ``{"target": [...], "actions": [...]}``.
    """
    return _Compiler(implementations, conventions).compile(config)


class _Compiler:
    def __init__(self, implementations: Implementations, conventions: Conventions) -> None:
        self.impl = implementations
        self.conventions = conventions
        self.scxml = conventions.scxml
        self.done_prefix = conventions.done_state_prefix
        self.problems: list[Problem] = []
        self.warnings: list[Problem] = []
        self.nodes: list[StateNode] = []
        self.by_id: dict[str, StateNode] = {}
        self.configs: dict[
            int, tuple[Mapping[str, Any], str]
        ] = {}  # id(node) -> (config, json path)
        self.effects: dict[str, Callable[..., Any]] = {}
        self.transition_count = 0
        self.uses_actors = False
        self.spawns = False

    def problem(self, path: str, message: str) -> None:
        self.problems.append(Problem(path, message))

    # -- pass 1: the tree -------------------------------------------------------------------

    def compile(self, config: Any) -> CompiledTree:
        if not isinstance(config, Mapping):
            self.problem("$", "a machine config must be a JSON object")
            config = {}
        machine_id = config.get("id", DEFAULT_MACHINE_ID)
        if not isinstance(machine_id, str) or not machine_id:
            self.problem("$.id", "the machine id must be a non-empty string")
            machine_id = DEFAULT_MACHINE_ID
        root_keys = (_ROOT_KEYS | _SCXML_STATE_KEYS) if self.scxml else _ROOT_KEYS
        for key in config:
            if key not in root_keys:
                self.problem(f"$.{key}", self._unknown_key_message(key))
        root = self._build(config, machine_id, machine_id, None, (), "$", is_root=True)
        for node in self.nodes:
            node_config, path = self.configs[id(node)]
            self._link(node, node_config, path)
        self._check_reachability(root)
        context = config.get("context")
        if isinstance(context, str):  # the name of a function of the input (setup(contexts=...))
            self._check_context_function(context)
        elif context is not None and not isinstance(context, Mapping) and not callable(context):
            self.problem(
                "$.context",
                "the context must be a JSON object or the name of a context function",
            )
        version = config.get("version")
        if version is not None and not isinstance(version, str | int):
            self.problem("$.version", "the version must be a string or an integer")
            version = None
        if self.spawns:  # an enqueueActions builder may name any effect given to setup
            for name, impl in self.impl.actions.items():
                if callable(impl) and not isinstance(impl, Builtin):
                    self.effects.setdefault(name, impl)
        return CompiledTree(
            machine_id=machine_id,
            root=root,
            nodes=tuple(self.nodes),
            by_id=self.by_id,
            version=str(version) if version is not None else _fingerprint(root),
            context=config.get("context"),
            output=config.get("output"),
            has_output="output" in config,
            effects=self.effects,
            uses_actors=self.uses_actors,
            spawns=self.spawns,
            problems=self.problems,
            warnings=self.warnings,
        )

    def _check_context_function(self, name: str) -> None:
        function = self.impl.contexts.get(name)
        if function is None and self.impl.given:
            self.problem("$.context", f"no implementation for context '{name}'")
        elif function is not None and not callable(function):
            self.problem("$.context", f"the context function '{name}' is not callable")

    def _unknown_key_message(self, key: str) -> str:
        if key == "invoke" and self.scxml:
            return "a document invokes with <invoke>, compiled by orderflow.io.scxml"
        return f"unknown key '{key}' (a typo?)"

    def _build(
        self,
        config: Any,
        key: str,
        machine_id: str,
        parent: StateNode | None,
        path: tuple[str, ...],
        json_path: str,
        *,
        is_root: bool = False,
    ) -> StateNode:
        if not isinstance(config, Mapping):
            self.problem(json_path, "a state config must be a JSON object")
            config = {}
        if not is_root:
            for k in config:
                if k not in (_SCXML_STATE_KEYS if self.scxml else _STATE_KEYS):
                    self.problem(f"{json_path}.{k}", self._unknown_key_message(k))
        children_config = config.get("states") or {}
        if not isinstance(children_config, Mapping):
            self.problem(f"{json_path}.states", "states must be a JSON object of state configs")
            children_config = {}
        state_type = config.get("type")
        if state_type is None:
            state_type = (
                COMPOUND if children_config else (HISTORY if "history" in config else ATOMIC)
            )
        elif state_type not in _TYPES:
            self.problem(
                f"{json_path}.type",
                f"unknown state type {state_type!r}; use one of {sorted(_TYPES)}",
            )
            state_type = COMPOUND if children_config else ATOMIC
        elif state_type == ATOMIC and children_config:
            self.problem(f"{json_path}.type", "an atomic state cannot have child states")
        elif state_type == COMPOUND and not children_config:
            self.problem(f"{json_path}.states", "a compound state needs at least one child state")
        if is_root:
            node_id = machine_id
            if state_type in (FINAL, HISTORY):
                self.problem(
                    f"{json_path}.type", f"the machine itself cannot be a {state_type} state"
                )
                state_type = ATOMIC
        else:
            explicit = config.get("id")
            if explicit is not None and (not isinstance(explicit, str) or not explicit):
                self.problem(f"{json_path}.id", "a state id must be a non-empty string")
                explicit = None
            node_id = explicit or ".".join((machine_id, *path))
        node = StateNode(
            key=key,
            id=node_id,
            type=state_type,
            parent=parent,
            path=path,
            depth=len(path),
            ancestors=(parent, *parent.ancestors) if parent is not None else (),
            order=len(self.nodes),
            is_atomic=state_type in (ATOMIC, FINAL),
            scxml=self.scxml,
        )
        if node_id in self.by_id:
            self.problem(
                f"{json_path}.id" if "id" in config else json_path,
                f"duplicate state id '{node_id}'",
            )
        else:
            self.by_id[node_id] = node
        self.nodes.append(node)
        self.configs[id(node)] = (config, json_path)
        if state_type in (FINAL, HISTORY) and children_config:
            self.problem(f"{json_path}.states", f"a {state_type} state cannot have child states")
            children_config = {}
        if children_config and len(path) >= MAX_STATE_DEPTH:
            self.problem(
                f"{json_path}.states",
                f"states nest deeper than {MAX_STATE_DEPTH} levels, orderflow's limit",
            )
            children_config = {}
        children = []
        for child_key, child_config in children_config.items():
            child_path = f"{json_path}.states.{child_key}"
            if (
                not isinstance(child_key, str)
                or not child_key
                or "." in child_key
                or child_key.startswith("#")
            ):
                self.problem(
                    child_path,
                    "a state key must be a non-empty string without '.' or a leading '#'",
                )
                continue
            children.append(
                self._build(
                    child_config, child_key, machine_id, node, (*path, child_key), child_path
                )
            )
        node.children = tuple(children)
        node.states = tuple(c for c in children if c.type != HISTORY)
        node.by_key = {c.key: c for c in node.states}
        return node

    # -- pass 2: references --------------------------------------------------------------

    def _link(self, node: StateNode, config: Mapping[str, Any], path: str) -> None:
        if node.type == HISTORY:
            self._link_history(node, config, path)
            return
        if node.type == COMPOUND:
            node.initial = self._initial(node, config.get("initial"), f"{path}.initial")
        node.entry = self._actions(config.get("entry"), f"{path}.entry", node)
        node.exit = self._actions(config.get("exit"), f"{path}.exit", node)
        node.tags = tuple(_as_list(config.get("tags")))
        node.meta = config.get("meta")
        node.description = config.get("description")
        if "output" in config:
            if node.type != FINAL and node.parent is not None:
                self.problem(
                    f"{path}.output", "only a final state (or the machine) can have an output"
                )
            node.output, node.has_output = config["output"], True
        if node.type == FINAL:
            for k in ("on", "always", "after", "onDone", "transitions"):
                if config.get(k):
                    self.problem(f"{path}.{k}", "a final state cannot have transitions")
            return
        on: dict[str, list[Transition]] = {}
        if self.scxml:
            self._link_document_transitions(node, config.get("transitions"), path, on)
            return
        on_config = config.get("on") or {}
        if not isinstance(on_config, Mapping):
            self.problem(f"{path}.on", "on must map event descriptors to transitions")
            on_config = {}
        for descriptor, transitions in on_config.items():
            where = f"{path}.on.{descriptor}"
            if not self._check_descriptor(descriptor, where):
                continue
            on.setdefault(descriptor, []).extend(
                self._transitions(node, descriptor, transitions, where)
            )
        if "onDone" in config:
            if node.type not in (COMPOUND, PARALLEL):
                self.problem(
                    f"{path}.onDone", "only a compound or parallel state finishes; onDone needs one"
                )
            descriptor = self.done_prefix + node.id
            on.setdefault(descriptor, []).extend(
                self._transitions(node, descriptor, config["onDone"], f"{path}.onDone")
            )
        if config.get("invoke") is not None:
            node.invoke = self._invocations(node, config["invoke"], f"{path}.invoke", on)
        after_config = config.get("after") or {}
        if not isinstance(after_config, Mapping):
            self.problem(f"{path}.after", "after must map delays to transitions")
            after_config = {}
        delayed = []
        for delay_key, transitions in after_config.items():
            where = f"{path}.after.{delay_key}"
            delay = self._delay(delay_key, where, node)
            label = _js_number(delay) if isinstance(delay, float) else delay
            event_type = f"{AFTER_PREFIX}{label}.{node.id}"
            delayed.append(Delayed(event_type, delay))
            compiled = self._transitions(node, event_type, transitions, where)
            for t in compiled:
                t.delay = delay
            on.setdefault(event_type, []).extend(compiled)
        node.after = tuple(delayed)
        node.always = tuple(self._transitions(node, None, config.get("always"), f"{path}.always"))
        node.on = {descriptor: tuple(ts) for descriptor, ts in on.items()}
        node.wildcards = tuple(
            sorted((d for d in node.on if is_wildcard(d)), key=len, reverse=True)
        )

    def _link_document_transitions(
        self, node: StateNode, config: Any, path: str, on: dict[str, list[Transition]]
    ) -> None:
        """SCXML's transitions: one list in document order, each with its own ``event``."""
        always: list[Transition] = []
        items = config if isinstance(config, list) else [] if config is None else None
        if items is None:
            self.problem(f"{path}.transitions", "transitions must be a list")
            items = []
        for index, item in enumerate(items):
            where = f"{path}.transitions[{index}]"
            if not isinstance(item, Mapping):
                self.problem(where, "a transition must be an object")
                continue
            for k in item:
                if k not in _SCXML_TRANSITION_KEYS:
                    self.problem(f"{where}.{k}", f"unknown transition key '{k}'")
            descriptor = item.get("event")
            body = {k: v for k, v in item.items() if k != "event"}
            if descriptor is None:
                always.extend(self._transitions(node, None, body, where))
            elif self._check_descriptor(descriptor, f"{where}.event"):
                on.setdefault(descriptor, []).extend(
                    self._transitions(node, descriptor, body, where)
                )
        node.always = tuple(always)
        node.on = {descriptor: tuple(ts) for descriptor, ts in on.items()}

    def _check_descriptor(self, descriptor: Any, where: str) -> bool:
        if not isinstance(descriptor, str) or not descriptor:
            self.problem(
                where, "an event descriptor must be a non-empty string (use always for eventless)"
            )
            return False
        if self.scxml:  # a space-separated list of tokens, each "*" or a name with an optional ".*"
            tokens = descriptor.split()
            if not tokens or any(
                "*" in token
                and token != "*"
                and not (token.endswith(".*") and "*" not in token[:-2])
                for token in tokens
            ):
                self.problem(where, f"'{descriptor}' is not an SCXML event descriptor")
                return False
            return True
        if "*" in descriptor and not is_wildcard(descriptor):
            self.problem(
                where, "a wildcard may only stand alone ('*') or as the last token ('prefix.*')"
            )
            return False
        if descriptor.startswith(".") or (
            descriptor.endswith(".") and not descriptor.endswith(".*")
        ):
            self.problem(where, "an event descriptor cannot start or end with '.'")
            return False
        return True

    def _initial(self, node: StateNode, initial: Any, path: str) -> Transition | None:
        actions: tuple[ActionSpec, ...] = ()
        if isinstance(initial, Mapping):
            actions = self._actions(initial.get("actions"), f"{path}.actions", node)
            initial = initial.get("target")
        if self.scxml and (isinstance(initial, list) or str(initial).startswith("#")):
            targets = self._targets(node, initial, f"{path}.target", relative_to_parent=False)
            if targets is None:
                return None
            if not targets or not all(t.is_descendant_of(node) for t in targets):
                self.problem(path, f"the initial states of '{node.id}' must be its descendants")
                return None
            return self._new_transition(node, None, targets, None, actions, False, path)
        if initial is None:
            self.problem(path, f"compound state '{node.id}' needs an initial state")
            return None
        target = next((c for c in node.children if c.key == initial), None)
        if target is None:
            self.problem(path, f"initial state '{initial}' is not a child of '{node.id}'")
            return None
        return self._new_transition(node, None, (target,), None, actions, False, path)

    def _link_history(self, node: StateNode, config: Mapping[str, Any], path: str) -> None:
        kind = config.get("history", "shallow")
        if kind is True:  # XState's spelling of shallow history
            kind = "shallow"
        if kind not in ("shallow", "deep"):
            self.problem(f"{path}.history", "history must be 'shallow', 'deep' or true (shallow)")
            kind = "shallow"
        node.history = kind
        parent = node.parent
        if parent is None or parent.type not in (COMPOUND, PARALLEL):
            self.problem(path, "a history state must be the child of a compound or parallel state")
            return
        for k in ("on", "always", "after", "entry", "exit", "onDone", "initial"):
            if k in config:
                self.problem(
                    f"{path}.{k}",
                    "a history state is a pseudo-state; it has no transitions or actions",
                )
        default = config.get("target")
        actions: tuple[ActionSpec, ...] = ()
        if self.scxml and isinstance(default, Mapping):  # SCXML: a transition with content
            actions = self._actions(default.get("actions"), f"{path}.target.actions", node)
            default = default.get("target")
        if default is not None:
            targets = self._targets(parent, default, f"{path}.target", relative_to_parent=False)
            if targets:
                for target in targets:
                    if not target.is_descendant_of(parent) or target.type == HISTORY:
                        self.problem(
                            f"{path}.target",
                            f"a history default must be a state inside '{parent.id}'",
                        )
                node.history_default = self._new_transition(
                    node, None, targets, None, actions, False, path
                )

    # -- invoke ------------------------------------------------------------------------

    def _invocations(
        self, node: StateNode, config: Any, path: str, on: dict[str, list[Transition]]
    ) -> tuple[Invocation, ...]:
        """A state's ``invoke`` (one or a list): the actors, and their onDone/onError/onSnapshot."""
        items = config if isinstance(config, list) else [config]
        invocations: list[Invocation] = []
        for index, item in enumerate(items):
            where = f"{path}[{index}]" if isinstance(config, list) else path
            if not isinstance(item, Mapping):
                self.problem(where, "an invoke must be an object with at least a 'src'")
                continue
            for k in item:
                if k not in _INVOKE_KEYS:
                    self.problem(f"{where}.{k}", f"unknown invoke key '{k}'")
            src = item.get("src")
            if not isinstance(src, str) or not src:
                self.problem(f"{where}.src", "an invoke needs a 'src': the name of an actor")
                continue
            self._check_src(src, f"{where}.src")
            ident = item.get("id", f"{index}.{node.id}")  # XState's default invoke id
            if not isinstance(ident, str) or not ident or "/" in ident:
                self.problem(f"{where}.id", "an invoke id must be a non-empty string without '/'")
                continue
            if any(i.id == ident for i in invocations):
                self.problem(
                    f"{where}.id", f"two invocations of '{node.id}' share the id '{ident}'"
                )
            system_id = item.get("systemId")
            if system_id is not None and not (isinstance(system_id, str) and system_id):
                self.problem(f"{where}.systemId", "a systemId must be a non-empty string")
                system_id = None
            value = self._input(item, where)
            invocations.append(
                Invocation(ident, src, value, system_id, item.get("onSnapshot") is not None)
            )
            for key, prefix in (
                ("onDone", DONE_ACTOR_PREFIX),
                ("onError", ERROR_ACTOR_PREFIX),
                ("onSnapshot", SNAPSHOT_PREFIX),
            ):
                if item.get(key) is not None:
                    descriptor = prefix + ident
                    on.setdefault(descriptor, []).extend(
                        self._transitions(node, descriptor, item[key], f"{where}.{key}")
                    )
        if invocations:
            self.uses_actors = True
        return tuple(invocations)

    def _check_src(self, src: str, path: str) -> None:
        if src not in self.impl.actors and self.impl.given:
            self.problem(path, f"no actor '{src}' was given to setup(actors=...)")

    def _input(self, config: Mapping[str, Any], path: str) -> Any:
        """An invoke's or spawnChild's input: static (``input``) or a named function (``inputFrom``)."""
        name = config.get("inputFrom")
        if name is None:
            return config.get("input")
        if "input" in config:
            self.problem(f"{path}.inputFrom", "give either input or inputFrom, not both")
        if isinstance(name, str) and name not in self.impl.inputs and not self.impl.given:
            return _InputFunction(_missing_input(name), name)  # drawn and exported, never run
        if not isinstance(name, str) or name not in self.impl.inputs:
            self.problem(
                f"{path}.inputFrom", f"no input function {name!r} was given to setup(inputs=...)"
            )
            return None
        function = self.impl.inputs[name]
        if not callable(function):
            self.problem(f"{path}.inputFrom", f"the input function {name!r} is not callable")
            return None
        return _InputFunction(function, name)

    def _actor_builtin(self, builtin: Builtin, params: Any, path: str) -> Builtin:
        """Check an actor built-in's names; a spawnChild's inputFrom becomes its input function."""
        self.uses_actors = True
        if isinstance(builtin, SpawnChild | EnqueueActions):
            self.spawns = True
        if isinstance(builtin, SpawnChild):
            self._check_src(builtin.src, f"{path}.params.src")
            if isinstance(params, Mapping) and "inputFrom" in params:
                return SpawnChild(
                    builtin.src, builtin.id, builtin.system_id,
                    self._input(params, f"{path}.params"), builtin.sync_snapshot,
                )  # fmt: skip
        return builtin

    # -- transitions -------------------------------------------------------------------

    def _transitions(
        self, node: StateNode, descriptor: str | None, config: Any, path: str
    ) -> list[Transition]:
        if config is None:
            if descriptor is None:
                return []
            # An explicit null is XState's forbidden transition: it matches and does nothing.
            return [self._new_transition(node, descriptor, None, None, (), False, path)]
        items = config if isinstance(config, list) else [config]
        result = []
        for index, item in enumerate(items):
            where = f"{path}[{index}]" if isinstance(config, list) else path
            if isinstance(item, str):
                item = {"target": item}
            if not isinstance(item, Mapping):
                self.problem(
                    where,
                    "a transition must be a target string or an object with target/guard/actions",
                )
                continue
            for k in item:
                if k not in _TRANSITION_KEYS:
                    hint = " (XState v5 calls it guard)" if k == "cond" else ""
                    self.problem(f"{where}.{k}", f"unknown transition key '{k}'{hint}")
            target_config = item.get("target")
            targets = None
            if target_config is not None and target_config != []:
                targets = self._targets(
                    node, target_config, f"{where}.target", relative_to_parent=True
                )
            guard = (
                self._guard(item["guard"], f"{where}.guard", node)
                if item.get("guard") is not None
                else None
            )
            actions = self._actions(item.get("actions"), f"{where}.actions", node)
            reenter = item.get("reenter", False)
            if not isinstance(reenter, bool):
                self.problem(f"{where}.reenter", "reenter must be true or false")
                reenter = False
            result.append(
                self._new_transition(node, descriptor, targets, guard, actions, reenter, where)
            )
        return result

    def _new_transition(
        self,
        source: StateNode,
        descriptor: str | None,
        targets: tuple[StateNode, ...] | None,
        guard: Guard | None,
        actions: tuple[ActionSpec, ...],
        reenter: bool,
        path: str,
    ) -> Transition:
        self.transition_count += 1
        return Transition(
            source,
            descriptor,
            targets,
            guard,
            actions,
            reenter,
            self.transition_count,
            None,
            path,
            guard_reads_data=guard is not None and reads_data(guard),
        )

    def _targets(
        self, node: StateNode, config: Any, path: str, *, relative_to_parent: bool
    ) -> tuple[StateNode, ...] | None:
        items = config if isinstance(config, list) else [config]
        targets: list[StateNode] = []
        for item in items:
            if not isinstance(item, str) or not item:
                self.problem(path, "a target must be a non-empty string")
                return None
            found = self._resolve_target(node, item, relative_to_parent)
            if isinstance(found, str):
                self.problem(path, found)
                return None
            targets.append(found)
        for i, a in enumerate(targets):
            for b in targets[i + 1 :]:
                lca = next((x for x in (a, *a.ancestors) if x is b or b.is_descendant_of(x)), None)
                if lca is a or lca is b:
                    self.problem(
                        path, f"targets '{a.id}' and '{b.id}' overlap: one contains the other"
                    )
                elif lca is not None and lca.type != PARALLEL:
                    self.problem(path, f"targets '{a.id}' and '{b.id}' cannot both be active: "
                                 f"they are different children of '{lca.id}'")  # fmt: skip
        return tuple(targets)

    def _resolve_target(
        self, node: StateNode, target: str, relative_to_parent: bool
    ) -> StateNode | str:
        """A node, or the problem sentence when ``target`` names none (XState's resolveTarget)."""
        if target.startswith("#"):
            ident = target[1:]
            if ident in self.by_id:
                return self.by_id[ident]
            head, *rest = ident.split(".")
            start = self.by_id.get(head)
            if start is None:
                return f"no state has the id '{ident}'"
            return self._walk(start, rest, target)
        if target.startswith("."):
            return self._walk(node, target[1:].split("."), target)
        if not relative_to_parent:
            return self._walk(node, target.split("."), target)
        if node.parent is None:
            return (
                f"target '{target}' is not a valid target from the root; did you mean '.{target}'?"
            )
        return self._walk(node.parent, target.split("."), target)

    @staticmethod
    def _walk(start: StateNode, keys: Sequence[str], target: str) -> StateNode | str:
        current = start
        for key in keys:
            # by key first: a scan of the children would make compiling N siblings quadratic
            child = current.by_key.get(key) or next(
                (c for c in current.children if c.key == key), None
            )
            if child is None:
                return f"unknown target '{target}': '{current.id}' has no child state '{key}'"
            current = child
        return current

    # -- guards, actions, delays ---------------------------------------------------------

    def _guard(self, config: Any, path: str, node: StateNode, depth: int = 0) -> Guard | None:
        if depth > MAX_GUARD_DEPTH:
            self.problem(
                path, f"guards nest deeper than {MAX_GUARD_DEPTH} levels, orderflow's limit"
            )
            return None
        if isinstance(config, Condition):  # compiled by a format (an SCXML cond)
            return config
        if isinstance(config, str):
            return self._named_guard(config, None, path, node)
        if callable(config):  # inline, from a config written in Python
            return NamedGuard(getattr(config, "__name__", "inline guard"), None, config, node.id)
        if not isinstance(config, Mapping) or not isinstance(config.get("type"), str):
            self.problem(path, "a guard must be a name or an object with a string 'type'")
            return None
        kind = COMBINATORS.get(config["type"])
        if kind is None:
            return self._named_guard(config["type"], config.get("params"), path, node)
        if kind == "stateIn":
            state = config.get("state", config.get("stateValue"))
            if state is None and isinstance(config.get("params"), Mapping):
                state = config["params"].get("state")
            return self._state_in(state, path)
        parts = config.get("guards")
        if kind == "not" and parts is None and "guard" in config:
            parts = [config["guard"]]
        if not isinstance(parts, list) or not parts or (kind == "not" and len(parts) != 1):
            needs = "exactly one guard" if kind == "not" else "a non-empty list 'guards'"
            self.problem(path, f"a '{kind}' guard needs {needs}")
            return None
        compiled = [
            self._guard(p, f"{path}.guards[{i}]", node, depth + 1) for i, p in enumerate(parts)
        ]
        if any(g is None for g in compiled):
            return None
        inner = tuple(g for g in compiled if g is not None)
        if kind == "not":
            return NotGuard(inner[0])
        return AndGuard(inner) if kind == "and" else OrGuard(inner)

    def _named_guard(self, name: str, params: Any, path: str, node: StateNode) -> Guard | None:
        impl = self.impl.guards.get(name)
        if impl is None and self.impl.given:
            self.problem(path, f"no implementation for guard '{name}'")
        elif impl is not None and not callable(impl):
            self.problem(path, f"the implementation of guard '{name}' is not callable")
            impl = None
        return NamedGuard(name, params, impl, node.id)

    def _state_in(self, state: Any, path: str) -> Guard | None:
        if isinstance(state, str) and state.startswith("#"):
            found = self._resolve_target(self.nodes[0], state, relative_to_parent=False)
            if isinstance(found, str):
                self.problem(path, found)
                return None
            return StateInGuard((found,), state)
        if isinstance(state, str):
            state = _path_to_value(state.split("."))
        if not isinstance(state, Mapping | str):
            self.problem(path, "stateIn needs a state id ('#id'), a dotted path or a state value")
            return None
        nodes: list[StateNode] = []
        problem = _collect_value_nodes(self.nodes[0], state, nodes)
        if problem:
            self.problem(path, problem)
            return None
        return StateInGuard(
            tuple(nodes), json.dumps(state) if not isinstance(state, str) else state
        )

    def _actions(self, config: Any, path: str, node: StateNode) -> tuple[ActionSpec, ...]:
        if config is None:
            return ()
        items = config if isinstance(config, list) else [config]
        specs = []
        for index, item in enumerate(items):
            where = f"{path}[{index}]" if isinstance(config, list) else path
            spec = self._action(item, where, node)
            if spec is not None:
                specs.append(spec)
        return tuple(specs)

    def _action(self, item: Any, path: str, node: StateNode) -> ActionSpec | None:
        if isinstance(item, Builtin):
            if isinstance(item, _ACTOR_BUILTINS):
                item = self._actor_builtin(item, None, path)
            return ActionSpec(type(item).__name__.lower(), None, item)
        if callable(item):  # an inline effect from a config written in Python
            name = getattr(item, "__name__", "inline effect")
            self.effects.setdefault(name, item)
            return ActionSpec(name, None, None, item)
        if isinstance(item, str):
            name, params, raw = item, None, None
        elif isinstance(item, Mapping) and isinstance(item.get("type"), str):
            name, params = item["type"], item.get("params")
            raw = item
        else:
            self.problem(path, "an action must be a name or an object with a string 'type'")
            return None
        builtin = builtin_name(name)
        if builtin is not None:
            if (
                raw is not None and "params" not in raw
            ):  # XState's inline form: {"type": "xstate.raise", "event": ...}
                params = {k: v for k, v in raw.items() if k != "type"}
            try:
                compiled = builtin_from_json(builtin, params)
            except ValueError as exc:
                self.problem(path, str(exc))
                return None
            if isinstance(compiled, _ACTOR_BUILTINS):
                compiled = self._actor_builtin(compiled, params, path)
            return ActionSpec(builtin, params, compiled)
        impl = self.impl.actions.get(name)
        if impl is None and self.impl.given:
            self.problem(path, f"no implementation for action '{name}'")
        if isinstance(impl, Builtin):
            if isinstance(impl, _ACTOR_BUILTINS):
                impl = self._actor_builtin(impl, None, path)
            return ActionSpec(name, params, impl)
        if impl is not None and not callable(impl):
            self.problem(
                path, f"the implementation of action '{name}' is not callable or a built-in action"
            )
            return None
        if impl is not None:
            self.effects.setdefault(name, impl)
        return ActionSpec(name, params, None, impl)

    def _delay(self, key: Any, path: str, node: StateNode) -> float | str:
        try:
            value = float(key)
        except (TypeError, ValueError):
            pass
        else:
            if not valid_delay(value):
                self.problem(
                    path,
                    f"a delay must be a finite number of milliseconds from 0 to {MAX_DELAY_MS:.0f} "
                    f"(100 years), not {key!r}",
                )
                return 0.0
            return value
        if key not in self.impl.delays and self.impl.given:
            self.problem(path, f"no implementation for delay '{key}'")
        return str(key)

    # -- warnings -------------------------------------------------------------------------

    def _check_reachability(self, root: StateNode) -> None:
        """Warn about states no path of transitions can enter (guards ignored)."""
        if self.problems:
            return
        reached: set[StateNode] = set()
        pending = [root]
        while pending:
            node = pending.pop()
            if node in reached:
                continue
            reached.add(node)
            pending.extend(node.ancestors)
            if node.type == PARALLEL:
                pending.extend(node.states)
            elif node.initial is not None and node.initial.targets:
                pending.extend(node.initial.targets)
            if node.type == HISTORY:
                default = node.history_default
                pending.extend(
                    default.targets or () if default else node.parent.states if node.parent else ()
                )
            for transitions in (*node.on.values(), node.always):
                for t in transitions:
                    pending.extend(t.targets or ())
        for node in self.nodes:
            if node not in reached and node.type != HISTORY:
                _, path = self.configs[id(node)]
                self.warnings.append(Problem(path, f"state '{node.id}' is unreachable"))


@dataclass(frozen=True, slots=True)
class _InputFunction:
    """A named input function ``(context, event) -> input``, called as a computed value."""

    function: Callable[[Any, Any], Any]
    #: the name it was given to ``setup(inputs=...)`` by (what an export writes as ``inputFrom``)
    name: str = ""

    def __call__(self, context: Any, event: Any, params: Any) -> Any:
        return self.function(context, event)


def _missing_input(name: str) -> Callable[[Any, Any], Any]:
    """The input function of a machine created without implementations: it says so when run."""

    def missing(context: Any, event: Any) -> Any:
        raise MissingImplementationError("input", name)

    return missing


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]


def _path_to_value(keys: Sequence[str]) -> Any:
    value: Any = keys[-1]
    for key in reversed(keys[:-1]):
        value = {key: value}
    return value


def _collect_value_nodes(node: StateNode, value: Any, out: list[StateNode]) -> str | None:
    """Append the nodes a (partial) state value names below ``node``; a problem sentence if it names none."""
    keys = [value] if isinstance(value, str) else list(value)
    for key in keys:
        child = next((c for c in node.children if c.key == key), None)
        if child is None:
            return f"'{node.id}' has no child state '{key}'"
        out.append(child)
        if isinstance(value, Mapping):
            sub = value[key]
            if isinstance(sub, Mapping) and not sub:
                continue
            problem = _collect_value_nodes(child, sub, out)
            if problem:
                return problem
    return None


def _js_number(value: float) -> str:
    """A number as JavaScript prints it (``1000``, ``2.5``), so timer event types match XState's."""
    return str(int(value)) if value.is_integer() else repr(value)


def _fingerprint(root: StateNode) -> str:
    """A version for definitions that declare none: a hash of the state tree's shape."""

    def shape(node: StateNode) -> Any:
        return [node.key, node.type, node.history, [shape(c) for c in node.children]]

    digest = hashlib.sha256(json.dumps(shape(root)).encode()).hexdigest()
    return f"sha256:{digest[:16]}"
