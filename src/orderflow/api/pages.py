"""The inspector's pages, rendered from plain data: no templates, no JavaScript, everything escaped.

Each function returns :class:`~orderflow.api.markup.Markup`; values reach the
page only through :func:`~orderflow.api.markup.tag` and friends, which
escape them.  The one piece of markup taken as is, Graphviz's SVG, comes
from the machine definition (state and event names), never from a record.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote

from orderflow.api.markup import Markup, join, tag
from orderflow.api.queries import ActorEventOption, ChildActor, Workflow
from orderflow.api.records import RecordSummary, state_text
from orderflow.export.model import DiagramState
from orderflow.service import Principal
from orderflow.service.queries import (
    LogEntry,
    PendingInvocation,
    PendingTimer,
    RequestedOverride,
)

STYLE = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 0; color: #1d232a; background: #f6f7f9; }
header { display: flex; gap: 1rem; align-items: center; padding: .6rem 1.2rem; background: #1d2733; color: #fff; }
header a { color: #fff; text-decoration: none; font-weight: 600; }
header .who { margin-left: auto; font-size: 13px; }
header form { display: inline; }
main { padding: 1rem 1.2rem; max-width: 1200px; }
section { background: #fff; border: 1px solid #dde1e6; border-radius: 6px; padding: .8rem 1rem; margin: 0 0 1rem; }
h1 { font-size: 20px; margin: .2rem 0 .8rem; } h2 { font-size: 16px; margin: 0 0 .6rem; }
table { border-collapse: collapse; width: 100%; } th, td { text-align: left; padding: .3rem .5rem; border-bottom: 1px solid #eceff2; vertical-align: top; }
th { font-weight: 600; color: #4a5561; }
pre { background: #f1f3f5; padding: .6rem; overflow: auto; margin: 0; }
code { background: #f1f3f5; padding: 0 .2rem; }
.flash { padding: .6rem 1rem; border-radius: 6px; margin-bottom: 1rem; }
.flash.ok { background: #e3f6e8; border: 1px solid #9bd3a9; } .flash.error { background: #fde8e8; border: 1px solid #ef9a9a; }
.muted { color: #6b7682; } .refusal { color: #a12626; }
.state-tree li.active > span { background: #ffe08a; border: 2px solid #b8860b; border-radius: 4px; padding: 0 .3rem; font-weight: 600; }
.diagram { overflow: auto; } .diagram svg { max-width: 100%; height: auto; }
button { font: inherit; padding: .25rem .7rem; border-radius: 4px; border: 1px solid #5470a6; background: #e8eefb; cursor: pointer; }
button:disabled { border-color: #c5cad1; background: #f1f3f5; color: #8a939c; cursor: not-allowed; }
textarea { font: 12px monospace; width: 22rem; height: 3.2rem; } input[type=text] { font: inherit; }
.badge { display: inline-block; padding: 0 .4rem; border-radius: 4px; background: #e8eefb; font-size: 12px; }
.actors, .actors ul { list-style: none; padding-left: 1.2rem; margin: .2rem 0; } .actors { padding-left: 0; }
.actors li { margin: .25rem 0; } .actors .status-done { background: #e3f6e8; } .actors .status-error { background: #fde8e8; }
"""


@dataclass(frozen=True)
class Flash:
    """A one-line outcome shown at the top of a page."""

    ok: bool
    text: str


@dataclass(frozen=True)
class RecordPage:
    """Everything the record page shows, read in one go."""

    flow: Workflow
    options: Sequence[ActorEventOption]
    log: Sequence[LogEntry]
    timers: Sequence[PendingTimer]
    overrides: Sequence[RequestedOverride]
    diagram_format: str | None
    diagram: str | None
    tree: DiagramState
    mermaid: str
    #: the record's child actors, nested (``queries.child_actors``)
    children: Sequence[ChildActor] = ()
    #: the function actors it waits for (``queries.awaited_invocations``)
    invocations: Sequence[ChildActor] = ()
    #: their durable rows: state, attempts, due time, last error (``queries.pending_invocations``)
    durable: Sequence[PendingInvocation] = ()


