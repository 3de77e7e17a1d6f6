"""The pytest plugin: a simulated clock and actors on it, stopped when the test ends."""

from __future__ import annotations

import os
import tomllib
from importlib.metadata import entry_points
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

TEST_MODULE = """
import orderflow

machine = orderflow.create_machine(
    {
        "id": "reminder",
        "initial": "waiting",
        "states": {
            "waiting": {"after": {"1000": "reminded"}, "on": {"PAID": "paid"}},
            "reminded": {"on": {"PAID": "paid"}},
            "paid": {"type": "final"},
        },
    }
)

made = []


def test_the_clock_starts_at_zero(simulated_clock):
    assert simulated_clock.now() == 0


def test_actors_run_their_timers_on_the_simulated_clock(actor_factory, simulated_clock):
    actor = actor_factory(machine)
    made.append(actor)
    assert actor.get_snapshot().value == "waiting"
    simulated_clock.advance(999)
    assert actor.get_snapshot().value == "waiting"
    simulated_clock.advance(1)
    assert actor.get_snapshot().value == "reminded"


def test_actors_are_stopped_after_the_test(actor_factory, simulated_clock):
    (previous,) = made
    assert previous.status == "stopped"
    actor = actor_factory(machine)
    made.append(actor)
    assert actor.send("PAID").status == "done"


def test_actors_can_be_made_unstarted_or_from_a_persisted_snapshot(actor_factory):
    idle = actor_factory(machine, start=False)
    assert idle.status == "idle"
    snapshot, _ = machine.initial_transition()
    restored = actor_factory(machine, snapshot.to_json())
    assert restored.status == "running"


def test_every_test_gets_a_fresh_clock(simulated_clock):
    assert simulated_clock.now() == 0 and simulated_clock.pending == 0
"""


@pytest.fixture
def explicit_plugin(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Load the plugin by name, whether or not this environment has the entry point installed."""
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    return ["-p", "orderflow.testing.plugin", "-p", "no:cacheprovider"]


def test_the_plugin_provides_a_clock_and_an_actor_factory(
    pytester: pytest.Pytester, explicit_plugin: list[str]
) -> None:
    pytester.makepyfile(test_reminder=TEST_MODULE)
    result = pytester.runpytest_inprocess(*explicit_plugin)
    result.assert_outcomes(passed=5)


def test_the_actor_factory_stops_actors_whose_test_failed(
    pytester: pytest.Pytester, explicit_plugin: list[str]
) -> None:
    pytester.makepyfile(
        test_failing="""
import orderflow

machine = orderflow.create_machine(
    {"id": "t", "initial": "a", "states": {"a": {"after": {"10": "b"}}, "b": {}}}
)
made = []

def test_fails(actor_factory):
    made.append(actor_factory(machine))
    assert False

def test_then(simulated_clock):
    assert made[0].status == "stopped"
"""
    )
    result = pytester.runpytest_inprocess(*explicit_plugin)
    result.assert_outcomes(passed=1, failed=1)


def test_the_plugin_is_declared_as_a_pytest11_entry_point() -> None:
    pyproject = tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text())
    entry_points = pyproject["project"]["entry-points"]["pytest11"]
    assert entry_points == {"orderflow": "orderflow.testing.plugin"}


@pytest.mark.skipif(
    not any(e.value == "orderflow.testing.plugin" for e in entry_points(group="pytest11")),
    reason="the installed orderflow predates the entry point; run pip install -e . again",
)
def test_an_installed_orderflow_loads_the_plugin_by_itself(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_reminder=TEST_MODULE)
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=5)


DATABASE_TESTS = """
from decimal import Decimal

import sqlalchemy as sa

from orderflow.store import SaleOrder, TransitionLog
from orderflow.workers import run_due_invocations

seen = []


def test_the_engine_has_orderflows_schema(orderflow_engine):
    tables = set(sa.inspect(orderflow_engine).get_table_names())
    assert {"workflow_transition_log", "sale_orders", "stock_levels", "payment_ledger"} <= tables
    seen.append(orderflow_engine)


def test_every_test_gets_a_fresh_database(orderflow_engine):
    assert orderflow_engine is not seen[0]
    with orderflow_engine.connect() as connection:
        assert connection.scalar(sa.select(sa.func.count()).select_from(TransitionLog)) == 0


def test_the_service_runs_the_order_machines_on_in_memory_ports(orderflow_service, orderflow_ports):
    orderflow_ports.credit.set_profile("C-1", Decimal("1000"))
    sale = SaleOrder(reference="S-1", customer_id="C-1", workflow_machine="sale")
    orderflow_service.start(sale, input={"customer_id": "C-1", "currency": "EUR", "total": "10.00"})
    result = orderflow_service.send(sale, {"type": "SELECT_PAYMENT_METHOD", "method": "on_account"})
    assert result.to_state == {"processing": "credit_check"}
    (run,) = run_due_invocations(orderflow_service, orderflow_service.session_factory)
    assert run.outcome == "delivered"
    assert orderflow_service.snapshot(sale).value == "cleared"
    assert orderflow_service.snapshot(sale).context.credit.limit == Decimal("1000.00")


def test_postgres_has_its_own_schema(orderflow_postgres_engine):
    with orderflow_postgres_engine.connect() as connection:
        schema = connection.exec_driver_sql("SELECT current_schema()").scalar()
        assert schema.startswith("orderflow_")
        assert "workflow_outbox" in sa.inspect(connection).get_table_names()
"""


def test_the_plugin_provides_databases_and_a_service_on_in_memory_ports(
    pytester: pytest.Pytester, explicit_plugin: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makepyfile(test_databases=DATABASE_TESTS)
    result = pytester.runpytest_inprocess(*explicit_plugin, "-rs")
    if os.environ.get("ORDERFLOW_TEST_POSTGRES_URL"):
        result.assert_outcomes(passed=4)
    else:
        result.assert_outcomes(passed=3, skipped=1)
        result.stdout.fnmatch_lines(["*ORDERFLOW_TEST_POSTGRES_URL is not set*"])


def test_the_postgres_fixture_skips_with_the_reason_when_no_server_is_configured(
    pytester: pytest.Pytester, explicit_plugin: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ORDERFLOW_TEST_POSTGRES_URL", raising=False)
    pytester.makepyfile(
        test_pg="def test_needs_a_server(orderflow_postgres_engine):\n    raise AssertionError\n"
    )
    result = pytester.runpytest_inprocess(*explicit_plugin, "-rs")
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(["*ORDERFLOW_TEST_POSTGRES_URL is not set*"])
