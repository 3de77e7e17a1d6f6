"""Translate an XState v5 JSON config into a python-statemachine 3.2 ``StateChart`` class.

The differential test (``test_python_statemachine.py``) drives both engines
with the same events; this module owns the translation, the mapping of
both engines' configurations to canonical dotted paths, and a hypothesis
strategy for the charts both engines can express.  The conventions the
translation settles are listed in the test module's docstring.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping
from typing import Any

from hypothesis import strategies as st
from statemachine import HistoryState, State, StateChart
from statemachine.engines.base import StateTransition
from statemachine.engines.sync import SyncEngine
from statemachine.orderedset import OrderedSet

from orderflow.chart.snapshot import Snapshot

ROOT_ID = "st_root"
UNKNOWN_EVENT = "NOBODY_LISTENS"
_chart_names = itertools.count()


def psm_id(path: tuple[str, ...]) -> str:
    """psm state ids are global to a chart; a path of keys is unique, so build the id from it."""
    return "st_" + "__".join(path) if path else ROOT_ID


def dotted(path: tuple[str, ...]) -> str:
    return ".".join(path)


class _Translation:
    def __init__(self) -> None:
        self.states: dict[tuple[str, ...], State] = {}
        self.configs: dict[tuple[str, ...], Mapping[str, Any]] = {}
        self.canonical: dict[str, str] = {}
        self.document_order: list[tuple[str, ...]] = []

    def build(self, path: tuple[str, ...], config: Mapping[str, Any], *, initial: bool) -> State:
        """Create the psm state for ``config`` and its subtree (transitions come later)."""
        self.configs[path] = config
        self.document_order.append(path)
        kind = config.get("type")
        if kind == "history":
            state: State = HistoryState(type=config.get("history", "shallow"))
        elif "states" in config:
            children_config: Mapping[str, Mapping[str, Any]] = config["states"]
            parallel = kind == "parallel"
            children: list[State] = []
            histories: list[State] = []
            for key, child in children_config.items():
                built = self.build(
                    (*path, key), child, initial=not parallel and key == config.get("initial")
                )
                (histories if isinstance(built, HistoryState) else children).append(built)
            state = State(states=children, history=histories, parallel=parallel, initial=initial)
        else:
            state = State(final=kind == "final", initial=initial)
        state._set_id(psm_id(path))
        self.states[path] = state
        self.canonical[state.id] = dotted(path)
        return state

    def resolve(self, parent: tuple[str, ...], target: str) -> State:
        """A sibling-relative target (``"b"``, ``"b.c"``) or a child target (``".c"``) of a node."""
        return self.states[(*parent, *target.lstrip(".").split("."))]

    def link(self, path: tuple[str, ...]) -> None:
        """Add the transitions of the node at ``path`` (its ``on``, ``onDone`` or history default)."""
        config = self.configs[path]
        state = self.states[path]
        parent = path[:-1]
        if config.get("type") == "history":
            # XState/orderflow fall back to the parent's initial state; psm needs it spelled out.
            default = config.get("target")
            if default is not None:
                state.to(self.resolve(parent, default))
            else:
                state.to(self.resolve(parent, self.configs[parent]["initial"]))
            return
        transitions = list(config.get("on", {}).items())
        if "onDone" in config:
            transitions.append((f"done.state.{state.id}", config["onDone"]))
        for event, target in transitions:
            resolved = self.resolve(path if target.startswith(".") else parent, target)
            # XState v5's default reenter: false keeps the source active when every target is the
            # source or inside it (its transition domain is the source): psm's internal transition.
            internal = resolved is state or resolved.is_descendant(state)
            state.to(resolved, event=event, internal=internal)


class XStateEngine(SyncEngine):
    """psm's engine with XState v5's transition selection and transition domain.

    - **Selection (a convention).** SCXML (and psm) select, for each active
      atomic state, the first transition found walking up from it.  XState
      v5 selects down the tree (``transitionNode``): a compound state's
      active child first, its own transitions only when the child has none;
      a parallel state's regions, and its own transitions only when *no*
      region has one.  So a transition on a parallel state (or above it) is
      not taken while any of its regions handles the event.  orderflow follows
      XState for JSON; ``select_transitions`` here does the same, then psm's
      conflict removal (SCXML's, which XState also applies) runs.
    - **Transition domain (a convention).** SCXML's domain is the least
      common *compound* ancestor; XState v5's ``getTransitionDomain`` takes the
      least common ancestor of any type (``findLeastCommonAncestor``), and the
      source itself when ``reenter`` is false and every target is the source or
      inside it.  So in XState a transition between two regions of a parallel
      state re-enters those regions only, where SCXML exits and re-enters the
      whole parallel state and, when it is itself a region, its sibling
      regions too.  When the domain is a parallel state, XState re-enters all
      its regions (``computeEntrySet`` pushes the domain onto the ancestors
      to enter); ``add_ancestor_states_to_enter`` does the same here.
    """

    def select_transitions(self, trigger_data: Any) -> Any:
        active = {s.id for s in self.sm.configuration}
        event = trigger_data.event

        def own(state: State) -> list[Any]:
            for t in state.transitions:
                if not t.initial and t.match(event) and self._conditions_match(t, trigger_data):
                    return [t]
            return []

        def below(state: State) -> list[Any]:
            children = [c for c in state.states if c.id in active]
            found: list[Any] = []
            if state.parallel:
                for child in children:
                    found.extend(below(child))
            elif children:
                found = below(children[0])
            return found or own(state)

        enabled: OrderedSet[Any] = OrderedSet()
        for top in type(self.sm).states:
            if top.id in active:
                for t in below(top):
                    enabled.add(t)
        return self._filter_conflicting_transitions(enabled)

    def get_transition_domain(self, transition: Any) -> Any:
        targets = self.get_effective_target_states(transition)
        if not targets:
            return None
        source = transition.source
        if transition.internal and all(t is source or t.is_descendant(source) for t in targets):
            return source
        for ancestor in source.ancestors():
            if all(t.is_descendant(ancestor) for t in targets):
                return ancestor
        return None

    def add_descendant_states_to_enter(
        self,
        info: Any,
        states_to_enter: Any,
        states_for_default_entry: Any,
        default_history_content: Any,
    ) -> None:
        """XState's entry rule for a self-target with ``reenter: false``: the source is not re-entered.

        XState's ``computeEntrySet`` skips a target that is the source and the
        domain of a non-reentering transition (its descendants are still entered
        by default).  psm with ``enable_self_transition_entries`` (StateChart's
        default) enters it again, so when another region's transition exits it
        in the same microstep psm keeps it active and XState does not.
        """
        transition, state = info.transition, info.state
        if transition.internal and transition.is_self and state.id == transition.source.id:
            if state.parallel:
                self._add_regions_to_enter(
                    info, states_to_enter, states_for_default_entry, default_history_content
                )
            elif state.is_compound:
                self._add_initial_states_to_enter(
                    info, states_to_enter, states_for_default_entry, default_history_content
                )
            return
        super().add_descendant_states_to_enter(
            info, states_to_enter, states_for_default_entry, default_history_content
        )

    def add_ancestor_states_to_enter(
        self,
        info: Any,
        ancestor: Any,
        states_to_enter: Any,
        states_for_default_entry: Any,
        default_history_content: Any,
    ) -> None:
        """SCXML's step, plus XState's: a parallel domain stays active but its regions are re-entered.

        For a target that is the domain itself (a self-target), SCXML's and
        XState's ``getProperAncestors(s, s)`` is empty; psm's
        ``ancestors(parent=s)`` never meets ``s`` and yields every ancestor.
        """
        if ancestor is None or info.state.id != ancestor.id:
            super().add_ancestor_states_to_enter(
                info, ancestor, states_to_enter, states_for_default_entry, default_history_content
            )
        if ancestor is None or not ancestor.parallel:
            return
        for region in ancestor.states:
            if not any(s.state is region or s.state.is_descendant(region) for s in states_to_enter):
                self.add_descendant_states_to_enter(
                    StateTransition(transition=info.transition, state=region),
                    states_to_enter,
                    states_for_default_entry,
                    default_history_content,
                )

    def _select_transitions(self, trigger_data: Any, predicate: Any) -> Any:
        """Eventless selection, as SCXML and XState do it: atomic states in document order.

        psm 3.2.2 visits them in the order they were entered ("TODO: sorted by
        document order" in ``engines/sync.py``).  The random charts have no
        ``always`` transitions; this keeps psm's remaining selection path right.
        """
        enabled: OrderedSet[Any] = OrderedSet()
        atomic = sorted(
            (s for s in self.sm.configuration if s.is_atomic), key=lambda s: s.document_order
        )
        for state in atomic:
            transition = self._first_transition_that_matches(state, trigger_data, predicate)
            if transition is not None:
                enabled.add(transition)
        return self._filter_conflicting_transitions(enabled)


def _xstate_engine(sm: StateChart) -> SyncEngine:
    return XStateEngine(sm)


def build_chart(config: Mapping[str, Any]) -> type[StateChart]:
    """A new ``StateChart`` subclass equivalent to ``config`` (see the test's docstring)."""
    translation = _Translation()
    root = translation.build((), config, initial=True)
    for path in translation.states:
        translation.link(path)
    attrs: dict[str, Any] = {
        ROOT_ID: root,
        # Random charts have dead ends and unreachable states on purpose.
        "validate_disconnected_states": False,
        "validate_trap_states": False,
        "validate_final_reachability": False,
        "canonical": translation.canonical,
        "_get_engine": _xstate_engine,
    }
    chart = type(f"RandomChart{next(_chart_names)}", (StateChart,), attrs)
    # psm 3.2.2 numbers nested states wrongly (``factory._initials_by_document_order`` does
    # not carry the counter out of a recursion, so a compound's next sibling gets the number
    # of its first child); number every state in pre-order, as SCXML's document order is.
    for order, path in enumerate(translation.document_order):
        translation.states[path].document_order = order
    return chart


def psm_leaves(sm: StateChart) -> frozenset[str]:
    """The active atomic states of a psm chart as canonical dotted paths."""
    canonical: Mapping[str, str] = type(sm).canonical  # type: ignore[attr-defined]
    return frozenset(canonical[s.id] for s in sm.configuration if not s.states)


def psm_done(sm: StateChart) -> bool:
    """Has the psm chart finished as the XState machine would: a final child of the root, or every region final?"""
    if sm.is_terminated:
        return True
    return any(
        s.final and s.parent is not None and s.parent.id == ROOT_ID for s in sm.configuration
    )


def orderflow_leaves(snapshot: Snapshot) -> frozenset[str]:
    """The active atomic states of an orderflow snapshot as canonical dotted paths."""
    return frozenset(dotted(node.path) for node in snapshot.configuration if node.is_atomic)


# -- the strategy ------------------------------------------------------------------------------

EVENTS = ("E0", "E1", "E2", "E3")


def _subtree_targets(key: str, config: Mapping[str, Any]) -> Iterator[str]:
    """Every target a sibling can name inside the subtree rooted at ``key`` (history nodes too)."""
    yield key
    for child_key, child in config.get("states", {}).items():
        for inner in _subtree_targets(child_key, child):
            yield f"{key}.{inner}"


def _plain_state(states: Mapping[str, Any], target: str) -> bool:
    """Is ``target`` (a path of keys into ``states``) neither a final state nor a history node?"""
    node: Mapping[str, Any] = {"states": states}
    for key in target.split("."):
        node = node["states"][key]
    return node.get("type") not in ("final", "history")


@st.composite
def _tree(
    draw: st.DrawFn, depth: int, counter: Iterator[int], *, in_parallel: bool
) -> dict[str, Any]:
    """A state config without transitions; ``in_parallel`` forbids finals and history (regions)."""
    choices = ["atomic"]
    if not in_parallel:
        choices.append("final")
    if depth > 0:
        choices += ["compound", "compound", "parallel"]
    kind = draw(st.sampled_from(choices))
    if kind == "atomic":
        return {}
    if kind == "final":
        return {"type": "final"}
    count = draw(st.integers(2 if kind == "parallel" else 1, 3))
    states: dict[str, Any] = {}
    for _ in range(count):
        states[f"s{next(counter)}"] = draw(
            _tree(depth - 1, counter, in_parallel=kind == "parallel")
        )
    if kind == "parallel":
        return {"type": "parallel", "states": states}
    # An initial final child would let onDone loops (re-enter, done at once, re-enter...) arise.
    startable = sorted(k for k, v in states.items() if v.get("type") != "final")
    if not startable:
        startable = [f"s{next(counter)}"]
        states[startable[0]] = {}
    config: dict[str, Any] = {"initial": draw(st.sampled_from(startable)), "states": states}
    if draw(st.booleans()):
        history: dict[str, Any] = {
            "type": "history",
            "history": draw(st.sampled_from(["shallow", "deep"])),
        }
        if draw(st.booleans()):
            candidates = [
                t
                for k, v in states.items()
                for t in _subtree_targets(k, v)
                if _plain_state(states, t)
            ]
            history["target"] = draw(st.sampled_from(candidates))
        states[f"h{next(counter)}"] = history
    return config


@st.composite
def _transitions(draw: st.DrawFn, config: dict[str, Any]) -> None:
    """Fill in ``on`` and ``onDone`` of every state of the tree under ``config``, in place."""
    states: dict[str, dict[str, Any]] = config.get("states", {})
    real = {k: v for k, v in states.items() if v.get("type") != "history"}
    sibling_targets = [t for k, v in states.items() for t in _subtree_targets(k, v)]
    for child in real.values():
        if child.get("type") != "final":
            on: dict[str, str] = {}
            for event in draw(st.lists(st.sampled_from(EVENTS), max_size=3, unique=True)):
                child_targets = [
                    f".{t}"
                    for k, v in child.get("states", {}).items()
                    for t in _subtree_targets(k, v)
                ]
                pool = sibling_targets + child_targets
                on[event] = draw(st.sampled_from(pool))
            if on:
                child["on"] = on
            # onDone never targets a final state or a history node, so a done event cannot
            # cause another at once and every macrostep settles.
            settling = [t for t in sibling_targets if _plain_state(states, t)]
            if "states" in child and settling and draw(st.booleans()):
                child["onDone"] = draw(st.sampled_from(settling))
        draw(_transitions(child))


@st.composite
def chart_configs(draw: st.DrawFn, max_depth: int = 3) -> dict[str, Any]:
    """Random XState configs restricted to what both engines express (see the test's docstring)."""
    counter = itertools.count()
    root_kind = draw(st.sampled_from(["compound", "compound", "parallel"]))
    count = draw(st.integers(2, 4 if root_kind == "compound" else 3))
    states = {
        f"s{next(counter)}": draw(
            _tree(max_depth - 1, counter, in_parallel=root_kind == "parallel")
        )
        for _ in range(count)
    }
    config: dict[str, Any] = {"id": "chart", "states": states}
    if root_kind == "parallel":
        config["type"] = "parallel"
    else:
        config["initial"] = draw(st.sampled_from(sorted(states)))
    draw(_transitions(config))
    return config
