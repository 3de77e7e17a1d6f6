"""The Starlette app over HTTP (starlette's TestClient): GraphQL at /graphql, the inspector at /.

The inspector's guarantees are tested here without a browser: pages need a
signed-in actor, every value is escaped, and a form that is not this
actor's own (no form token, another origin) or that the actor may not send
changes nothing.
"""

from __future__ import annotations

import html
import re
import warnings
from typing import Any

import pytest
from api_support import (
    ADMIN,
    CLERK,
    SECRET,
    form_fields,
    sale_awaiting_admin_override,
    sale_on_credit_hold,
    tally,
)
from starlette.requests import HTTPConnection

from orderflow.api import TOKEN_COOKIE, create_app, issue_token
from orderflow.service import Principal, WorkflowService

with warnings.catch_warnings():
    # starlette 1.x would rather drive its TestClient with the httpx2 package; httpx still works
    warnings.filterwarnings("ignore", "Using `httpx` with `starlette.testclient`")
    from starlette.testclient import TestClient

INJECTION = "<script>alert('x')</script>"


@pytest.fixture
def client(service: WorkflowService) -> TestClient:
    return TestClient(create_app(service=service, secret=SECRET), follow_redirects=False)


def signed_in(client: TestClient, actor: Principal) -> TestClient:
    response = client.post("/login", data={"token": issue_token(SECRET, actor)})
    assert response.status_code == 303 and response.headers["location"] == "/"
    return client


def post_graphql(client: TestClient, query: str, variables: dict[str, Any] | None = None,
                 token: str | None = None) -> Any:  # fmt: skip
    headers = {} if token is None else {"Authorization": f"Bearer {token}"}
    response = client.post("/graphql", json={"query": query, "variables": variables or {}},
                           headers=headers)  # fmt: skip
    assert response.status_code == 200, response.text
    return response.json()


APPROVE = """mutation($id: ID!) { approveOverride(recordType: "sale_orders", recordId: $id,
  requestId: "admin-1") { success toState } }"""


def test_graphql_over_http_acts_as_the_bearer_of_the_token(
    client: TestClient, service: WorkflowService
) -> None:
    sale = sale_awaiting_admin_override(service)
    answer = post_graphql(client, APPROVE, {"id": str(sale.id)}, issue_token(SECRET, ADMIN))
    assert answer == {"data": {"approveOverride": {"success": True, "toState": "cleared"}}}
    assert service.override_requests(sale)[0].decided_by == "u-admin"


def test_graphql_over_http_refuses_a_missing_or_forged_token_and_writes_nothing(
    client: TestClient, service: WorkflowService
) -> None:
    sale = sale_awaiting_admin_override(service)
    before = tally(service)
    missing = post_graphql(client, APPROVE, {"id": str(sale.id)})
    forged = post_graphql(client, APPROVE, {"id": str(sale.id)},
                          issue_token("some-other-secret-entirely-Zq8wX3vN", ADMIN))  # fmt: skip
    assert missing["errors"][0]["extensions"] == {"code": "UNAUTHENTICATED"}
    assert forged["errors"][0]["extensions"] == {"code": "UNAUTHENTICATED"}
    assert "not issued with this key" in forged["errors"][0]["message"]
    clerk = post_graphql(client, APPROVE, {"id": str(sale.id)}, issue_token(SECRET, CLERK))
    assert clerk["errors"][0]["extensions"] == {"code": "FORBIDDEN"}
    assert tally(service) == before


def test_graphql_takes_json_posts_only_so_no_cross_site_form_can_reach_it(
    client: TestClient, service: WorkflowService
) -> None:
    sale = sale_awaiting_admin_override(service)
    before = tally(service)
    client.cookies.set(TOKEN_COOKIE, issue_token(SECRET, ADMIN))
    as_form = client.post("/graphql", data={"query": APPROVE.replace("$id", str(sale.id))})
    as_get = client.get("/graphql", params={"query": "{ me { id } }"})
    assert as_form.status_code == 400 and as_get.status_code in (400, 404, 405)
    assert tally(service) == before