def layout(title: str, body: Markup, *, actor: Principal | None = None, csrf: str = "") -> Markup:
    who = Markup("")
    if actor is not None:
        who = tag(
            '<span class="who">signed in as <strong>{label}</strong> <span class="muted">({id}; '
            "{permissions})</span> "
            '<form method="post" action="/logout"><input type="hidden" name="csrf" value="{csrf}">'
            '<button type="submit">Sign out</button></form></span>',
            label=actor.label or actor.id, id=actor.id,
            permissions=", ".join(sorted(actor.permissions)) or "no permissions", csrf=csrf,
        )  # fmt: skip
    return tag(
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        "<title>{title} · orderflow</title><style>{style}</style></head>"
        '<body><header><a href="/">orderflow inspector</a>{who}</header><main>{body}</main></body></html>',
        title=title, style=Markup(STYLE), who=who, body=body,
    )  # fmt: skip


def login_page(message: str | None = None) -> Markup:
    problem = tag('<div class="flash error">{message}</div>', message=message) if message else ""
    body = tag(
        "<h1>Sign in</h1>{problem}<section>"
        '<form method="post" action="/login"><p><label for="token">Your orderflow token</label></p>'
        '<p><textarea id="token" name="token" required autocomplete="off" '
        'style="width: 40rem; height: 5rem"></textarea></p>'
        '<p><button type="submit">Sign in</button></p></form>'
        '<p class="muted">Tokens are issued with <code>orderflow token</code> or '
        "<code>orderflow.api.issue_token</code>; the page keeps yours in an HttpOnly cookie.</p>"
        "</section>",
        problem=problem,
    )
    return layout("Sign in", body)


def index_page(
    summaries: Sequence[RecordSummary],
    *,
    actor: Principal,
    csrf: str,
    machines: Iterable[str],
    machine: str | None,
    state: str | None,
    limit: int,
) -> Markup:
    options = join(
        tag(
            '<option value="{m}"{selected}>{m}</option>',
            m=m,
            selected=Markup(" selected") if m == machine else "",
        )
        for m in machines
    )
    search = tag(
        '<section><form method="get" action="/">'
        '<label>Machine <select name="machine"><option value="">all</option>{options}</select></label> '
        '<label>State <input type="text" name="state" value="{state}" placeholder="processing.credit_hold"></label> '
        '<button type="submit">Filter</button></form>'
        '<p class="muted">The newest {limit} matching records of each record type.</p></section>',
        options=options, state=state or "", limit=limit,
    )  # fmt: skip
    groups: dict[str, dict[str, list[RecordSummary]]] = {}
    for summary in summaries:
        groups.setdefault(summary.machine, {}).setdefault(summary.state, []).append(summary)
    sections = []
    for machine_id in sorted(groups):
        rows = []
        for state_name in sorted(groups[machine_id]):
            records = groups[machine_id][state_name]
            links = join((_record_link(r) for r in records), ", ")
            rows.append(
                tag(
                    "<tr><td><code>{state}</code></td><td>{count}</td><td>{links}</td></tr>",
                    state=state_name,
                    count=len(records),
                    links=links,
                )
            )
        sections.append(
            tag(
                '<section class="machine" data-machine="{m}"><h2>{m}</h2><table>'
                "<tr><th>State</th><th>Records</th><th></th></tr>{rows}</table></section>",
                m=machine_id,
                rows=join(rows),
            )
        )
    listing = join(sections) or Markup('<section><p class="muted">No records match.</p></section>')
    return layout("Records", tag("<h1>Records by machine and state</h1>{search}{listing}",
                                 search=search, listing=listing), actor=actor, csrf=csrf)  # fmt: skip


def record_page(
    page: RecordPage, *, actor: Principal, csrf: str, flash: Flash | None = None
) -> Markup:
    flow = page.flow
    title = flow.reference or f"{flow.record_type} {flow.record_id}"
    body = join(
        [
            tag('<p><a href="/">&larr; all records</a></p><h1>{title}</h1>', title=title),
            _flash(flash),
            _summary(flow),
            _diagram(page),
            _children(page),
            _events(page, csrf),
            _context(flow),
            _overrides(page.overrides),
            _timers(page.timers),
            _invocations(page),
            _log(page.log),
        ]
    )
    return layout(title, body, actor=actor, csrf=csrf)


