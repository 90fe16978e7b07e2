"""Quantities: units are parsed in one place and converted to canonical units."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from phactory.model.quantity import QuantityError, convert, format_quantity, parse_quantity


@pytest.mark.parametrize(
    ("text", "kind", "expected"),
    [
        ("14 d", "time", 336.0),
        ("90 min", "time", 1.5),
        ("2 week", "time", 336.0),
        ("2000 L", "volume", 2000.0),
        ("2 m**3", "volume", 2000.0),
        ("250 g", "mass", 0.25),
        ("0.5 MW", "power", 500.0),
        ("3.6 MJ", "energy", 1.0),
        ("37 degC", "temperature", 37.0),
        ("310.15 K", "temperature", 37.0),
        ("500 L/h", "volume_flow", 500.0),
        (0, "time", 0.0),
    ],
)
def test_parse_to_canonical_unit(text: str, kind: str, expected: float) -> None:
    assert parse_quantity(text, kind) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("value", "kind", "fragment"),
    [
        ("3 L", "time", "expected a time"),
        (3, "time", "bare number"),
        ("12 kg", "volume", "expected a volume"),
        ("fast", "time", "cannot read"),
        (True, "time", "expected a time"),
        (None, "time", "expected a time"),
        (37, "temperature", "bare number"),
        ("inf h", "time", "finite"),
    ],
)
def test_wrong_quantities_are_refused_with_what_was_expected(
    value: object, kind: str, fragment: str
) -> None:
    with pytest.raises(QuantityError, match=fragment):
        parse_quantity(value, kind)


def test_convert_between_compatible_units() -> None:
    assert convert(0.0, "degC", "K") == pytest.approx(273.15)
    with pytest.raises(QuantityError):
        convert(1.0, "L", "kg")


@given(st.floats(min_value=0, max_value=1e7, allow_nan=False))
def test_format_then_parse_round_trips(hours: float) -> None:
    assert math.isclose(
        parse_quantity(format_quantity(hours, "time"), "time"), hours, rel_tol=1e-12, abs_tol=1e-12
    )
