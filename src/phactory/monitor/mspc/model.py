"""The MSPC model: fit on normal operation, score new rows, save as versioned JSON.

Methods (``method``):

=============  ==========================================================================
``pca``        static PCA of the autoscaled variables [1]_
``dpca``       dynamic PCA: PCA of each row with its ``lags`` predecessors [2]_
``pls``        PLS of the process variables on quality variables (``y_variables``), T2
               on the X scores and SPE on the X residuals [3]_
``innovation`` PCA of the one-step-ahead innovations of a ridge VAR(``lags``) model of
               the autoscaled variables [4]_, its T2 and SPE smoothed by an EWMA (weight
               0.1): sees changes of dynamics, noisier sensors and small biases that
               static PCA misses (``benchmarks/monitoring_mspc.py``)
=============  ==========================================================================

Any method can smooth its statistics (option ``ewma``, :mod:`.smoothing`). Smoothed
statistics have no distribution theory: their nominal limits are moments of the
statistics of held-out training rows (five contiguous blocks, each scored by the model
fitted on the other four), as the statistics of the rows a model was fitted on are
optimistic; validation data of another run remain the better calibration.

Every method reduces to one projection of monitored rows (:mod:`.projection`), so
scoring is a handful of matrix products per batch of rows, with no loop per row.

Limits: nominal (F distribution for T2, Box's ``g chi2(h)`` for SPE, or
Jackson-Mudholkar with ``spe_limit="jm"``; :mod:`.limits`; moments of held-out
statistics when smoothed), then both scaled by one factor so that the alarm (after the
persistence rule) hits ``target_far`` on validation data, or, without them, on the
held-out blocks of the training rows (nominal limits assume independent normal rows,
which plant data are not; ``calibrated_on_`` says which). The model keeps the nominal
and the calibrated limits and the false-alarm rates measured on the calibration and the
training rows.

Contributions (:attr:`MspcScores.contributions`) are in units of the limit of their
statistic: the complete-decomposition T2 contributions divided by the T2 limit when only
T2 exceeds, the squared SPE residuals divided by the SPE limit when only SPE exceeds,
and the sum of both otherwise (also on rows without an alarm, so that every row can be
explained). A variable with a contribution of 1 accounts for a whole limit on its own.
Dynamic PCA sums the contributions of a variable's lagged copies; the innovation method
attributes to each variable its own innovation.

Data: rows in time order, columns the model's :attr:`MspcModel.variables_`. Training
data must be complete; variables that are constant in training are dropped (and listed
in :attr:`MspcModel.dropped_`). At scoring, a row with a missing value gets NaN
statistics and no alarm (and so do the ``lags`` rows after it for the dynamic methods).

References
----------
.. [1] J. F. MacGregor, T. Kourti, "Statistical process control of multivariate
   processes", Control Eng. Practice 3 (1995) 403-414.
.. [2] W. Ku, R. H. Storer, C. Georgakis, Chemom. Intell. Lab. Syst. 30 (1995) 179-196.
.. [3] J. V. Kresta, J. F. MacGregor, T. E. Marlin, Can. J. Chem. Eng. 69 (1991) 35-47.
.. [4] X. Pan, J. E. Jarrett, Int. J. Production Economics 106 (2007) 204-216.
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Final, Self

import numpy as np

from phactory.errors import InvalidError
from phactory.monitor.limits import SPE_METHODS, moment_limit, spe_limit, t2_limit
from phactory.monitor.mspc import dynamic
from phactory.monitor.mspc.limits import calibrate, false_alarm_rate
from phactory.monitor.mspc.projection import fit_pca, fit_pls
from phactory.monitor.mspc.rules import check_persistence, k_of_n
from phactory.monitor.mspc.scores import MspcScores
from phactory.monitor.mspc.smoothing import ewma
from phactory.monitor.table import refuse_nonfinite

__all__ = ["METHODS", "MspcModel", "MspcScores"]

#: Monitoring methods, in the order of the module docstring.
METHODS: Final = ("pca", "dpca", "pls", "innovation")
#: Methods that use the ``lags`` previous rows.
DYNAMIC: Final = frozenset({"dpca", "innovation"})
#: Method options and their defaults: auto component share, nominal SPE limit, EWMA
#: weight (``None``: :data:`DEFAULT_EWMA` of the method).
OPTIONS: Final[dict[str, Any]] = {"explained": 0.9, "spe_limit": "box", "ewma": None}
#: EWMA weight of the statistics when ``ewma`` is not given (1: no smoothing).
DEFAULT_EWMA: Final = {"pca": 1.0, "dpca": 1.0, "pls": 1.0, "innovation": 0.1}
STATE_VERSION: Final = 1
#: Contiguous blocks of the training rows whose held-out statistics set the nominal
#: limits of smoothed statistics (:meth:`MspcModel._held_out_statistics`).
HELD_OUT_BLOCKS: Final = 5


class MspcModel:
    """Multivariate statistical process monitoring of continuous data (T2 and SPE).

    Parameters
    ----------
    method
        One of :data:`METHODS`.
    n_components
        Components of the projection; ``None`` chooses (:mod:`.projection`).
    lags
        Previous rows used by ``dpca`` and ``innovation`` [samples].
    target_far
        Wanted false-alarm rate per row [-], in (0, 0.5).
    persistence
        ``(k, n)``: alarm when ``k`` of the last ``n`` rows exceed a limit.
    y_variables
        Quality variables of ``pls`` (names of the columns of ``Y``).
    **method_options
        ``explained`` (share of variance for the automatic PCA component count, 0.9),
        ``spe_limit`` (``"box"`` or ``"jm"``), ``ewma`` (weight in (0, 1] of the
        smoothing of T2 and SPE; default 0.1 for ``innovation``, none otherwise).

    Fitted attributes: ``variables_``, ``dropped_``, ``n_components_``, ``lags_``,
    ``ewma_``, ``projection_``, ``t2_limit_``, ``spe_limit_`` (in force),
    ``t2_nominal_``, ``spe_nominal_``, ``calibration_factor_``, ``far_validation_`` and
    ``far_validation_nominal_`` (alarm rates on the validation rows with the calibrated
    and the nominal limits; held-out training blocks stand for validation data when none
    are given, ``None`` where neither could be used), ``validation_rows_``,
    ``far_training_``, ``calibrated_on_`` (``"validation"``, ``"held-out"`` or
    ``"nominal"``).
    """

    family: ClassVar[str] = "mspc"

    def __init__(
        self,
        method: str = "pca",
        *,
        n_components: int | None = None,
        lags: int = 2,
        target_far: float = 0.01,
        persistence: tuple[int, int] = (1, 1),
        y_variables: Sequence[str] = (),
        **method_options: Any,
    ) -> None:
        self.method = method
        self.n_components = n_components
        self.lags = lags
        self.target_far = target_far
        self.persistence = persistence
        self.y_variables = tuple(y_variables)
        self.method_options = dict(method_options)

    # -- fitting ---------------------------------------------------------------------
    def _check(self, Y: np.ndarray | None, *, fitting: bool = True) -> dict[str, Any]:
        if self.method not in METHODS:
            raise InvalidError(f"unknown method {self.method!r} (known: {', '.join(METHODS)})")
        if not 0.0 < self.target_far < 0.5:
            raise InvalidError(
                f"the target false-alarm rate must lie in (0, 0.5), not {self.target_far}"
            )
        check_persistence(*self.persistence)
        if self.method in DYNAMIC and not 1 <= self.lags <= 50:
            raise InvalidError(f"lags must lie in 1..50, not {self.lags}")
        unknown = sorted(set(self.method_options) - set(OPTIONS))
        if unknown:
            raise InvalidError(
                f"unknown option(s) {', '.join(unknown)} (known: {', '.join(OPTIONS)})"
            )
        options = {**OPTIONS, **self.method_options}
        if options["spe_limit"] not in SPE_METHODS:
            raise InvalidError(f"spe_limit must be one of {', '.join(SPE_METHODS)}")
        if not fitting:
            return options
        if self.method == "pls":
            if Y is None or not self.y_variables:
                raise InvalidError(
                    "pls monitors the process against quality variables: give y_variables (--y)"
                )
            if Y.ndim != 2 or Y.shape[1] != len(self.y_variables):
                raise InvalidError(
                    f"Y must have one column per y_variable ({len(self.y_variables)})"
                )
        elif self.y_variables or Y is not None:
            raise InvalidError(f"quality variables (--y) are used by pls only, not {self.method}")
        return options

    def fit(
        self,
        X: np.ndarray,
        variables: Sequence[str],
        *,
        X_val: np.ndarray | None = None,
        Y: np.ndarray | None = None,
    ) -> MspcModel:
        """Fit on normal operation ``X`` (rows in time order, one column per variable).

        ``X_val`` (same columns as ``X``) calibrates the limits to ``target_far``;
        ``Y`` holds the quality variables of ``pls``, row for row with ``X``.
        """
        X = np.asarray(X, dtype=float)
        Y = None if Y is None else np.asarray(Y, dtype=float)
        options = self._check(Y)
        names = tuple(variables)
        if X.ndim != 2 or X.shape[1] != len(names):
            raise InvalidError(f"X must have one column per variable ({len(names)})")
        refuse_nonfinite(X, names, "the training data")
        std = X.std(axis=0, ddof=1) if X.shape[0] > 1 else np.zeros(X.shape[1])
        mean = X.mean(axis=0)
        constant = std <= 1e-10 * np.maximum(1.0, np.abs(mean))
        keep = ~constant
        self.dropped_ = tuple(n for n, c in zip(names, constant, strict=True) if c)
        self.variables_ = tuple(n for n, k in zip(names, keep, strict=True) if k)
        p = len(self.variables_)
        if p < 2:
            raise InvalidError(
                f"MSPC needs at least 2 varying variables; {p} left after dropping constant ones"
            )
        lags = self.lags if self.method in DYNAMIC else 0
        m = p * (lags + 1) if self.method == "dpca" else p
        if X.shape[0] - lags < m + 2:
            raise InvalidError(
                f"the training data have {X.shape[0]} rows; a {self.method} model of {m} monitored "
                f"columns needs at least {m + 2 + lags}"
            )
        self.center_, self.scale_ = mean[keep], std[keep]
        self.lags_ = lags
        if self.method == "pls":
            assert Y is not None
            refuse_nonfinite(Y, self.y_variables, "the quality data")
        if X_val is not None:
            X_val = np.asarray(X_val, dtype=float)
            if X_val.ndim != 2 or X_val.shape[1] != len(names):
                raise InvalidError(
                    f"the validation data must have the {len(names)} training columns"
                )
            refuse_nonfinite(X_val, names, "the validation data")
        self.spe_method_ = str(options["spe_limit"])
        self.explained_ = float(options["explained"])
        self.ewma_ = ewma_weight(self.method, options["ewma"])
        self._fit_projection(X[:, keep], Y, self.n_components)
        # Held-out statistics set the nominal limits of smoothed statistics and stand for
        # validation data when none are given; otherwise they are not needed.
        held = (
            self._held_out_statistics(X[:, keep], Y) if X_val is None or self.ewma_ < 1.0 else None
        )
        self._fit_limits(X[:, keep], held)
        self.far_validation_: float | None = None
        self.far_validation_nominal_: float | None = None
        self.validation_rows_ = 0
        self.calibrated_on_ = "nominal"
        if X_val is not None:
            t2, spe, _, _ = self._statistics(X_val[:, keep])
            self._calibrate(t2, spe, "validation")
        elif held is not None and held[0].size * self.target_far >= 1.0:
            # No other run of normal operation: the held-out blocks of the training rows
            # stand for one. Nominal limits assume independent normal rows; on the
            # autocorrelated Tennessee Eastman process they alarmed on 9 % (pca) and 33 %
            # (dpca) of fresh normal rows for a 1 % target (benchmarks/monitoring_tep.py).
            self._calibrate(*held, "held-out")
        train = self.score(X[:, keep])
        self.far_training_ = false_alarm_rate(train.alarm, np.isfinite(train.t2))
        return self

    def _fit_projection(
        self, X: np.ndarray, Y: np.ndarray | None, n_components: int | None
    ) -> None:
        """The projection of the training rows ``X`` (kept columns; ``center_``,
        ``scale_`` and ``lags_`` set): the autoregression of ``innovation`` first."""
        lags = self.lags_
        self.predictor_: np.ndarray | None = None
        if self.method == "innovation":
            zs = (X - self.center_) / self.scale_
            self.predictor_, self.ridge_ = dynamic.fit_autoregression(zs, lags)
            e = dynamic.innovations(zs, self.predictor_, lags)[lags:]
            self.innovation_center_ = e.mean(axis=0)
            self.innovation_scale_ = e.std(axis=0, ddof=1)
        z = self._monitored(X)[lags:]
        if self.method == "pls":
            assert Y is not None
            y_std = Y.std(axis=0, ddof=1)
            if np.any(y_std <= 0.0):
                raise InvalidError("a quality variable (--y) is constant in the training data")
            y = ((Y - Y.mean(axis=0)) / y_std)[lags:]
            self.projection_ = fit_pls(z, y, n_components)
        else:
            self.projection_ = fit_pca(z, n_components, self.explained_)
        self.n_components_ = self.projection_.n_components

    def _fit_start(self, X: np.ndarray) -> None:
        """Where smoothing starts: the mean contributions on the training rows ``X``."""
        t2, _, c_t2, c_spe = self._raw_statistics(X)
        ok = np.isfinite(t2)
        self.start_t2_, self.start_spe_ = c_t2[ok].mean(axis=0), c_spe[ok].mean(axis=0)

    def _fit_limits(self, X: np.ndarray, held: tuple[np.ndarray, np.ndarray] | None) -> None:
        """Where smoothing starts, and the nominal limits (F and Box, or moments of the
        ``held``-out statistics)."""
        self._fit_start(X)
        if self.ewma_ < 1.0:
            t2, spe = held if held is not None else self._statistics(X)[:2]
            self.t2_nominal_ = moment_limit(t2, self.target_far)
            self.spe_nominal_ = moment_limit(spe, self.target_far)
        else:
            n = self.projection_.n_samples
            self.t2_nominal_ = t2_limit(self.n_components_, n, self.target_far)
            self.spe_nominal_ = spe_limit(
                self.projection_.residual_eigenvalues, self.target_far, self.spe_method_
            )
        self.t2_limit_, self.spe_limit_ = self.t2_nominal_, self.spe_nominal_
        self.calibration_factor_ = 1.0

    def _calibrate(self, t2: np.ndarray, spe: np.ndarray, on: str) -> None:
        """Scale the nominal limits so that the alarm hits ``target_far`` on these
        statistics (:func:`.limits.calibrate`); ``on`` says what they are of."""
        cal = calibrate(
            t2, spe, self.t2_nominal_, self.spe_nominal_, self.target_far, self.persistence
        )
        self.t2_limit_, self.spe_limit_ = cal.t2_limit, cal.spe_limit
        self.calibration_factor_ = cal.factor
        self.far_validation_, self.far_validation_nominal_ = cal.far, cal.far_nominal
        self.validation_rows_ = cal.rows
        self.calibrated_on_ = on

    def _held_out_statistics(
        self, X: np.ndarray, Y: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray] | None:
        """Smoothed T2 and SPE of each of :data:`HELD_OUT_BLOCKS` contiguous blocks of the
        training rows, by the same model fitted on the other rows.

        Smoothed statistics have no distribution theory, so their nominal limits are
        moments of observed values; on the rows the model was fitted on, those are
        optimistic (the autoregression and the projection fit their own noise, and the
        EWMA turns a slightly larger spread of new rows into a shifted mean): on the
        Tennessee Eastman process (``benchmarks/monitoring_tep.py``) the in-sample limits
        of ``innovation`` alarmed on 98 % of the rows of three fresh normal runs, the
        held-out ones on 0.7-2.1 % (1.5 % in all). The held-out models keep the
        autoscaling and the number of components of the full model; each block is scored
        as a new file (its first ``lags`` rows get no statistics, the smoothing starts
        afresh). None when a block model cannot be fitted (too few rows), and the
        in-sample statistics are used.
        """
        n = X.shape[0]
        edges = np.linspace(0, n, HELD_OUT_BLOCKS + 1).astype(int)
        t2s, spes = [], []
        for lo, hi in itertools.pairwise(edges):
            rest = np.r_[0:lo, hi:n]
            block = copy.copy(self)  # shares the parameters and the autoscaling
            try:
                block._fit_projection(X[rest], None if Y is None else Y[rest], self.n_components_)
            except (InvalidError, ValueError, np.linalg.LinAlgError):
                return None
            block._fit_start(X[rest])
            t2, spe, _, _ = block._statistics(X[lo:hi])
            t2s.append(t2)
            spes.append(spe)
        t2, spe = np.concatenate(t2s), np.concatenate(spes)
        ok = np.isfinite(t2) & np.isfinite(spe)
        if ok.sum() < n // 2:
            return None
        return t2[ok], spe[ok]

    # -- scoring ---------------------------------------------------------------------
    def _monitored(self, X: np.ndarray) -> np.ndarray:
        """The rows the projection sees (NaN where they cannot be formed)."""
        zs = (X - self.center_) / self.scale_
        if self.method == "dpca":
            return dynamic.lagged(zs, self.lags_)
        if self.method == "innovation":
            assert self.predictor_ is not None
            e = dynamic.innovations(zs, self.predictor_, self.lags_)
            return np.asarray((e - self.innovation_center_) / self.innovation_scale_)
        return np.asarray(zs)

    def _raw_statistics(self, X: np.ndarray) -> tuple[np.ndarray, ...]:
        stats = self.projection_.statistics(self._monitored(X))
        c_t2, c_spe = stats.t2_contrib, stats.spe_contrib
        if self.method == "dpca":
            p = len(self.variables_)
            c_t2, c_spe = dynamic.fold(c_t2, p, self.lags_), dynamic.fold(c_spe, p, self.lags_)
        return stats.t2, stats.spe, c_t2, c_spe

    def _statistics(self, X: np.ndarray) -> tuple[np.ndarray, ...]:
        """T2, SPE and their contributions per variable, smoothed if ``ewma`` is set."""
        t2, spe, c_t2, c_spe = self._raw_statistics(X)
        if self.ewma_ < 1.0:
            w = self.ewma_
            c_t2 = ewma(c_t2, w, self.start_t2_)
            c_spe = ewma(c_spe, w, self.start_spe_)
            t2, spe = c_t2.sum(axis=1), c_spe.sum(axis=1)
        return t2, spe, c_t2, c_spe

    def score(self, X: np.ndarray) -> MspcScores:
        """Score rows (in time order) of the columns :attr:`variables_`."""
        if not hasattr(self, "projection_"):
            raise InvalidError("the model is not fitted")
        X = np.asarray(X, dtype=float)
        if X.ndim != 2 or X.shape[1] != len(self.variables_):
            raise InvalidError(
                f"score needs {len(self.variables_)} columns (variables_), not {X.shape}"
            )
        t2, spe, c_t2, c_spe = self._statistics(X)
        t2_exceeds, spe_exceeds = t2 > self.t2_limit_, spe > self.spe_limit_
        alarm = k_of_n(t2_exceeds | spe_exceeds, *self.persistence)
        ct = c_t2 / (self.t2_limit_ if self.t2_limit_ > 0 else 1.0)
        cs = c_spe / (self.spe_limit_ if self.spe_limit_ > 0 else 1.0)
        contrib = ct + cs
        only_t2, only_spe = t2_exceeds & ~spe_exceeds, spe_exceeds & ~t2_exceeds
        contrib[only_t2] = ct[only_t2]
        contrib[only_spe] = cs[only_spe]
        return MspcScores(
            self.variables_,
            t2,
            spe,
            self.t2_limit_,
            self.spe_limit_,
            t2_exceeds,
            spe_exceeds,
            alarm,
            contrib,
        )

    # -- model file ------------------------------------------------------------------
    def to_state(self) -> dict[str, Any]:
        """The fitted model as JSON-ready values (:func:`.state.write_state`)."""
        from phactory.monitor.mspc.state import write_state

        return write_state(self)

    @classmethod
    def from_state(cls, state: Mapping[str, Any], where: str) -> Self:
        """Rebuild a fitted model (:func:`.state.read_state`); refuse newer versions."""
        from phactory.monitor.mspc.state import read_state

        return read_state(cls, state, where)


def ewma_weight(method: str, given: Any) -> float:
    """The EWMA weight of ``method`` (:data:`DEFAULT_EWMA` when ``given`` is None)."""
    if given is None:
        return DEFAULT_EWMA[method]
    if isinstance(given, bool) or not isinstance(given, int | float) or not 0.0 < given <= 1.0:
        raise InvalidError(f"ewma (the smoothing weight) must lie in (0, 1], not {given!r}")
    return float(given)
