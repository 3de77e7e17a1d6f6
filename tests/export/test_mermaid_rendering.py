"""The Mermaid output rendered by the real Mermaid, in headless Chromium.

Needs node, a Chromium (``CHROMIUM``, default ``/usr/bin/chromium``) and the npm
packages ``mermaid`` and ``playwright-core`` in ``ORDERFLOW_TEST_MERMAID_DIR``
(a ``node_modules`` directory; default ``.cache/mermaid/node_modules``).  Without
them the tests skip and say which piece is missing; ``ORDERFLOW_TEST_MERMAID=1``
turns the skip into a failure, for CI.

Mermaid reports some layout failures only by leaving edges out, so each
diagram's drawn edge count is checked too, not just the absence of an error.
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
    """Each text rendered by the real Mermaid: ``ok``, ``error``, ``edges`` drawn."""
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


def _check(texts: list[str]) -> None:
    failures = []
    for text, result in zip(texts, render(texts), strict=True):
        if not result["ok"]:
            failures.append(f"{result['error']}\n{text}")
        elif result["edges"] != _expected_edges(text):
            failures.append(
                f"Mermaid drew {result['edges']} of {_expected_edges(text)} edges\n{text}"
            )
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


@pytest.mark.xfail(
    strict=False,
    reason="Mermaid 11's dagre layout still fails on some parallel regions nested in a composite "
    "state that no edge crosses ('No such shape: divider' / 'roundedWithTitle'); see "
    "orderflow/export/mermaid.py",
)
def test_random_parallel_heavy_machines_render_in_mermaid() -> None:
    texts = [t for t in _sample(machine_configs(max_depth=4), 80) if "--\n" in t]
    _check(texts)
