"""Remaining useful life from run-to-failure sensor histories, with honest intervals.

:class:`RulModel` learns from *training units* that ran to failure (the last row of each
is its failure) and predicts, for units still running, the time left before failure at
their last row, with a prediction interval.

Modelling choices:

* **Target**: piecewise-linear RUL, ``min(cap, time to failure)`` [1]_: early in life
  nothing in the sensors tells a unit that will live long from one that will not, so the
  model is asked for "at least ``cap``" there instead of a number it cannot know.
* **Features** (:mod:`.features`): operating-regime normalisation when setting columns
  are named, constant columns dropped, window statistics (value, mean, slope, std) and age.
* **Point model**: gradient-boosted trees (scikit-learn's histogram gradient boosting,
  squared error, fixed number of iterations: its early stopping would hold out *rows*,
  leaking a unit into its own validation) or, as the benchmark's baseline, ridge
  regression on the same features (``method="linear"``).
* **Interval**: conformalized quantile regression [2]_ calibrated on whole held-out units
  (:mod:`.conformal`), with a margin per band of predicted RUL, for the *uncapped* time
  to failure, so that coverage is that of the true RUL. The quantile models learn from
  the remaining units; the point model from all of them. The interval is widened to
  contain the point prediction and clipped at 0 (both can only raise coverage). Ridge
  ("linear") uses a ridge fit on the uncapped target as both band edges (plain split
  conformal).

The fitted model is plain arrays (trees: :mod:`.trees`), saved as versioned JSON; a
reloaded model predicts bit-for-bit as the fitted one, because both predict from the
same arrays by the same NumPy code.

References
----------
.. [1] F. O. Heimes, "Recurrent neural networks for remaining useful life estimation",
   Proc. Int. Conf. Prognostics and Health Management (PHM), 2008.
.. [2] Y. Romano, E. Patterson, E. J. Candès, "Conformalized quantile regression",
   NeurIPS 2019.
.. [3] A. Saxena, K. Goebel, D. Simon, N. Eklund, "Damage propagation modeling for
   aircraft engine run-to-failure simulation", Proc. PHM 2008 (C-MAPSS).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Self

import numpy as np

from phactory.errors import InvalidError
from phactory.monitor.modelfile import StateReader, array_to_json
from phactory.monitor.rul.conformal import BandMargins, band_margins, conformity, grouped_split
from phactory.monitor.rul.features import (
    Regimes,
    drop_constant,
    feature_names,
    fit_regimes,
    window_features,
)
from phactory.monitor.rul.linear import RidgeModel, fit_ridge
from phactory.monitor.rul.trees import TreeEnsemble
from phactory.monitor.rul.units import Units, group_units
from phactory.monitor.table import Table

__all__ = ["METHODS", "RulModel", "RulPrediction", "RulTrajectory"]

#: Point models: gradient-boosted trees, or the ridge baseline.
METHODS = ("gbm", "linear")
#: Fewest training units: two to learn from and calibrate on, at the very least.
MIN_UNITS = 4

_Regressor = TreeEnsemble | RidgeModel


@dataclass(frozen=True)
class RulPrediction:
    """Remaining useful life of one unit at its last row [time units of the file].

    ``rul`` is capped at the model's cap (read "at least cap" there); ``lower`` and
    ``upper`` bound the true, uncapped RUL at the model's coverage (``upper`` may be
    ``inf`` when the model had too few calibration units).
    """

    unit: str
    time: float
    rul: float
    lower: float
    upper: float


@dataclass(frozen=True)
class RulTrajectory:
    """RUL of one unit at every row of its history (for trend charts)."""

    unit: str
    time: np.ndarray
    rul: np.ndarray
    lower: np.ndarray
    upper: np.ndarray


def _fit_trees(
    F: np.ndarray,
    y: np.ndarray,
    loss: str,
    quantile: float | None,
    params: Mapping[str, Any],
    n_threads: int | None,
) -> TreeEnsemble:
    from sklearn.ensemble import HistGradientBoostingRegressor
    from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

    extra = {"quantile": quantile} if quantile is not None else {}
    est = HistGradientBoostingRegressor(loss=loss, early_stopping=False, **params, **extra)
    # OpenMP threads spin while they wait: on a machine busy with other work, fewer
    # threads can be many times faster (the trees are the same whatever the count).
    with threadpool_limits(limits=n_threads, user_api="openmp"):
        return TreeEnsemble.from_sklearn(est.fit(F, y))


def _regressor_from_state(r: StateReader, n_features: int, where: str) -> _Regressor:
    kind = r.text("kind")
    try:
        if kind == "trees":
            return TreeEnsemble.from_state(r, n_features)
        if kind == "linear":
            return RidgeModel.from_state(r, n_features)
    except ValueError as exc:
        raise InvalidError(f"{where}: {exc}") from None
    raise InvalidError(f"{where}: field 'kind' must be 'trees' or 'linear', not {kind!r}")


class RulModel:
    """Remaining-useful-life model (family ``"rul"``), scikit-learn style.

    Parameters
    ----------
    cap
        Cap of the piecewise-linear target [time units]; ``None`` for none.
    window
        Rows of history in the window features.
    coverage
        Nominal coverage of the prediction intervals (0.9: 90% intervals).
    method
        ``"gbm"`` (gradient-boosted trees) or ``"linear"`` (ridge baseline).
    seed
        Seed of the unit split, k-means and the trees.
    settings
        Operating-setting columns (regime normalisation); none by default.
    n_regimes
        Number of operating regimes, or ``None`` to choose it from the settings.
    age
        Use the time since a unit's first row as a feature.
    n_estimators, learning_rate
        Boosting iterations and shrinkage of the trees.
    calibration
        Share of the training units held out to calibrate the intervals.
    n_threads
        OpenMP threads when fitting the trees (``None``: all cores); a runtime setting,
        not part of the model. The default is one: OpenMP's threads wait by spinning, and
        on a machine busy with other work all cores took 8x longer than one thread
        (146 s against 18 s wall for 100 units at load average 6 on 2 cores).
    """

    family: ClassVar[str] = "rul"
    VERSION: ClassVar[int] = 1

    variables_: tuple[str, ...]
    sensors_: tuple[str, ...]
    dropped_: tuple[str, ...]
    features_: tuple[str, ...]
    regimes_: Regimes | None
    point_: _Regressor
    lower_: _Regressor
    upper_: _Regressor
    margins_: BandMargins
    n_units_: int
    n_calibration_units_: int
    time_kind_: str

    def __init__(
        self,
        *,
        cap: float | None = 125.0,
        window: int = 30,
        coverage: float = 0.9,
        method: str = "gbm",
        seed: int = 0,
        settings: Sequence[str] = (),
        n_regimes: int | None = None,
        age: bool = True,
        n_estimators: int = 300,
        learning_rate: float = 0.05,
        calibration: float = 0.25,
        n_threads: int | None = 1,
    ) -> None:
        self.cap = cap
        self.window = window
        self.coverage = coverage
        self.method = method
        self.seed = seed
        self.settings = tuple(settings)
        self.n_regimes = n_regimes
        self.age = age
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.calibration = calibration
        self.n_threads = n_threads

    # -- parameters -------------------------------------------------------------------

    def _check_params(self) -> None:
        bad: list[str] = []
        if self.cap is not None and not (math.isfinite(self.cap) and self.cap > 0):
            bad.append(f"cap must be positive or None, got {self.cap!r}")
        if not (isinstance(self.window, int) and self.window >= 1):
            bad.append(f"window must be a whole number of rows >= 1, got {self.window!r}")
        if not 0.0 < self.coverage < 1.0:
            bad.append(f"coverage must lie in (0, 1), got {self.coverage!r}")
        if self.method not in METHODS:
            bad.append(f"method must be one of {', '.join(METHODS)}, got {self.method!r}")
        if self.n_regimes is not None and self.n_regimes < 1:
            bad.append(f"n_regimes must be >= 1, got {self.n_regimes!r}")
        if not (isinstance(self.n_estimators, int) and self.n_estimators >= 1):
            bad.append(f"n_estimators must be >= 1, got {self.n_estimators!r}")
        if not 0.0 < self.learning_rate <= 1.0:
            bad.append(f"learning_rate must lie in (0, 1], got {self.learning_rate!r}")
        if self.n_threads is not None and self.n_threads < 1:
            bad.append(f"n_threads must be >= 1 or None, got {self.n_threads!r}")
        if not 0.0 < self.calibration < 1.0:
            bad.append(f"calibration must lie in (0, 1), got {self.calibration!r}")
        if len(set(self.settings)) != len(self.settings):
            bad.append("a setting column is named twice")
        if bad:
            raise InvalidError("RUL model: " + "; ".join(bad))

    def _tree_params(self) -> dict[str, Any]:
        return {
            "max_iter": self.n_estimators,
            "learning_rate": self.learning_rate,
            "max_leaf_nodes": 15,
            "min_samples_leaf": 20,
            "l2_regularization": 1.0,
            "random_state": self.seed,
        }

    # -- fitting ----------------------------------------------------------------------

    def _settings_of(self, table: Table, units: Units) -> np.ndarray:
        S: np.ndarray = table.columns(self.settings, role="operating-setting")[units.order]
        bad = np.argwhere(~np.isfinite(S))
        if bad.size:
            r, c = (int(v) for v in bad[0])
            raise InvalidError(
                f"{table.where(int(units.order[r]), self.settings[c])}: an operating setting "
                "is missing (regimes need every setting)"
            )
        return S

    def fit(self, table: Table, unit_col: str, time_col: str) -> Self:
        """Fit on run-to-failure units (each unit's last row is its failure).

        Raises
        ------
        InvalidError
            Bad parameters; fewer than :data:`MIN_UNITS` units; a unit with one row; time
            not increasing within a unit; an unknown or incomplete setting column; no
            sensor that varies. Messages name the file, line and column.
        """
        self._check_params()
        units = group_units(table, unit_col, time_col, min_rows=2)
        if units.n_units < MIN_UNITS:
            raise InvalidError(
                f"{table.path}: {units.n_units} unit(s) in column {unit_col!r}; a RUL model "
                f"needs at least {MIN_UNITS} run-to-failure units (more for useful intervals)"
            )
        sensors = [v for v in table.variables if v not in self.settings]
        X = table.columns(sensors)[units.order]
        keep, dropped = drop_constant(X, sensors)
        X = X[:, keep]
        sensors = [sensors[j] for j in keep]
        regimes: Regimes | None = None
        if self.settings and sensors:
            S = self._settings_of(table, units)
            regimes = fit_regimes(S, X, self.n_regimes, self.seed)
            X = regimes.normalise(X, S)
            keep, flat = drop_constant(X, sensors)  # set by the regime alone
            dropped += flat
            X = X[:, keep]
            sensors = [sensors[j] for j in keep]
            regimes = Regimes(
                regimes.setting_mean,
                regimes.setting_scale,
                regimes.centres,
                regimes.mean[:, keep],
                regimes.scale[:, keep],
            )
        if not sensors:
            raise InvalidError(
                f"{table.path}: no sensor column varies (constant: {', '.join(dropped) or '-'})"
            )
        t = units.time[units.order]
        row_start = units.row_start()
        F = window_features(X, t, row_start, self.window, age=self.age)
        unit_of = units.unit_of_row()
        # Units by the rank of their id, so that the split and the folds depend on which
        # units there are, not on the order the file lists them in.
        rank = np.empty(units.n_units, dtype=np.int64)
        rank[sorted(range(units.n_units), key=lambda i: units.ids[i])] = np.arange(units.n_units)
        group = rank[unit_of]
        failure = t[units.last_rows()][unit_of]
        y_true = failure - t
        y_point = y_true if self.cap is None else np.minimum(y_true, self.cap)

        proper_units, calib_units = grouped_split(units.n_units, self.calibration, self.seed)
        proper = np.isin(group, proper_units)
        calib = ~proper
        alpha = 1.0 - self.coverage
        if self.method == "gbm":
            params = self._tree_params()
            point: _Regressor = _fit_trees(
                F, y_point, "squared_error", None, params, self.n_threads
            )
            lower: _Regressor = _fit_trees(
                F[proper], y_true[proper], "quantile", alpha / 2, params, self.n_threads
            )
            upper: _Regressor = _fit_trees(
                F[proper], y_true[proper], "quantile", 1 - alpha / 2, params, self.n_threads
            )
        else:
            point = fit_ridge(F, y_point, group, self.seed)
            assert isinstance(point, RidgeModel)
            lower = upper = fit_ridge(
                F[proper], y_true[proper], group[proper], self.seed, alpha=point.alpha
            )
        scores = conformity(y_true[calib], lower.predict(F[calib]), upper.predict(F[calib]))
        # The point model saw the calibration units: its prediction only picks the band.
        self.margins_ = band_margins(
            scores, group[calib], self._point(point, F[calib]), self.coverage
        )

        self.variables_ = (*self.settings, *sensors) if regimes is not None else tuple(sensors)
        self.sensors_ = tuple(sensors)
        self.dropped_ = tuple(dropped)
        self.features_ = feature_names(sensors, age=self.age)
        self.regimes_ = regimes
        self.point_, self.lower_, self.upper_ = point, lower, upper
        self.n_units_ = units.n_units
        self.n_calibration_units_ = int(calib_units.size)
        self.time_kind_ = units.time_kind
        return self

    # -- prediction -------------------------------------------------------------------

    def _point(self, point: _Regressor, F: np.ndarray) -> np.ndarray:
        rul = point.predict(F)
        out: np.ndarray = np.maximum(rul, 0.0) if self.cap is None else np.clip(rul, 0.0, self.cap)
        return out

    def _check_fitted(self) -> None:
        if not hasattr(self, "point_"):
            raise InvalidError("this RUL model is not fitted yet (call fit first)")

    def _predict_rows(
        self, table: Table, unit_col: str, time_col: str, rows: str
    ) -> tuple[Units, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        self._check_fitted()
        units = group_units(table, unit_col, time_col)
        if units.time_kind != self.time_kind_:
            raise InvalidError(
                f"{table.path}: column {time_col!r} holds {units.time_kind}s but the model "
                f"was fitted on {self.time_kind_}s"
            )
        X = table.columns(self.sensors_, role="sensor")[units.order]
        if self.regimes_ is not None:
            X = self.regimes_.normalise(X, self._settings_of(table, units))
        t = units.time[units.order]
        row_start = units.row_start()
        if rows == "last":
            # Features of the last rows only: their windows reach back at most window rows.
            last = units.last_rows()
            span = np.concatenate(
                [
                    np.arange(max(s, e - self.window + 1), e + 1)
                    for s, e in zip(units.starts[:-1], last, strict=True)
                ]
            )
            local_start = np.searchsorted(span, row_start[span])
            F = window_features(X[span], t[span], local_start, self.window, age=False)
            F = F[np.searchsorted(span, last)]
            if self.age:
                F = np.column_stack([F, t[last] - t[row_start[last]]])
            t = t[last]
        else:
            F = window_features(X, t, row_start, self.window, age=self.age)
        rul = self._point(self.point_, F)
        q = self.margins_.margin(rul)
        lo = self.lower_.predict(F) - q
        hi = self.upper_.predict(F) + q
        lower = np.maximum(np.minimum(np.minimum(lo, hi), rul), 0.0)
        upper = np.maximum(np.maximum(lo, hi), rul)
        return units, t, rul, lower, upper

    def predict(self, table: Table, unit_col: str, time_col: str) -> list[RulPrediction]:
        """RUL of each unit at its last row, units in order of first appearance."""
        units, t, rul, lower, upper = self._predict_rows(table, unit_col, time_col, "last")
        return [
            RulPrediction(u, float(t[i]), float(rul[i]), float(lower[i]), float(upper[i]))
            for i, u in enumerate(units.ids)
        ]

    def predict_trajectory(self, table: Table, unit_col: str, time_col: str) -> list[RulTrajectory]:
        """RUL of each unit at every row of its history."""
        units, t, rul, lower, upper = self._predict_rows(table, unit_col, time_col, "all")
        s = units.starts
        return [
            RulTrajectory(
                u,
                t[s[i] : s[i + 1]],
                rul[s[i] : s[i + 1]],
                lower[s[i] : s[i + 1]],
                upper[s[i] : s[i + 1]],
            )
            for i, u in enumerate(units.ids)
        ]

    # -- model file -------------------------------------------------------------------

    def to_state(self) -> dict[str, Any]:
        """The fitted model as JSON-ready values (version :attr:`VERSION`)."""
        self._check_fitted()
        return {
            "method": self.method,
            "version": self.VERSION,
            "params": {
                "cap": self.cap,
                "window": self.window,
                "coverage": self.coverage,
                "seed": self.seed,
                "settings": list(self.settings),
                "n_regimes": self.n_regimes,
                "age": self.age,
                "n_estimators": self.n_estimators,
                "learning_rate": self.learning_rate,
                "calibration": self.calibration,
            },
            "variables": list(self.variables_),
            "sensors": list(self.sensors_),
            "dropped": list(self.dropped_),
            "features": list(self.features_),
            "time_kind": self.time_kind_,
            "regimes": None if self.regimes_ is None else self.regimes_.to_state(),
            "point": self.point_.to_state(),
            "lower": self.lower_.to_state(),
            "upper": self.upper_.to_state(),
            "margins": {
                "edges": array_to_json(self.margins_.edges),
                "q": array_to_json(self.margins_.q),
            },
            "n_units": self.n_units_,
            "n_calibration_units": self.n_calibration_units_,
        }

    @classmethod
    def from_state(cls, state: Mapping[str, Any], where: str) -> Self:
        """Rebuild a fitted model; refuse unknown or newer versions, naming the field."""
        r = StateReader(state, where)
        r.version(cls.VERSION, "RUL")
        method = r.text("method")
        if method not in METHODS:
            raise InvalidError(f"{r.at('method')} is {method!r}, not one of {METHODS}")
        p = r.child("params")
        n_regimes = p.optional_number("n_regimes")
        model = cls(
            cap=p.optional_number("cap"),
            window=p.integer("window"),
            coverage=p.number("coverage"),
            method=method,
            seed=p.integer("seed"),
            settings=p.texts("settings"),
            n_regimes=None if n_regimes is None else int(n_regimes),
            age=p.flag("age"),
            n_estimators=p.integer("n_estimators"),
            learning_rate=p.number("learning_rate"),
            calibration=p.number("calibration"),
        )
        try:
            model._check_params()
        except InvalidError as exc:
            raise InvalidError(f"{r.at('params')}: {exc}") from None
        model.variables_ = r.texts("variables")
        model.sensors_ = r.texts("sensors")
        model.dropped_ = r.texts("dropped")
        model.features_ = r.texts("features")
        if model.features_ != feature_names(model.sensors_, age=model.age):
            raise InvalidError(f"{r.at('features')} does not match 'state.sensors'")
        kind = r.text("time_kind")
        if kind not in ("number", "datetime"):
            raise InvalidError(f"{r.at('time_kind')} must be number or datetime")
        model.time_kind_ = kind
        model.regimes_ = None
        if state.get("regimes") is not None:
            reg = Regimes.from_state(r.child("regimes"))
            k, s, n = reg.centres.shape[0], len(model.settings), len(model.sensors_)
            shapes = (reg.centres, reg.mean, reg.scale, reg.setting_mean, reg.setting_scale)
            if [a.shape for a in shapes] != [(k, s), (k, n), (k, n), (s,), (s,)]:
                raise InvalidError(f"{r.at('regimes')} has arrays of wrong shapes")
            model.regimes_ = reg
        nf = len(model.features_)
        model.point_ = _regressor_from_state(r.child("point"), nf, r.at("point"))
        model.lower_ = _regressor_from_state(r.child("lower"), nf, r.at("lower"))
        model.upper_ = _regressor_from_state(r.child("upper"), nf, r.at("upper"))
        m = r.child("margins")
        edges, q = m.array("edges"), m.array("q")
        if edges.ndim != 1 or q.shape != (edges.size + 1,) or np.any(np.diff(edges) <= 0):
            raise InvalidError(f"{r.at('margins')} is malformed")
        if np.any(np.isnan(q)) or np.any(q == -np.inf):
            raise InvalidError(f"{r.at('margins.q')} must be numbers or inf")
        model.margins_ = BandMargins(edges=edges.astype(float), q=q.astype(float))
        model.n_units_ = r.integer("n_units")
        model.n_calibration_units_ = r.integer("n_calibration_units")
        return model
