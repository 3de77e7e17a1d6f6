"""Guards: named guards with params, (bool, reason) results, stateIn, and/or/not, and explain()."""

from __future__ import annotations

from typing import Any

import orderflow

calls: list[Any] = []


def within_credit_limit(context: Any, event: Any, params: Any) -> tuple[bool, str]:
    calls.append((context, event, params))
    limit = params["limit"] if params else context["limit"]
    ok = event.amount <= limit
    return ok, f"amount {event.amount} exceeds the limit {limit}"


SALE = {
    "id": "sale",
    "initial": "open",
    "context": {"limit": 100},
    "states": {
        "open": {
            "on": {
                "PAY": [
                    {"target": "paid", "guard": "withinCreditLimit"},
                    {
                        "target": "review",
                        "guard": {"type": "withinCreditLimit", "params": {"limit": 1000}},
                    },
                ]
            }
        },
        "paid": {},
        "review": {},
    },
}


def sale_machine() -> orderflow.Machine:
    return orderflow.setup(guards={"withinCreditLimit": within_credit_limit}).create_machine(SALE)


def test_a_named_guard_lets_the_transition_through_when_it_holds() -> None:
    machine = sale_machine()
    snapshot, _ = machine.initial_transition()
    snapshot, _ = machine.transition(snapshot, {"type": "PAY", "amount": 50})
    assert snapshot.value == "paid"


def test_a_guard_receives_context_event_and_params() -> None:
    machine = sale_machine()
    snapshot, _ = machine.initial_transition()
    calls.clear()
    machine.transition(snapshot, {"type": "PAY", "amount": 500})
    assert [(context, event.data, params) for context, event, params in calls] == [
        ({"limit": 100}, {"type": "PAY", "amount": 500}, None),
        ({"limit": 100}, {"type": "PAY", "amount": 500}, {"limit": 1000}),
    ]
    assert calls[0][1] is calls[1][1]  # both guards got the one event


def test_guard_params_select_a_different_transition() -> None:
    machine = sale_machine()
    snapshot, _ = machine.initial_transition()
    snapshot, _ = machine.transition(snapshot, {"type": "PAY", "amount": 500})
    assert snapshot.value == "review"


def test_when_every_guard_blocks_nothing_changes() -> None:
    machine = sale_machine()
    snapshot, _ = machine.initial_transition()
    after, actions = machine.transition(snapshot, {"type": "PAY", "amount": 5000})
    assert after == snapshot
    assert actions == []


def test_can_is_false_when_guards_block_and_true_when_one_passes() -> None:
    machine = sale_machine()
    snapshot, _ = machine.initial_transition()
    assert snapshot.can({"type": "PAY", "amount": 5})
    assert not snapshot.can({"type": "PAY", "amount": 5000})


def test_explain_names_the_transition_that_would_fire() -> None:
    machine = sale_machine()
    snapshot, _ = machine.initial_transition()
    explanation = machine.explain(snapshot, {"type": "PAY", "amount": 50})
    assert explanation.would_transition
    assert [(c.source, c.targets, c.guard) for c in explanation.fired] == [
        ("sale.open", ("sale.paid",), "withinCreditLimit")
    ]


def test_explain_gives_the_reasons_of_the_guards_that_blocked() -> None:
    machine = sale_machine()
    snapshot, _ = machine.initial_transition()
    explanation = machine.explain(snapshot, {"type": "PAY", "amount": 5000})
    assert not explanation.would_transition
    assert [c.reason for c in explanation.blocked] == [
        "amount 5000 exceeds the limit 100",
        "amount 5000 exceeds the limit 1000",
    ]
    assert all(not c.passed for c in explanation.blocked)
    assert "amount 5000 exceeds the limit 100" in str(explanation)


def test_explain_of_a_guard_that_passes_after_one_blocked_lists_both() -> None:
    machine = sale_machine()
    snapshot, _ = machine.initial_transition()
    explanation = machine.explain(snapshot, {"type": "PAY", "amount": 500})
    assert [c.targets for c in explanation.fired] == [("sale.review",)]
    assert [c.reason for c in explanation.blocked] == ["amount 500 exceeds the limit 100"]


