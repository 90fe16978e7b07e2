"""Parameter estimation: recover known kinetic constants from noisy simulated data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from phactory.process import Experiment, estimate_parameters, get_model

TRUE = {"k_app": 4.34, "k_ac": 1.2e6}
NOISE = {"rna_yield": 0.03, "ph": 0.005}  # measurement standard deviations [g/L], [-]


def _experiments(seed: int) -> list[Experiment]:
    model = get_model("ivt")
    rng = np.random.default_rng(seed)
    times = np.linspace(0.5, 6.0, 12)
    runs = []
    for mg in (0.04, 0.075, 0.12):
        clean = model.simulate({"mg_total": mg, **TRUE}, times=times).timeseries
        noisy = pd.DataFrame(
            {c: clean[c] + NOISE[c] * rng.standard_normal(len(clean)) for c in NOISE},
            index=clean.index,
        )
        runs.append(Experiment({"mg_total": mg}, noisy))
    return runs


def test_recovers_known_parameters_with_confidence_intervals() -> None:
    model = get_model("ivt")
    res = estimate_parameters(
        model,
        _experiments(seed=7),
        ["k_app", "k_ac"],
        initial={"k_app": 2.5, "k_ac": 3.0e6},
        sigma=NOISE,
    )
    assert res.success
    for name, true in TRUE.items():
        lo, hi = res.conf_int.loc[name, "lower"], res.conf_int.loc[name, "upper"]
        assert lo < true < hi, (name, lo, true, hi)
        assert res.estimates[name] == pytest.approx(true, rel=0.1)
        assert res.std_errors[name] > 0
    # Weighted by the true noise, the residual standard deviation is about one.
    assert 0.7 < res.residual_std < 1.3
    corr = res.correlation.to_numpy()
    np.testing.assert_allclose(np.diag(corr), 1.0)
    np.testing.assert_allclose(corr, corr.T)
    assert np.all(np.abs(corr) <= 1.0 + 1e-12)
    assert res.dof == res.n_observations - 2 == 3 * 12 * 2 - 2
    assert list(res.summary().columns) == [
        "estimate",
        "std_error",
        "lower",
        "upper",
        "rel_std_error",
    ]


def test_reproducible_from_the_seed() -> None:
    model = get_model("ivt")
    a = estimate_parameters(model, _experiments(3), ["k_app"], sigma=NOISE)
    b = estimate_parameters(model, _experiments(3), ["k_app"], sigma=NOISE)
    assert a.estimates["k_app"] == b.estimates["k_app"]


def test_rejects_unknown_parameters_and_columns() -> None:
    model = get_model("ivt")
    data = pd.DataFrame({"rna_yield": [1.0, 2.0, 3.0]}, index=[1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="unknown parameter"):
        estimate_parameters(model, data, ["nope"])
    with pytest.raises(ValueError, match="not variables"):
        estimate_parameters(model, data.rename(columns={"rna_yield": "titer"}), ["k_app"])
    with pytest.raises(ValueError, match="observations"):
        estimate_parameters(model, data.iloc[:1], ["k_app", "k_ac"])
