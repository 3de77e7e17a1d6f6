"""The sale machine, path by path, through the pure core."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from orderflow.chart import Action, Machine, Snapshot
from orderflow.errors import InvalidEventError
from orderflow.orders import (
    HandoffError,
    Policies,
    fulfilment_input_from,
    in_memory_ports,
    load_machine,
)
from orderflow.orders.walks import (
    ADMIN,
    CLERK,
    CREDIT_APPROVER,
    CREDIT_DOWN,
    CREDIT_LOW,
    CREDIT_OK,
    GOOD_CREDIT,
    NOBODY,
    SALE_START,
)

CARD = {"type": "SELECT_PAYMENT_METHOD", "method": "card"}
BANK = {"type": "SELECT_PAYMENT_METHOD", "method": "bank_transfer"}
ON_ACCOUNT = {"type": "SELECT_PAYMENT_METHOD", "method": "on_account"}
ASK_CREDIT = {"type": "REQUEST_CREDIT_OVERRIDE", "reason": "good payer", "actor": CLERK}
ASK_ADMIN = {"type": "REQUEST_ADMIN_OVERRIDE", "reason": "strategic", "actor": CLERK}


def capture(amount: str, reference: str = "PSP-1") -> dict[str, Any]:
    return {"type": "CAPTURE", "amount": amount, "reference": reference}


def run(machine: Machine, *events: Any) -> Snapshot:
    snapshot, _ = machine.initial_transition(input=SALE_START)
    for event in events:
        snapshot, _ = machine.transition(snapshot, event)
    return snapshot


def emitted(actions: list[Action]) -> list[dict[str, Any]]:
    return [a.params["event"] for a in actions if a.type == "emit"]


def test_a_new_sale_waits_for_a_payment_method(sale: Machine) -> None:
    snapshot = run(sale)
    assert snapshot.value == {"processing": "awaiting_payment_method"}
    assert snapshot.context.total == Decimal("960.00")


@pytest.mark.parametrize("method", [CARD, BANK], ids=["card", "bank_transfer"])
def test_card_and_bank_transfer_wait_for_payment(sale: Machine, method: Any) -> None:
    snapshot = run(sale, method)
    assert snapshot.matches("processing.awaiting_payment.unpaid")
    assert snapshot.context.payment_method == method["method"]


def test_captures_accumulate_until_the_total_clears_the_sale(sale: Machine) -> None:
    snapshot, actions = sale.transition(run(sale, CARD), capture("400.00", "PSP-1"))
    assert snapshot.matches("processing.awaiting_payment.partially_paid")
    assert [a.type for a in actions if a.type != "emit"] == ["book_capture"]
    assert snapshot.context.captured_total == Decimal("400.00")
    assert emitted(actions) == [
        {
            "type": "sale.payment_captured",
            "sale_id": "S-1",
            "quotation_id": "Q-1",
            "amount": "400.00",
            "reference": "PSP-1",
            "captured_total": "400.00",
            "currency": "EUR",
        }
    ]
    snapshot, actions = sale.transition(snapshot, capture("560.00", "PSP-2"))
    assert (snapshot.value, snapshot.status) == ("cleared", "done")
    assert snapshot.context.clearance.basis == "full_payment"
    assert [c.reference for c in snapshot.context.captures] == ["PSP-1", "PSP-2"]
    assert [e["type"] for e in emitted(actions)] == ["sale.payment_captured", "sale.cleared"]
    assert snapshot.output == {"next_phase": "fulfilment"}


@pytest.mark.parametrize(
    ("amount", "reason"),
    [
        ("0.00", "must be positive"),
        ("-5.00", "must be positive"),
        ("960.01", "would exceed the total"),
    ],
)
def test_a_capture_that_does_not_fit_is_refused_with_a_reason(
    sale: Machine, amount: str, reason: str
) -> None:
    snapshot = run(sale, CARD)
    assert not snapshot.can(capture(amount))
    assert reason in str(sale.explain(snapshot, capture(amount)))
    assert sale.transition(snapshot, capture(amount)) == (snapshot, [])


def test_a_capture_beyond_what_is_outstanding_is_refused(sale: Machine) -> None:
    snapshot = run(sale, CARD, capture("900.00"))
    assert "60.00 is outstanding" in str(sale.explain(snapshot, capture("61.00", "PSP-2")))


def test_the_same_capture_is_not_counted_twice(sale: Machine) -> None:
    snapshot = run(sale, CARD, capture("100.00"))
    assert "already recorded" in str(sale.explain(snapshot, capture("100.00")))


def test_a_capture_tolerance_clears_a_sale_short_by_a_rounding_difference() -> None:
    lenient = load_machine("sale", policies=Policies(capture_tolerance=Decimal("0.01")))
    assert run(lenient, CARD, capture("959.99")).value == "cleared"
    assert run(load_machine("sale"), CARD, capture("959.99")).value != "cleared"


def test_unpaid_may_switch_to_on_account_but_partially_paid_may_not(sale: Machine) -> None:
    assert run(sale, CARD, ON_ACCOUNT).matches("processing.credit_check")
    assert not run(sale, CARD, capture("1.00")).can(ON_ACCOUNT)


def test_on_account_invokes_the_credit_check_with_the_customer_and_currency(
    sale: Machine,
) -> None:
    snapshot, actions = sale.transition(run(sale), ON_ACCOUNT)
    assert snapshot.matches("processing.credit_check")
    assert [(a.type, a.params) for a in actions] == [
        (
            "start_actor",
            {
                "id": "credit_check",
                "src": "check_credit",
                "input": {"customer_id": "C-1", "currency": "EUR"},
            },
        )
    ]


def test_the_credit_check_actor_answers_the_ports_credit_snapshot() -> None:
    ports = in_memory_ports()
    ports.credit.set_profile("C-1", Decimal("5000"), open_balance=Decimal("1000"))
    check_credit = load_machine("sale", ports=ports).actor_logic("check_credit")
    answer = check_credit({"customer_id": "C-1", "currency": "EUR"})
    assert (answer.limit, answer.available) == (Decimal("5000.00"), Decimal("4000.00"))
    with pytest.raises(ValidationError):  # its input is checked, as a durable row's may be old
        check_credit({"customer_id": "", "currency": "EUR"})


def test_a_failed_credit_check_holds_the_sale_and_says_why(sale: Machine) -> None:
    snapshot = run(sale, ON_ACCOUNT, CREDIT_DOWN)
    assert snapshot.matches("processing.credit_hold")
    assert snapshot.context.credit is None
    assert snapshot.context.credit_check_error == (
        "TimeoutError: 'check_credit' gave no answer within 30s"
    )
    again = run(sale, ON_ACCOUNT, CREDIT_DOWN, ON_ACCOUNT, CREDIT_OK)  # asked again: it clears
    assert (again.value, again.context.credit_check_error) == ("cleared", None)


def test_leaving_the_credit_check_stops_it_and_its_late_answer_changes_nothing(
    sale: Machine,
) -> None:
    checking = run(sale, ON_ACCOUNT)
    cancelled, actions = sale.transition(checking, {"type": "CANCEL", "reason": "void"})
    stopped = {"id": "credit_check", "src": "check_credit"}
    assert ("stop_actor", stopped) in [(a.type, a.params) for a in actions]
    late = sale.step(cancelled, CREDIT_OK)
    assert not late.taken and late.snapshot.value == "cancelled"


def test_a_credit_answer_that_does_not_fit_is_refused(sale: Machine) -> None:
    with pytest.raises(InvalidEventError):
        sale.transition(run(sale, ON_ACCOUNT), {**CREDIT_OK, "output": {"limit": "lots"}})


def test_within_the_credit_limit_the_sale_clears(sale: Machine) -> None:
    snapshot = run(sale, ON_ACCOUNT, CREDIT_OK)
    assert snapshot.value == "cleared"
    assert snapshot.context.clearance.basis == "credit_limit"
    assert snapshot.context.credit.available == Decimal("4000.00")
    assert snapshot.context.credit.taken_at.year == 2024


def test_above_the_credit_limit_the_sale_is_on_credit_hold(sale: Machine) -> None:
    snapshot = run(sale, ON_ACCOUNT, CREDIT_LOW)
    assert snapshot.matches("processing.credit_hold")
    explanation = sale.explain(run(sale, ON_ACCOUNT), CREDIT_LOW)
    (refused,) = explanation.blocked
    assert refused.reason == "the total 960.00 is above the available credit 500.00 EUR"


def test_an_overdue_balance_holds_the_sale_whatever_the_limit(sale: Machine) -> None:
    overdue = {**CREDIT_OK, "output": {**GOOD_CREDIT, "overdue": "10.00"}}
    assert run(sale, ON_ACCOUNT, overdue).matches("processing.credit_hold")
    lenient = load_machine("sale", policies=Policies(credit_hold_when_overdue=False))
    assert run(lenient, ON_ACCOUNT, overdue).value == "cleared"


def test_credit_hold_may_pay_another_way(sale: Machine) -> None:
    snapshot = run(sale, ON_ACCOUNT, CREDIT_LOW, CARD)
    assert snapshot.matches("processing.awaiting_payment.unpaid")
    assert run(sale, ON_ACCOUNT, CREDIT_LOW, ON_ACCOUNT).matches("processing.credit_check")


def test_a_credit_override_request_opens_a_request_of_kind_credit(sale: Machine) -> None:
    snapshot, actions = sale.transition(run(sale, ON_ACCOUNT, CREDIT_LOW), ASK_CREDIT)
    assert snapshot.matches("processing.credit_override_pending")
    (request,) = snapshot.context.overrides
    assert (request.kind, request.id, request.status, request.requested_by) == (
        "credit",
        "credit-1",
        "open",
        "cleo",
    )
    assert emitted(actions)[0]["type"] == "sale.override_requested"
    assert "notify_override_approvers" in [a.type for a in actions]


def test_a_credit_approver_approving_the_open_request_clears_the_sale(sale: Machine) -> None:
    snapshot = run(sale, ON_ACCOUNT, CREDIT_LOW, ASK_CREDIT)
    approval = {
        "type": "CREDIT_OVERRIDE_APPROVED",
        "request_id": "credit-1",
        "actor": CREDIT_APPROVER,
    }
    snapshot, actions = sale.transition(snapshot, approval)
    assert snapshot.value == "cleared"
    clearance = snapshot.context.clearance
    assert (clearance.basis, clearance.by, clearance.override_id) == (
        "credit_override",
        "carl",
        "credit-1",
    )
    assert snapshot.context.overrides[0].status == "approved"
    assert [e["type"] for e in emitted(actions)] == ["sale.override_decided", "sale.cleared"]
    assert emitted(actions)[0]["status"] == "approved"


@pytest.mark.parametrize(
    ("decision", "reason"),
    [
        ({"request_id": "credit-1", "actor": ADMIN}, "ada does not have the credit-approver role"),
        ({"request_id": "credit-1"}, "names no actor"),
        ({"request_id": "credit-9", "actor": CREDIT_APPROVER}, "is credit-1, not credit-9"),
    ],
    ids=["wrong-role", "no-actor", "wrong-request"],
)
def test_a_credit_override_is_decided_only_by_a_credit_approver_on_the_open_request(
    sale: Machine, decision: dict[str, Any], reason: str
) -> None:
    snapshot = run(sale, ON_ACCOUNT, CREDIT_LOW, ASK_CREDIT)
    for kind in ("CREDIT_OVERRIDE_APPROVED", "CREDIT_OVERRIDE_REJECTED"):
        event = {"type": kind, **decision}
        assert not snapshot.can(event)
        assert reason in str(sale.explain(snapshot, event))


def test_a_rejected_credit_override_returns_to_credit_hold(sale: Machine) -> None:
    snapshot = run(sale, ON_ACCOUNT, CREDIT_LOW, ASK_CREDIT)
    rejection = {"type": "CREDIT_OVERRIDE_REJECTED", "request_id": "credit-1", "actor": CREDIT_APPROVER, "note": "no"}  # fmt: skip
    snapshot, _ = sale.transition(snapshot, rejection)
    assert snapshot.matches("processing.credit_hold")
    assert snapshot.context.overrides[0].status == "rejected"
    assert snapshot.context.overrides[0].note == "no"
    snapshot = run(sale, ON_ACCOUNT, CREDIT_LOW, ASK_CREDIT, rejection, ASK_CREDIT)
    assert snapshot.context.open_override("credit").id == "credit-2"  # a fresh request


def test_an_admin_override_may_be_requested_from_anywhere_in_processing(sale: Machine) -> None:
    for events in [(), (CARD,), (CARD, capture("1.00")), (ON_ACCOUNT,), (ON_ACCOUNT, CREDIT_LOW)]:
        snapshot, _ = sale.transition(run(sale, *events), ASK_ADMIN)
        assert snapshot.value == "admin_override_pending", events
        assert snapshot.context.open_override("admin") is not None


def test_an_admin_approves_an_admin_override(sale: Machine) -> None:
    snapshot = run(sale, CARD, capture("10.00"), ASK_ADMIN)
    approval = {"type": "ADMIN_OVERRIDE_APPROVED", "request_id": "admin-1", "actor": ADMIN}
    assert not snapshot.can({**approval, "actor": CREDIT_APPROVER})
    snapshot, _ = sale.transition(snapshot, approval)
    assert snapshot.value == "cleared"
    assert snapshot.context.clearance.basis == "admin_override"
    assert snapshot.context.captured_total == Decimal("10.00")


def test_a_rejected_admin_override_returns_to_exactly_where_the_sale_was(sale: Machine) -> None:
    rejection = {"type": "ADMIN_OVERRIDE_REJECTED", "request_id": "admin-1", "actor": ADMIN}
    snapshot = run(sale, CARD, capture("10.00"), ASK_ADMIN, rejection)
    assert snapshot.matches("processing.awaiting_payment.partially_paid")
    assert snapshot.context.captured_total == Decimal("10.00")
    snapshot = run(
        sale, ON_ACCOUNT, CREDIT_LOW, ASK_CREDIT, ASK_ADMIN, {**rejection, "request_id": "admin-2"}
    )
    assert snapshot.matches("processing.credit_override_pending")
    approval = {
        "type": "CREDIT_OVERRIDE_APPROVED",
        "request_id": "credit-1",
        "actor": CREDIT_APPROVER,
    }
    assert snapshot.can(approval)  # the credit request is still open


def test_approving_an_admin_override_withdraws_an_open_credit_request(sale: Machine) -> None:
    approval = {"type": "ADMIN_OVERRIDE_APPROVED", "request_id": "admin-2", "actor": ADMIN}
    snapshot = run(sale, ON_ACCOUNT, CREDIT_LOW, ASK_CREDIT, ASK_ADMIN, approval)
    assert [(o.id, o.status) for o in snapshot.context.overrides] == [
        ("credit-1", "withdrawn"),
        ("admin-2", "approved"),
    ]


@pytest.mark.parametrize(
    "events",
    [(), (CARD,), (CARD, capture("100.00")), (ON_ACCOUNT, CREDIT_LOW), (ASK_ADMIN,)],
    ids=["choosing", "unpaid", "partially_paid", "credit_hold", "admin_override_pending"],
)
def test_cancel_ends_the_sale_and_refunds_what_was_captured(
    sale: Machine, events: tuple[Any, ...]
) -> None:
    snapshot, actions = sale.transition(run(sale, *events), {"type": "CANCEL", "reason": "void"})
    assert (snapshot.value, snapshot.status) == ("cancelled", "done")
    assert [a.type for a in actions if a.type != "emit"] == ["refund_captures"]
    (event,) = emitted(actions)
    assert event["type"] == "sale.cancelled"
    assert event["reason"] == "void"
    assert event["refund"] == str(snapshot.context.captured_total)


def test_a_cleared_sale_hands_over_to_the_fulfilment(sale: Machine) -> None:
    snapshot = run(sale, CARD, capture("960.00"))
    assert fulfilment_input_from(snapshot, warehouse="north") == {
        "sale_id": "S-1",
        "currency": "EUR",
        "lines": SALE_START["lines"],
        "discount_percent": "0",
        "captures": [{"amount": "960.00", "reference": "PSP-1"}],  # what its refunds draw from
        "warehouse": "north",
    }
    with pytest.raises(HandoffError):
        fulfilment_input_from(run(sale, CARD))


def test_an_unknown_payment_method_is_an_invalid_event(sale: Machine) -> None:
    from orderflow.errors import InvalidEventError

    with pytest.raises(InvalidEventError, match="SELECT_PAYMENT_METHOD"):
        run(sale, {"type": "SELECT_PAYMENT_METHOD", "method": "cash"})


def test_a_sale_survives_persistence_inside_the_history(sale: Machine) -> None:
    snapshot = run(sale, CARD, capture("10.00"), ASK_ADMIN)
    restored = sale.resolve_snapshot(snapshot.to_json())
    assert restored == snapshot
    rejection = {"type": "ADMIN_OVERRIDE_REJECTED", "request_id": "admin-1", "actor": ADMIN}
    assert sale.transition(restored, rejection)[0].matches(
        "processing.awaiting_payment.partially_paid"
    )
    assert NOBODY["roles"] == ["warehouse"]
