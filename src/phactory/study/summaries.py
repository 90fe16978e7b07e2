"""Means over replications of the KPI tables a run's results keep.

Each :class:`phactory.kpi.KpiResult` holds tables of one replication (throughput per
day, the OEE loss tree, labour per team and shift, energy and bottleneck shares per
unit). A run's results (:class:`phactory.study.results.SimulationResults`) keep their
means over replications as plain records, so that the API and the pages read numbers,
not figures. Rows present in some replications only (a team idle in one) are averaged
over the replications that have them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

from phactory.kpi import KpiResult

__all__ = [
    "bottleneck_means",
    "energy_means",
    "labour_means",
    "loss_tree_means",
    "throughput_means",
]


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    clean = frame.astype(object).where(frame.notna(), None)
    return [{str(k): v for k, v in row.items()} for row in clean.to_dict("records")]


def _means(
    frames: Sequence[pd.DataFrame], keys: list[str], values: list[str]
) -> list[dict[str, Any]]:
    if not frames:
        return []
    both = pd.concat([f[[*keys, *values]] for f in frames], ignore_index=True)
    mean = both.groupby(keys, sort=False, dropna=False)[values].mean().reset_index()
    return _records(mean)


def throughput_means(results: Sequence[KpiResult]) -> list[dict[str, Any]]:
    """Per day: batches completed, scrapped, and completed so far (means), over the days
    every replication covers."""
    if not results:
        return []
    days = min(len(r.throughput) for r in results)
    frames = [r.throughput.iloc[:days] for r in results]
    values = ["batches_completed", "batches_scrapped", "cumulative_completed"]
    rows = _means(frames, ["day"], values)
    first = frames[0]
    if "date" in first:
        dates = [d.isoformat() for d in first["date"]]
        for row, date in zip(rows, dates, strict=True):
            row["date"] = date
    return rows


def loss_tree_means(results: Sequence[KpiResult]) -> list[dict[str, Any]]:
    """Every node of every unit's and the site's loss tree, mean hours."""
    keys = ["unit", "id", "parent", "label", "kind", "iso"]
    return _means([r.loss_tree for r in results], keys, ["hours"])


def labour_means(results: Sequence[KpiResult]) -> list[dict[str, Any]]:
    """Per team and shift: utilisation and person-hours, means."""
    values = ["utilisation", "assigned_person_h", "available_person_h", "off_shift_person_h"]
    return _means([r.labour for r in results], ["team", "shift"], values)


def energy_means(results: Sequence[KpiResult]) -> list[dict[str, Any]]:
    """Per unit: running and idle energy [kWh] and CO2e [kg], means."""
    frames = [r.energy.rename_axis("unit").reset_index() for r in results]
    return _means(frames, ["unit"], ["running_kwh", "idle_kwh", "energy_kwh", "co2e_kg"])


def bottleneck_means(results: Sequence[KpiResult]) -> list[dict[str, Any]]:
    """Per unit: sole, shifting and total bottleneck shares of the horizon, means."""
    values = ["sole_share", "shifting_share", "bottleneck_share"]
    return _means([r.bottleneck for r in results], ["unit"], values)
