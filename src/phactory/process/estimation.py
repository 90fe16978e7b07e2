"""Estimating model parameters from time-series data, with confidence intervals.

Weighted nonlinear least squares (``scipy.optimize.least_squares``, trust-region reflective,
within the declared bounds) over one or more experiments. Around the optimum the model is
linearised with the Jacobian ``J`` of the weighted residuals; the parameter covariance is

    C = s^2 (J^T J)^-1,   s^2 = SSR / (n - p),

the standard errors are the square roots of its diagonal, the confidence intervals use
Student's t with ``n - p`` degrees of freedom, and the correlation matrix is
``C_ij / sqrt(C_ii C_jj)`` (|values| near 1 flag parameters the data cannot separate) [1]_ [2]_.

References
----------
.. [1] Y. Bard, Nonlinear Parameter Estimation, Academic Press, 1974, ch. 7.
.. [2] G. A. F. Seber, C. J. Wild, Nonlinear Regression, Wiley, 1989, sec. 5.1.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from phactory.process.contract import FloatArray, SimulationError, UnitOperationModel

__all__ = ["EstimationResult", "Experiment", "estimate_parameters"]


@dataclass(frozen=True)
class Experiment:
    """One run: its known parameter values and measured time series.

    Attributes
    ----------
    params
        Parameter values of the run (set points, initial conditions).
    data
        Measurements: index time [h], columns named like the model's time-series
        variables; missing values (NaN) are skipped.
    """

    params: Mapping[str, object]
    data: pd.DataFrame


@dataclass(frozen=True)
class EstimationResult:
    """Estimates, their uncertainty and the fit diagnostics.

    Attributes
    ----------
    estimates
        Best-fit values by parameter [declared units].
    std_errors
        Standard errors.
    conf_int
        DataFrame with columns ``lower``, ``upper`` at ``confidence``.
    correlation
        Parameter correlation matrix.
    covariance
        Parameter covariance matrix.
    residual_std
        Standard deviation of the weighted residuals, ``s``.
    n_observations, dof
        Number of residuals and degrees of freedom ``n - p``.
    """

    estimates: pd.Series
    std_errors: pd.Series
    conf_int: pd.DataFrame
    correlation: pd.DataFrame
    covariance: pd.DataFrame
    residual_std: float
    n_observations: int
    dof: int
    confidence: float
    success: bool
    message: str
    n_evaluations: int

    def summary(self) -> pd.DataFrame:
        """Estimates, standard errors and confidence limits in one table."""
        return pd.DataFrame(
            {
                "estimate": self.estimates,
                "std_error": self.std_errors,
                "lower": self.conf_int["lower"],
                "upper": self.conf_int["upper"],
                "rel_std_error": self.std_errors / self.estimates.abs(),
            }
        )


def estimate_parameters(
    model: UnitOperationModel,
    experiments: Sequence[Experiment] | pd.DataFrame,
    fit: Sequence[str],
    *,
    initial: Mapping[str, float] | None = None,
    params: Mapping[str, object] | None = None,
    sigma: Mapping[str, float] | None = None,
    confidence: float = 0.95,
    diff_step: float = 1e-4,
    max_nfev: int | None = None,
    absolute_sigma: bool = False,
) -> EstimationResult:
    """Fit parameters ``fit`` of ``model`` to measured time series.

    Parameters
    ----------
    model
        Any model of the contract (its ``simulate`` must accept ``times``).
    experiments
        The runs; a single DataFrame means one run at ``params``.
    fit
        Names of the parameters to estimate.
    initial
        Starting values (default: declared defaults).
    params
        Parameter values common to all runs (a run's own values take precedence).
    sigma
        Measurement standard deviation per column [column unit]; residuals are divided by
        it. Default: the root-mean-square of each column's data, which makes columns of
        different magnitude comparable (the covariance is then scaled by the fitted ``s^2``).
    confidence
        Level of the confidence intervals.
    diff_step
        Relative finite-difference step for the Jacobian; must be well above the model's
        integration tolerance (1e-4 against the default ``rtol`` ~1e-7).
    max_nfev
        Limit on residual evaluations.
    absolute_sigma
        If True, ``sigma`` are the true measurement standard deviations and the covariance
        is ``(J^T J)^-1`` of the weighted residuals, not scaled by the fitted ``s^2`` (as
        ``scipy.optimize.curve_fit``'s option of the same name); use it when the data
        barely over-determine the parameters, where ``s^2`` says nothing. The intervals
        then use the normal distribution.

    Returns
    -------
    EstimationResult

    Raises
    ------
    ValueError
        For unknown parameters or columns, or too few observations.
    SimulationError
        If the model fails at the starting point.
    """
    # SciPy's optimize and stats take a second to import: only when fitting (fast CLI).
    from scipy.optimize import least_squares
    from scipy.stats import norm
    from scipy.stats import t as student_t

    runs = (
        [Experiment(dict(params or {}), experiments)]
        if isinstance(experiments, pd.DataFrame)
        else [Experiment({**dict(params or {}), **dict(e.params)}, e.data) for e in experiments]
    )
    names = list(fit)
    decl = {p.name: p for p in model.parameters}
    for n in names:
        if n not in decl:
            raise ValueError(f"cannot fit unknown parameter {n!r}; known: {sorted(decl)}")
    variables = {v.name for v in (*model.states, *model.outputs)}
    for e in runs:
        unknown = set(e.data.columns) - variables
        if unknown:
            raise ValueError(f"data columns {sorted(unknown)} are not variables of {model.name}")
    scales = _scales(runs, sigma)
    x0 = np.array([float((initial or {}).get(n, decl[n].default)) for n in names])
    lower = np.array([decl[n].lower for n in names])
    upper = np.array([decl[n].upper for n in names])
    x0 = np.clip(x0, lower, upper)
    n_eval = [0]

    def residuals(theta: FloatArray) -> FloatArray:
        n_eval[0] += 1
        chunks = []
        for e in runs:
            p = dict(e.params)
            p.update(zip(names, theta.tolist(), strict=True))
            times = e.data.index.to_numpy(dtype=float)
            sim = model.simulate(p, times=times).timeseries
            if len(sim) != len(times):
                raise SimulationError(
                    f"{model.name}: simulation ended before the last measurement "
                    f"({len(sim)} of {len(times)} times)"
                )
            for col in e.data.columns:
                obs = e.data[col].to_numpy(dtype=float)
                ok = np.isfinite(obs)
                chunks.append((sim[col].to_numpy(dtype=float)[ok] - obs[ok]) / scales[col])
        return np.concatenate(chunks)

    r0 = residuals(x0)
    n_obs, n_par = r0.size, len(names)
    if n_obs <= n_par:
        raise ValueError(f"{n_obs} observations cannot determine {n_par} parameters")
    sol = least_squares(
        residuals,
        x0,
        bounds=(lower, upper),
        x_scale="jac",
        method="trf",
        diff_step=diff_step,
        max_nfev=max_nfev,
    )
    jac = np.asarray(sol.jac, dtype=float)
    dof = n_obs - n_par
    s2 = float(2.0 * sol.cost / dof)
    # Pseudo-inverse: a singular J^T J (non-identifiable parameters) shows as huge variances
    # and |correlation| -> 1 instead of an exception.
    cov = (1.0 if absolute_sigma else s2) * np.linalg.pinv(jac.T @ jac)
    se = np.sqrt(np.clip(np.diag(cov), 0.0, None))
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = cov / np.outer(se, se)
    tq = float(
        norm.ppf(0.5 + confidence / 2.0)
        if absolute_sigma
        else student_t.ppf(0.5 + confidence / 2.0, dof)
    )
    idx = pd.Index(names, name="parameter")
    est = pd.Series(sol.x, index=idx, name="estimate")
    return EstimationResult(
        estimates=est,
        std_errors=pd.Series(se, index=idx, name="std_error"),
        conf_int=pd.DataFrame({"lower": sol.x - tq * se, "upper": sol.x + tq * se}, index=idx),
        correlation=pd.DataFrame(corr, index=idx, columns=idx),
        covariance=pd.DataFrame(cov, index=idx, columns=idx),
        residual_std=float(np.sqrt(s2)),
        n_observations=n_obs,
        dof=dof,
        confidence=confidence,
        success=bool(sol.success),
        message=str(sol.message),
        n_evaluations=n_eval[0],
    )


def _scales(runs: Sequence[Experiment], sigma: Mapping[str, float] | None) -> dict[str, float]:
    cols = {c for e in runs for c in e.data.columns}
    out: dict[str, float] = {}
    for c in cols:
        if sigma is not None and c in sigma:
            s = float(sigma[c])
        else:
            vals = np.concatenate(
                [e.data[c].to_numpy(dtype=float) for e in runs if c in e.data.columns]
            )
            vals = vals[np.isfinite(vals)]
            s = float(np.sqrt(np.mean(vals**2))) if vals.size else 1.0
        if not s > 0:
            raise ValueError(f"scale of column {c!r} must be positive (got {s})")
        out[c] = s
    return out
