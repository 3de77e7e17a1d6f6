"""``orderflow serve`` and ``orderflow token``: a real server from the command line, and clear refusals."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from api_support import SECRET

from orderflow.api import read_token
from orderflow.service import Principal
from orderflow.store import upgrade


def orderflow(
    *args: str, env: dict[str, str] | None = None, prelude: str = ""
) -> subprocess.CompletedProcess[str]:
    """``python -m orderflow ARGS``; ``prelude`` runs first (to hide a package, say)."""
    code = f"{prelude}\nimport sys\nsys.argv = ['orderflow', *{list(args)!r}]\nfrom orderflow.cli import main\nmain()"
    return subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True, text=True, timeout=60, check=False,
        env={**os.environ, **(env or {})},
    )  # fmt: skip


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_token_prints_a_token_for_the_actor_it_names() -> None:
    done = orderflow("token", "u-ada", "--label", "Ada", "-p", "sale.override.admin", "-p", "x",
                     env={"ORDERFLOW_API_SECRET": SECRET})  # fmt: skip
    assert done.returncode == 0, done.stderr
    actor = read_token(SECRET, done.stdout.strip())
    assert actor == Principal("u-ada", "Ada", frozenset({"sale.override.admin", "x"}))
    assert "valid for 8 hours" in done.stderr


@pytest.mark.parametrize("command", ["serve", "token u-1"])
def test_without_a_secret_the_commands_say_how_to_make_one(command: str) -> None:
    done = orderflow(*command.split(), env={"ORDERFLOW_API_SECRET": ""})
    assert done.returncode == 2
    assert "needs a secret to sign actor tokens: set ORDERFLOW_API_SECRET" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_short_secret_is_refused_in_one_line() -> None:
    done = orderflow("token", "u-1", "--secret", "short")
    assert done.returncode == 2 and "at least 32 characters" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize("missing", ["strawberry", "uvicorn"])
def test_without_the_api_extra_serve_says_what_to_install(missing: str) -> None:
    hide = f"import sys; sys.modules[{missing!r}] = None"
    done = orderflow("serve", "--secret", SECRET, prelude=hide)
    assert done.returncode == 2
    assert (
        f"needs the api extra ({missing} is not installed): pip install 'orderflow[api]'"
        in done.stderr
    )
    assert "Traceback" not in done.stderr


def test_the_rest_of_the_command_line_works_without_the_api_extra(tmp_path: Path) -> None:
    hide = "import sys; sys.modules['strawberry'] = None; sys.modules['uvicorn'] = None"
    done = orderflow("validate", "sale", prelude=hide)
    assert done.returncode == 0, done.stderr


def test_serve_refuses_a_database_without_the_tables(tmp_path: Path) -> None:
    done = orderflow(
        "serve", "--secret", SECRET, "--database-url", f"sqlite:///{tmp_path / 'empty.db'}"
    )
    assert (
        done.returncode == 2
        and "has no orderflow tables; run `orderflow db upgrade`" in done.stderr
    )


def test_serve_answers_graphql_and_the_inspector_on_its_port(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'orderflow.sqlite3'}"
    upgrade(url)
    port = free_port()
    token = orderflow("token", "u-ada", "--secret", SECRET).stdout.strip()
    server = subprocess.Popen(
        [sys.executable, "-m", "orderflow", "serve", "--database-url", url, "--port", str(port)],
        env={**os.environ, "ORDERFLOW_API_SECRET": SECRET},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        me = _wait_for_graphql(port, token, server)
        assert me == {"data": {"me": {"id": "u-ada"}}}
        with pytest.raises(urllib.error.HTTPError) as signed_out:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10)
        assert signed_out.value.code == 401
    finally:
        server.terminate()
        output = server.communicate(timeout=30)[0]
    assert "GraphQL at http://127.0.0.1:" in output


def _wait_for_graphql(port: int, token: str, server: subprocess.Popen[str]) -> Any:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql",
        data=json.dumps({"query": "{ me { id } }"}).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
    )
    deadline = time.monotonic() + 30
    while True:
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                return json.loads(response.read())
        except (urllib.error.URLError, ConnectionError):
            if server.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(
                    f"orderflow serve did not answer: {server.communicate()[0]}"
                ) from None
            time.sleep(0.1)


def test_serve_with_a_database_url_nobody_can_open_is_one_line() -> None:
    done = orderflow("serve", "--secret", SECRET, "--database-url", "nonsense://user:pw@host/x")
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "not a database URL" in done.stderr and "pw" not in done.stderr
