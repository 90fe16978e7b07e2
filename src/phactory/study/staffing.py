"""The smallest crew per team that still meets a KPI target, searched with the twin.

For each team the headcount per shift is lowered while the target still holds at the
requested confidence, judged on the one-sided Student-t confidence bound of the KPI
over replications (for ``>=`` targets the lower bound must reach the value, for ``<=``
the upper bound must stay under it) [1]_. Every evaluation reuses the same replication
seeds (common random numbers), so that differences between headcounts are not noise
[1]_. Teams are reduced one at a time, largest saving first; the combination found is
then checked as a whole and, if it misses, the team whose extra person helps most is
raised until it holds.

References
----------
.. [1] A. M. Law, *Simulation Modeling and Analysis*, 5th ed., McGraw-Hill, 2015,
   §9.4.1 (confidence intervals) and §11.2 (common random numbers).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING

import numpy as np
from scipy import stats

from phactory.model import Site, SiteValidationError

if TYPE_CHECKING:
    from phactory.events import EventLog

__all__ = ["StaffTarget", "StaffingResult", "optimise_staff"]

_TARGET = re.compile(r"^\s*([a-z_][a-z0-9_]*)\s*(>=|<=)\s*([-+0-9.eE]+)\s*$")


@dataclass(frozen=True)
class StaffTarget:
    """A KPI target such as ``throughput_per_day>=0.14``."""

    kpi: str
    op: str
    value: float

    @classmethod
    def parse(cls, text: str) -> StaffTarget:
        """Read ``NAME>=VALUE`` or ``NAME<=VALUE``; ``ValueError`` names what is wrong."""
        m = _TARGET.match(text)
        if not m:
            raise ValueError(
                f"cannot read target {text!r}; write it as KPI>=VALUE or KPI<=VALUE, "
                "e.g. throughput_per_day>=0.14"
            )
        return cls(m.group(1), m.group(2), float(m.group(3)))

    def met(self, values: list[float], confidence: float) -> bool:
        """Whether the one-sided confidence bound of ``values`` meets the target."""
        x = np.asarray([v for v in values if math.isfinite(v)], dtype=float)
        if x.size == 0:
            return False
        mean = float(x.mean())
        half = 0.0
        if x.size > 1:
            half = float(stats.t.ppf(confidence, x.size - 1) * x.std(ddof=1) / math.sqrt(x.size))
        return mean - half >= self.value if self.op == ">=" else mean + half <= self.value

    def __str__(self) -> str:
        return f"{self.kpi}{self.op}{self.value:g}"


@dataclass(frozen=True)
class Evaluation:
    """One point of the trade-off curve: crews, the KPI's mean and CI half-width."""

    headcounts: dict[str, int]
    mean: float
    half_width: float
    met: bool


@dataclass
class StaffingResult:
    """The crews found and every evaluation made on the way (the trade-off curve)."""

    target: StaffTarget
    confidence: float
    headcounts: dict[str, int]
    met: bool
    evaluations: list[Evaluation] = field(default_factory=list)


Evaluate = Callable[[Site], list[float]]


def optimise_staff(
    site: Site,
    target: StaffTarget,
    *,
    confidence: float = 0.95,
    teams: list[str] | None = None,
    replications: int = 5,
    seed: int = 0,
    days: float | None = None,
    processes: int | None = None,
    progress: Callable[[str], None] | None = None,
) -> StaffingResult:
    """Search the smallest headcount per team meeting ``target`` at ``confidence``.

    Raises
    ------
    ValueError
        For an unknown team or KPI, or a confidence outside (0.5, 1).
    """
    from phactory.twin import TwinError, replicate

    if not 0.5 < confidence < 1.0:
        raise ValueError(f"confidence must lie in (0.5, 1), got {confidence}")
    names = teams or list(site.teams)
    unknown = [t for t in names if t not in site.teams]
    if unknown:
        raise ValueError(f"unknown team(s) {unknown}; known: {sorted(site.teams)}")

    cache: dict[tuple[tuple[str, int], ...], list[float]] = {}
    evaluations: list[Evaluation] = []

    def evaluate(crews: dict[str, int]) -> list[float]:
        key = tuple(sorted(crews.items()))
        if key not in cache:
            try:
                variant = site.with_overrides({f"teams.{t}.headcount": n for t, n in crews.items()})
                values = replicate(
                    variant,
                    replications,
                    seed,
                    processes=processes,
                    then=partial(_site_kpi, target.kpi),
                    days=days,
                )
            except (TwinError, SiteValidationError):  # e.g. a phase needs more than the crew
                values = [float("nan")]
            cache[key] = values
            ok = target.met(values, confidence)
            evaluations.append(
                Evaluation(dict(crews), float(np.mean(values)), _half(values, confidence), ok)
            )
            if progress is not None:
                progress(
                    f"{dict(crews)}: {target.kpi} = {np.mean(values):.4g} "
                    f"({'meets' if ok else 'misses'} {target})"
                )
        return cache[key]

    current = {t: site.teams[t].headcount for t in names}
    if not target.met(evaluate(current), confidence):
        return StaffingResult(target, confidence, current, False, evaluations)

    best = dict(current)
    for team in names:
        # Binary search on this team with the others at their best so far: the KPI is
        # monotone in headcount up to simulation noise, which common seeds keep small.
        lo, hi = 0, best[team]
        while lo < hi:
            mid = (lo + hi) // 2
            trial = {**best, team: mid}
            if target.met(evaluate(trial), confidence):
                hi = mid
            else:
                lo = mid + 1
        best[team] = hi
    while not target.met(evaluate(best), confidence):
        gains = []
        for team in names:
            if best[team] < current[team]:
                trial = {**best, team: best[team] + 1}
                gains.append((float(np.mean(evaluate(trial))), team))
        if not gains:
            break
        pick = max(gains)[1] if target.op == ">=" else min(gains)[1]
        best[pick] += 1
    return StaffingResult(
        target, confidence, best, target.met(evaluate(best), confidence), evaluations
    )


def _half(values: list[float], confidence: float) -> float:
    x = np.asarray(values, dtype=float)
    if x.size < 2:
        return 0.0
    return float(stats.t.ppf(confidence, x.size - 1) * x.std(ddof=1) / math.sqrt(x.size))


def _site_kpi(name: str, index: int, log: EventLog, site: Site) -> float:
    """One site KPI of one replication, computed where it ran (``replicate``'s ``then``)."""
    from phactory.kpi import compute

    kpis = compute(log, site).site
    if name not in kpis:
        raise ValueError(f"unknown KPI {name!r}; known: {sorted(kpis)}")
    return float(kpis[name])