def test_an_authenticator_of_your_own_decides_who_is_calling(service: WorkflowService) -> None:
    async def from_proxy_header(connection: HTTPConnection) -> Principal | None:
        user = connection.headers.get("x-user")
        return (
            None
            if user is None
            else Principal(user, user.title(), frozenset({"sale.override.admin"}))
        )

    client = TestClient(create_app(service=service, authenticator=from_proxy_header))
    response = client.post(
        "/graphql", json={"query": "{ me { id label } }"}, headers={"X-User": "ada"}
    )
    assert response.json() == {"data": {"me": {"id": "ada", "label": "Ada"}}}
    assert client.get("/", headers={"X-User": "ada"}).status_code == 200


def test_create_app_needs_a_secret_or_an_authenticator(service: WorkflowService) -> None:
    with pytest.raises(ValueError, match="needs a secret"):
        create_app(service=service)


def test_the_inspector_asks_to_sign_in_first_and_refuses_a_bad_token(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 401 and 'action="/login"' in page.text
    client.cookies.set(TOKEN_COOKIE, "forged.token")
    refused = client.get("/")
    assert refused.status_code == 401 and "Your token was refused" in refused.text
    assert 'orderflow_token=""' in refused.headers["set-cookie"]  # the bad cookie is cleared


def test_the_inspector_lists_records_by_machine_and_state(
    client: TestClient, service: WorkflowService
) -> None:
    sale_awaiting_admin_override(service, "S-1")
    sale_on_credit_hold(service, "S-2")
    page = signed_in(client, CLERK).get("/")
    assert page.status_code == 200
    assert page.headers["content-security-policy"].startswith("default-src 'none'")
    sale_section = page.text[page.text.index('data-machine="sale"') :]
    assert "<code>admin_override_pending</code>" in sale_section
    assert "<code>processing.credit_hold</code>" in sale_section
    assert 'href="/records/sale_orders/1">S-1</a>' in sale_section
    filtered = client.get("/", params={"machine": "sale", "state": "processing"})
    assert "S-2" in filtered.text and ">S-1<" not in filtered.text


def test_every_value_from_a_record_is_escaped_on_the_page(
    client: TestClient, service: WorkflowService
) -> None:
    sale = sale_awaiting_admin_override(service, reason=INJECTION)
    service.send(sale, {"type": "CANCEL", "reason": INJECTION}, actor=ADMIN, note=INJECTION)
    signed_in(client, Principal("u-x", INJECTION, frozenset()))
    page = client.get(f"/records/sale_orders/{sale.id}")
    assert page.status_code == 200
    assert "<script>" not in page.text
    escaped = html.escape(INJECTION, quote=True)
    assert (
        page.text.count(escaped) >= 4
    )  # the actor's label, the request, the context, the log note
    listing = client.get("/", params={"state": INJECTION})
    assert "<script>" not in listing.text and escaped in listing.text


def test_an_admin_approves_from_the_record_page_and_sees_the_new_state(
    client: TestClient, service: WorkflowService
) -> None:
    sale = sale_awaiting_admin_override(service)
    path = f"/records/sale_orders/{sale.id}"
    page = signed_in(client, ADMIN).get(path)
    fields = form_fields(page.text, "ADMIN_OVERRIDE_APPROVED")
    assert fields["payload"] == '{"request_id": "admin-1"}'
    sent = client.post(path + "/events", data={**fields, "note": "approved by phone"})
    assert sent.status_code == 303 and sent.headers["location"] == path
    after = client.get(path)
    assert "ADMIN_OVERRIDE_APPROVED: admin_override_pending → cleared" in after.text
    assert '<td id="state"><code>cleared</code></td>' in after.text
    assert service.snapshot(sale).value == "cleared"
    again = client.post(path + "/events", data={**fields, "note": "approved by phone"})
    assert again.status_code == 303  # the same form twice: the idempotency key answers
    assert "already sent with this form" in client.get(path).text


def test_a_clerk_sees_why_not_and_a_forced_approval_is_refused_without_a_write(
    client: TestClient, service: WorkflowService
) -> None:
    sale = sale_awaiting_admin_override(service)
    path = f"/records/sale_orders/{sale.id}"
    page = signed_in(client, CLERK).get(path)
    assert re.search(r'value="ADMIN_OVERRIDE_APPROVED" disabled>', page.text)
    assert "may not decide admin overrides" in page.text
    before = tally(service)
    fields = form_fields(page.text, "ADMIN_OVERRIDE_APPROVED")
    refused = client.post(path + "/events", data=fields)
    assert refused.status_code == 403
    assert "Clara Clerk may not decide admin overrides" in refused.text
    assert tally(service) == before


@pytest.mark.parametrize(
    ("change", "headers"),
    [
        ({"csrf": ""}, {}),
        ({"csrf": "0" * 64}, {}),
        ({}, {"Origin": "https://evil.example"}),
    ],
    ids=["no form token", "a guessed form token", "another origin"],
)
def test_a_form_that_is_not_the_actors_own_changes_nothing(
    client: TestClient, service: WorkflowService, change: dict[str, str], headers: dict[str, str]
) -> None:
    sale = sale_awaiting_admin_override(service)
    path = f"/records/sale_orders/{sale.id}"
    fields = form_fields(signed_in(client, ADMIN).get(path).text, "ADMIN_OVERRIDE_APPROVED")
    before = tally(service)
    response = client.post(path + "/events", data={**fields, **change}, headers=headers)
    assert response.status_code == 403
    assert tally(service) == before


def test_a_form_token_belongs_to_one_actor(client: TestClient, service: WorkflowService) -> None:
    sale = sale_awaiting_admin_override(service)
    path = f"/records/sale_orders/{sale.id}"
    clerk_fields = form_fields(signed_in(client, CLERK).get(path).text, "CANCEL")
    signed_in(client, ADMIN)
    before = tally(service)
    assert client.post(path + "/events", data=clerk_fields).status_code == 403
    assert tally(service) == before


@pytest.mark.parametrize(
    ("fields", "status", "message"),
    [
        ({"event": "NO_SUCH_EVENT"}, 400, "has no transition for event"),
        ({"event": "REQUEST_CREDIT_OVERRIDE", "payload": "{not json"}, 400, "is not valid JSON"),
        (
            {"event": "SELECT_PAYMENT_METHOD", "payload": '{"method": "card"}'},
            409,
            "SELECT_PAYMENT_METHOD was refused",
        ),
    ],
)
def test_a_bad_form_shows_the_reason_and_writes_nothing(
    client: TestClient, service: WorkflowService, fields: dict[str, str], status: int, message: str
) -> None:
    sale = sale_awaiting_admin_override(service)
    path = f"/records/sale_orders/{sale.id}"
    token = form_fields(signed_in(client, ADMIN).get(path).text, "CANCEL")["csrf"]
    before = tally(service)
    response = client.post(path + "/events", data={"csrf": token, **fields})
    assert response.status_code == status and message in html.unescape(response.text)
    assert tally(service) == before


def test_an_unknown_record_page_is_not_found(client: TestClient) -> None:
    signed_in(client, CLERK)
    assert client.get("/records/sale_orders/42").status_code == 404
    assert client.get("/records/nothing/1").status_code == 400


def test_signing_out_clears_the_cookie(client: TestClient) -> None:
    page = signed_in(client, CLERK).get("/")
    token = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert token
    out = client.post("/logout", data={"csrf": token.group(1)})
    assert out.status_code == 303 and out.headers["location"] == "/login"
    assert client.get("/").status_code == 401


def test_without_graphviz_the_page_draws_the_state_tree_with_the_active_state_marked(
    client: TestClient, service: WorkflowService, monkeypatch: pytest.MonkeyPatch
) -> None:
    from orderflow.api import queries

    monkeypatch.setattr(queries, "which", lambda program: None)
    sale = sale_awaiting_admin_override(service)
    page = signed_in(client, CLERK).get(f"/records/sale_orders/{sale.id}")
    assert "<svg" not in page.text and 'data-format="tree"' in page.text
    active = re.findall(r'<li class="active" data-state="([^"]+)">', page.text)
    assert active == ["sale.admin_override_pending"]
    assert "class sale_admin_override_pending active" in html.unescape(page.text)  # Mermaid source
