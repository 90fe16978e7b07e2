"""Boosted trees as arrays: the NumPy walk is scikit-learn's prediction, bit for bit."""

from __future__ import annotations

import json
from collections.abc import Iterator

import numpy as np
import pytest
from sklearn.ensemble import HistGradientBoostingRegressor
from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

from phactory.monitor.modelfile import StateReader
from phactory.monitor.rul.trees import TreeEnsemble


@pytest.fixture(scope="module", autouse=True)
def _one_thread() -> Iterator[None]:
    # OpenMP threads spin while waiting: on shared CI cores one thread is faster.
    import sklearn.ensemble  # noqa: F401  (limits apply to the libraries loaded)

    with threadpool_limits(limits=1):
        yield


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(5)
    X = rng.normal(size=(3000, 6))
    y = np.sin(X[:, 0]) * 10 + X[:, 1] ** 2 + rng.normal(size=3000)
    X[rng.random(X.shape) < 0.05] = np.nan  # missing values take the learned side
    Xt = rng.normal(size=(2500, 6)) * 1.5  # beyond the training range too
    Xt[rng.random(Xt.shape) < 0.1] = np.nan
    return X, y, Xt


@pytest.mark.parametrize(
    ("loss", "extra"), [("squared_error", {}), ("quantile", {"quantile": 0.05})]
)
def test_walk_reproduces_sklearn_exactly(
    data: tuple[np.ndarray, np.ndarray, np.ndarray], loss: str, extra: dict[str, float]
) -> None:
    X, y, Xt = data
    est = HistGradientBoostingRegressor(
        loss=loss, max_iter=60, early_stopping=False, random_state=0, **extra
    ).fit(X, y)
    trees = TreeEnsemble.from_sklearn(est)
    assert trees.n_trees == 60
    assert np.array_equal(trees.predict(Xt), est.predict(Xt))
    assert np.array_equal(trees.predict(X), est.predict(X))


def test_state_round_trip_is_bit_identical(
    data: tuple[np.ndarray, np.ndarray, np.ndarray],
) -> None:
    X, y, Xt = data
    est = HistGradientBoostingRegressor(max_iter=30, early_stopping=False).fit(X, y)
    trees = TreeEnsemble.from_sklearn(est)
    text = json.dumps(trees.to_state())
    again = TreeEnsemble.from_state(StateReader(json.loads(text), "m.json"), n_features=6)
    assert np.array_equal(again.predict(Xt), trees.predict(Xt))


def test_arrays_that_are_not_trees_are_refused(
    data: tuple[np.ndarray, np.ndarray, np.ndarray],
) -> None:
    X, y, _ = data
    est = HistGradientBoostingRegressor(max_iter=3, early_stopping=False).fit(X, y)
    state = TreeEnsemble.from_sklearn(est).to_state()
    with pytest.raises(ValueError, match="feature outside"):
        TreeEnsemble.from_state(StateReader(state, "m.json"), n_features=2)
    cyclic = json.loads(json.dumps(state))
    cyclic["left"]["data"][0] = 0  # the root pointing at itself would never end a walk
    with pytest.raises(ValueError, match="outside its own tree"):
        TreeEnsemble.from_state(StateReader(cyclic, "m.json"), n_features=6)


def test_non_identity_link_is_refused(data: tuple[np.ndarray, np.ndarray, np.ndarray]) -> None:
    X, y, _ = data
    est = HistGradientBoostingRegressor(loss="poisson", max_iter=3).fit(X, np.abs(y))
    with pytest.raises(ValueError, match="non-identity link"):
        TreeEnsemble.from_sklearn(est)