def test_explain_does_not_change_the_snapshot() -> None:
    machine = sale_machine()
    snapshot, _ = machine.initial_transition()
    before = snapshot.to_json()
    machine.explain(snapshot, {"type": "PAY", "amount": 50})
    assert snapshot.to_json() == before


def test_a_plain_bool_guard_that_blocks_has_a_default_reason() -> None:
    config = {
        "initial": "a",
        "states": {"a": {"on": {"GO": {"target": "b", "guard": "ready"}}}, "b": {}},
    }
    machine = orderflow.setup(guards={"ready": lambda c, e, p: False}).create_machine(config)
    snapshot, _ = machine.initial_transition()
    explanation = machine.explain(snapshot, "GO")
    assert len(explanation.blocked) == 1
    assert explanation.blocked[0].guard == "ready"
    assert "ready" in (explanation.blocked[0].reason or "")


def test_explain_of_an_event_nobody_handles_is_empty() -> None:
    machine = sale_machine()
    snapshot, _ = machine.initial_transition()
    explanation = machine.explain(snapshot, "UNKNOWN")
    assert explanation.fired == ()
    assert explanation.blocked == ()
    assert not explanation.would_transition


PARALLEL = {
    "id": "m",
    "type": "parallel",
    "states": {
        "payment": {
            "initial": "pending",
            "states": {"pending": {"on": {"PAY": "paid"}}, "paid": {}},
        },
        "shipping": {
            "initial": "waiting",
            "states": {
                "waiting": {
                    "on": {
                        "SHIP": {
                            "target": "shipped",
                            "guard": {"type": "stateIn", "state": "#m.payment.paid"},
                        },
                        "SHIP_BY_PATH": {
                            "target": "shipped",
                            "guard": {"type": "stateIn", "state": "payment.paid"},
                        },
                        "SHIP_BY_VALUE": {
                            "target": "shipped",
                            "guard": {"type": "stateIn", "state": {"payment": "paid"}},
                        },
                    }
                },
                "shipped": {},
            },
        },
    },
}


def test_state_in_guard_by_id_checks_another_region() -> None:
    machine = orderflow.create_machine(PARALLEL)
    snapshot, _ = machine.initial_transition()
    blocked, _ = machine.transition(snapshot, "SHIP")
    assert blocked.value == {"payment": "pending", "shipping": "waiting"}
    paid, _ = machine.transition(snapshot, "PAY")
    shipped, _ = machine.transition(paid, "SHIP")
    assert shipped.value == {"payment": "paid", "shipping": "shipped"}


def test_state_in_guard_accepts_a_dotted_path_and_a_state_value() -> None:
    machine = orderflow.create_machine(PARALLEL)
    snapshot, _ = machine.initial_transition()
    for event in ("SHIP_BY_PATH", "SHIP_BY_VALUE"):
        assert machine.transition(snapshot, event)[0].value == {
            "payment": "pending",
            "shipping": "waiting",
        }
    paid, _ = machine.transition(snapshot, "PAY")
    for event in ("SHIP_BY_PATH", "SHIP_BY_VALUE"):
        assert machine.transition(paid, event)[0].value == {
            "payment": "paid",
            "shipping": "shipped",
        }


def test_state_in_built_in_python_gives_the_same_guard() -> None:
    config = {
        "type": "parallel",
        "states": {
            "a": {"initial": "off", "states": {"off": {"on": {"ON": "on"}}, "on": {}}},
            "b": {
                "initial": "idle",
                "states": {
                    "idle": {"on": {"GO": {"target": "busy", "guard": orderflow.state_in("a.on")}}},
                    "busy": {},
                },
            },
        },
    }
    machine = orderflow.create_machine(config)
    snapshot, _ = machine.initial_transition()
    assert machine.transition(snapshot, "GO")[0].value == {"a": "off", "b": "idle"}
    snapshot, _ = machine.transition(snapshot, "ON")
    assert machine.transition(snapshot, "GO")[0].value == {"a": "on", "b": "busy"}


