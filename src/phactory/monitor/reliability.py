"""Time to failure and time to repair from maintenance and failure records.

A record is one interval of operation of a unit ended by an event: ``unit, hours, event
[, repair_h]``, with ``hours`` the operating hours since the unit was last restored.
A failure ends an *observed* lifetime; a preventive maintenance, or a unit still running
at the end of the records, ends a *right-censored* one (the unit would have failed
later). Ignoring censored intervals, or counting them as failures, biases the MTBF low;
maximum likelihood with censoring does not [1]_.

Models (renewal: a repair restores the unit as good as new, as the plant twin assumes,
:class:`phactory.twin.streams.FailureClock`):

* exponential (constant hazard): the MLE of the MTBF is total operating hours / number
  of failures; its confidence interval is the chi-square interval [1]_ ch. 7.
* Weibull with shape beta and scale eta: fitted by ``scipy.stats.weibull_min.fit`` on
  :class:`scipy.stats.CensoredData` (location 0), then polished by solving the profile
  score equation of beta [1]_ ch. 8 (SciPy's optimiser stops at a tolerance; the score
  equation has the exact MLE); MTBF = eta Gamma(1 + 1/beta). Confidence intervals are
  Wald intervals on the log scale of (eta, beta, MTBF) from the observed Fisher
  information in the smallest-extreme-value parameterisation (mu = ln eta, sigma = 1/beta)
  [1]_ ch. 8.

With ``model="auto"`` the lower AIC wins [2]_; the likelihood-ratio test of beta = 1 is
reported too. Repair times (of failures only: preventive work is planned) give the MTTR
(mean, t interval) and, when there are at least two, a lognormal fit (MLE of the log
times).

References
----------
.. [1] W. Q. Meeker, L. A. Escobar, *Statistical Methods for Reliability Data*, Wiley,
   1998.
.. [2] H. Akaike, "A new look at the statistical model identification", IEEE Trans.
   Automatic Control 19 (6), 1974, 716-723.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from phactory.errors import InvalidError

__all__ = [
    "LifetimeFit",
    "MaintenanceRecords",
    "ReliabilityFit",
    "fit_reliability",
    "read_records",
]

MODELS = ("auto", "weibull", "exponential")


@dataclass(frozen=True)
class LifetimeFit:
    """One time-to-failure model fitted by maximum likelihood.

    Attributes
    ----------
    model
        ``"weibull"`` or ``"exponential"``.
    shape, scale_h, mtbf_h
        beta (1 for the exponential), eta [h], mean time between failures [h].
    shape_ci, scale_ci, mtbf_ci
        Confidence intervals (``None`` for the exponential's fixed shape).
    loglik, aic
        Maximised log-likelihood (densities in hours) and AIC = 2 k - 2 loglik.
    """

    model: str
    shape: float
    scale_h: float
    mtbf_h: float
    shape_ci: tuple[float, float] | None
    scale_ci: tuple[float, float]
    mtbf_ci: tuple[float, float]
    loglik: float
    aic: float


@dataclass(frozen=True)
class ReliabilityFit:
    """Failure and repair behaviour fitted from records (see the module docstring).

    The top-level ``model``, ``mtbf_h``, ``shape``, ``scale_h`` and their intervals are
    those of the chosen model; ``weibull`` and ``exponential`` hold both fits.
    """

    model: str
    mtbf_h: float
    shape: float
    scale_h: float
    mtbf_ci: tuple[float, float]
    shape_ci: tuple[float, float] | None
    scale_ci: tuple[float, float]
    n_failures: int
    n_censored: int
    total_hours: float
    confidence: float
    exponential: LifetimeFit
    weibull: LifetimeFit | None
    lr_p_value: float | None
    chosen_by: str
    mttr_h: float | None = None
    mttr_sd_h: float | None = None
    mttr_ci: tuple[float, float] | None = None
    n_repairs: int = 0
    repair_lognormal: tuple[float, float] | None = None

    @property
    def aic_weibull(self) -> float | None:
        return None if self.weibull is None else self.weibull.aic

    @property
    def aic_exponential(self) -> float:
        return self.exponential.aic

    def to_dict(self) -> dict[str, Any]:
        """Plain values for JSON (intervals as two-element lists)."""
        out = asdict(self)
        out["aic_weibull"] = self.aic_weibull
        out["aic_exponential"] = self.aic_exponential
        return out


@dataclass(frozen=True)
class MaintenanceRecords:
    """Intervals of operation read from a records file.

    Attributes
    ----------
    hours
        ``(n,)`` operating hours of each interval [h].
    failed
        ``(n,)`` True where the interval ended in a failure (else censored).
    repair_h
        ``(n,)`` repair durations [h] (NaN where not given).
    units
        ``(n,)`` unit of each interval.
    events
        Count of each event value in the file.
    path
        The file.
    """

    hours: np.ndarray
    failed: np.ndarray
    repair_h: np.ndarray
    units: tuple[str, ...]
    events: dict[str, int]
    path: str

    @property
    def n_units(self) -> int:
        return len(set(self.units))


def read_records(
    path: str | Path,
    *,
    unit_col: str,
    time_col: str,
    event_col: str,
    failure_value: str = "failure",
    repair_col: str | None = None,
    cumulative: bool = False,
) -> MaintenanceRecords:
    """Read maintenance and failure records.

    Parameters
    ----------
    path
        CSV with a header row, one row per event.
    unit_col, time_col, event_col
        The unit, the operating hours and the event columns.
    failure_value
        The event value of a failure (case and surrounding blanks ignored); any other
        value is a censoring event (preventive maintenance, still running, ...).
    repair_col
        Repair durations [h] (used for failures only).
    cumulative
        ``time_col`` is each unit's running-hour meter at the event rather than the
        hours since the previous event; intervals are then the differences (from 0).

    Raises
    ------
    InvalidError
        Naming the file, line and column: an unknown column, an empty unit or event, hours
        that are missing, negative, or zero for a failure, a meter reading that goes back,
        a negative repair time.
    """
    from phactory.monitor.table import read_table

    named = (unit_col, event_col)
    if time_col in named or (repair_col is not None and repair_col in (*named, time_col)):
        raise InvalidError(f"{path}: the unit, time, event and repair columns must differ")
    table = read_table(path, named=named, role="record")
    hours = table.columns([time_col], role="operating-hours")[:, 0].copy()
    repair = (
        table.columns([repair_col], role="repair-time")[:, 0]
        if repair_col is not None
        else np.full(table.n_rows, np.nan)
    )
    units = table.extra_values(unit_col).astype(str).str.strip()
    events = table.extra_values(event_col).astype(str).str.strip()
    for col, values in ((unit_col, units), (event_col, events)):
        empty = np.flatnonzero(values.eq("").to_numpy())
        if empty.size:
            raise InvalidError(f"{table.where(int(empty[0]), col)}: empty cell")
    missing = np.flatnonzero(np.isnan(hours))
    if missing.size:
        raise InvalidError(f"{table.where(int(missing[0]), time_col)}: the hours are missing")
    failed = events.str.lower().eq(failure_value.strip().lower()).to_numpy()
    if cumulative:
        unit_arr = units.to_numpy()
        last: dict[str, tuple[float, int]] = {}
        meter = hours.copy()
        for i, u in enumerate(unit_arr):
            before, row = last.get(u, (0.0, -1))
            if meter[i] < before:
                seen = f" on line {table.line(row)}" if row >= 0 else ""
                raise InvalidError(
                    f"{table.where(i, time_col)}: meter reading {meter[i]:g} h of unit {u!r} "
                    f"is below the previous one ({before:g} h{seen})"
                )
            hours[i] = meter[i] - before
            last[u] = (float(meter[i]), i)
    negative = np.flatnonzero(hours < 0)
    if negative.size:
        raise InvalidError(f"{table.where(int(negative[0]), time_col)}: negative hours")
    zero_failure = np.flatnonzero(failed & (hours <= 0))
    if zero_failure.size:
        raise InvalidError(
            f"{table.where(int(zero_failure[0]), time_col)}: a failure after 0 operating hours"
        )
    if repair_col is not None:
        bad = np.flatnonzero(repair < 0)
        if bad.size:
            raise InvalidError(f"{table.where(int(bad[0]), repair_col)}: negative repair time")
    counts = events.value_counts(sort=False)
    return MaintenanceRecords(
        hours=hours,
        failed=failed,
        repair_h=np.asarray(repair, dtype=float),
        units=tuple(units.tolist()),
        events={str(k): int(v) for k, v in counts.items()},
        path=str(path),
    )


def _exponential(total: float, r: int, confidence: float) -> LifetimeFit:
    from scipy import stats

    mtbf = total / r
    a = 1.0 - confidence
    # Time-censored data: the chi-square interval with 2r + 2 degrees of freedom for the
    # lower bound (Meeker & Escobar 1998, ch. 7; exact for failure-censored data with 2r).
    ci = (
        2.0 * total / float(stats.chi2.ppf(1.0 - a / 2.0, 2 * r + 2)),
        2.0 * total / float(stats.chi2.ppf(a / 2.0, 2 * r)),
    )
    loglik = -r * math.log(mtbf) - r
    return LifetimeFit("exponential", 1.0, mtbf, mtbf, None, ci, ci, loglik, 2.0 - 2.0 * loglik)


def _weibull_loglik(t: np.ndarray, d: np.ndarray, beta: float, eta: float) -> float:
    z = t / eta
    lt = np.log(z[d])
    return float(
        d.sum() * (math.log(beta) - math.log(eta)) + (beta - 1.0) * lt.sum() - (z**beta).sum()
    )


def _weibull(t: np.ndarray, d: np.ndarray, confidence: float) -> LifetimeFit:
    from scipy import optimize, special, stats

    r = int(d.sum())
    ref = float(t.max())
    s = t / ref
    keep = s > 0  # a censored interval of 0 h adds nothing to the likelihood
    s, dd = s[keep], d[keep]
    ls = np.log(s)
    mean_log_fail = float(ls[dd].mean())

    def score(beta: float) -> float:
        w = s**beta
        return float((w * ls).sum() / w.sum()) - 1.0 / beta - mean_log_fail

    start, _, _ = stats.weibull_min.fit(stats.CensoredData.right_censored(t[keep], ~dd), floc=0.0)
    lo, hi = float(start) / 2.0, float(start) * 2.0
    for _ in range(60):  # the score increases in beta: widen until it changes sign
        if score(lo) < 0.0 < score(hi):
            break
        lo, hi = lo / 2.0, hi * 2.0
    beta = float(optimize.brentq(score, lo, hi, xtol=1e-14, rtol=4 * np.finfo(float).eps))
    eta = ref * float(((s**beta).sum() / r) ** (1.0 / beta))
    mtbf = eta * math.gamma(1.0 + 1.0 / beta)
    # Observed information in (mu, sigma) = (ln eta, 1/beta), SEV form of log time.
    sigma = 1.0 / beta
    z = (np.log(t[keep]) - math.log(eta)) / sigma
    ez = np.exp(z)
    df = dd.astype(float)
    h_mm = -ez.sum()
    h_ms = (df - ez - z * ez).sum()
    h_ss = (df + 2 * df * z - 2 * z * ez - z * z * ez).sum()
    info = -np.array([[h_mm, h_ms], [h_ms, h_ss]]) / sigma**2
    cov = np.linalg.inv(info)
    zq = float(stats.norm.ppf(0.5 + confidence / 2.0))
    se_mu = math.sqrt(cov[0, 0])
    se_log_sigma = math.sqrt(cov[1, 1]) / sigma
    grad = np.array([1.0, float(special.digamma(1.0 + sigma))])  # d ln MTBF / d (mu, sigma)
    se_log_mtbf = math.sqrt(float(grad @ cov @ grad))
    loglik = _weibull_loglik(t[keep], dd, beta, eta)
    return LifetimeFit(
        "weibull",
        beta,
        eta,
        mtbf,
        (beta * math.exp(-zq * se_log_sigma), beta * math.exp(zq * se_log_sigma)),
        (eta * math.exp(-zq * se_mu), eta * math.exp(zq * se_mu)),
        (mtbf * math.exp(-zq * se_log_mtbf), mtbf * math.exp(zq * se_log_mtbf)),
        loglik,
        4.0 - 2.0 * loglik,
    )


def _repairs(
    repair_h: np.ndarray, confidence: float
) -> tuple[float | None, float | None, tuple[float, float] | None, int, tuple[float, float] | None]:
    from scipy import stats

    x = repair_h[np.isfinite(repair_h)]
    n = int(x.size)
    if n == 0:
        return None, None, None, 0, None
    mean = float(x.mean())
    if n == 1:
        return mean, None, None, 1, None
    sd = float(x.std(ddof=1))
    half = float(stats.t.ppf(0.5 + confidence / 2.0, n - 1)) * sd / math.sqrt(n)
    logn = None
    if np.all(x > 0):
        lx = np.log(x)
        if float(lx.std()) > 0:
            logn = (float(lx.mean()), float(lx.std()))  # MLE (ddof 0)
    return mean, sd, (max(0.0, mean - half), mean + half), n, logn


def fit_reliability(
    hours: np.ndarray,
    failed: np.ndarray,
    repair_h: np.ndarray | None = None,
    *,
    model: str = "auto",
    confidence: float = 0.95,
    where: str = "records",
) -> ReliabilityFit:
    """Fit time to failure (with right censoring) and time to repair.

    Parameters
    ----------
    hours
        ``(n,)`` operating hours of each interval [h], >= 0.
    failed
        ``(n,)`` True where the interval ended in a failure, False where censored.
    repair_h
        ``(n,)`` repair durations [h], NaN where unknown; only failures' count.
    model
        ``"auto"`` (lower AIC), ``"weibull"`` or ``"exponential"``.
    confidence
        Level of the confidence intervals.
    where
        Names the data in error messages (the file).

    Raises
    ------
    InvalidError
        No failure at all (the message gives the lower confidence bound of the MTBF that
        the data do support), a Weibull asked of fewer than two distinct failure times,
        an unknown model, bad hours.
    """
    from scipy import stats

    t = np.asarray(hours, dtype=float)
    d = np.asarray(failed, dtype=bool)
    if model not in MODELS:
        raise InvalidError(f"{where}: model must be one of {', '.join(MODELS)}, not {model!r}")
    if not 0.0 < confidence < 1.0:
        raise InvalidError(f"{where}: confidence must lie in (0, 1), got {confidence!r}")
    if t.shape != d.shape or t.ndim != 1 or t.size == 0:
        raise InvalidError(f"{where}: hours and failure flags must be two equal, non-empty lists")
    if not np.all(np.isfinite(t)) or np.any(t < 0) or np.any(t[d] <= 0):
        raise InvalidError(f"{where}: hours must be finite, >= 0, and > 0 for failures")
    r = int(d.sum())
    total = float(t.sum())
    if r == 0:
        bound = total / float(stats.chi2.ppf(confidence, 2) / 2.0) if total > 0 else 0.0
        raise InvalidError(
            f"{where}: no failure among {t.size} record(s): the MTBF cannot be estimated "
            f"(the data show MTBF > {bound:.4g} h at {confidence:.0%} confidence)"
        )
    expo = _exponential(total, r, confidence)
    weib = _weibull(t, d, confidence) if np.unique(t[d]).size >= 2 else None
    if model == "weibull" and weib is None:
        raise InvalidError(
            f"{where}: a Weibull needs at least two different failure times ({r} failure(s))"
        )
    p_value = None
    if weib is not None:
        lr = max(0.0, 2.0 * (weib.loglik - expo.loglik))
        p_value = float(stats.chi2.sf(lr, 1))
    if model == "auto":
        chosen = weib if weib is not None and weib.aic < expo.aic else expo
        how = "aic"
    else:
        chosen = weib if model == "weibull" and weib is not None else expo
        how = "requested"
    mttr, sd, ci, n_rep, logn = _repairs(
        np.empty(0) if repair_h is None else np.asarray(repair_h, float)[d], confidence
    )
    return ReliabilityFit(
        model=chosen.model,
        mtbf_h=chosen.mtbf_h,
        shape=chosen.shape,
        scale_h=chosen.scale_h,
        mtbf_ci=chosen.mtbf_ci,
        shape_ci=chosen.shape_ci,
        scale_ci=chosen.scale_ci,
        n_failures=r,
        n_censored=int(t.size - r),
        total_hours=total,
        confidence=confidence,
        exponential=expo,
        weibull=weib,
        lr_p_value=p_value,
        chosen_by=how,
        mttr_h=mttr,
        mttr_sd_h=sd,
        mttr_ci=ci,
        n_repairs=n_rep,
        repair_lognormal=logn,
    )
