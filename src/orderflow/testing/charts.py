"""Random, valid XState v5 machine configs and event sequences, as hypothesis strategies.

    from hypothesis import given, strategies as st
    from orderflow.testing import event_sequences, machine_configs

    @given(st.data())
    def test_never_crashes(data):
        config = data.draw(machine_configs())
        events = data.draw(event_sequences(config))
        ...

The configs are plain JSON: guards are only ``stateIn`` / ``and`` / ``or`` /
``not`` data and there are no actions, so the same config runs unchanged in
orderflow and (after its guard objects are rebuilt with xstate's helpers) in
XState itself.  That is what the differential tests rely on.

Why eventless transitions are restricted: an ``always`` (or ``onDone``)
transition here only moves *forward* — from a state inside child ``i`` of
some compound ancestor to a state inside a later child ``j > i`` of the
same compound.  Each such step advances one compound and only resets the
states below it, so a macrostep always settles.  An unrestricted ``always``
could loop forever, which is a legitimate ``InfiniteLoopError`` in orderflow
but hangs XState.  Event transitions have no such limit: they fire once per
external event.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from hypothesis import strategies as st

from orderflow.chart import Machine

MACHINE_ID = "m"
#: The event types most transitions listen to.
EVENT_TYPES: tuple[str, ...] = ("A", "B", "C", "D", "E")
#: Dotted event types, for the ``A.*`` descriptor.
DOTTED_EVENT_TYPES: tuple[str, ...] = ("A.x", "A.y")
#: An event type no generated descriptor names (only ``*`` catches it).
UNHANDLED_EVENT = "Z"
WILDCARD = "*"
PREFIX_WILDCARD = "A.*"

ATOMIC, COMPOUND, PARALLEL, FINAL, HISTORY = "atomic", "compound", "parallel", "final", "history"

# Repetition weights the draw; the first entry is what hypothesis shrinks towards.
_DESCRIPTORS = (*EVENT_TYPES, *EVENT_TYPES, WILDCARD, PREFIX_WILDCARD, "A.x")
_CHILD_KINDS = (ATOMIC, ATOMIC, ATOMIC, COMPOUND, COMPOUND, PARALLEL, FINAL, FINAL, HISTORY)
_REGION_KINDS = (COMPOUND, COMPOUND, COMPOUND, COMPOUND, ATOMIC, HISTORY)
_LEAF_KINDS = (ATOMIC, ATOMIC, FINAL, HISTORY)


@dataclass(eq=False)
class _Shape:
    """A state while the config is drawn: its place in the tree, then its JSON."""

    key: str
    kind: str
    parent: _Shape | None
    path: tuple[str, ...] = ()
    children: list[_Shape] = field(default_factory=list)
    state_id: str | None = None
    config: dict[str, Any] = field(default_factory=dict)

    def walk(self) -> Iterator[_Shape]:
        """This state and its descendants in document order."""
        yield self
        for child in self.children:
            yield from child.walk()

    def is_inside(self, other: _Shape) -> bool:
        """Is this state a proper descendant of ``other``?"""
        return len(self.path) > len(other.path) and self.path[: len(other.path)] == other.path

    @property
    def states(self) -> list[_Shape]:
        return [c for c in self.children if c.kind != HISTORY]

    @property
    def listens(self) -> bool:
        """Can this state have transitions?"""
        return self.kind not in (FINAL, HISTORY)


@dataclass
class _Options:
    max_depth: int
    max_children: int
    history: bool
    parallel: bool
    always: bool
    reenter: bool
    wildcards: bool
    multiple_targets: bool
    self_transitions: bool
    keys: Iterator[int]


@st.composite
def machine_configs(
    draw: st.DrawFn,
    max_depth: int = 3,
    max_children: int = 3,
    *,
    history: bool = True,
    parallel: bool = True,
    always: bool = True,
    reenter: bool = True,
    wildcards: bool = True,
    multiple_targets: bool = True,
    self_transitions: bool = True,
) -> dict[str, Any]:
    """A valid XState v5 JSON machine config (machine id ``"m"``) using only data guards.

    ``max_depth`` bounds the nesting below the machine, ``max_children`` the
    children of one state.  The keyword flags leave a feature out, to keep a
    known disagreement out of a broader test or to focus a test on the rest
    (``self_transitions=False``: no event transition targets its own source).
    States are keyed by kind and number (``a3`` atomic, ``c1`` compound,
    ``p2`` parallel, ``f4`` final, ``h5`` history) so a failing example reads easily.
    """
    options = _Options(
        max_depth=max_depth,
        max_children=max(1, max_children),
        history=history,
        parallel=parallel,
        always=always,
        reenter=reenter,
        wildcards=wildcards,
        multiple_targets=multiple_targets,
        self_transitions=self_transitions,
        keys=iter(range(1, 10_000)),
    )
    root_kind = draw(st.sampled_from((COMPOUND, PARALLEL) if parallel else (COMPOUND,)))
    root = _Shape(MACHINE_ID, root_kind, None)
    _draw_children(draw, root, options)
    nodes = list(root.walk())
    for node in nodes:
        _draw_node_config(draw, node, root, nodes, options)
    config: dict[str, Any] = {"id": MACHINE_ID, **_to_json(root)}
    return config


def _draw_children(draw: st.DrawFn, node: _Shape, options: _Options) -> None:
    depth = len(node.path) + 1
    count = draw(st.integers(1, options.max_children))
    for _ in range(count):
        if depth >= options.max_depth:
            kinds: Sequence[str] = _LEAF_KINDS
        elif node.kind == PARALLEL:
            kinds = _REGION_KINDS
        else:
            kinds = _CHILD_KINDS
        allowed = [
            k
            for k in kinds
            if (options.history or k != HISTORY) and (options.parallel or k != PARALLEL)
        ]
        if node.kind == PARALLEL:
            allowed = [k for k in allowed if k != FINAL]  # a final region would finish nothing
        kind = draw(st.sampled_from(allowed))
        key = f"{kind[0]}{next(options.keys)}"
        child = _Shape(key, kind, node, (*node.path, key))
        if draw(st.integers(0, 5)) == 0 and kind != HISTORY:
            child.state_id = f"id_{key}"
        node.children.append(child)
        if kind in (COMPOUND, PARALLEL):
            _draw_children(draw, child, options)
    if (
        not node.states
    ):  # a compound or parallel state needs a real child; history is a pseudo-state
        first = node.children[0]
        first.kind, first.key = ATOMIC, f"a{next(options.keys)}"
        first.path = (*node.path, first.key)


def _draw_node_config(
    draw: st.DrawFn, node: _Shape, root: _Shape, nodes: list[_Shape], options: _Options
) -> None:
    config = node.config
    if node.state_id is not None:
        config["id"] = node.state_id
    if node.kind in (COMPOUND, PARALLEL):
        config["type"] = node.kind
    if node.kind == COMPOUND:
        config["initial"] = draw(st.sampled_from(node.states)).key
    elif node.kind == FINAL:
        config["type"] = FINAL
        if draw(st.integers(0, 2)) == 0:
            config["output"] = draw(st.sampled_from((1, "done", {"n": 2})))
    elif node.kind == HISTORY:
        config["type"] = HISTORY
        config["history"] = draw(st.sampled_from(("shallow", "deep")))
        assert node.parent is not None
        if draw(st.booleans()):
            inside = [
                n for n in node.parent.walk() if n.is_inside(node.parent) and n.kind != HISTORY
            ]
            target = draw(st.sampled_from(inside))
            config["target"] = ".".join(target.path[len(node.parent.path) :])
    if not node.listens:
        return
    on: dict[str, Any] = {}
    for descriptor in draw(
        st.lists(st.sampled_from(_descriptors(options)), max_size=3, unique=True)
    ):
        alternatives = draw(
            st.lists(_transitions(node, root, nodes, options), min_size=1, max_size=2)
        )
        on[descriptor] = alternatives[0] if len(alternatives) == 1 else alternatives
    if on:
        config["on"] = on
    forward = _forward_targets(node)
    if forward and options.always and draw(st.integers(0, 5)) == 0:
        config["always"] = draw(st.lists(_eventless(node, forward, nodes), min_size=1, max_size=2))
    if forward and node.kind in (COMPOUND, PARALLEL) and draw(st.integers(0, 2)) == 0:
        config["onDone"] = draw(_eventless(node, forward, nodes))


def _descriptors(options: _Options) -> tuple[str, ...]:
    if options.wildcards:
        return _DESCRIPTORS
    return tuple(d for d in _DESCRIPTORS if "*" not in d)


@st.composite
def _transitions(
    draw: st.DrawFn, source: _Shape, root: _Shape, nodes: list[_Shape], options: _Options
) -> Any:
    """One event transition: a single target, targets in several regions of a parallel, or none."""
    shapes = ["single"] * 4 + ["none"]
    parallels = [n for n in nodes if n.kind == PARALLEL and len(n.states) > 1]
    if parallels and options.multiple_targets:
        shapes.append("regions")
    shape = draw(st.sampled_from(shapes))
    transition: dict[str, Any] = {}
    if shape == "single":
        targets = [n for n in nodes if options.self_transitions or n is not source]
        target = draw(
            st.sampled_from(targets[1:] if targets[0] is root and len(targets) > 1 else targets)
        )
        if targets[0] is root and draw(st.integers(0, 9)) == 0:
            target = root
        transition["target"] = draw(st.sampled_from(_references(source, target)))
    elif shape == "regions":
        owner = draw(st.sampled_from(parallels))
        regions = draw(
            st.lists(
                st.sampled_from(owner.states), min_size=2, max_size=len(owner.states), unique=True
            )
        )
        targets = [
            draw(st.sampled_from([n for n in region.walk() if n.kind != HISTORY]))
            for region in regions
        ]
        transition["target"] = [_absolute(t) for t in targets]
    if draw(st.integers(0, 2)) == 0:
        transition["guard"] = draw(_guards(nodes))
    if options.reenter and "target" in transition and draw(st.integers(0, 3)) == 0:
        transition["reenter"] = True
    if (
        list(transition) == ["target"]
        and isinstance(transition["target"], str)
        and draw(st.booleans())
    ):
        return transition["target"]  # the shorthand
    return transition


@st.composite
def _eventless(
    draw: st.DrawFn, source: _Shape, forward: list[_Shape], nodes: list[_Shape]
) -> dict[str, Any]:
    target = draw(st.sampled_from(forward))
    transition: dict[str, Any] = {"target": draw(st.sampled_from(_references(source, target)))}
    if draw(st.booleans()):
        transition["guard"] = draw(_guards(nodes))
    return transition


def _forward_targets(source: _Shape) -> list[_Shape]:
    """States inside a later child of a compound ancestor (see the module docstring for why)."""
    found: list[_Shape] = []
    branch, ancestor = source, source.parent
    while ancestor is not None:
        if ancestor.kind == COMPOUND:
            later = ancestor.children[ancestor.children.index(branch) + 1 :]
            for child in later:
                if child.kind != HISTORY:
                    found.extend(n for n in child.walk() if n.kind != HISTORY or n.is_inside(child))
        branch, ancestor = ancestor, ancestor.parent
    return found


def _guards(nodes: Sequence[_Shape]) -> st.SearchStrategy[dict[str, Any]]:
    """``stateIn`` guards on the given states, combined with ``and`` / ``or`` / ``not``."""
    references: list[Any] = []
    for node in nodes:
        if node.parent is None or node.kind == HISTORY:
            continue
        references.append(".".join(node.path))
        references.append(_absolute(node))
        if node.state_id is not None:
            references.append(f"#{node.state_id}")
        if len(node.path) > 1:
            references.append(_path_value(node.path))
    leaf = st.builds(lambda state: {"type": "stateIn", "state": state}, st.sampled_from(references))
    return st.recursive(
        leaf,
        lambda inner: st.one_of(
            st.builds(lambda g: {"type": "not", "guards": [g]}, inner),
            st.builds(
                lambda gs: {"type": "and", "guards": gs}, st.lists(inner, min_size=1, max_size=2)
            ),
            st.builds(
                lambda gs: {"type": "or", "guards": gs}, st.lists(inner, min_size=1, max_size=2)
            ),
        ),
        max_leaves=3,
    )


def _references(source: _Shape, target: _Shape) -> list[str]:
    """Every way ``source`` can name ``target``: sibling path, ``.child`` path, ``#id``, ``#m.path``."""
    found: list[str] = []
    parent = source.parent
    if parent is not None and target.is_inside(parent):
        found.append(".".join(target.path[len(parent.path) :]))
    if target.is_inside(source):
        found.append("." + ".".join(target.path[len(source.path) :]))
    if target.state_id is not None:
        found.append(f"#{target.state_id}")
    found.append(_absolute(target))
    return found


