"""The quotation machine, path by path, through the pure core."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from orderflow.chart import Action, Machine, Snapshot
from orderflow.errors import InvalidEventError
from orderflow.orders import DAY_MS, HandoffError, Policies, load_machine, sale_input_from
from orderflow.orders.walks import NOBODY, SALES_APPROVER

START = {"quotation_id": "Q-7", "customer_id": "C-1", "currency": "EUR"}
CHAIRS = {"type": "ADD_LINE", "sku": "CHAIR", "quantity": 4, "unit_price": "120.00"}
TABLES = {"type": "ADD_LINE", "sku": "TABLE", "quantity": 10, "unit_price": "1500.00"}


def run(machine: Machine, *events: Any, start: dict[str, Any] | None = None) -> Snapshot:
    snapshot, _ = machine.initial_transition(input=start or START)
    for event in events:
        snapshot, _ = machine.transition(snapshot, event)
    return snapshot


def emitted(actions: list[Action]) -> list[str]:
    return [a.params["event"]["type"] for a in actions if a.type == "emit"]


def test_a_new_quotation_is_an_empty_draft(quotation: Machine) -> None:
    snapshot = run(quotation)
    assert snapshot.value == "draft"
    assert snapshot.has_tag("editable")
    assert snapshot.context.revision == 1
    assert snapshot.context.total == Decimal("0.00")


def test_lines_and_discount_recompute_the_totals(quotation: Machine) -> None:
    snapshot = run(
        quotation,
        CHAIRS,
        {"type": "ADD_LINE", "sku": "LAMP", "quantity": 3, "unit_price": "19.99"},
        {"type": "SET_DISCOUNT", "percent": "7.5"},
    )
    context = snapshot.context
    assert context.subtotal == Decimal("539.97")
    assert context.discount == Decimal("40.50")
    assert context.total == Decimal("499.47")
    snapshot, _ = quotation.transition(snapshot, {"type": "REMOVE_LINE", "sku": "LAMP"})
    assert (snapshot.context.subtotal, snapshot.context.total) == (
        Decimal("480.00"),
        Decimal("444.00"),
    )


def test_a_line_for_a_sku_already_quoted_is_refused_with_a_reason(quotation: Machine) -> None:
    snapshot = run(quotation, CHAIRS)
    again = {**CHAIRS, "quantity": 1}
    assert not snapshot.can(again)
    assert "already on the quotation" in str(quotation.explain(snapshot, again))
    assert "is not on the quotation" in str(
        quotation.explain(snapshot, {"type": "REMOVE_LINE", "sku": "SOFA"})
    )


def test_a_malformed_line_is_an_invalid_event(quotation: Machine) -> None:
    with pytest.raises(InvalidEventError, match="ADD_LINE"):
        run(quotation, {**CHAIRS, "quantity": 0})
    with pytest.raises(InvalidEventError, match="SET_DISCOUNT"):
        run(quotation, {"type": "SET_DISCOUNT", "percent": "120"})


def test_an_empty_quotation_cannot_be_submitted(quotation: Machine) -> None:
    snapshot = run(quotation)
    assert not snapshot.can("SUBMIT")
    assert "at least one line" in str(quotation.explain(snapshot, "SUBMIT"))


def test_within_policy_a_submitted_quotation_is_sent_at_once(quotation: Machine) -> None:
    snapshot, _ = quotation.transition(run(quotation, CHAIRS), "SUBMIT")
    assert snapshot.value == "sent"
    _, actions = quotation.transition(run(quotation, CHAIRS), "SUBMIT")
    assert [a.type for a in actions if a.type != "emit"] == ["send_to_customer", "schedule"]
    assert emitted(actions) == ["quotation.sent"]


def test_a_total_above_the_threshold_needs_approval(quotation: Machine) -> None:
    snapshot = run(quotation, TABLES)
    snapshot, actions = quotation.transition(snapshot, "SUBMIT")
    assert snapshot.value == "pending_approval"
    assert "notify_approvers" in [a.type for a in actions]
    assert emitted(actions) == ["quotation.approval_requested"]


def test_a_discount_above_the_threshold_needs_approval(quotation: Machine) -> None:
    snapshot = run(quotation, CHAIRS, {"type": "SET_DISCOUNT", "percent": "10.01"}, "SUBMIT")
    assert snapshot.value == "pending_approval"
    snapshot = run(quotation, CHAIRS, {"type": "SET_DISCOUNT", "percent": "10"}, "SUBMIT")
    assert snapshot.value == "sent"  # at the threshold is still within policy


def test_the_thresholds_are_policy() -> None:
    lenient = load_machine("quotation", policies=Policies(approval_total=Decimal("1000000")))
    assert run(lenient, TABLES, "SUBMIT").value == "sent"


def test_a_sales_approver_approves_and_the_quotation_is_sent(quotation: Machine) -> None:
    snapshot = run(quotation, TABLES, "SUBMIT")
    snapshot, actions = quotation.transition(snapshot, {"type": "APPROVE", "actor": SALES_APPROVER})
    assert snapshot.value == "sent"
    assert snapshot.context.approver == "ann"
    assert emitted(actions) == ["quotation.sent"]


def test_only_a_sales_approver_may_approve_or_reject(quotation: Machine) -> None:
    snapshot = run(quotation, TABLES, "SUBMIT")
    for event in (
        {"type": "APPROVE", "actor": NOBODY},
        {"type": "REJECT", "actor": NOBODY},
        {"type": "APPROVE"},
    ):
        assert not snapshot.can(event)
    assert "nick does not have the sales-approver role" in str(
        quotation.explain(snapshot, {"type": "APPROVE", "actor": NOBODY})
    )
    assert "names no actor" in str(quotation.explain(snapshot, "APPROVE"))


def test_a_rejection_returns_the_draft_as_the_next_revision(quotation: Machine) -> None:
    snapshot = run(quotation, TABLES, "SUBMIT")
    rejection = {"type": "REJECT", "actor": SALES_APPROVER, "reason": "margin too thin"}
    snapshot, actions = quotation.transition(snapshot, rejection)
    assert snapshot.value == "draft"
    assert snapshot.context.revision == 2
    (reason,) = snapshot.context.reasons
    assert (reason.kind, reason.text, reason.by, reason.revision) == (
        "rejected",
        "margin too thin",
        "ann",
        1,
    )
    assert emitted(actions) == ["quotation.rejected"]
    assert snapshot.context.lines  # the lines stay for the next revision


def test_accepting_a_sent_quotation_approves_it_and_hands_over_to_the_sale(
    quotation: Machine,
) -> None:
    snapshot = run(quotation, CHAIRS, {"type": "SET_DISCOUNT", "percent": "5"}, "SUBMIT")
    snapshot, actions = quotation.transition(snapshot, "ACCEPT")
    assert snapshot.value == "approved"
    assert snapshot.status == "done"
    assert snapshot.output == {"next_phase": "sale"}
    assert [a.type for a in actions] == ["cancel", "emit"]  # the validity timer stops
    assert snapshot.timers == ()
    assert sale_input_from(snapshot, sale_id="S-7") == {
        "sale_id": "S-7",
        "quotation_id": "Q-7",
        "customer_id": "C-1",
        "currency": "EUR",
        "lines": [{"sku": "CHAIR", "quantity": 4, "unit_price": "120.00"}],
        "discount_percent": "5",
        "total": "456.00",
    }


def test_only_an_approved_quotation_hands_over(quotation: Machine) -> None:
    with pytest.raises(HandoffError, match="finished in 'approved'"):
        sale_input_from(run(quotation, CHAIRS, "SUBMIT", "DECLINE"))


def test_a_declined_quotation_is_final_with_the_reason(quotation: Machine) -> None:
    snapshot = run(quotation, CHAIRS, "SUBMIT", {"type": "DECLINE", "reason": "too dear"})
    assert (snapshot.value, snapshot.status) == ("declined", "done")
    assert snapshot.context.reasons[-1].text == "too dear"


def test_a_revision_returns_a_sent_quotation_to_draft(quotation: Machine) -> None:
    snapshot = run(quotation, TABLES, "SUBMIT", {"type": "APPROVE", "actor": SALES_APPROVER})
    snapshot, _ = quotation.transition(snapshot, {"type": "REVISE", "reason": "fewer"})
    assert snapshot.value == "draft"
    assert snapshot.context.revision == 2
    assert snapshot.context.approver is None  # the next revision is approved afresh
    assert snapshot.timers == ()
    assert run(quotation, TABLES, "SUBMIT", "REVISE", "SUBMIT").value == "pending_approval"


def test_a_sent_quotation_expires_after_its_validity(quotation: Machine) -> None:
    snapshot = run(quotation, CHAIRS, "SUBMIT")
    (timer,) = snapshot.timers
    assert timer.delay == 30 * DAY_MS
    snapshot, actions = quotation.transition(snapshot, dict(timer.event))
    assert (snapshot.value, snapshot.status) == ("expired", "done")
    assert emitted(actions) == ["quotation.expired"]


def test_a_quotation_may_carry_its_own_validity(quotation: Machine) -> None:
    snapshot = run(quotation, CHAIRS, "SUBMIT", start={**START, "validity_ms": 3 * DAY_MS})
    assert snapshot.timers[0].delay == 3 * DAY_MS


@pytest.mark.parametrize(
    "events",
    [(), (TABLES, "SUBMIT"), (CHAIRS, "SUBMIT")],
    ids=["draft", "pending_approval", "sent"],
)
def test_cancel_ends_any_open_quotation(quotation: Machine, events: tuple[Any, ...]) -> None:
    snapshot = run(quotation, *events)
    snapshot, actions = quotation.transition(snapshot, {"type": "CANCEL", "reason": "gone"})
    assert (snapshot.value, snapshot.status) == ("cancelled", "done")
    assert snapshot.timers == ()
    assert emitted(actions) == ["quotation.cancelled"]
    assert snapshot.context.reasons[-1].kind == "cancelled"


def test_a_finished_quotation_ignores_cancel(quotation: Machine) -> None:
    snapshot = run(quotation, CHAIRS, "SUBMIT", "ACCEPT")
    assert quotation.transition(snapshot, "CANCEL") == (snapshot, [])


def test_a_quotation_survives_persistence_mid_flow(quotation: Machine) -> None:
    snapshot = run(quotation, CHAIRS, {"type": "SET_DISCOUNT", "percent": "2.5"}, "SUBMIT")
    restored = quotation.resolve_snapshot(snapshot.to_json())
    assert restored == snapshot
    assert quotation.transition(restored, "ACCEPT")[0].value == "approved"
