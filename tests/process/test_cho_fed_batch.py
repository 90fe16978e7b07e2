"""Fed-batch CHO culture: closed-form checks from Xing et al. (2010) and balances."""

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
    ts = get_model("cho_fed_batch").simulate(times=np.linspace(0.0, 1.0, 11)).timeseries
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
    assert (consumed.diff().dropna() >= -1e-6).all()  # glucose is only consumed


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
    res = model.simulate({"feed_rate": 0.0, "shift_temperature": 37.0}, times=times)
    ivcd = res.timeseries["ivcd"].iloc[-1]  # [1e6 cells d / mL] = [1e9 cells d / L]
    q_p = 30e-12  # [g / (cell d)]
    assert res.cqas["titer"] == pytest.approx(q_p * ivcd * 1e9, rel=1e-4)
