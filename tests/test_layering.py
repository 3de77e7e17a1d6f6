"""DESIGN.md's layers, enforced: each package imports only the layers above it.

The core (``orderflow.chart``) imports neither SQLAlchemy nor rich nor a
renderer; nothing imports upwards.  Imports are read from the source with
``ast``, so a lazy import inside a function counts too.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "orderflow"

# package -> the orderflow packages it may import (besides itself and orderflow.errors)
ALLOWED_INTERNAL: dict[str, set[str]] = {
    "chart": set(),
    "io": {"chart"},
    "export": {"chart"},
    "runtime": {"chart"},
    "orders": {"chart"},
    "store": {"chart"},
    "service": {"chart", "orders", "store"},
    "workers": {"chart", "orders", "store", "service"},
    # the plugin's service fixtures wire the order machines into a WorkflowService
    "testing": {"chart", "runtime", "store", "service", "orders"},
    "cli": {
        "chart",
        "io",
        "export",
        "runtime",
        "orders",
        "store",
        "service",
        "workers",
        "testing",
        "api",
        "conformance",  # the W3C SCXML runner (orderflow/conformance.py: io + runtime)
    },
    # the API reads through orderflow.service.queries, never the store's tables (DESIGN.md)
    "api": {"chart", "orders", "service", "export"},
    # the Django app: a third driver of the service's stages, its admin draws the machine
    "django": {"chart", "store", "service", "export", "orders", "workers"},
}
# package -> third-party top-level modules it may import
ALLOWED_EXTERNAL: dict[str, set[str]] = {
    "chart": {"pydantic", "pydantic_core"},
    "io": {"pydantic", "pydantic_core", "defusedxml"},
    "export": set(),
    "runtime": set(),
    "orders": {"pydantic", "pydantic_core"},
    "store": {"pydantic", "sqlalchemy", "alembic", "psycopg"},
    "service": {"pydantic", "sqlalchemy"},
    "workers": {"pydantic", "sqlalchemy", "psycopg", "httpx", "aio_pika", "pika"},
    "testing": {"hypothesis", "pytest", "pydantic", "sqlalchemy"},
    "cli": {"typer", "rich", "pydantic", "sqlalchemy", "uvicorn"},
    "api": {
        "strawberry",
        "starlette",
        "uvicorn",
        "pydantic",
        "sqlalchemy",
        "itsdangerous",
        "jwt",
        "cryptography",
    },
    "django": {"django", "pydantic", "rich"},
}
STDLIB = set(sys.stdlib_module_names)


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def _modules() -> list[tuple[str, Path]]:
    result = []
    for path in sorted(SRC.rglob("*.py")):
        relative = path.relative_to(SRC)
        package = relative.parts[0].removesuffix(".py") if len(relative.parts) > 1 else None
        if package is not None:
            result.append((package, path))
    return result


def test_every_package_is_a_known_layer() -> None:
    packages = {package for package, _ in _modules()}
    assert packages <= set(ALLOWED_INTERNAL), f"unknown layers: {packages - set(ALLOWED_INTERNAL)}"


@pytest.mark.parametrize(
    ("package", "path"), _modules(), ids=lambda v: str(v).rsplit("src/", 1)[-1]
)
def test_module_imports_only_downwards(package: str, path: Path) -> None:
    for name in _imports(path):
        top = name.split(".")[0]
        if top == "orderflow":
            parts = name.split(".")
            if len(parts) == 1 or parts[1] in ("errors", package):
                continue
            assert parts[1] in ALLOWED_INTERNAL[package], (
                f"{path.name}: layer '{package}' may not import {name}"
            )
        elif top not in STDLIB:
            assert top in ALLOWED_EXTERNAL[package], (
                f"{path.name}: layer '{package}' may not import {top}"
            )


def test_core_imports_no_database_terminal_or_renderer() -> None:
    forbidden = {"sqlalchemy", "rich", "typer", "graphviz", "alembic", "psycopg"}
    for package, path in _modules():
        if package == "chart":
            assert not {n.split(".")[0] for n in _imports(path)} & forbidden, path.name


def test_test_modules_have_unique_basenames() -> None:
    """pytest imports test modules by basename (no __init__.py): two alike would collide.

    (A Django test app's package files, ``models.py`` or ``__init__.py``, are imported as
    parts of their package, not by basename.)
    """
    tests = Path(__file__).resolve().parent
    names = [p.name for p in tests.rglob("test_*.py")]
    assert sorted({n for n in names if names.count(n) > 1}) == []


def test_no_function_of_the_service_is_longer_than_a_screen() -> None:
    """The send pipeline is read as named stages: none of the service's functions exceeds 60 lines."""
    long = []
    for path in sorted((SRC / "service").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                assert node.end_lineno is not None
                lines = node.end_lineno - node.lineno + 1
                if lines > 60:
                    long.append(f"{path.name}:{node.lineno} {node.name} ({lines} lines)")
    assert not long, long
