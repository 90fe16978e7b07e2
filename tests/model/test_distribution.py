"""Duration distributions: quantiles agree with sampling, are monotone and bounded."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import TypeAdapter

from phactory.model import DurationSpec

SPEC = TypeAdapter(DurationSpec)

CASES = [
    "4 h",
    {"distribution": "triangular", "low": "3 h", "mode": "4 h", "high": "6 h"},
    {"distribution": "triangular", "low": "6 d", "mode": "6 d", "high": "9 d"},
    {"distribution": "uniform", "low": "1 h", "high": "5 h"},
    {"distribution": "normal", "mean": "10 h", "sd": "2 h"},
    {"distribution": "normal", "mean": "1 h", "sd": "1 h"},  # truncation at zero matters
    {"distribution": "lognormal", "mean": "3 h", "sd": "0.5 h"},
    {"distribution": "exponential", "mean": "4 h"},
]


@pytest.mark.parametrize("raw", CASES, ids=lambda c: c if isinstance(c, str) else str(c))
def test_quantiles_match_the_sampled_distribution(raw: object) -> None:
    spec = SPEC.validate_python(raw)
    rng = np.random.default_rng(7)
    draws = np.array([spec.sample(rng) for _ in range(40_000)])
    for q in (0.1, 0.5, 0.8, 0.9, 0.99):
        empirical = float(np.quantile(draws, q))
        # Within a few standard errors of an empirical quantile of 40,000 draws.
        spread = float(np.quantile(draws, 0.99) - np.quantile(draws, 0.01)) or 1.0
        assert spec.quantile(q) == pytest.approx(empirical, abs=0.02 * spread)


def test_closed_forms_by_hand() -> None:
    tri = SPEC.validate_python(
        {"distribution": "triangular", "low": "0 h", "mode": "1 h", "high": "2 h"}
    )
    assert tri.quantile(0.5) == pytest.approx(1.0)
    assert tri.quantile(0.125) == pytest.approx(0.5)  # F(x) = x^2 / 2 on [0, 1]
    uni = SPEC.validate_python({"distribution": "uniform", "low": "2 h", "high": "4 h"})
    assert uni.quantile(0.25) == pytest.approx(2.5)
    exp = SPEC.validate_python({"distribution": "exponential", "mean": "2 h"})
    assert exp.quantile(1 - math.exp(-1)) == pytest.approx(2.0)


@given(
    low=st.floats(0, 100),
    width=st.floats(0.01, 100),
    mode_at=st.floats(0, 1),
    q1=st.floats(0.001, 0.999),
    q2=st.floats(0.001, 0.999),
)
def test_triangular_quantile_is_monotone_and_inside_its_support(
    low: float, width: float, mode_at: float, q1: float, q2: float
) -> None:
    spec = SPEC.validate_python(
        {
            "distribution": "triangular",
            "low": f"{low!r} h",
            "mode": f"{low + mode_at * width!r} h",
            "high": f"{low + width!r} h",
        }
    )
    a, b = sorted((q1, q2))
    lo, hi = spec.quantile(a), spec.quantile(b)
    assert spec.low - 1e-9 <= lo <= hi + 1e-9 and hi <= spec.high + 1e-9


@pytest.mark.parametrize("q", [0.0, 1.0, -0.1, 1.5, math.nan])
def test_a_quantile_outside_0_1_is_refused(q: float) -> None:
    with pytest.raises(ValueError, match="0 < q < 1"):
        SPEC.validate_python("4 h").quantile(q)
