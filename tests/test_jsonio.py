"""One canonical JSON text for hashes, one plain-JSON output (``phactory.jsonio``)."""

from __future__ import annotations

import datetime as dt
import json
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from phactory.jsonio import canonical_hash, canonical_json, dumps, json_safe

JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=5), c, max_size=4),
    max_leaves=20,
)


@given(JSON)
def test_canonical_text_is_the_specified_serialisation(value: object) -> None:
    expected = json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=False)
    assert canonical_json(value) == expected
    assert canonical_json(value).isascii()
    assert len(canonical_hash(value)) == 64


@pytest.mark.parametrize("bad", [math.nan, math.inf, {"x": [1, -math.inf]}, {1, 2}])
def test_canonical_text_refuses_what_is_not_json(bad: object) -> None:
    with pytest.raises((ValueError, TypeError)):
        canonical_json(bad)


def _strict(text: str) -> object:
    def refuse(token: str) -> object:
        raise ValueError(f"non-standard JSON token {token}")

    return json.loads(text, parse_constant=refuse)


def test_plain_output_has_null_for_nan_and_plain_types() -> None:
    value = {
        "oee": math.nan,
        "inf": -math.inf,
        "arr": np.array([1.0, np.nan]),
        "n": np.int64(3),
        "when": dt.datetime(2027, 1, 4, 6, tzinfo=dt.UTC),
        2: "key as text",
    }
    out = _strict(dumps(value))
    assert out == {
        "oee": None,
        "inf": None,
        "arr": [1.0, None],
        "n": 3,
        "when": "2027-01-04T06:00:00+00:00",
        "2": "key as text",
    }


@given(st.recursive(st.floats() | st.text(), lambda c: st.lists(c, max_size=3), max_leaves=10))
def test_plain_output_always_parses_strictly(value: object) -> None:
    assert _strict(dumps(value)) == json_safe(value)
