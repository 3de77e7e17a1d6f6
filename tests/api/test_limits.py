"""What one request may ask of the server, over HTTP: the attacks of issue 16, refused before any work.

Without limits, 1,000 aliased ``__schema`` blocks without a token took 11.7 s
and answered 16 MB, and 3,000 aliased ``workflow { log allowedEvents }`` as a
clerk took 12.9 s; a JSON body nested 5,000 deep was a 500.  Each is now
refused with a clear error before a resolver runs, and each limit is a
setting of ``create_app``.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from typing import Any

import pytest
from api_support import CLERK, SECRET, sent_quotation

from orderflow.api import create_app, issue_token, queries
from orderflow.api.limits import ApiLimits, json_depth
from orderflow.service import WorkflowService

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", "Using `httpx` with `starlette.testclient`")
    from starlette.testclient import TestClient


@pytest.fixture
def client(service: WorkflowService) -> TestClient:
    return TestClient(create_app(service=service, secret=SECRET), follow_redirects=False)


@pytest.fixture
def resolved(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The workflow loads the resolvers made: a refused document makes none."""
    calls: list[str] = []
    load = queries.workflow

    def counting(*args: Any, **kwargs: Any) -> Any:
        calls.append("workflow")
        return load(*args, **kwargs)

    monkeypatch.setattr(queries, "workflow", counting)
    yield calls


def post(client: TestClient, query: str, token: str | None = None, **variables: Any) -> Any:
    headers = {} if token is None else {"Authorization": f"Bearer {token}"}
    return client.post("/graphql", json={"query": query, "variables": variables}, headers=headers)


def messages(response: Any) -> str:
    return " ".join(error["message"] for error in response.json().get("errors") or [])


def test_a_thousand_aliased_schema_blocks_without_a_token_are_refused_unread(
    client: TestClient,
) -> None:
    query = "{ " + " ".join(f"a{i}: __schema {{ types {{ name }} }}" for i in range(1000)) + " }"
    assert len(query) > 30_000
    response = post(client, query)
    assert response.json().get("data") is None
    assert "token" in messages(response).lower()
    assert len(response.content) < 2_000  # an error, not 16 MB of schema


def test_three_thousand_aliased_workflows_as_a_clerk_are_refused_before_any_resolver(
    client: TestClient, service: WorkflowService, resolved: list[str]
) -> None:
    quotation = sent_quotation(service)
    blocks = " ".join(
        f'w{i}: workflow(recordType: "quotations", recordId: "{quotation.id}") '
        "{ log { event } allowedEvents { event } }"
        for i in range(3000)
    )
    response = post(client, "{ " + blocks + " }", issue_token(SECRET, CLERK))
    assert response.status_code in (200, 400, 413)
    if response.status_code == 200:
        assert response.json().get("data") is None and messages(response)
    assert resolved == []


def test_too_many_aliases_are_refused_and_a_few_are_fine(
    client: TestClient, service: WorkflowService, resolved: list[str]
) -> None:
    quotation = sent_quotation(service)
    token = issue_token(SECRET, CLERK)

    def aliased(count: int) -> Any:
        blocks = " ".join(
            f'w{i}: workflow(recordType: "quotations", recordId: "{quotation.id}") {{ value }}'
            for i in range(count)
        )
        return post(client, "{ " + blocks + " }", token)

    refused = aliased(31)
    assert refused.json().get("data") is None and "aliases" in messages(refused)
    assert resolved == []
    fine = aliased(3)
    assert fine.json()["data"]["w2"]["value"] == "sent"


def test_a_query_nested_deeper_than_the_limit_is_refused(
    service: WorkflowService, resolved: list[str]
) -> None:
    quotation = sent_quotation(service)
    shallow = TestClient(create_app(service=service, secret=SECRET, limits=ApiLimits(max_depth=1)))
    query = f'{{ workflow(recordType: "quotations", recordId: "{quotation.id}") {{ log {{ event }} }} }}'
    response = post(shallow, query, issue_token(SECRET, CLERK))
    assert response.json().get("data") is None
    assert "exceeds maximum operation depth of 1" in messages(response)
    assert resolved == []
    flat = f'{{ workflow(recordType: "quotations", recordId: "{quotation.id}") {{ value }} }}'
    assert (
        post(shallow, flat, issue_token(SECRET, CLERK)).json()["data"]["workflow"]["value"]
        == "sent"
    )


def test_a_document_with_too_many_tokens_is_refused_by_the_parser(client: TestClient) -> None:
    query = "{ me { " + " ".join(["id"] * 3000) + " } }"
    response = post(client, query, issue_token(SECRET, CLERK))
    assert response.json().get("data") is None
    assert "token" in messages(response).lower()


def test_introspection_needs_a_signed_in_caller(client: TestClient) -> None:
    query = "{ __schema { queryType { name } } }"
    anonymous = post(client, query)
    assert anonymous.json().get("data") is None
    assert "introspection" in messages(anonymous).lower()
    signed_in = post(client, query, issue_token(SECRET, CLERK))
    assert signed_in.json()["data"] == {"__schema": {"queryType": {"name": "Query"}}}
    assert "data" in post(client, "{ __typename }").json()  # not introspection


def test_a_json_body_nested_five_thousand_deep_is_a_400_not_a_500(client: TestClient) -> None:
    body = '{"query": "{ me { id } }", "variables": {"x": ' + "[" * 5000 + "]" * 5000 + "}}"
    response = client.post(
        "/graphql", content=body, headers={"Content-Type": "application/json",
                                           "Authorization": f"Bearer {issue_token(SECRET, CLERK)}"},
    )  # fmt: skip
    assert response.status_code == 400


def test_a_body_over_the_limit_is_refused_as_it_is_read(client: TestClient) -> None:
    padding = "x" * (300 * 1024)
    declared = client.post("/graphql", json={"query": "{ me { id } }", "variables": {"p": padding}})
    assert declared.status_code == 413
    assert declared.json()["errors"][0]["extensions"]["code"] == "REQUEST_TOO_LARGE"

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted as the bytes arrive
        yield b'{"query": "{ me { id } }", "variables": {"p": "'
        for _ in range(40):
            yield b"x" * 8192
        yield b'"}}'

    streamed = client.post("/graphql", content=chunks(),
                           headers={"Content-Type": "application/json"})  # fmt: skip
    assert streamed.status_code == 413


def test_an_inspector_form_over_the_limit_is_refused(
    client: TestClient, service: WorkflowService
) -> None:
    quotation = sent_quotation(service)
    response = client.post(
        f"/records/quotations/{quotation.id}/events",
        data={"event": "DECLINE", "payload": "x" * (300 * 1024)},
    )
    assert response.status_code == 413


def test_every_limit_is_a_setting_of_create_app(service: WorkflowService) -> None:
    roomy = TestClient(
        create_app(service=service, secret=SECRET,
                   limits=ApiLimits(max_aliases=100, anonymous_introspection=True)),
    )  # fmt: skip
    query = "{ " + " ".join(f"a{i}: __typename" for i in range(60)) + " }"
    assert post(roomy, query).json()["data"]["a59"] == "Query"
    assert post(roomy, "{ __schema { queryType { name } } }").json()["data"]
    with pytest.raises(ValueError, match="max_depth must be a positive integer"):
        ApiLimits(max_depth=0)


def test_json_depth_is_counted_without_decoding_and_ignores_brackets_in_strings() -> None:
    assert json_depth('{"a": [1, {"b": "[[[[{{{{"}]}') == 3
    assert json_depth("[" * 5000 + "]" * 5000) == 5000
    assert json_depth('"just text"') == 0