def error_page(
    title: str, message: str, *, actor: Principal | None = None, csrf: str = ""
) -> Markup:
    body = tag('<h1>{title}</h1><div class="flash error">{message}</div><p><a href="/">&larr; all records</a></p>',
               title=title, message=message)  # fmt: skip
    return layout(title, body, actor=actor, csrf=csrf)


def record_path(record_type: str, record_id: str) -> str:
    return f"/records/{quote(record_type, safe='')}/{quote(record_id, safe='')}"


# -- the record page's sections ----------------------------------------------------------------


def _record_link(summary: RecordSummary) -> Markup:
    label = summary.reference or f"{summary.record_type} {summary.record_id}"
    return tag('<a href="{href}">{label}</a>',
               href=record_path(summary.record_type, summary.record_id), label=label)  # fmt: skip


def _flash(flash: Flash | None) -> Markup:
    if flash is None:
        return Markup("")
    return tag('<div class="flash {kind}" role="status">{text}</div>',
               kind="ok" if flash.ok else "error", text=flash.text)  # fmt: skip


def _summary(flow: Workflow) -> Markup:
    error = flow.snapshot.error
    why = (
        tag(' <code id="workflow-error">{json}</code>', json=json.dumps(error, sort_keys=True))
        if error is not None
        else ""
    )
    return tag(
        '<section><table class="summary">'
        "<tr><th>Record</th><td>{record_type} {record_id}</td></tr>"
        '<tr><th>Machine</th><td>{machine} <span class="muted">version {version}</span></td></tr>'
        '<tr><th>State</th><td id="state"><code>{state}</code></td></tr>'
        "<tr><th>Status</th><td>{status}{why}</td></tr>"
        "<tr><th>Workflow version</th><td>{record_version}</td></tr>"
        "</table></section>",
        record_type=flow.record_type, record_id=flow.record_id, machine=flow.machine.id,
        version=flow.machine.version if flow.machine.version is not None else "-",
        state=", ".join(flow.states), status=flow.snapshot.status, why=why,
        record_version=flow.version,
    )  # fmt: skip


def _diagram(page: RecordPage) -> Markup:
    if page.diagram_format == "svg" and page.diagram is not None:
        start = page.diagram.find("<svg")
        picture = Markup(page.diagram[start:] if start >= 0 else "")
    else:
        picture = tag('<ul class="state-tree">{tree}</ul>', tree=_tree(page.tree, root=True))
    mermaid = tag("<details><summary>Mermaid source</summary><pre>{source}</pre></details>",
                  source=page.mermaid)  # fmt: skip
    return tag('<section><h2>Diagram</h2><div class="diagram" data-format="{format}">{picture}</div>{mermaid}</section>',
               format=page.diagram_format or "tree", picture=picture, mermaid=mermaid)  # fmt: skip


def _tree(state: DiagramState, *, root: bool = False) -> Markup:
    children = join(_tree(child) for child in state.children if child.kind != "history")
    inner = tag("<ul>{children}</ul>", children=children) if children else Markup("")
    if root:
        return children
    return tag('<li class="{cls}" data-state="{id}"><span>{key}</span> <span class="muted">{kind}</span>{inner}</li>',
               cls="active" if state.active else "", id=state.id, key=state.key,
               kind="" if state.kind == "atomic" else state.kind, inner=inner)  # fmt: skip


def _events(page: RecordPage, csrf: str) -> Markup:
    if not page.options:
        return Markup(
            '<section><h2>Events</h2><p class="muted">The record takes no events now.</p></section>'
        )
    action = record_path(page.flow.record_type, page.flow.record_id) + "/events"
    rows = []
    for option in page.options:
        rows.append(
            tag(
                '<tr data-event="{event}"><td><code>{event}</code></td><td>{verdict}</td><td>{control}</td></tr>',
                event=option.event,
                verdict=_verdict(option),
                control=_event_form(option, action, csrf),
            )
        )
    return tag('<section><h2>Events</h2><table><tr><th>Event</th><th>Can you send it?</th><th></th></tr>{rows}</table></section>',
               rows=join(rows))  # fmt: skip


