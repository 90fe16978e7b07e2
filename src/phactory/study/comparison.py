"""Two simulation runs compared KPI by KPI: paired over shared seeds, else Welch.

Replications of two scenarios run with the same base seed draw the same random numbers
(common random numbers): replication ``i`` of both runs has the same seed
(:func:`phactory.twin.replication_seeds`), so the same failures and durations hit both
plants, and the two KPI values of one seed are correlated. The difference of the
scenarios is then estimated on the per-seed differences ``d_i = B_i - A_i``: their mean
``d̄`` and the paired-t confidence interval

    d̄ ± t(1 - α/2, n - 1) · s_d / sqrt(n)

over the ``n`` shared seeds, with the two-sided paired t-test of ``d̄ = 0`` [1]_ [2]_.
Pairing removes the variance both runs share; treating such replications as
independent samples (Welch's test) overstates the noise, so that real differences are
missed. Where the runs share fewer than two seeds the replications are independent and
Welch's unequal-variance test is used on all of them [1]_ [3]_; the comparison says
which test it used and what its intervals cover.

KPIs undefined in a replication (``None``) are left out of that KPI's sample: a pair
counts only where both runs define the KPI. With no spread in the differences, the
difference is significant iff it is non-zero.
Differences of ratios (OEE, availability, on-time delivery ...) are fractions here and
are shown in percentage points (:meth:`KpiDifference.shown`).

References
----------
.. [1] A. M. Law, *Simulation Modeling and Analysis*, 5th ed., McGraw-Hill, 2015,
   §10.2 (comparing two systems: paired-t and Welch confidence intervals) and §11.2
   (common random numbers).
.. [2] "Student", "The probable error of a mean", Biometrika 6(1):1-25, 1908.
.. [3] B. L. Welch, "The generalization of 'Student's' problem when several different
   population variances are involved", Biometrika 34(1/2):28-35, 1947.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Literal

from pydantic import BaseModel, ConfigDict

from phactory.study.results import Number

__all__ = ["Comparison", "KpiDifference", "TestName", "compare_replications"]

#: How two runs were compared.
TestName = Literal["paired", "welch"]

#: Fewest shared seeds for a paired comparison (a spread needs two differences).
MIN_PAIRS = 2


class KpiDifference(BaseModel):
    """One KPI of two runs: B - A with its confidence interval and the test's p-value.

    Attributes
    ----------
    kpi, unit
        The KPI and its unit of measure (``"1"`` for ratios).
    mean_a, mean_b
        Means over the replications the test used (the shared seeds when paired).
    diff
        ``mean(B - A)`` over shared seeds (paired), or ``mean(B) - mean(A)`` (Welch), in
        the KPI's unit (a fraction for ratios).
    ci_low, ci_high
        The confidence interval of ``diff`` (see :attr:`Comparison.covers`).
    p_value
        Two-sided p-value of ``diff = 0``; ``None`` with fewer than two values a side.
    significant
        ``p_value < alpha``.
    n_a, n_b
        Replications used from each run (equal, the pairs, when paired).
    """

    model_config = ConfigDict(frozen=True)

    kpi: str
    unit: str = ""
    mean_a: Number = None
    mean_b: Number = None
    diff: Number = None
    ci_low: Number = None
    ci_high: Number = None
    p_value: Number = None
    significant: bool = False
    n_a: int = 0
    n_b: int = 0

    @property
    def ratio(self) -> bool:
        """Whether the KPI is a ratio (unit ``1``), its differences in percentage points."""
        return self.unit == "1"

    def shown(self) -> tuple[float | None, float | None, float | None, str]:
        """``(diff, ci_low, ci_high, unit)`` as people read them: ratios in percentage
        points (``"pp"``), every other KPI in its own unit."""
        if not self.ratio:
            return self.diff, self.ci_low, self.ci_high, self.unit
        scale = [None if v is None else 100.0 * v for v in (self.diff, self.ci_low, self.ci_high)]
        return scale[0], scale[1], scale[2], "pp"


class Comparison(BaseModel):
    """Run B against baseline A, KPI by KPI.

    Attributes
    ----------
    test
        ``"paired"`` (paired t over shared seeds) or ``"welch"`` (Welch's unequal-variance
        t-test, when the runs share fewer than two seeds).
    shared_seeds
        How many replication seeds the two runs have in common.
    confidence
        Level of every interval (``1 - alpha``).
    rows
        One :class:`KpiDifference` per KPI, in the order of A's KPIs.
    """

    model_config = ConfigDict(frozen=True)

    test: TestName
    shared_seeds: int
    confidence: float = 0.95
    rows: list[KpiDifference]

    @property
    def method(self) -> str:
        """The test in words, e.g. ``"paired t-test over 5 shared seeds"``."""
        if self.test == "paired":
            return f"paired t-test over {self.shared_seeds} shared seeds"
        why = "no shared seeds" if self.shared_seeds == 0 else "fewer than 2 shared seeds"
        return f"Welch t-test ({why}: replications compared as independent samples)"

    @property
    def covers(self) -> str:
        """What each interval covers, e.g. ``"95 % CI of the mean paired difference B − A"``."""
        level = f"{100 * self.confidence:g} %"
        if self.test == "paired":
            return f"{level} CI of the mean paired difference B − A"
        return f"{level} CI of the difference of means B − A"

    def row(self, kpi: str) -> KpiDifference | None:
        """The row of ``kpi``, or ``None``."""
        return next((r for r in self.rows if r.kpi == kpi), None)


def _finite(value: float | None) -> bool:
    return value is not None and isinstance(value, int | float) and math.isfinite(value)


def _kpi_units() -> Mapping[str, str]:
    from phactory.kpi.result import SITE_KPIS

    return SITE_KPIS


def compare_replications(
    a: Sequence[Mapping[str, float | None]],
    b: Sequence[Mapping[str, float | None]],
    seeds_a: Sequence[int] | None = None,
    seeds_b: Sequence[int] | None = None,
    *,
    alpha: float = 0.05,
) -> Comparison:
    """Compare the per-replication site KPIs of run B against baseline run A.

    Parameters
    ----------
    a, b
        ``{kpi: value}`` of each replication (``None`` or ``NaN`` where undefined).
    seeds_a, seeds_b
        The seed of each replication; replications with equal seeds are paired. Without
        seeds (``None``) nothing is paired and Welch's test is used.
    alpha
        Significance level; intervals have level ``1 - alpha``.

    Returns
    -------
    Comparison
        Paired over the shared seeds if there are at least two, else Welch.

    Raises
    ------
    ValueError
        If a seed list does not match its replications.
    """
    for what, values, seeds in (("A", a, seeds_a), ("B", b, seeds_b)):
        if seeds is not None and len(seeds) != len(values):
            raise ValueError(f"run {what} has {len(values)} replications but {len(seeds)} seeds")
    index_b = {s: i for i, s in enumerate(seeds_b or ())}
    pairs = [(i, index_b[s]) for i, s in enumerate(seeds_a or ()) if s in index_b]
    paired = len(pairs) >= MIN_PAIRS
    names = list(dict.fromkeys([*(k for r in a for k in r), *(k for r in b for k in r)]))
    units = _kpi_units()
    rows: list[KpiDifference] = []
    for name in names:
        if paired:
            both = [(a[i].get(name), b[j].get(name)) for i, j in pairs]
            kept = [(x, y) for x, y in both if _finite(x) and _finite(y)]
            xa = [float(x) for x, _ in kept]  # type: ignore[arg-type]
            xb = [float(y) for _, y in kept]  # type: ignore[arg-type]
        else:
            xa = [float(v) for r in a if _finite(v := r.get(name))]  # type: ignore[arg-type]
            xb = [float(v) for r in b if _finite(v := r.get(name))]  # type: ignore[arg-type]
        rows.append(_difference(name, units.get(name, ""), xa, xb, paired, alpha))
    return Comparison(
        test="paired" if paired else "welch",
        shared_seeds=len(pairs),
        confidence=1.0 - alpha,
        rows=rows,
    )


def _difference(
    name: str,
    unit: str,
    xa: list[float],
    xb: list[float],
    paired: bool,
    alpha: float,
) -> KpiDifference:
    from scipy import stats as st

    ma = math.fsum(xa) / len(xa) if xa else None
    mb = math.fsum(xb) / len(xb) if xb else None
    base = {"kpi": name, "unit": unit, "mean_a": ma, "mean_b": mb, "n_a": len(xa), "n_b": len(xb)}
    if ma is None or mb is None:
        return KpiDifference(**base)
    if paired:
        d = [y - x for x, y in zip(xa, xb, strict=True)]
        diff = math.fsum(d) / len(d)
        spread = len(d) > 1 and max(d) > min(d)
    else:
        diff = mb - ma
        spread = (len(xa) > 1 and max(xa) > min(xa)) or (len(xb) > 1 and max(xb) > min(xb))
    if len(xa) < 2 or len(xb) < 2:
        return KpiDifference(**base, diff=diff)
    test = None
    if spread:
        test = st.ttest_rel(xb, xa) if paired else st.ttest_ind(xb, xa, equal_var=False)
    # No noise at all (or a spread so small that the test's variance underflows, e.g.
    # differences of 5e-324): any difference is real, none is not.
    if test is None or not math.isfinite(float(test.pvalue)):
        return KpiDifference(
            **base, diff=diff, ci_low=diff, ci_high=diff, p_value=1.0 if diff == 0 else 0.0,
            significant=diff != 0,
        )  # fmt: skip
    ci = test.confidence_interval(1.0 - alpha)
    p = float(test.pvalue)
    return KpiDifference(
        **base,
        diff=diff,
        ci_low=float(ci.low),
        ci_high=float(ci.high),
        p_value=p,
        significant=p < alpha,
    )
