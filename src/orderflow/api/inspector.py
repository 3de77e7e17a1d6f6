"""The inspector: server-rendered pages over the same queries and mutations as the GraphQL API.

    GET  /                                   records by machine and state (filter: ?machine=&state=)
    GET  /records/<type>/<id>                one record: diagram, child actors, events you may
                                             send, context, timers, awaited invocations, log
    POST /records/<type>/<id>/events         send one of them (a form; answers 303 back to the record)
    GET  /login, POST /login, POST /logout   the token cookie

Who is asking is decided by the app's authenticator; with the default one,
the sign-in form stores the pasted token in an HttpOnly, SameSite=Strict
cookie.  Forms that change something are guarded three ways against
cross-site requests: the cookie is never sent cross-site, a present
``Origin`` must be this host, and every form carries a token derived from
the actor and a server key (HMAC) that another site cannot compute.
Pages carry a Content-Security-Policy without scripts at all.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from urllib.parse import urlsplit

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from orderflow.api import mutations, queries
from orderflow.api.context import Authenticator, authenticate
from orderflow.api.errors import ApiError, api_error
from orderflow.api.markup import Markup
from orderflow.api.pages import (
    Flash,
    RecordPage,
    error_page,
    index_page,
    login_page,
    record_page,
    record_path,
)
from orderflow.api.records import RecordTypes, state_text
from orderflow.api.tokens import TOKEN_COOKIE
from orderflow.errors import ExportError, OrderflowError
from orderflow.service import Principal, TransitionResult, WorkflowService

FLASH_COOKIE = "orderflow_flash"
#: records listed per record type on the index page
LIST_LIMIT = 100

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",  # "no-referrer" would make browsers send Origin: null
    "Cache-Control": "no-store",
}

_STATUS = {"UNAUTHENTICATED": 401, "FORBIDDEN": 403, "NOT_FOUND": 404, "STALE_RECORD": 409}


class Inspector:
    """The inspector's routes, bound to one service, its record types and an authenticator."""

    def __init__(
        self,
        service: WorkflowService,
        records: RecordTypes,
        authenticator: Authenticator,
        form_key: bytes,
    ) -> None:
        self.service = service
        self.records = records
        self.authenticator = authenticator
        self._form_key = form_key

    def routes(self) -> list[Route]:
        return [
            Route("/", self.index, methods=["GET"]),
            Route("/login", self.login, methods=["GET", "POST"]),
            Route("/logout", self.logout, methods=["POST"]),
            Route("/records/{record_type}/{record_id}", self.record, methods=["GET"]),
            Route("/records/{record_type}/{record_id}/events", self.send, methods=["POST"]),
        ]

    # -- pages -------------------------------------------------------------------------------

    async def index(self, request: Request) -> Response:
        actor = await self._actor_or_sign_in(request)
        if isinstance(actor, Response):
            return actor
        machine = request.query_params.get("machine") or None
        state = request.query_params.get("state") or None
        summaries = await run_in_threadpool(
            self.records.summaries,
            self.service.session_factory,
            machine=machine,
            state=state,
            limit=LIST_LIMIT,
        )
        return _html(
            index_page(
                summaries,
                actor=actor,
                csrf=self._form_token(actor),
                machines=sorted(self.service.machines),
                machine=machine,
                state=state,
                limit=LIST_LIMIT,
            )
        )

    async def record(self, request: Request) -> Response:
        actor = await self._actor_or_sign_in(request)
        if isinstance(actor, Response):
            return actor
        record_type = request.path_params["record_type"]
        record_id = request.path_params["record_id"]
        flash = _read_flash(request)
        try:
            page = await run_in_threadpool(self._record_page, record_type, record_id, actor)
        except OrderflowError as exc:
            return self._error(api_error(exc), actor)
        response = _html(record_page(page, actor=actor, csrf=self._form_token(actor), flash=flash))
        if flash is not None:
            response.delete_cookie(FLASH_COOKIE, path="/")
        return response

    async def send(self, request: Request) -> Response:
        actor = await self._actor_or_sign_in(request)
        if isinstance(actor, Response):
            return actor
        form = await request.form()
        fields = {name: str(value) for name, value in form.items() if isinstance(value, str)}
        problem = self._cross_site(request, fields, actor)
        if problem is not None:
            return self._error(problem, actor)
        record_type = request.path_params["record_type"]
        record_id = request.path_params["record_id"]
        event_type = fields.get("event", "")
        try:
            result = await run_in_threadpool(
                self._send, record_type, record_id, event_type, fields.get("payload"),
                fields.get("note", ""), fields.get("idempotency_key") or None, actor,
            )  # fmt: skip
        except OrderflowError as exc:
            return await self._answer(
                record_type, record_id, actor, Flash(False, str(exc)), api_error(exc)
            )
        if not result.success:
            refusal = Flash(False, f"{event_type} was refused: {result.reason}")
            return await self._answer(record_type, record_id, actor, refusal, None, status=409)
        moved = f"{event_type}: {state_text(result.from_state)} → {state_text(result.to_state)}"
        if result.idempotent:
            moved += " (already sent with this form; nothing new was written)"
        response = RedirectResponse(record_path(record_type, record_id), status_code=303)
        _set_flash(response, request, Flash(True, moved))
        return response

    async def login(self, request: Request) -> Response:
        if request.method == "GET":
            return _html(login_page())
        if _foreign_origin(request):
            return _html(login_page("The sign-in came from another site; it was ignored."), 403)
        form = await request.form()
        token = form.get("token")
        if not isinstance(token, str) or not token.strip():
            return _html(login_page("Paste your token to sign in."), 400)
        response = RedirectResponse("/", status_code=303)
        response.set_cookie(
            TOKEN_COOKIE, token.strip(), httponly=True, samesite="strict", path="/",
            secure=request.url.scheme == "https",
        )  # fmt: skip
        return response

    async def logout(self, request: Request) -> Response:
        actor, _ = await authenticate(self.authenticator, request)
        if actor is not None:
            form = await request.form()
            fields = {name: str(value) for name, value in form.items() if isinstance(value, str)}
            problem = self._cross_site(request, fields, actor)
            if problem is not None:
                return self._error(problem, actor)
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(TOKEN_COOKIE, path="/")
        return response

    # -- work done in a thread ----------------------------------------------------------------

    def _record_page(self, record_type: str, record_id: str, actor: Principal) -> RecordPage:
        ref = self.records.ref(record_type, record_id)
        flow = queries.workflow(self.service, record_type, ref)
        try:
            diagram_format, diagram = queries.diagram(flow)
        except ExportError:  # Graphviz is installed but failed: the tree still shows the state
            diagram_format, diagram = "mermaid", None
        children = queries.child_actors(flow)
        return RecordPage(
            flow=flow,
            options=queries.event_options(self.service, flow, actor),
            log=queries.transition_log(self.service, flow, limit=100),
            timers=queries.pending_timers(self.service, flow),
            overrides=queries.override_requests(
                self.service, record_type=record_type, record_id=flow.record_id
            ),
            diagram_format=diagram_format if diagram_format == "svg" else None,
            diagram=diagram if diagram_format == "svg" else None,
            tree=queries.state_tree(flow),
            mermaid=queries.diagram(flow, "mermaid")[1],
            children=children,
            invocations=queries.awaited_invocations(children),
            durable=queries.pending_invocations(self.service, flow),
        )

    def _send(
        self,
        record_type: str,
        record_id: str,
        event_type: str,
        payload: str | None,
        note: str,
        idempotency_key: str | None,
        actor: Principal,
    ) -> TransitionResult:
        ref = self.records.ref(record_type, record_id)
        event = mutations.event_from(event_type, payload)
        return mutations.send_event(
            self.service, ref, event, actor, note=note, idempotency_key=idempotency_key
        )

    # -- answers -------------------------------------------------------------------------------

    async def _answer(
        self,
        record_type: str,
        record_id: str,
        actor: Principal,
        flash: Flash,
        error: ApiError | None,
        status: int | None = None,
    ) -> Response:
        """The record page again with what went wrong on top (no redirect: the status says it)."""
        if status is None:
            status = 400 if error is None else _STATUS.get(error.code, 400)
        try:
            page = await run_in_threadpool(self._record_page, record_type, record_id, actor)
        except OrderflowError:
            return self._error(error or ApiError(flash.text), actor)
        return _html(
            record_page(page, actor=actor, csrf=self._form_token(actor), flash=flash), status
        )

    def _error(self, error: ApiError, actor: Principal | None) -> Response:
        csrf = "" if actor is None else self._form_token(actor)
        return _html(
            error_page("Refused", str(error), actor=actor, csrf=csrf), _STATUS.get(error.code, 400)
        )

    async def _actor_or_sign_in(self, request: Request) -> Principal | Response:
        """The request's actor, or the sign-in page saying why there is none."""
        actor, why = await authenticate(self.authenticator, request)
        if actor is not None:
            return actor
        page = _html(login_page(why and f"Your token was refused: {why}"), 401)
        if why is not None:
            page.delete_cookie(TOKEN_COOKIE, path="/")
        return page

    def _form_token(self, actor: Principal) -> str:
        return hmac.new(self._form_key, f"form:{actor.id}".encode(), hashlib.sha256).hexdigest()

    def _cross_site(
        self, request: Request, fields: dict[str, str], actor: Principal
    ) -> ApiError | None:
        if _foreign_origin(request):
            return ApiError("this form was posted from another site; nothing was done", "FORBIDDEN")
        if not hmac.compare_digest(fields.get("csrf", ""), self._form_token(actor)):
            return ApiError(
                "this form does not carry your form token (stale page, or another site); "
                "reload the page and try again",
                "FORBIDDEN",
            )
        return None


def _html(markup: Markup, status: int = 200) -> HTMLResponse:
    return HTMLResponse(str(markup), status_code=status, headers=SECURITY_HEADERS)


def _foreign_origin(request: Request) -> bool:
    origin = request.headers.get("origin")
    if origin is None:
        return False
    return urlsplit(origin).netloc != request.headers.get("host", "")


def _set_flash(response: Response, request: Request, flash: Flash) -> None:
    value = base64.urlsafe_b64encode(json.dumps({"ok": flash.ok, "text": flash.text}).encode())
    response.set_cookie(
        FLASH_COOKIE, value.decode(), max_age=60, httponly=True, samesite="strict", path="/",
        secure=request.url.scheme == "https",
    )  # fmt: skip


def _read_flash(request: Request) -> Flash | None:
    raw = request.cookies.get(FLASH_COOKIE)
    if not raw:
        return None
    try:
        data = json.loads(base64.urlsafe_b64decode(raw.encode()))
        return Flash(bool(data["ok"]), str(data["text"]))
    except (ValueError, KeyError, TypeError):
        return None
