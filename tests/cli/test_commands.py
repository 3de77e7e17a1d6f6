"""The ``orderflow`` command: validate and db upgrade, and how user mistakes are reported."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from orderflow.cli import app

runner = CliRunner()

BROKEN = {
    "id": "broken",
    "initial": "missing",
    "states": {
        "a": {"on": {"GO": "nowhere"}},
        "b": {"type": "final", "states": {"c": {}}},
    },
}


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "orderflow", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_validate_accepts_a_good_file_and_a_shipped_machine(tmp_path: Path) -> None:
    good = tmp_path / "good.json"
    good.write_text(
        json.dumps({"id": "good", "initial": "a", "states": {"a": {"on": {"GO": "b"}}, "b": {}}})
    )
    result = runner.invoke(app, ["validate", str(good), "sale"])
    assert result.exit_code == 0, result.output
    assert "good.json: machine 'good', 3 states" in result.output
    assert "sale: machine 'sale'" in result.output


def test_validate_lists_every_problem_with_its_json_path_and_exits_1(tmp_path: Path) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps(BROKEN))
    result = runner.invoke(app, ["validate", str(broken)])
    assert result.exit_code == 1
    assert "$.initial: initial state 'missing' is not a child of 'broken'" in result.output
    assert "$.states.a.on.GO.target: unknown target 'nowhere'" in result.output
    assert "$.states.b.states: a final state cannot have child states" in result.output


def test_validate_reports_unreachable_states_as_warnings(tmp_path: Path) -> None:
    lonely = tmp_path / "lonely.json"
    lonely.write_text(json.dumps({"id": "l", "initial": "a", "states": {"a": {}, "b": {}}}))
    result = runner.invoke(app, ["validate", str(lonely)])
    assert result.exit_code == 0
    assert "warning" in result.output and "'l.b' is unreachable" in result.output


def test_a_user_mistake_is_one_readable_line_and_no_traceback(tmp_path: Path) -> None:
    bad_json = tmp_path / "bad.json"
    bad_json.write_text("{not json")
    result = run_cli("validate", str(bad_json))
    assert result.returncode == 2
    assert result.stderr.startswith("error:") and "is not valid JSON" in result.stderr
    assert "Traceback" not in result.stderr
    unknown = run_cli("validate", "no-such-machine")
    assert unknown.returncode == 2 and "ships no machine" in unknown.stderr


def test_db_upgrade_creates_the_workflow_tables(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'flow.sqlite3'}"
    result = runner.invoke(app, ["db", "upgrade", "--database-url", url])
    assert result.exit_code == 0, result.output
    tables = set(sa.inspect(sa.create_engine(url)).get_table_names())
    assert {"workflow_transition_log", "workflow_outbox", "workflow_scheduled_events"} <= tables


@pytest.mark.parametrize("args", [[], ["--help"]])
def test_help_is_shown_without_a_command(args: list[str]) -> None:
    result = runner.invoke(app, args)
    assert "validate" in result.output and "db" in result.output


def _command_paths() -> list[list[str]]:
    """Every command and group of the command line, as the words that name it."""
    import typer.main

    paths: list[list[str]] = [[]]
    pending: list[tuple[list[str], Any]] = [([], typer.main.get_command(app))]
    while pending:
        words, command = pending.pop()
        if hasattr(command, "commands"):  # a group (typer's own copy of click's)
            for name, sub in command.commands.items():
                paths.append([*words, name])
                pending.append(([*words, name], sub))
    return paths


@pytest.mark.parametrize("words", _command_paths(), ids=lambda words: " ".join(words) or "root")
def test_help_shows_flags_without_a_value_in_rich_panels(words: list[str]) -> None:
    result = runner.invoke(app, [*words, "--help"], env={"COLUMNS": "160"})
    assert result.exit_code == 0, result.output
    assert "╭─ Options" in result.output  # typer's rich panels
    help_line = next(line for line in result.output.splitlines() if "--help" in line)
    assert "<bool>" not in result.output and "BOOLEAN" not in result.output, result.output
    assert help_line.split("--help", 1)[1].split()[0] == "Show", help_line


def test_flags_still_switch_on_with_their_help_unchanged() -> None:
    result = runner.invoke(app, ["worker", "--help"], env={"COLUMNS": "160"})
    once = next(line for line in result.output.splitlines() if "--once" in line)
    assert once.split("--once", 1)[1].split()[0] == "One"  # no type between flag and help
    assert "<int>" in result.output  # options that take a value still show its type
    assert runner.invoke(app, ["validate", "sale", "--allow-missing"]).exit_code == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("export", "sale", "-o", "/nonexistent/dir/sale.mmd"), "No such file or directory"),
        (("export", "sale", "-o", "{tmp}"), "Is a directory"),
        (("worker", "--once", "--database-url", "sqlite:///{tmp}/empty.sqlite3"),
         "has no orderflow tables; run `orderflow db upgrade`"),
        (("inspect", "quotation:1", "--database-url", "sqlite:///{tmp}/empty.sqlite3"),
         "has no orderflow tables"),
        (("serve", "--database-url", "postgresql+psycopg://nobody@127.0.0.1:9/none",
          "--secret", "a-test-secret-that-is-long-enough"), "cannot use the database"),
    ],
)  # fmt: skip
def test_what_goes_wrong_around_a_command_is_one_line_not_a_traceback(
    tmp_path: Path, args: tuple[str, ...], message: str
) -> None:
    result = run_cli(*(arg.replace("{tmp}", str(tmp_path)) for arg in args))
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    assert message in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("error:")


def test_a_record_id_too_large_for_the_database_is_one_line(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'orderflow.sqlite3'}"
    assert run_cli("db", "upgrade", "--database-url", url).returncode == 0
    for args in (("send", "quotation:99999999999999999999", "ACCEPT"),
                 ("inspect", "quotation:99999999999999999999")):  # fmt: skip
        result = run_cli(*args, "--database-url", url)
        assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
        assert "cannot name a quotations record" in result.stderr


def one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    """The one ``error:`` line a failed command printed (and checks it printed nothing else)."""
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:"), result.stderr
    return lines[0]


def test_a_worker_on_a_fresh_empty_sqlite_file_says_to_run_db_upgrade(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'fresh.sqlite3'}"
    line = one_line_error(run_cli("worker", "--once", "--stdout", "--database-url", url))
    assert f"{url} has no orderflow tables; run `orderflow db upgrade` on it" in line


def test_a_database_missing_one_of_the_tables_says_to_upgrade_it(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.sqlite3'}"
    assert run_cli("db", "upgrade", "--database-url", url).returncode == 0
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        connection.exec_driver_sql("DROP TABLE workflow_scheduled_events")
    engine.dispose()
    line = one_line_error(run_cli("worker", "--once", "--stdout", "--database-url", url))
    assert "lacks orderflow's tables (no such table: workflow_scheduled_events)" in line
    assert "run `orderflow db upgrade` on it" in line


POSTGRES_URL = os.environ.get("ORDERFLOW_TEST_POSTGRES_URL")
needs_postgres = pytest.mark.skipif(
    POSTGRES_URL is None, reason="ORDERFLOW_TEST_POSTGRES_URL is not set; this needs a server"
)


@needs_postgres
def test_a_postgres_database_that_does_not_exist_is_not_called_one_without_tables() -> None:
    assert POSTGRES_URL is not None
    missing = sa.make_url(POSTGRES_URL).set(database=f"nowhere_{uuid.uuid4().hex[:8]}")
    url = missing.render_as_string(hide_password=False)
    for args in (("worker", "--once"), ("inspect", "sale:1")):
        line = one_line_error(run_cli(*args, "--database-url", url))
        assert "cannot use the database" in line and f'database "{missing.database}"' in line
        assert "tables" not in line


@needs_postgres
def test_a_postgres_database_without_one_table_says_to_upgrade_it() -> None:
    assert POSTGRES_URL is not None
    name = f"old_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f"CREATE DATABASE {name}")
    url = sa.make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    try:
        assert run_cli("db", "upgrade", "--database-url", url).returncode == 0
        engine = sa.create_engine(url)
        with engine.begin() as connection:
            connection.exec_driver_sql("DROP TABLE workflow_scheduled_events")
        engine.dispose()
        line = one_line_error(run_cli("worker", "--once", "--stdout", "--database-url", url))
        assert "lacks orderflow's tables" in line and "workflow_scheduled_events" in line
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.dispose()


@pytest.mark.parametrize("record", ["quotation:²", "quotation:+-5", "quotation:" + "9" * 5000])
def test_a_record_id_no_integer_key_can_hold_is_one_line(tmp_path: Path, record: str) -> None:
    url = f"sqlite:///{tmp_path / 'orderflow.sqlite3'}"
    assert run_cli("db", "upgrade", "--database-url", url).returncode == 0
    for args in (("send", record, "ACCEPT"), ("inspect", record)):
        line = one_line_error(run_cli(*args, "--database-url", url))
        assert "cannot name a quotations record" in line


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("nonsense", "is not a database URL SQLAlchemy can use: Could not parse"),
        ("nodialect://x", "is not a database URL SQLAlchemy can use: Can't load plugin"),
        ("mysql://ops:s3cret@localhost/shop", "needs the database driver 'MySQLdb'"),
    ],
)
def test_a_database_url_nobody_can_open_is_one_line_that_keeps_its_password(
    url: str, message: str
) -> None:
    for args in (("db", "upgrade"), ("worker", "--once"), ("inspect", "sale:1")):
        line = one_line_error(run_cli(*args, "--database-url", url))
        assert message in line and "s3cret" not in line


@needs_postgres
def test_db_upgrade_does_not_print_the_password() -> None:
    assert POSTGRES_URL is not None
    name = f"fresh_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f"CREATE DATABASE {name}")
    url = sa.make_url(POSTGRES_URL).set(database=name, password="s3cret")  # trust ignores it
    try:
        result = runner.invoke(
            app, ["db", "upgrade", "--database-url", url.render_as_string(hide_password=False)]
        )
        assert result.exit_code == 0, result.output
        assert "s3cret" not in result.output and "is at revision head" in result.output
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.dispose()


def test_a_url_sqlalchemy_explains_in_many_lines_is_still_one(tmp_path: Path) -> None:
    line = one_line_error(run_cli("inspect", "sale:1", "--database-url", "sqlite://u:p@/x.db"))
    assert "Invalid SQLite URL" in line


def test_version_prints_the_installed_version() -> None:
    from importlib.metadata import version

    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.output.strip() == f"orderflow {version('orderflow')}"
