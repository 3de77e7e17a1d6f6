"""An untyped event's payload as the machine reads it: plain JSON, a new dict, bad values refused."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from orderflow.errors import InvalidEventError
from orderflow.service.identity import json_payload

SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(), st.text(max_size=8),
    st.floats(allow_nan=True, allow_infinity=True),
    st.decimals(allow_nan=False, allow_infinity=False, places=2),
    st.datetimes(timezones=st.just(UTC)),
)  # fmt: skip


def as_json(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    return value


@given(st.dictionaries(st.text(max_size=6), SCALARS, max_size=5))
def test_a_flat_payload_comes_back_as_a_new_dict_of_json_values(payload: dict[str, Any]) -> None:
    data = {"type": "PING", **payload}
    if any(isinstance(v, float) and not math.isfinite(v) for v in data.values()):
        with pytest.raises(InvalidEventError):
            json_payload(data)
        return
    plain = json_payload(data)
    assert plain == {key: as_json(value) for key, value in data.items()}
    assert plain is not data
    plain["added"] = 1
    assert "added" not in data


def test_a_key_that_is_not_text_is_refused_even_in_a_flat_payload() -> None:
    with pytest.raises(InvalidEventError, match="not text"):
        json_payload({"type": "PING", 3: "x"})