def combinator_machine(guard: Any) -> orderflow.Machine:
    config = {
        "initial": "a",
        "states": {"a": {"on": {"GO": {"target": "b", "guard": guard}}}, "b": {}},
    }
    return orderflow.setup(
        guards={"yes": lambda c, e, p: True, "no": lambda c, e, p: (False, "no says no")}
    ).create_machine(config)


def goes(guard: Any) -> bool:
    machine = combinator_machine(guard)
    snapshot, _ = machine.initial_transition()
    return bool(machine.transition(snapshot, "GO")[0].value == "b")


def test_and_guard_needs_every_guard() -> None:
    assert goes({"type": "and", "guards": ["yes", "yes"]})
    assert not goes({"type": "and", "guards": ["yes", "no"]})


def test_or_guard_needs_one_guard() -> None:
    assert goes({"type": "or", "guards": ["no", "yes"]})
    assert not goes({"type": "or", "guards": ["no", "no"]})


def test_not_guard_inverts() -> None:
    assert goes({"type": "not", "guards": ["no"]})
    assert not goes({"type": "not", "guards": ["yes"]})


def test_combinators_nest() -> None:
    assert goes(
        {
            "type": "and",
            "guards": ["yes", {"type": "or", "guards": ["no", {"type": "not", "guards": ["no"]}]}],
        }
    )
    assert not goes(
        {
            "type": "or",
            "guards": [
                {"type": "and", "guards": ["yes", "no"]},
                {"type": "not", "guards": ["yes"]},
            ],
        }
    )


def test_python_combinator_builders_match_the_json_forms() -> None:
    assert goes(orderflow.and_(["yes", orderflow.not_("no")]))
    assert not goes(orderflow.or_(["no", orderflow.not_("yes")]))


def test_a_blocked_and_guard_explains_with_the_failing_guards_reason() -> None:
    machine = combinator_machine({"type": "and", "guards": ["yes", "no"]})
    snapshot, _ = machine.initial_transition()
    explanation = machine.explain(snapshot, "GO")
    assert [c.reason for c in explanation.blocked] == ["no says no"]


def test_a_guard_on_a_parameterised_object_receives_its_params() -> None:
    seen: list[Any] = []

    def at_least(context: Any, event: Any, params: Any) -> bool:
        seen.append(params)
        return bool(event.n >= params["min"])

    config = {
        "initial": "a",
        "states": {
            "a": {
                "on": {"GO": {"target": "b", "guard": {"type": "atLeast", "params": {"min": 3}}}}
            },
            "b": {},
        },
    }
    machine = orderflow.setup(guards={"atLeast": at_least}).create_machine(config)
    snapshot, _ = machine.initial_transition()
    assert machine.transition(snapshot, {"type": "GO", "n": 2})[0].value == "a"
    assert machine.transition(snapshot, {"type": "GO", "n": 3})[0].value == "b"
    assert seen == [{"min": 3}, {"min": 3}]


def test_an_explanation_names_the_guards_passed_over_before_the_transition_that_fired() -> None:
    machine = orderflow.setup(guards={"vip": lambda c, e, p: (False, "not a VIP")}).create_machine(
        {
            "id": "m",
            "initial": "a",
            "states": {
                "a": {"on": {"GO": [{"target": "b", "guard": "vip"}, {"target": "c"}]}},
                "b": {},
                "c": {},
            },
        }
    )
    snapshot, _ = machine.initial_transition()
    text = str(machine.explain(snapshot, "GO"))
    assert text == "'GO' fires: m.a -> m.c (passed over: m.a: not a VIP)"


def test_can_and_explain_treat_a_guard_that_raises_as_blocking_with_its_error() -> None:
    machine = orderflow.setup(guards={"g": lambda c, e, p: 1 / 0}).create_machine(
        {
            "id": "x",
            "initial": "a",
            "states": {"a": {"on": {"GO": {"target": "b", "guard": "g"}}}, "b": {}},
        }
    )
    snapshot, _ = machine.initial_transition()
    assert snapshot.can("GO") is False
    explanation = machine.explain(snapshot, "GO")
    assert not explanation.would_transition
    assert explanation.blocked[0].reason == "guard raised ZeroDivisionError: division by zero"
    assert machine.transition(snapshot, "GO")[0].status == "error"
