"""A persisted step through orderflow's Django driver against django-fsm-2 with django-fsm-log.

    .venv/bin/python -m pip install django-fsm-2 django-fsm-log   # the bench's peers only
    .venv/bin/python bench/django_driver.py [--ops 200] [--rounds 7] [--postgres postgresql+psycopg://...]

On PostgreSQL (``--postgres`` or ORDERFLOW_TEST_POSTGRES_URL; a scratch
database is created and dropped), with 1 and 8 worker processes, each kind
does the same work per step, in one transaction:

- **django-fsm-2 + django-fsm-log**: ``select_for_update().get()``, the
  guarded ``@transition`` method (a condition reading the row), ``save()``,
  and django-fsm-log's ``StateLog`` row with who acted and a description;
- **orderflow**: ``DjangoWorkflowService.send`` of a guarded two-state
  toggle: ``select_for_update``, rehydrate, the pure transition with its
  guard, the versioned ``UPDATE`` (state, context, legacy status, version),
  the log row with who acted, the note and the full result.

Each worker moves its own records (throughput, not contention on one row).
The kinds take turns inside the same warm processes, every worker starting
at a barrier, the order rotating each round.  A round's throughput is all
workers' steps over the span from the first start to the last end; the table
gives the medians and the median and range of the per-round ratios
(orderflow's throughput over django-fsm's: above 1 means orderflow is faster).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

RECORDS_PER_WORKER = 16
WARM_UP = 30
KINDS = ("django-fsm", "orderflow")
TOGGLE = {
    "id": "toggle",
    "version": "1",
    "initial": "off",
    "context": {"enabled": True},
    "states": {
        "off": {"on": {"FLIP": {"target": "on", "guard": "enabled"}}},
        "on": {"on": {"FLIP": {"target": "off", "guard": "enabled"}}},
    },
}


def configure(url: str, name: str) -> None:
    """Django settings for the scratch database ``name`` on the server of ``url``."""
    import django
    from django.conf import settings

    sys.path.insert(0, str(Path(__file__).parent))
    parts = urlsplit(url.replace("postgresql+psycopg://", "postgresql://"))
    settings.configure(
        USE_TZ=True,
        SECRET_KEY="bench",
        DEFAULT_AUTO_FIELD="django.db.models.BigAutoField",
        INSTALLED_APPS=[
            "django.contrib.contenttypes", "django.contrib.auth", "django_fsm_log",
            "orderflow.django", "django_bench_app",
        ],
        DATABASES={
            "default": {
                "ENGINE": "django.db.backends.postgresql", "NAME": name,
                "USER": parts.username or "postgres", "PASSWORD": parts.password or "",
                "HOST": parts.hostname or "127.0.0.1", "PORT": str(parts.port or 5432),
            }
        },
        DJANGO_FSM_LOG_STORAGE_METHOD="django_fsm_log.backends.SimpleBackend",
        DJANGO_FSM_LOG_IGNORED_MODELS=(),
    )  # fmt: skip
    django.setup()


def scratch(url: str, create: bool, name: str) -> None:
    import psycopg

    parts = urlsplit(url.replace("postgresql+psycopg://", "postgresql://"))
    server = parts._replace(path="/postgres").geturl()
    with psycopg.connect(server, autocommit=True) as connection:
        if create:
            connection.execute(f"CREATE DATABASE {name}")
        else:
            connection.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def fsm_step() -> Callable[[int], None]:
    from django.contrib.auth.models import User
    from django.db import transaction
    from django_bench_app.models import FsmSwitch

    user = User.objects.get(username="bench")

    def move(record: int) -> None:
        with transaction.atomic():
            switch = FsmSwitch.objects.select_for_update().get(pk=record)
            if switch.state == "off":
                switch.switch_on(by=user, description="bench")
            else:
                switch.switch_off(by=user, description="bench")
            switch.save()

    return move


def orderflow_service() -> Any:
    import orderflow
    from orderflow.django.service import DjangoWorkflowService

    machine = orderflow.setup(
        guards={"enabled": lambda context, event, params: bool(context["enabled"])}
    ).create_machine(TOGGLE)
    return DjangoWorkflowService({"toggle": machine})


def orderflow_step() -> Callable[[int], None]:
    from django.contrib.auth.models import User
    from django_bench_app.models import FlowSwitch

    from orderflow.django.auth import principal_for

    service = orderflow_service()
    actor = principal_for(User.objects.get(username="bench"))

    def move(record: int) -> None:
        result = service.send((FlowSwitch, record), "FLIP", actor=actor, note="bench")
        assert result.success, result.reason

    return move


def worker(ids: list[int], ops: int, rounds: int, barrier: Any, out: Any) -> None:
    """Run the rounds (``_rounds.run_rounds``) on this process's own connections."""
    from _rounds import run_rounds
    from django.db import connections

    connections.close_all()  # the parent's connection is not this process's
    moves = {"django-fsm": fsm_step(), "orderflow": orderflow_step()}
    run_rounds({kind: moves[kind] for kind in KINDS}, ids, ops, rounds, barrier, out, WARM_UP)
    connections.close_all()


def measure(workers: int, ops: int, rounds: int) -> dict[str, list[float]]:
    from _rounds import measure as measure_rounds
    from django.db import connections

    connections.close_all()
    return measure_rounds(worker, (), KINDS, workers, ops, rounds, RECORDS_PER_WORKER, 900)


def seed() -> None:
    from django.contrib.auth.models import User
    from django.core.management import call_command
    from django_bench_app.models import FlowSwitch, FsmSwitch

    call_command("migrate", run_syncdb=True, verbosity=0)
    User.objects.create_user("bench", first_name="Bench", last_name="Worker")
    service = orderflow_service()
    for i in range(8 * RECORDS_PER_WORKER):
        FsmSwitch.objects.create(id=i + 1)
        assert service.start(FlowSwitch(id=i + 1, workflow_machine="toggle")).success


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--ops", type=int, default=200, help="steps per worker, kind and round")
    parser.add_argument("--rounds", type=int, default=7, help="rounds of each kind")
    parser.add_argument("--postgres", default=os.environ.get("ORDERFLOW_TEST_POSTGRES_URL"))
    args = parser.parse_args()
    if not args.postgres:
        sys.exit(
            "pass --postgres or set ORDERFLOW_TEST_POSTGRES_URL: this bench runs on PostgreSQL"
        )
    name = f"bench_django_{uuid.uuid4().hex[:10]}"
    scratch(args.postgres, True, name)
    try:
        configure(args.postgres, name)
        seed()
        rows = [
            "| engine | workers | django-fsm-2 + django-fsm-log (steps/s) | orderflow Django driver "
            "(steps/s) | orderflow / django-fsm (range) |",
            "|---|---|---:|---:|---:|",
        ]
        for workers in (1, 8):
            tps = measure(workers, args.ops, args.rounds)
            ratios = [o / f for o, f in zip(tps["orderflow"], tps["django-fsm"], strict=True)]
            rows.append(
                f"| PostgreSQL | {workers} | {statistics.median(tps['django-fsm']):,.0f} | "
                f"{statistics.median(tps['orderflow']):,.0f} | {statistics.median(ratios):.2f}x "
                f"({min(ratios):.2f}x-{max(ratios):.2f}x) |"
            )
        print("\n".join(rows))
    finally:
        from django.db import connections

        connections.close_all()
        scratch(args.postgres, False, name)


if __name__ == "__main__":
    main()