def _absolute(node: _Shape) -> str:
    return "#" + ".".join((MACHINE_ID, *node.path))


def _path_value(path: Sequence[str]) -> Any:
    value: Any = path[-1]
    for key in reversed(path[:-1]):
        value = {key: value}
    return value


def _to_json(node: _Shape) -> dict[str, Any]:
    config = dict(node.config)
    if node.children:
        config["states"] = {child.key: _to_json(child) for child in node.children}
    return config


# -- events --------------------------------------------------------------------------------------


def config_alphabet(machine_or_config: Machine | Mapping[str, Any]) -> tuple[str, ...]:
    """The event types a config listens to, with wildcards expanded to the types they catch.

    ``*`` stands for every type of :data:`EVENT_TYPES` and ``prefix.*`` for
    ``prefix`` and two dotted types below it; done events are left out.
    """
    config = (
        machine_or_config.config if isinstance(machine_or_config, Machine) else machine_or_config
    )
    found: dict[str, None] = {}
    for descriptor in _descriptors_of(config):
        if descriptor == WILDCARD:
            found.update(dict.fromkeys(EVENT_TYPES))
        elif descriptor.endswith(".*"):
            prefix = descriptor[:-2]
            found.update(dict.fromkeys((prefix, f"{prefix}.x", f"{prefix}.y")))
        else:
            found.setdefault(descriptor, None)
    return tuple(found)


def _descriptors_of(config: Mapping[str, Any]) -> Iterator[str]:
    on = config.get("on")
    if isinstance(on, Mapping):
        yield from (d for d in on if isinstance(d, str))
    states = config.get("states")
    if isinstance(states, Mapping):
        for child in states.values():
            if isinstance(child, Mapping):
                yield from _descriptors_of(child)


def event_sequences(
    machine_or_config: Machine | Mapping[str, Any], max_size: int = 8, *, unhandled: bool = True
) -> st.SearchStrategy[list[str]]:
    """Lists of event types from the config's alphabet (and :data:`UNHANDLED_EVENT` when ``unhandled``)."""
    alphabet = list(config_alphabet(machine_or_config)) or list(EVENT_TYPES[:1])
    if unhandled:
        alphabet.append(UNHANDLED_EVENT)
    return st.lists(st.sampled_from(alphabet), max_size=max_size)