def _verdict(option: ActorEventOption) -> Markup:
    if option.permitted:
        targets = ", ".join(option.targets)
        return tag("yes{to}", to=f" → {targets}" if targets else "")
    if option.permitted is None:
        return Markup('<span class="muted">with a payload</span>')
    return tag('<span class="refusal">no: {why}</span>', why=option.refusal or option.reason or "")


def _event_form(option: ActorEventOption, action: str, csrf: str) -> Markup:
    disabled = Markup(" disabled") if option.permitted is False else Markup("")
    needs_input = option.needs_payload and not option.payload
    payload = json.dumps(option.payload) if option.payload else "{}"
    field_html = (
        tag(
            '<textarea name="payload" aria-label="payload of {event}">{payload}</textarea> ',
            event=option.event,
            payload=payload,
        )
        if needs_input
        else tag('<input type="hidden" name="payload" value="{payload}">', payload=payload)
    )
    return tag(
        '<form method="post" action="{action}">'
        '<input type="hidden" name="csrf" value="{csrf}">'
        '<input type="hidden" name="event" value="{event}">'
        '<input type="hidden" name="idempotency_key" value="{key}">'
        "{field}"
        '<input type="text" name="note" placeholder="note" aria-label="note for {event}"> '
        '<button type="submit" name="send" value="{event}"{disabled}>Send {event}</button></form>',
        action=action, csrf=csrf, event=option.event, key=f"inspector:{secrets.token_hex(12)}",
        field=field_html, disabled=disabled,
    )  # fmt: skip


def _children(page: RecordPage) -> Markup:
    """The record's child actors, nested: id, machine or function, src, state and status."""
    if not page.flow.machine.uses_actors:
        return Markup("")
    if not page.children:
        return Markup('<section><h2>Child actors</h2><p class="muted" id="children">'
                      "No child actor is running.</p></section>")  # fmt: skip
    return tag('<section><h2>Child actors</h2><ul class="actors" id="children">{items}</ul></section>',
               items=join(_child(child) for child in page.children))  # fmt: skip


def _child(child: ChildActor) -> Markup:
    inner = join(_child(grandchild) for grandchild in child.children)
    nested = tag("<ul>{inner}</ul>", inner=inner) if child.children else Markup("")
    kind = f"machine {child.machine}" if child.machine is not None else "function"
    state = (
        tag(' in <code class="child-state">{state}</code>', state=", ".join(child.states))
        if child.machine is not None
        else Markup("")
    )
    system = (
        tag(' <span class="muted">systemId {sid}</span>', sid=child.system_id)
        if child.system_id
        else ""
    )
    settled = join(
        tag(' <span class="muted">{label}</span> <code class="child-{label}">{json}</code>',
            label=label, json=json.dumps(value, sort_keys=True))
        for label, value in (("output", child.output), ("error", child.error))
        if value is not None
    )  # fmt: skip
    return tag(
        '<li data-child="{path}"><code>{id}</code> <span class="badge">{kind}</span> '
        '<span class="muted">src</span> <code>{src}</code>{state} '
        '<span class="badge child-status status-{status}">{status}</span>{settled}{system}'
        "{nested}</li>",
        path=child.path, id=child.id, kind=kind, src=child.src, state=state,
        status=child.status, settled=settled, system=system, nested=nested,
    )  # fmt: skip


