"""The restricted evaluator: what documents may compute, and the budget they compute within.

Every attack of issue 16 is refused quickly with ``ExpressionFailed`` (SCXML's
``error.execution``) before it builds its value, or with
``UnsafeExpressionError`` when the document is loaded; and within the budget
the evaluator agrees with Python.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orderflow.errors import UnsafeExpressionError
from orderflow.io.expressions import (
    MAX_CALL_DEPTH,
    MAX_INT_BITS,
    MAX_NESTING,
    MAX_SIZE,
    MAX_SOURCE,
    MAX_STEPS,
    Expression,
    ExpressionFailed,
    Script,
)


def evaluate(source: str, **names: Any) -> Any:
    return Expression(source).evaluate(dict(names))


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("(10**4096)**4096", "the power"),
        ("2 ** (2**1358 // 23973)", "the power"),  # an exponent past a float's range
        ("10**5000", "the power"),
        ("7 << 5000", "the shift"),
        ("(2**3000) * (2**3000)", "the product"),
        ("'%0500000000d' % 1", "the formatted string"),
        ("'%.500000000f' % 1.5", "the formatted string"),
        ("'%*d' % (500000000, 1)", "'*' width"),
        ("f'{1:0500000000d}'", "width or precision"),
        ("f'{1.5:.500000000f}'", "width or precision"),
        ("'a'.ljust(500000000)", "ljust"),
        ("'a'.rjust(500000000)", "rjust"),
        ("'a'.center(500000000)", "center"),
        ("'a'.zfill(500000000)", "zfill"),
        ("('\\t' * 10**6).expandtabs(1000)", "expandtabs"),
        ("('a' * 1000).replace('a', 'b' * 2000)", "replace"),
        ("'-'.join(['ab'] * 10**6)", "join"),
        ("('x' * 2).translate({120: 'y' * 10**6})", "translate"),
        ("sum([[0] * 10**6] * 100, [])", "the sum"),
        ("'x' * 10**6 + 'y'", "the concatenation"),
        ("'x' * 10**9", "the repetition"),
        ("[0] * 10**9", "the repetition"),
        ("str([[0] * 10**6] * 10**6)", "str()"),
        ("repr([[0] * 10**6] * 10**6)", "repr()"),
        ("f'{big}'", "the value's text"),
        ("range(10**9)", "range"),
        ("[x for a in range(10**6) for x in range(10**6)]", f"{MAX_STEPS} steps"),
        ("(lambda f: f(f))(lambda f: f(f))", f"more than {MAX_CALL_DEPTH} deep"),
        ("sorted([3, 1, 2], key=lambda v: (lambda f: f(f))(lambda f: f(f)))", "deep"),
    ],
)
def test_a_value_over_the_budget_is_refused_before_it_is_built(source: str, message: str) -> None:
    with pytest.raises(ExpressionFailed, match=message):
        evaluate(source, big=[[0] * 10**6] * 10**6)


@pytest.mark.parametrize(
    "source",
    [
        "-" * 5000 + "1",
        "1+" * 5000 + "1",
        "lambda: " * 2000 + "1",
        "not " * 3000 + "True",
        "x" + ".y" * 3000,
        "[" * 150 + "]" * 150,
    ],
)
def test_nesting_past_the_limit_is_refused_when_the_document_is_loaded(source: str) -> None:
    with pytest.raises(UnsafeExpressionError, match=f"nests deeper than {MAX_NESTING} levels"):
        Expression(source)


def test_a_source_past_the_length_limit_is_refused_at_load() -> None:
    with pytest.raises(UnsafeExpressionError, match=f"longer than {MAX_SOURCE} characters"):
        Expression("1" * (MAX_SOURCE + 1))
    with pytest.raises(UnsafeExpressionError, match="nests deeper"):
        Script("x = " + "-" * 5000 + "1")


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("2 ** 4000", 2**4000),
        ("'%5d|%-3s|%.2f' % (3, 'a', 1.5)", "    3|a  |1.50"),
        ("f'{3:>5}{x!r}'", "    3'y'"),
        ("'a'.ljust(5, '.')", "a...."),
        ("'-'.join(['a', 'b'])", "a-b"),
        ("'a\\tb'.expandtabs(4)", "a   b"),
        ("'abc'.replace('b', 'xx')", "axxc"),
        ("sum([[1], [2]], [])", [1, 2]),
        ("sum([1, 2, 3])", 6),
        ("str([1, 2])", "[1, 2]"),
        ("len('x' * 10**6)", MAX_SIZE),
        ("[x * x for x in range(4) if x]", [1, 4, 9]),
        ("(lambda n: n + 1)(41)", 42),
    ],
)
def test_everything_within_the_budget_still_works(source: str, expected: Any) -> None:
    assert evaluate(source, x="y") == expected


def test_a_script_is_metered_as_one_evaluation() -> None:
    names: dict[str, Any] = {"s": "ab"}
    Script("s = s * 10\nt = s.upper()").run(names)
    assert names["t"] == "AB" * 10
    with pytest.raises(ExpressionFailed, match="the concatenation"):
        Script("s = 'x' * 10**6\ns = s + s").run({})


def test_the_step_budget_is_per_evaluation_not_per_session() -> None:
    """A lambda kept in the datamodel and called again and again starts a new budget each time."""
    names: dict[str, Any] = {}
    Script("f = lambda n: [v for v in range(n)]").run(names)
    counter = Expression("len(f(400000))")
    for _ in range(4):  # 4 x 400,000 steps: more than one budget, fine one at a time
        assert counter.evaluate(names) == 400_000


_INTS = st.integers(min_value=-(10**6), max_value=10**6)
_SMALL = st.integers(min_value=0, max_value=6)


@st.composite
def arithmetic(draw: Any, depth: int = 0) -> str:
    """Random arithmetic and string expressions, some far over the budget."""
    if depth > 3 or draw(st.booleans()):
        return draw(
            st.one_of(
                _INTS.map(str),
                st.sampled_from(["'ab'", "'x'", "[1, 2]", "(1,)", "2", "10", "4096"]),
            )
        )
    left, right = draw(arithmetic(depth + 1)), draw(arithmetic(depth + 1))
    op = draw(st.sampled_from(["+", "-", "*", "**", "<<", "%", "//"]))
    return f"({left} {op} {right})"


@settings(max_examples=300, deadline=None)
@given(arithmetic())
def test_the_evaluator_agrees_with_python_or_refuses_within_the_budget(source: str) -> None:
    try:
        ours = evaluate(source)
    except ExpressionFailed as refusal:
        assert "the limit is" in str(refusal)
        return
    except (TypeError, ValueError, ZeroDivisionError, OverflowError, MemoryError) as failure:
        with pytest.raises(type(failure)):
            eval(source, {"__builtins__": {}})  # the reference, on what the budget allowed
        return
    assert ours == eval(source, {"__builtins__": {}})
    if isinstance(ours, int):
        assert ours.bit_length() <= MAX_INT_BITS + 64
    if isinstance(ours, str | list | tuple):
        assert len(ours) <= MAX_SIZE
