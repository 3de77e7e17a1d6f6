"""The inspector shows a record's child actors, nested, and the function actors it waits for.

A table and machines of the test's own: a job that invokes a pinger machine,
which invokes a beeper; the job forwards its events to them with ``sendTo``.
Read over HTTP (Starlette's client), in a real Chromium, and through GraphQL.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from api_support import serving
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from test_inspector_browser import _missing, browser  # noqa: F401  (the browser fixture)

import orderflow
from orderflow.api import create_app, issue_token, queries
from orderflow.api.pages import RecordPage, record_page
from orderflow.export import build_diagram
from orderflow.service import Principal, WorkflowService
from orderflow.store import WorkflowRecord
from workflow_db import open_database

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    from starlette.testclient import TestClient

SECRET = "inspector-children-" + "k3y!" * 8
OPERATOR = Principal("u-7", "Olga Operator")
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")


class JobBase(DeclarativeBase):
    pass


class Job(JobBase, WorkflowRecord):
    __tablename__ = "inspected_jobs"

    id: Mapped[int] = mapped_column(primary_key=True)


def send_to(child: str, event: str) -> dict[str, Any]:
    return {"actions": {"type": "sendTo", "params": {"to": child, "event": {"type": event}}}}


BEEPER = orderflow.create_machine(
    {
        "id": "beeper",
        "initial": "idle",
        "states": {"idle": {"on": {"BEEP": "beeped"}}, "beeped": {}},
    }
)
PINGER = orderflow.setup(actors={"beeper": BEEPER}).create_machine(
    {
        "id": "pinger",
        "initial": "waiting",
        "states": {
            "waiting": {
                "invoke": {"id": "b", "src": "beeper"},
                "on": {"PING": send_to("b", "BEEP"), "FINISH": "done"},
            },
            "done": {"type": "final"},
        },
    }
)
JOB = orderflow.setup(actors={"pinger": PINGER}).create_machine(
    {
        "id": "job",
        "initial": "running",
        "states": {
            "running": {
                "invoke": {"id": "p", "src": "pinger", "systemId": "the-pinger", "onDone": "finished"},
                "on": {"GO": send_to("p", "PING"), "STOP": send_to("p", "FINISH")},
            },
            "finished": {"type": "final"},
        },
    }
)  # fmt: skip


@pytest.fixture
def jobs(tmp_path: Path) -> Iterator[tuple[WorkflowService, Any]]:
    with open_database("sqlite-file", tmp_path) as database:
        JobBase.metadata.create_all(database.engine)
        service = WorkflowService(database.Session, {"job": JOB})
        app = create_app(service=service, records=[Job], secret=SECRET)
        yield service, app


def client_for(app: Any) -> TestClient:
    client = TestClient(app, follow_redirects=False)
    client.headers["Authorization"] = f"Bearer {issue_token(SECRET, OPERATOR)}"
    return client


def test_the_record_page_lists_the_children_nested_with_their_states(
    jobs: tuple[WorkflowService, Any],
) -> None:
    service, app = jobs
    job = Job(id=1, workflow_machine="job")
    assert service.start(job, actor=OPERATOR).success
    client = client_for(app)
    page = client.get("/records/inspected_jobs/1").text
    assert 'data-child="p"' in page and 'data-child="p/b"' in page
    assert page.index('data-child="p"') < page.index('data-child="p/b"') < page.index("</ul></li>")
    assert "machine pinger" in page and "machine beeper" in page
    assert "systemId the-pinger" in page
    assert '<code class="child-state">waiting</code>' in page
    assert '<code class="child-state">idle</code>' in page

    assert service.send(job, "GO", actor=OPERATOR).success
    page = client.get("/records/inspected_jobs/1").text
    assert '<code class="child-state">beeped</code>' in page  # the grandchild moved

    assert service.send(job, "STOP", actor=OPERATOR).success
    page = client.get("/records/inspected_jobs/1").text
    assert "No child actor is running." in page and "data-child" not in page


def test_a_machine_without_actors_has_no_children_section(tmp_path: Path) -> None:
    plain = orderflow.create_machine({"id": "job", "initial": "a", "states": {"a": {}}})
    with open_database("sqlite-file", tmp_path) as database:
        JobBase.metadata.create_all(database.engine)
        service = WorkflowService(database.Session, {"job": plain})
        assert service.start(Job(id=1, workflow_machine="job")).success
        page = client_for(create_app(service=service, records=[Job], secret=SECRET))
        text = page.get("/records/inspected_jobs/1").text
    assert "Child actors" not in text and "Invocations awaited" not in text


def test_the_function_actors_a_record_waits_for_are_listed_with_their_input_escaped() -> None:
    """Read from the snapshot: the service does not keep function actors in a row yet."""
    machine = orderflow.setup(actors={"charge": lambda input: 1, "pinger": PINGER}).create_machine(
        {
            "id": "pay",
            "initial": "paying",
            "states": {
                "paying": {
                    "invoke": [
                        {"id": "card", "src": "charge", "input": {"note": "<script>x</script>"}},
                        {"id": "p", "src": "pinger"},
                    ]
                }
            },
        }
    )
    snapshot, _ = machine.initial_transition()
    flow = queries.Workflow("pays", "1", (Job, 1), None, machine, snapshot, 1, None)
    children = queries.child_actors(flow)
    assert [(c.path, c.machine, c.status) for c in children] == [
        ("card", None, "active"),
        ("p", "pinger", "active"),
    ]
    awaited = queries.awaited_invocations(children)
    assert [(a.path, a.src, a.input) for a in awaited] == [
        ("card", "charge", {"note": "<script>x</script>"})
    ]
    page = RecordPage(
        flow=flow, options=(), log=(), timers=(), overrides=(), diagram_format=None, diagram=None,
        tree=build_diagram(machine, snapshot).root, mermaid="", children=children,
        invocations=awaited,
    )  # fmt: skip
    html = str(record_page(page, actor=OPERATOR, csrf="x"))
    assert 'data-invocation="card"' in html
    assert "&lt;script&gt;x&lt;/script&gt;" in html and "<script>x" not in html
    assert '<span class="badge">function</span>' in html

    snapshot, _ = machine.transition(snapshot, {"type": "xstate.done.actor.card", "output": 1})
    flow = queries.Workflow("pays", "1", (Job, 1), None, machine, snapshot, 2, None)
    settled = queries.child_actors(flow)
    assert queries.awaited_invocations(settled) == []
    # the settled child stays, done; its input was dropped (as XState persists it)
    assert (settled[0].path, settled[0].status, settled[0].input) == ("card", "done", None)


def test_graphql_reads_the_children(jobs: tuple[WorkflowService, Any]) -> None:
    service, app = jobs
    job = Job(id=1, workflow_machine="job")
    assert service.start(job, actor=OPERATOR).success
    assert service.send(job, "GO", actor=OPERATOR).success
    query = (
        'query { workflow(recordType: "inspected_jobs", recordId: "1") { children { '
        "id path src machine value states status systemId children { path machine value status } "
        "} } }"
    )
    response = client_for(app).post("/graphql", json={"query": query})
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer.get("errors") is None, answer
    assert answer["data"]["workflow"]["children"] == [
        {
            "id": "p",
            "path": "p",
            "src": "pinger",
            "machine": "pinger",
            "value": "waiting",
            "states": ["waiting"],
            "status": "active",
            "systemId": "the-pinger",
            "children": [
                {"path": "p/b", "machine": "beeper", "value": "beeped", "status": "active"}
            ],
        }
    ]


@pytest.mark.skipif(_missing() is not None, reason=str(_missing()))
def test_in_a_browser_the_children_follow_the_record(
    browser: Any,  # noqa: F811
    jobs: tuple[WorkflowService, Any],
) -> None:
    service, app = jobs
    job = Job(id=1, workflow_machine="job")
    assert service.start(job, actor=OPERATOR).success
    with serving(app) as server:
        page = browser.new_context().new_page()
        page.goto(server + "/")
        page.fill("#token", issue_token(SECRET, OPERATOR))
        with page.expect_navigation():
            page.click("button:has-text('Sign in')")
        page.goto(server + "/records/inspected_jobs/1")

        def grandchild_state() -> str:
            return str(page.text_content('li[data-child="p/b"] .child-state')).strip()

        child = page.locator('li[data-child="p"]')
        assert child.locator(":scope > code").first.text_content() == "p"
        assert child.locator('li[data-child="p/b"]').count() == 1  # nested in its parent
        assert grandchild_state() == "idle"
        page.locator('button[value="GO"]').click()
        page.wait_for_selector(".flash.ok")
        assert grandchild_state() == "beeped"
        svg = page.locator("svg")
        if svg.count():  # with Graphviz, the diagram draws the running children's charts
            titles = page.locator("svg g.node.state.active > title")
            active = {titles.nth(i).text_content() for i in range(titles.count())}
            assert "job.running/p/pinger.waiting/b/beeper.beeped" in active
        page.locator('button[value="STOP"]').click()
        page.wait_for_selector(".flash.ok")
        assert page.text_content("#children").strip() == "No child actor is running."
        assert page.text_content("#state").strip() == "finished"


def test_a_durable_invocation_shows_its_row_state_attempts_and_last_error(tmp_path: Path) -> None:
    """A function actor a persisted record started is a row: the page shows what the worker did."""
    from orderflow.workers.invocations import InvocationOptions, run_due_invocations

    def charge(input: Any) -> int:
        raise RuntimeError("card <declined>")

    machine = orderflow.setup(actors={"charge": charge}).create_machine(
        {
            "id": "job",
            "initial": "paying",
            "states": {
                "paying": {
                    "invoke": {"id": "card", "src": "charge", "input": {"amount": 5},
                               "onDone": "paid", "onError": "refused"},
                },
                "paid": {},
                "refused": {},
            },
        }
    )  # fmt: skip
    with open_database("sqlite-file", tmp_path) as database:
        JobBase.metadata.create_all(database.engine)
        service = WorkflowService(database.Session, {"job": machine})
        assert service.start(Job(id=1, workflow_machine="job"), actor=OPERATOR).success
        client = client_for(create_app(service=service, records=[Job], secret=SECRET))
        text = client.get("/records/inspected_jobs/1").text
        assert 'data-invocation="card"' in text and "<td>pending</td><td>0</td>" in text

        runs = run_due_invocations(
            service, database.Session, options=InvocationOptions(models={"inspected_jobs": Job})
        )
        assert len(runs) == 1
        text = client.get("/records/inspected_jobs/1").text
        assert "<td>pending</td><td>1</td>" in text  # to be retried, after its backoff
        assert "card &lt;declined&gt;" in text and "card <declined>" not in text


def test_a_settled_function_childs_output_and_error_are_shown_escaped(tmp_path: Path) -> None:
    """Through the API: GraphQL gives the JSON, the inspector shows it escaped."""
    settled = {"onDone": {"actions": []}, "onError": {"actions": []}}  # neither leaves the state
    machine = orderflow.setup(actors={"charge": lambda input: None}).create_machine({
        "id": "job", "initial": "paying",
        "states": {"paying": {"invoke": [{"id": "card", "src": "charge", **settled},
                                         {"id": "bank", "src": "charge", **settled}]}},
    })  # fmt: skip
    output = {"receipt": "<b>R-1</b>", "amount": 25}
    error = {"type": "RuntimeError", "message": "bank <script>alert(1)</script> said no"}
    with open_database("sqlite-file", tmp_path) as database:
        JobBase.metadata.create_all(database.engine)
        service = WorkflowService(database.Session, {"job": machine})
        assert service.start(Job(id=1, workflow_machine="job")).success
        assert service.deliver((Job, 1), {"type": "xstate.done.actor.card", "output": output})
        assert service.deliver((Job, 1), {"type": "xstate.error.actor.bank", "error": error})
        client = client_for(create_app(service=service, records=[Job], secret=SECRET))

        query = (
            'query { workflow(recordType: "inspected_jobs", recordId: "1") { '
            "children { id status input output error } } }"
        )
        answer = client.post("/graphql", json={"query": query}).json()
        page = client.get("/records/inspected_jobs/1").text

    assert answer.get("errors") is None, answer
    assert answer["data"]["workflow"]["children"] == [
        {"id": "card", "status": "done", "input": None, "output": output, "error": None},
        {"id": "bank", "status": "error", "input": None, "output": None, "error": error},
    ]
    assert '<code class="child-output">{&quot;amount&quot;: 25, &quot;receipt&quot;: ' in page
    assert "&lt;b&gt;R-1&lt;/b&gt;" in page and "<b>R-1" not in page
    assert '<code class="child-error">' in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "<script>alert" not in page


def test_a_record_failed_by_an_unhandled_actor_error_shows_its_error(tmp_path: Path) -> None:
    machine = orderflow.setup(actors={"charge": lambda input: None}).create_machine({
        "id": "job", "initial": "paying",
        "states": {"paying": {"invoke": {"id": "card", "src": "charge"}}},  # no onError
    })  # fmt: skip
    error = {"type": "RuntimeError", "message": "card <i>declined</i>"}
    with open_database("sqlite-file", tmp_path) as database:
        JobBase.metadata.create_all(database.engine)
        service = WorkflowService(database.Session, {"job": machine})
        assert service.start(Job(id=1, workflow_machine="job")).success
        assert service.deliver((Job, 1), {"type": "xstate.error.actor.card", "error": error})
        client = client_for(create_app(service=service, records=[Job], secret=SECRET))
        query = 'query { workflow(recordType: "inspected_jobs", recordId: "1") { status error } }'
        answer = client.post("/graphql", json={"query": query}).json()
        page = client.get("/records/inspected_jobs/1").text

    assert answer.get("errors") is None, answer
    assert answer["data"]["workflow"] == {"status": "error", "error": error}
    assert '<code id="workflow-error">' in page
    assert "card &lt;i&gt;declined&lt;/i&gt;" in page and "<i>declined" not in page