def _invocations(page: RecordPage) -> Markup:
    """The function actors the record waits for: what its snapshot knows of each (src, input)
    and, for a durable invocation, what its row says (state, attempts, due time, last error)."""
    rows_by_path = {
        f"{row.actor_path}/{row.actor_id}" if row.actor_path else row.actor_id: row
        for row in page.durable
    }
    awaited = [(a.path, a.src, a.input) for a in page.invocations]
    awaited += [  # a row whose actor the snapshot no longer shows (its state was just left)
        (path, row.src, row.input)
        for path, row in rows_by_path.items()
        if path not in {a.path for a in page.invocations}
    ]
    if not awaited:
        return Markup("")
    rows = join(
        _invocation_row(path, src, given, rows_by_path.get(path)) for path, src, given in awaited
    )
    return tag('<section><h2>Invocations awaited</h2><table id="invocations"><tr><th>Actor</th>'
               "<th>Src</th><th>Input</th><th>State</th><th>Attempts</th><th>Due</th>"
               "<th>Last error</th></tr>{rows}</table></section>", rows=rows)  # fmt: skip


def _invocation_row(path: str, src: str, given: Any, row: PendingInvocation | None) -> Markup:
    return tag(
        '<tr data-invocation="{path}"><td><code>{path}</code></td><td><code>{src}</code></td>'
        "<td><pre>{input}</pre></td><td>{state}</td><td>{attempts}</td><td>{due}</td>"
        "<td>{error}</td></tr>",
        path=path, src=src,
        input=json.dumps(given, sort_keys=True, ensure_ascii=False, default=str),
        state="in memory" if row is None else row.state,
        attempts="" if row is None else str(row.attempts),
        due="" if row is None else _when(row.due_at),
        error="" if row is None or row.last_error is None else row.last_error,
    )  # fmt: skip


def _context(flow: Workflow) -> Markup:
    context = flow.snapshot.to_json()["context"]
    text = json.dumps(context, indent=2, sort_keys=True, ensure_ascii=False, default=str)
    return tag('<section><h2>Context</h2><pre id="context">{text}</pre></section>', text=text)


def _overrides(requests: Sequence[RequestedOverride]) -> Markup:
    if not requests:
        return Markup("")
    rows = join(
        tag(
            "<tr><td>{id}</td><td>{kind}</td><td>{status}</td><td>{reason}</td><td>{by}</td>"
            "<td>{decided}</td><td>{note}</td></tr>",
            id=r.request_key or "",
            kind=r.kind,
            status=r.status,
            reason=r.reason,
            by=r.requested_by,
            decided=r.decided_by or "",
            note=r.note,
        )
        for r in requests
    )
    return tag('<section><h2>Override requests</h2><table id="overrides"><tr><th>Request</th><th>Kind</th>'
               "<th>Status</th><th>Reason</th><th>Requested by</th><th>Decided by</th><th>Note</th></tr>"
               "{rows}</table></section>", rows=rows)  # fmt: skip


def _timers(timers: Sequence[PendingTimer]) -> Markup:
    if not timers:
        return Markup("")
    rows = join(
        tag(
            "<tr><td><code>{timer}</code></td><td><code>{event}</code></td><td>{due}</td></tr>",
            timer=t.timer_id,
            event=t.event.get("type", ""),
            due=_when(t.due_at),
        )
        for t in timers
    )
    return tag("<section><h2>Pending timers</h2><table><tr><th>Timer</th><th>Event</th><th>Due</th></tr>"
               "{rows}</table></section>", rows=rows)  # fmt: skip


def _log(log: Sequence[LogEntry]) -> Markup:
    rows = join(
        tag(
            "<tr><td>{version}</td><td>{when}</td><td><code>{event}</code></td><td><code>{source}</code> → "
            "<code>{target}</code></td><td>{actor}</td><td>{note}</td></tr>",
            version=row.record_version,
            when=_when(row.created_at),
            event=row.event,
            source=state_text(row.from_state),
            target=state_text(row.to_state),
            actor=row.actor_label or row.actor_user or "",
            note=row.note,
        )
        for row in log
    )
    return tag('<section><h2>Transition log</h2><table id="log"><tr><th>#</th><th>When</th><th>Event</th>'
               "<th>Transition</th><th>By</th><th>Note</th></tr>{rows}</table></section>", rows=rows)  # fmt: skip


def _when(moment: datetime | None) -> str:
    return "" if moment is None else moment.strftime("%Y-%m-%d %H:%M:%S")
