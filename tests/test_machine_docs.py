"""The generated machine pages (docs/machines*, README's picture) match machines/*.json."""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "machine_docs", ROOT / "scripts" / "machine_docs.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


machine_docs = _script()


def test_committed_machine_pages_are_what_the_script_generates() -> None:
    stale = machine_docs.stale(machine_docs.expected())
    names = ", ".join(str(path.relative_to(ROOT)) for path in stale)
    assert not stale, f"stale: {names}; run `python scripts/machine_docs.py`"


def test_every_machine_has_a_page_listed_in_the_index() -> None:
    index = (ROOT / "docs" / "machines.md").read_text()
    for definition in sorted((ROOT / "machines").glob("*.json")):
        assert (ROOT / "docs" / "machines" / f"{definition.stem}.md").is_file()
        assert f"(machines/{definition.stem}.md)" in index


def test_the_readme_draws_the_sale_machine_with_the_exporter() -> None:
    from orderflow.export import to_mermaid
    from orderflow.orders import load_machine

    readme = (ROOT / "README.md").read_text()
    assert f"```mermaid\n{to_mermaid(load_machine('sale')).rstrip()}\n```" in readme


@pytest.fixture
def copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The script pointed at a scratch copy of machines/ and README.md."""
    shutil.copytree(ROOT / "machines", tmp_path / "machines")
    shutil.copy(ROOT / "README.md", tmp_path / "README.md")
    (tmp_path / "docs").mkdir()
    monkeypatch.setattr(machine_docs, "ROOT", tmp_path)
    monkeypatch.setattr(machine_docs, "MACHINES", tmp_path / "machines")
    monkeypatch.setattr(machine_docs, "PAGES", tmp_path / "docs" / "machines")
    monkeypatch.setattr(machine_docs, "INDEX", tmp_path / "docs" / "machines.md")
    monkeypatch.setattr(machine_docs, "README", tmp_path / "README.md")
    assert machine_docs.main([]) == 0
    return tmp_path


def test_check_passes_right_after_writing(copy: Path) -> None:
    assert machine_docs.main(["--check"]) == 0


def test_check_names_a_page_edited_by_hand_and_exits_1(
    copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    page = copy / "docs" / "machines" / "sale.md"
    page.write_text(page.read_text().replace("| `cleared` | final |", "| `cleared` | atomic |"))
    capsys.readouterr()
    assert machine_docs.main(["--check"]) == 1
    assert capsys.readouterr().out.splitlines() == ["stale: docs/machines/sale.md"]


def test_check_names_the_pages_of_a_changed_definition(
    copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    definition = copy / "machines" / "sale.json"
    definition.write_text(definition.read_text().replace('"CANCEL"', '"ABANDON"'))
    capsys.readouterr()
    assert machine_docs.main(["--check"]) == 1
    stale = capsys.readouterr().out.splitlines()
    assert stale == ["stale: docs/machines/sale.md", "stale: README.md"]
    assert machine_docs.main([]) == 0
    assert "`ABANDON`" in (copy / "docs" / "machines" / "sale.md").read_text()
    assert machine_docs.main(["--check"]) == 0


def test_a_page_of_no_machine_is_stale_and_removed(copy: Path) -> None:
    orphan = copy / "docs" / "machines" / "invoice.md"
    orphan.write_text("# gone\n")
    assert machine_docs.main(["--check"]) == 1
    assert machine_docs.main([]) == 0
    assert not orphan.exists()
