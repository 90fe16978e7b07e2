"""Spectral preprocessing: worked examples and invariants of each step, pipeline parsing."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from phactory.errors import InvalidError
from phactory.monitor.softsensor.preprocess import Pipeline, parse_pipeline

finite = st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.lists(finite, min_size=8, max_size=8), min_size=1, max_size=5))
def test_snv_rows_have_mean_zero_and_sd_one(rows: list[list[float]]) -> None:
    x = np.array(rows)
    out = parse_pipeline("snv").fit_transform(x)
    spread = x.std(axis=1, ddof=1)
    varied = spread > 1e-6 * (1 + np.abs(x).max(axis=1))
    assert np.allclose(out.mean(axis=1), 0.0, atol=1e-9)
    assert np.allclose(out[varied].std(axis=1, ddof=1), 1.0)
    # A flat spectrum is only centred (no division by zero in a stream).
    assert np.all(np.isfinite(out))


def test_snv_worked_example() -> None:
    # mean 2.5, sd (ddof=1) sqrt(5/3)
    out = parse_pipeline("snv").fit_transform(np.array([[1.0, 2.0, 3.0, 4.0]]))
    assert np.allclose(out, (np.array([1, 2, 3, 4]) - 2.5) / np.sqrt(5 / 3))


@settings(max_examples=40, deadline=None)
@given(st.floats(0.2, 5.0), st.floats(-10.0, 10.0))
def test_msc_of_a_scaled_and_offset_reference_is_the_reference(b: float, a: float) -> None:
    rng = np.random.default_rng(1)
    train = rng.uniform(0.5, 2.0, size=(6, 30))
    pipe = parse_pipeline("msc").fit(train)
    reference = train.mean(axis=0)
    assert pipe.steps[0].reference is not None
    assert np.array_equal(pipe.steps[0].reference, reference)
    out = pipe.transform((a + b * reference)[None, :])
    assert np.allclose(out[0], reference, rtol=1e-9, atol=1e-9)


def test_sg_derivatives_of_polynomials() -> None:
    i = np.arange(50.0)
    line = 3.0 * i + 2.0
    parabola = 0.5 * i**2 - i + 4.0
    x = np.vstack([line, parabola])
    # First derivative of a line is its slope everywhere, edges included (mode="interp").
    assert np.allclose(parse_pipeline("sg1").fit_transform(x)[0], 3.0)
    assert np.allclose(parse_pipeline("sg1:7:3").fit_transform(x)[1], i - 1.0)
    # Second derivative of 0.5 i^2 is 1 per channel^2; of a line, 0.
    d2 = parse_pipeline("sg2:9:2").fit_transform(x)
    assert np.allclose(d2[0], 0.0, atol=1e-9)
    assert np.allclose(d2[1], 1.0)
    # Smoothing keeps a polynomial of degree <= polyorder unchanged.
    assert np.allclose(parse_pipeline("sg:11:2").fit_transform(x), x)


def test_sg_smoothing_reduces_noise() -> None:
    rng = np.random.default_rng(0)
    clean = np.sin(np.linspace(0, 3, 300))[None, :]
    noisy = clean + rng.normal(0, 0.05, size=clean.shape)
    smooth = parse_pipeline("sg:15:2").fit_transform(noisy)
    assert np.std(smooth - clean) < 0.5 * np.std(noisy - clean)


def test_centring_and_autoscaling_use_the_training_statistics() -> None:
    train = np.array([[1.0, 10.0, 5.0], [3.0, 30.0, 5.0]])
    new = np.array([[2.0, 0.0, 6.0]])
    centre = parse_pipeline("center").fit(train)
    assert np.array_equal(centre.transform(new), [[0.0, -20.0, 1.0]])
    auto = parse_pipeline("autoscale").fit(train)
    # sd (ddof=1) of [1, 3] is sqrt(2); of [10, 30] 10 sqrt(2); a constant column keeps 1.
    assert np.allclose(auto.transform(new), [[0.0, -20.0 / (10 * np.sqrt(2)), 1.0]])


def test_pipeline_applies_left_to_right_and_reads_aliases() -> None:
    pipe = parse_pipeline(" SNV , sg1:15:3, centre ")
    assert pipe.spec == "snv,sg1:15:3,center"
    assert parse_pipeline("").spec == parse_pipeline("none").spec == "none"
    assert parse_pipeline(["msc", "sg2"]).spec == "msc,sg2:11:2"


@pytest.mark.parametrize(
    ("spec", "named"),
    [
        ("snv,foo", "'foo' is unknown"),
        ("sg1:10", "'sg1:10': the window must be odd"),
        ("sg2:11:1", "'sg2:11:1': a derivative of order 2 needs a polynomial order of at least 2"),
        ("sg:5:5", "'sg:5:5': the polynomial order must be below the window"),
        ("sg1:x", "'sg1:x': window and polynomial order must be whole numbers"),
        ("snv:3", "'snv:3': 'snv' takes no options"),
        ("sg1:11:2:1", "'sg1:11:2:1': expected sg1[:window[:polyorder]]"),
    ],
)
def test_bad_steps_are_refused_naming_the_step(spec: str, named: str) -> None:
    with pytest.raises(InvalidError, match="preprocess step") as err:
        parse_pipeline(spec)
    assert named in str(err.value)


def test_a_window_wider_than_the_spectrum_is_refused() -> None:
    with pytest.raises(InvalidError, match=r"'sg1:11:2': window 11 is wider than the 5 columns"):
        parse_pipeline("sg1").fit(np.ones((3, 5)))


def test_fitted_state_round_trips_through_json() -> None:
    rng = np.random.default_rng(3)
    train = rng.uniform(size=(8, 40))
    pipe = parse_pipeline("msc,sg1:7:2,autoscale").fit(train)
    state = json.loads(json.dumps(pipe.to_state()))
    again = Pipeline.from_state(state, "m.json", "state.preprocess")
    new = rng.uniform(size=(3, 40))
    assert again.spec == pipe.spec
    assert np.array_equal(again.transform(new), pipe.transform(new))


def test_malformed_state_is_refused_naming_the_field() -> None:
    with pytest.raises(InvalidError, match=r"m.json: field 'state.preprocess\[0\]'.*'msc'"):
        Pipeline.from_state([{"step": "msc"}], "m.json", "state.preprocess")
    with pytest.raises(InvalidError, match=r"field 'state.preprocess\[0\]': unknown"):
        Pipeline.from_state([{"step": "wavelet"}], "m.json", "state.preprocess")
