"""The Mermaid output rendered by the real Mermaid, in headless Chromium.

Needs node, a Chromium (``CHROMIUM``, default ``/usr/bin/chromium``) and the npm
packages ``mermaid`` and ``playwright-core`` in ``ORDERFLOW_TEST_MERMAID_DIR``
(a ``node_modules`` directory; default ``.cache/mermaid/node_modules``).  Without
them the tests skip and say which piece is missing; ``ORDERFLOW_TEST_MERMAID=1``
turns the skip into a failure, for CI.

Mermaid reports some layout failures only by leaving edges out or by
drawing a state outside the composite state it belongs to, so each diagram's
drawn edge count and the boxes it drew are checked too, not just the absence
of an error.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import warnings
from pathlib import Path
from typing import Any

import pytest
from diagram_reading import read_mermaid
from export_support import SHIPPED, shipped
from hypothesis import HealthCheck, Phase, given, settings

import orderflow
from orderflow.chart import Machine
from orderflow.export import to_mermaid
from orderflow.testing import machine_configs

ROOT = Path(__file__).resolve().parents[2]
RENDERER = Path(__file__).with_name("mermaid_renderer.cjs")
MODULES = Path(os.environ.get("ORDERFLOW_TEST_MERMAID_DIR", ROOT / ".cache/mermaid/node_modules"))
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")


def _missing() -> str | None:
    if shutil.which("node") is None:
        return "node is not installed"
    if not Path(CHROMIUM).exists():
        return f"no Chromium at {CHROMIUM} (apt-get install -y chromium)"
    for package in ("mermaid", "playwright-core"):
        if not (MODULES / package / "package.json").is_file():
            return (
                f"npm package {package} not in {MODULES} "
                f"(npm install --prefix {MODULES.parent} mermaid@11 playwright-core)"
            )
    return None


MISSING = _missing()
if MISSING and os.environ.get("ORDERFLOW_TEST_MERMAID") == "1":
    raise RuntimeError(f"ORDERFLOW_TEST_MERMAID=1 but the real Mermaid cannot run: {MISSING}")
pytestmark = pytest.mark.skipif(MISSING is not None, reason=f"real Mermaid: {MISSING}")


def render(texts: list[str]) -> list[dict[str, Any]]:
    """Each text rendered by the real Mermaid: ``ok``, ``error``, ``edges`` drawn, boxes drawn."""
    result = subprocess.run(
        ["node", str(RENDERER), str(MODULES)],
        input=json.dumps(texts),
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "CHROMIUM": CHROMIUM},
        check=False,
    )
    assert result.returncode == 0, result.stderr
    rendered: list[dict[str, Any]] = json.loads(result.stdout)
    return rendered


def _expected_edges(text: str) -> int:
    return len(read_mermaid(text).edges)


Box = tuple[float, float, float, float]  # left, top, right, bottom
#: pixels a box may stick out of the one around it (rounding, stroke widths)
_SLACK = 1.0


def _inside(inner: Box, outer: Box) -> bool:
    return (
        inner[0] >= outer[0] - _SLACK
        and inner[1] >= outer[1] - _SLACK
        and inner[2] <= outer[2] + _SLACK
        and inner[3] <= outer[3] + _SLACK
    )


def _overlap(a: Box, b: Box) -> bool:
    return min(a[2], b[2]) - max(a[0], b[0]) > _SLACK and min(a[3], b[3]) - max(a[1], b[1]) > _SLACK


def _area(box: Box) -> float:
    return (box[2] - box[0]) * (box[3] - box[1])


def layout_problems(text: str, result: dict[str, Any]) -> list[str]:
    """Where the picture Mermaid drew differs from the diagram's structure.

    Every state is drawn once (a composite state as a frame), inside the frame
    of its parent; each region of a parallel state sits in a dashed region box
    of its own inside the parallel state's frame; no two siblings overlap.
    """
    doc = read_mermaid(text)
    drawn: dict[str, list[Box]] = {}
    for name, box in result["states"]:
        drawn.setdefault(name, []).append(tuple(box))
    for name, box in result["clusters"]:
        drawn.setdefault(name, []).append(tuple(box))
    regions: list[Box] = [tuple(box) for box in result["regions"]]
    problems = [f"{n} drawn {len(drawn.get(n, []))} times" for n in doc.placed
                if len(drawn.get(n, [])) != 1]  # fmt: skip
    if problems:
        return problems
    box = {name: drawn[name][0] for name in doc.placed}
    children: dict[str | None, list[str]] = {}
    for name, (block, _) in doc.placed.items():
        children.setdefault(block, []).append(name)
        if block is not None and not _inside(box[name], box[block]):
            problems.append(f"{name} is drawn outside {block}")
    for block, members in children.items():
        for i, a in enumerate(members):
            for b in members[i + 1 :]:
                if _overlap(box[a], box[b]):
                    problems.append(f"{a} and {b} overlap")
        if block is None or doc.blocks[block] == 1:
            continue
        around = [r for r in regions if _inside(r, box[block])]
        used: dict[Box, str] = {}
        for name in members:
            holding = [r for r in around if _inside(box[name], r)]
            if not holding:
                problems.append(f"region {name} of {block} has no region box")
                continue
            region = min(holding, key=_area)
            if region in used:
                problems.append(f"regions {used[region]} and {name} of {block} share a box")
            used[region] = name
    return problems


def _check(texts: list[str]) -> None:
    failures = []
    for text, result in zip(texts, render(texts), strict=True):
        if not result["ok"]:
            failures.append(f"{result['error']}\n{text}")
        elif result["edges"] != _expected_edges(text):
            failures.append(
                f"Mermaid drew {result['edges']} of {_expected_edges(text)} edges\n{text}"
            )
        elif problems := layout_problems(text, result):
            failures.append("; ".join(problems) + f"\n{text}")
    assert not failures, f"{len(failures)} of {len(texts)} diagrams failed:\n\n" + "\n\n".join(
        failures[:3]
    )


def _sample(strategy: Any, count: int) -> list[str]:
    """``count`` Mermaid texts of machines drawn from ``strategy`` (deterministic)."""
    texts: list[str] = []

    @settings(
        max_examples=count,
        database=None,
        derandomize=True,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy)
    def collect(config: dict[str, Any]) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            machine: Machine = orderflow.create_machine(config)
        texts.append(to_mermaid(machine))

    collect()
    return list(dict.fromkeys(texts))


def _sample_machines(strategy: Any, count: int) -> list[Machine]:
    """``count`` machines drawn from ``strategy`` (deterministic)."""
    machines: list[Machine] = []

    @settings(
        max_examples=count,
        database=None,
        derandomize=True,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy)
    def collect(config: dict[str, Any]) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            machines.append(orderflow.create_machine(config))

    collect()
    return machines


def test_every_shipped_machine_renders_in_mermaid() -> None:
    machines = [shipped(name) for name in SHIPPED]
    texts = [to_mermaid(m) for m in machines]
    nested = orderflow.create_machine(
        {
            "id": "m",
            "initial": "outer",
            "states": {
                "outer": {"initial": "inner", "states": {"inner": {"on": {"GO": "#m.done"}}}},
                "done": {"type": "final"},
            },
        }
    )
    snapshot, _ = nested.initial_transition()
    texts.append(to_mermaid(nested, highlight=snapshot))
    _check(texts)


def test_random_nested_machines_without_parallel_states_render_in_mermaid() -> None:
    _check(_sample(machine_configs(max_depth=4, parallel=False), 60))


def test_random_parallel_heavy_machines_render_in_mermaid() -> None:
    texts = [t for t in _sample(machine_configs(max_depth=4), 150) if "--\n" in t]
    assert len(texts) > 50  # the sample really is parallel-heavy
    _check(texts)


def test_parents_with_invoked_child_machines_render_in_mermaid() -> None:
    from test_invoked_children import parent_machine, wrapper

    machine = parent_machine()
    snapshot, _ = machine.initial_transition()
    snapshot, _ = machine.transition(snapshot, "GO")
    texts = [to_mermaid(machine), to_mermaid(machine, highlight=snapshot)]
    children = _sample_machines(machine_configs(max_depth=3), 20)
    texts += [to_mermaid(wrapper(child)) for child in children]
    _check(texts)
