"""The demo's audit table at 80 columns: state names wrap between names, never cut or split."""

from __future__ import annotations

import io
import re
from types import SimpleNamespace

from hypothesis import given
from hypothesis import strategies as st
from rich.console import Console

from orderflow.cli.audit_table import audit_table, pieces, wrap_between_names
from orderflow.cli.records import dotted

TRAIL = [
    ("sale", "118", "SELECT_PAYMENT_METHOD",
     {"processing": "awaiting_payment_method"}, {"processing": {"awaiting_payment": "unpaid"}},
     "Clara Clerk"),
    ("sale", "118", "CAPTURE", {"processing": {"awaiting_payment": "partially_paid"}},
     "cleared", "payment provider"),
    ("fulfilment", "118", "REQUEST_RETURN", "delivered", "return_requested", "Clara Clerk"),
    ("fulfilment", "118", "APPROVE_RETURN", "return_requested", "awaiting_return",
     "Wim Warehouse"),
    ("ticket", "7", "ESCALATE", {"open": {"triage": "waiting", "billing": "disputed_charge"}},
     {"open": {"triage": "escalated_to_engineering", "billing": "disputed_charge"}}, None),
]  # fmt: skip


def rendered(width: int) -> str:
    trail = [
        SimpleNamespace(record_type=t, record_id=i, event=e, from_state=f, to_state=to,
                        actor_label=by)
        for t, i, e, f, to, by in TRAIL
    ]  # fmt: skip
    console = Console(width=width, file=io.StringIO(), force_terminal=False)
    console.print(audit_table(trail, width, lambda kind, key: f"{kind}:{key}", dotted))
    return console.file.getvalue()  # type: ignore[attr-defined,no-any-return]


def test_at_80_columns_every_state_name_is_whole_and_nothing_is_cut() -> None:
    text = rendered(80)
    assert "…" not in text
    assert max(len(line) for line in text.splitlines()) <= 80
    cells = " ".join(line.split("│")[3] for line in text.splitlines() if line.count("│") == 5)
    names = {
        name
        for _, _, _, before, after, _ in TRAIL
        for value in (before, after)
        for name in re.split(r"[.{}, ]+", dotted(value))
        if name
    }
    words = set(re.split(r"[.{}, →]+", cells))
    assert names <= words  # each name appears unbroken in the from → to column
    for label in ("Clara Clerk", "payment provider", "Wim Warehouse"):
        assert all(word in text for word in label.split())


def test_a_wide_console_keeps_each_change_on_one_line() -> None:
    text = rendered(200)
    assert "processing.awaiting_payment_method → processing.awaiting_payment.unpaid" in text


def test_a_break_comes_after_a_dot_a_comma_or_around_the_arrow() -> None:
    assert wrap_between_names("processing.awaiting_payment.unpaid → cleared", 18) == (
        "processing.\nawaiting_payment.\nunpaid → cleared"
    )
    assert wrap_between_names("{a.x, b.y} → done", 6) == "{a.x,\nb.y} →\ndone"


NAME = st.from_regex(r"[a-z_]{1,12}", fullmatch=True)
VALUE = st.recursive(
    NAME, lambda inner: st.dictionaries(NAME, inner, min_size=1, max_size=3), max_leaves=6
)


@given(VALUE, VALUE, st.integers(min_value=1, max_value=60))
def test_wrapping_only_adds_line_breaks_between_names(
    before: object, after: object, width: int
) -> None:
    text = f"{dotted(before)} → {dotted(after)}"
    assert "".join(pieces(text)) == text
    wrapped = wrap_between_names(text, width)
    longest = max(len(piece.strip()) for piece in pieces(text))
    assert all(len(line) <= max(width, longest) for line in wrapped.split("\n"))
    # joined again (a break replaces at most the space it stands for), it is the same text
    assert re.sub(r"\s+", "", wrapped) == re.sub(r"\s+", "", text)
    assert set(re.split(r"[.{}, →\n]+", wrapped)) == set(re.split(r"[.{}, →]+", text))
