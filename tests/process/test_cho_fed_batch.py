"""Fed-batch CHO culture: closed-form checks from Xing et al. (2010), balances, positivity
over the declared bounds, and the calibration to a modern platform process."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from phactory.process import get_model

# Parameter values of Xing et al. (2010), written out here (not read from the model).
MU_MAX, K_GLC, K_GLN, KI_LAC, KI_AMM = 0.029, 0.084, 0.047, 43.0, 6.51  # 1/h, mM


def test_exponential_phase_growth_rate_and_doubling_time() -> None:
    # At inoculation (37 degC, pH 7.0, no lactate, 0.5 mM ammonia, no feed, no death) the
    # published equations give mu by hand:
    g0, q0, a0 = 35.0, 6.0, 0.5
    mu = MU_MAX * g0 / (K_GLC + g0) * q0 / (K_GLN + q0) * KI_AMM / (KI_AMM + a0)
    doubling = math.log(2.0) / mu
    assert doubling == pytest.approx(26.0, abs=0.05)
    xing = {"mu_max": MU_MAX, "glucose_0": g0, "glutamine_0": q0}
    ts = get_model("cho_fed_batch").simulate(xing, times=np.linspace(0.0, 1.0, 11)).timeseries
    slope = np.polyfit(ts.index.to_numpy(), np.log(ts["vcd"].to_numpy()), 1)[0]
    # Over the first hour mu changes by well under 1 %.
    assert slope == pytest.approx(mu, rel=0.01)
    assert math.log(2.0) / slope == pytest.approx(doubling, rel=0.01)
    assert ts["growth_rate"].iloc[0] == pytest.approx(mu, rel=1e-9)


def _glucose_lactate_balance(params: dict[str, float]) -> None:
    model = get_model("cho_fed_batch")
    p = {**model.default_params(), **params}
    ts = model.simulate(params).timeseries
    v, g, lac = ts["volume"], ts["glucose"], ts["lactate"]
    fed = (v - p["initial_volume"]) * p["glucose_feed"]
    consumed = p["glucose_0"] * p["initial_volume"] + fed - g * v  # [mmol]
    yield_ = p["y_lac_glc"] * math.exp(1.0 * (p["ph_setpoint"] - 7.0))
    np.testing.assert_allclose(lac * v, yield_ * consumed, rtol=1e-5, atol=1e-3)
    # Glucose is only consumed (to the integrator's precision).
    assert (consumed.diff().dropna() >= -1e-7 * consumed.abs().max()).all()


def test_glucose_lactate_balance_closes_at_nominal() -> None:
    _glucose_lactate_balance({})


@settings(max_examples=10, deadline=None, derandomize=True)
@given(
    shift_time=st.floats(24.0, 288.0),
    shift_temperature=st.floats(30.0, 37.0),
    feed_rate=st.floats(0.0, 0.08),
    ph=st.floats(6.7, 7.3),
)
def test_glucose_lactate_balance_closes_for_any_cpps(
    shift_time: float, shift_temperature: float, feed_rate: float, ph: float
) -> None:
    _glucose_lactate_balance(
        {
            "shift_time": shift_time,
            "shift_temperature": shift_temperature,
            "feed_rate": feed_rate,
            "ph_setpoint": ph,
        }
    )


def test_temperature_shift_raises_titer_and_slows_growth() -> None:
    model = get_model("cho_fed_batch")
    shifted = model.simulate({"shift_temperature": 32.0}).timeseries
    unshifted = model.simulate({"shift_temperature": 37.0}).timeseries
    # In the day after the shift (at 120 h) growth is slower; later, the warmer culture's own
    # lactate and ammonia slow it down too, so only the first day is a clean comparison.
    after = (shifted.index > 121.0) & (shifted.index < 144.0)
    assert (shifted["growth_rate"][after] < unshifted["growth_rate"][after]).all()
    assert shifted["titer"].iloc[-1] > unshifted["titer"].iloc[-1]


def test_titer_is_specific_productivity_times_ivcd_without_feed() -> None:
    # With no feed and no temperature shift, titer = q_p * IVCD exactly (no dilution).
    model = get_model("cho_fed_batch")
    times = np.linspace(0.0, 14 * 24.0, 2001)
    res = model.simulate({"feed_rate": 0.0, "shift_temperature": 37.0, "q_p": 30.0}, times=times)
    ivcd = res.timeseries["ivcd"].iloc[-1]  # [1e6 cells d / mL] = [1e9 cells d / L]
    q_p = 30e-12  # [g / (cell d)]
    assert res.cqas["titer"] == pytest.approx(q_p * ivcd * 1e9, rel=1e-4)


# ---------------------------------------------------------------------- positivity
def test_ammonia_removal_vanishes_with_ammonia() -> None:
    # No glutamine (no ammonia formed) and no ammonia: nothing may be removed. Xing et al.'s
    # constant removal rate made q_amm = -r_amm here, and ammonia went negative.
    model = get_model("cho_fed_batch")
    p = model.default_params()
    y = [2000.0, 10.0, 30.0, 0.0, 20.0, 0.0, 1.0]
    assert model.rates(p, 37.0, y)["q_amm"] == 0.0
    # Removal approaches its maximum well above the saturation constant.
    y[5] = 100.0 * p["k_amm"]
    assert model.rates(p, 37.0, y)["q_amm"] == pytest.approx(-p["r_amm"], rel=0.011)


def test_every_state_stays_non_negative_over_a_latin_hypercube_of_the_bounds() -> None:
    # 150 points over every declared parameter at once (the check): before the fix,
    # 115 of these runs failed and 8 more went negative mid-run.
    from phactory.process.sampling import bounds_of, space_filling

    model = get_model("cho_fed_batch")
    names = model.parameter_names()
    sample = space_filling(bounds_of(model, names), 150, seed=0)
    states = [v.name for v in model.states]
    for row in sample:
        params = dict(zip(names, row.tolist(), strict=True))
        ts = model.simulate(params).timeseries  # raises if any state goes negative
        values = ts[states].to_numpy()
        scale = np.abs(values).max(axis=0)
        assert (values >= -1e-6 * scale - 1e-8).all(), params


# ---------------------------------------------------------------------- calibration
def test_default_run_is_a_modern_platform_process() -> None:
    result = get_model("cho_fed_batch").simulate()
    # Peak viable cell density 10-30e6 cells/mL and a titer of several g/L: the 3 g/L of
    # today's manufacturing platforms up to the 9-10 g/L of the best reported (Xu et al.
    # 2020, introduction); the calibration's platform reached 5 g/L.
    assert 10.0 <= result.cqas["peak_vcd"] <= 30.0
    assert 3.0 <= result.cqas["titer"] <= 10.0
    assert result.cqas["titer"] == pytest.approx(5.0, abs=0.05)
    assert result.success


def test_calibration_data_are_typed_in_with_their_sources() -> None:
    from phactory.process.models.cho_calibration import calibration_experiment, calibration_table

    table = calibration_table()
    assert set(table["kind"]) == {"condition", "observation"}
    assert table["source"].str.len().min() > 20  # every number names where it comes from
    experiment = calibration_experiment()
    assert experiment.params == {
        "seed_density": 0.6,
        "feed_rate": 0.036,
        "feed_start": 72.0,
        "shift_temperature": 37.0,
        "duration": 14.0,
    }
    assert experiment.data.loc[168.0, "vcd"] == 15.6
    assert experiment.data.loc[336.0, "titer"] == 5.0


def test_fit_to_the_published_numbers_gives_the_defaults() -> None:
    from phactory.process.models.cho_calibration import (
        FITTED,
        SIGMA,
        calibrate,
        calibration_experiment,
    )

    model = get_model("cho_fed_batch")
    fit = calibrate()
    assert fit.success
    defaults = model.default_params()
    for name in FITTED:
        # The defaults are the fit (rounded to three significant digits).
        assert defaults[name] == pytest.approx(fit.estimates[name], rel=2e-3)
        assert fit.std_errors[name] < 0.1 * fit.estimates[name]
    # Stated residuals: within a tenth of the assumed assay standard deviation.
    experiment = calibration_experiment()
    sim = model.simulate(experiment.params, times=experiment.data.index.to_numpy()).timeseries
    for column, sigma in SIGMA.items():
        observed = experiment.data[column]
        residual = (sim[column] - observed)[observed.notna()]
        assert (residual.abs() <= 0.1 * sigma).all(), residual
