"""Nominal limits of smoothed (EWMA) MSPC statistics, set on held-out training rows.

Without validation data, the limits of a smoothed model are moments of its statistics;
on the rows the model was fitted on those are optimistic. On the Tennessee Eastman
process (``benchmarks/monitoring_tep.py``) the in-sample limits of ``innovation`` alarmed
on 98 % of fresh normal rows; the held-out ones on 0.7-2 %.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from phactory.monitor.datasets.continuous import ContinuousProcess
from phactory.monitor.limits import moment_limit
from phactory.monitor.mspc import MspcModel

TARGET = 0.01
#: Twice the target: the 1 % quantile of autocorrelated statistics set on 2,000 rows is
#: uncertain (see FAR_BOUND in test_mspc.py).
FAR_BOUND = 0.02


@dataclass(frozen=True)
class Data:
    names: list[str]
    train: np.ndarray
    fresh: np.ndarray


@pytest.fixture(scope="module")
def data() -> Data:
    process = ContinuousProcess.make(n_variables=20, n_latent=4, seed=3)
    names = list(process.names)
    train = process.simulate(2000, seed=1)[0][names].to_numpy()
    fresh = process.simulate(20_000, seed=3)[0][names].to_numpy()
    return Data(names, train, fresh)


def _far(model: MspcModel, X: np.ndarray, t2_limit: float, spe_limit: float) -> float:
    t2, spe, _, _ = model._statistics(X)
    ok = np.isfinite(t2)
    return float(((t2[ok] > t2_limit) | (spe[ok] > spe_limit)).mean())


def test_smoothed_limits_without_validation_hold_on_fresh_data(data: Data) -> None:
    model = MspcModel("innovation", target_far=TARGET).fit(data.train, data.names)
    assert model.ewma_ < 1.0 and model.calibrated_on_ == "held-out"
    s = model.score(data.fresh)
    held_out = float(s.alarm[np.isfinite(s.t2)].mean())
    # What the moments of the training rows' own statistics would give.
    t2, spe, _, _ = model._statistics(data.train)
    in_sample = _far(model, data.fresh, moment_limit(t2, TARGET), moment_limit(spe, TARGET))
    assert held_out < FAR_BOUND < in_sample, (held_out, in_sample)


def test_unsmoothed_limits_are_still_the_theoretical_ones(data: Data) -> None:
    from phactory.monitor.limits import spe_limit, t2_limit

    model = MspcModel("pca", target_far=TARGET).fit(data.train, data.names)
    assert model.t2_nominal_ == t2_limit(model.n_components_, len(data.train), TARGET)
    assert model.spe_nominal_ == spe_limit(model.projection_.residual_eigenvalues, TARGET, "box")


# scikit-learn's PLS says so on the cross-validation folds of this made-up quality.
@pytest.mark.filterwarnings("ignore:y residual is constant")
def test_blocks_that_cannot_be_fitted_fall_back_to_the_training_rows(data: Data) -> None:
    # The quality variable varies only in the last fifth of the rows: the models fitted
    # without that block have a constant one and cannot be fitted.
    X = data.train[:1000]
    y = np.zeros((1000, 1))
    y[800:, 0] = np.sin(np.arange(200) / 7.0)
    model = MspcModel("pls", y_variables=["q"], ewma=0.2).fit(X, data.names, Y=y)
    t2, spe, _, _ = model._statistics(X)
    assert model.t2_nominal_ == moment_limit(t2, TARGET)
    assert model.spe_nominal_ == moment_limit(spe, TARGET)
