"""Monte Carlo simulation studies of a site: replications, KPIs and their CIs."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any

import pandas as pd

from phactory.events import EventLog
from phactory.kpi import KpiResult, compute, summarise
from phactory.model import Site

if TYPE_CHECKING:
    from phactory.study.comparison import Comparison
    from phactory.study.results import SimulationResults

__all__ = ["KPI_NAMES", "SimulationStudy", "compare_studies", "frame_records", "run_study"]

#: Site KPIs every study reports (``--json`` keys), in display order.
KPI_NAMES = (
    "throughput_per_day",
    "batches_completed",
    "batches_scrapped",
    "oee",
    "availability",
    "effectiveness",
    "quality_ratio",
    "utilisation",
    "cycle_time_h",
    "lead_time_h",
    "on_time_delivery",
    "labour_utilisation",
    "energy_kwh",
    "co2e_kg",
)

Progress = Callable[[int, int], None]


@dataclass
class SimulationStudy:
    """Replications of one site and their KPIs.

    Attributes
    ----------
    logs
        The event logs of the first ``keep_logs`` replications (see :func:`run_study`),
        in seed order; reports and exports show the first.
    results
        :func:`phactory.kpi.compute` of each log.
    wall_s
        Wall-clock time of the simulations and KPI computation [s].
    """

    site: Site
    days: float
    replications: int
    seed: int
    logs: list[EventLog]
    results: list[KpiResult]
    wall_s: float
    name: str = ""
    dispatch: str = "fifo"
    _summary: pd.DataFrame | None = field(default=None, repr=False)

    @property
    def summary(self) -> pd.DataFrame:
        """Mean and 95 % CI per ``(scope, kpi)`` (see :func:`phactory.kpi.summarise`)."""
        if self._summary is None:
            self._summary = summarise(self.results)
        return self._summary

    def kpi(self, name: str, scope: str = "site") -> dict[str, float]:
        """``{"mean", "ci_low", "ci_high"}`` of one KPI; ``KeyError`` if unknown."""
        return self.kpi_table()[(scope, name)]

    def kpi_table(self) -> dict[tuple[str, str], dict[str, float]]:
        """``{(scope, kpi): {"mean", "ci_low", "ci_high"}}`` for every KPI."""
        return frame_records(self.summary, ("mean", "ci_low", "ci_high"))

    @property
    def seeds(self) -> list[int]:
        """The seed of each replication, in order (what paired comparisons match)."""
        from phactory.twin import replication_seeds

        recorded = [r.seed for r in self.results]
        if all(s is not None for s in recorded):
            return [int(s) for s in recorded if s is not None]
        return replication_seeds(self.seed, len(self.results))

    def to_results(self, *, schedule: str | None = None) -> SimulationResults:
        """The study as a run's typed results (what the store keeps and the API returns)."""
        from phactory.study import summaries
        from phactory.study.results import SimulationResults

        table = self.kpi_table()
        site_kpis = [k for scope, k in table if scope == "site"]
        ordered = [k for k in KPI_NAMES if k in site_kpis]
        ordered += [k for k in site_kpis if k not in ordered]
        units: dict[str, dict[str, dict[str, float]]] = {}
        for (scope, name), values in table.items():
            if scope != "site":
                units.setdefault(scope, {})[name] = values
        return SimulationResults.model_validate(
            {
                "site": self.site.id,
                "name": self.name or self.site.id,
                "days": self.days,
                "replications": self.replications,
                "seed": self.seed,
                "wall_s": round(self.wall_s, 3),
                "dispatch": self.dispatch,
                "kpis": {k: table[("site", k)] for k in ordered},
                "units": units,
                "replication_kpis": [dict(r.site) for r in self.results],
                "replication_seeds": self.seeds,
                "bottleneck_units": [r.bottleneck_unit for r in self.results],
                "throughput": summaries.throughput_means(self.results),
                "loss_tree": summaries.loss_tree_means(self.results),
                "labour": summaries.labour_means(self.results),
                "energy": summaries.energy_means(self.results),
                "bottlenecks": summaries.bottleneck_means(self.results),
                "schedule": schedule,
            }
        )

    def to_dict(self) -> dict[str, Any]:
        """The ``phactory simulate --json`` object: :meth:`to_results` as plain JSON data
        (``None`` where a KPI is undefined)."""
        from phactory.jsonio import json_safe

        out: dict[str, Any] = json_safe(self.to_results())
        return out


def frame_records(
    frame: pd.DataFrame, columns: tuple[str, ...]
) -> dict[tuple[str, str], dict[str, float]]:
    """Rows of a ``(scope, kpi)``-indexed KPI frame as plain floats (NaN where undefined)."""
    out: dict[tuple[str, str], dict[str, float]] = {}
    for rec in frame.reset_index().to_dict("records"):
        out[(str(rec["scope"]), str(rec["kpi"]))] = {c: _num(rec[c]) for c in columns}
    return out


def _num(x: Any) -> float:
    v = float(x)
    return v if math.isfinite(v) else float("nan")


def run_study(
    site: Site,
    days: float | None = None,
    replications: int = 1,
    seed: int = 0,
    *,
    processes: int | None = None,
    cluster: Any = None,
    dispatch: str = "fifo",
    name: str = "",
    progress: Progress | None = None,
    deterministic: bool = False,
    keep_logs: int = 1,
) -> SimulationStudy:
    """Simulate ``replications`` runs of ``site`` and compute their KPIs.

    Parameters
    ----------
    days
        Horizon [d]; default the plan horizon.
    processes, cluster
        Where replications run (see :func:`phactory.twin.replicate`).
    progress
        Called as ``progress(done, total)`` as each replication's KPIs are computed.
    keep_logs
        How many replications' event logs to keep (the first ones, in seed order); the
        KPIs of every replication are kept. Each log is computed, summarised and, past
        this number, dropped where its replication ran, so that a parallel study ships
        back only KPIs.

    Raises
    ------
    phactory.twin.TwinError
        If the plan cannot be simulated.
    """
    from phactory.twin import replicate
    from phactory.twin.validate import horizon_hours

    t0 = time.perf_counter()
    out = replicate(
        site,
        replications,
        seed,
        processes=processes,
        cluster=cluster,
        then=partial(_replication_kpis, keep_logs),
        progress=progress,
        days=days,
        dispatch=dispatch,
        deterministic=deterministic,
    )
    results = [r for r, _ in out]
    logs = [log for _, log in out if log is not None]
    horizon_d = horizon_hours(site, days) / 24.0
    return SimulationStudy(
        site,
        horizon_d,
        replications,
        seed,
        logs,
        results,
        time.perf_counter() - t0,
        name=name,
        dispatch=dispatch,
    )


def _replication_kpis(
    keep_logs: int, index: int, log: EventLog, site: Site
) -> tuple[KpiResult, EventLog | None]:
    # Runs where the replication ran (see phactory.twin.replicate's ``then``).
    return compute(log, site), (log if index < keep_logs else None)


def compare_studies(
    baseline: SimulationStudy, other: SimulationStudy, *, alpha: float = 0.05
) -> Comparison:
    """Site KPI differences ``other - baseline``: paired over shared seeds, else Welch.

    See :func:`phactory.study.comparison.compare_replications`.
    """
    from phactory.study.comparison import compare_replications

    return compare_replications(
        [dict(r.site) for r in baseline.results],
        [dict(r.site) for r in other.results],
        baseline.seeds,
        other.seeds,
        alpha=alpha,
    )
