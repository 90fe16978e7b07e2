"""The result of a KPI computation on one event log: :class:`KpiResult`.

One :class:`KpiResult` holds the KPIs of one run (one replication of the twin, or one
period of the real plant). Several results are summarised with confidence intervals by
:func:`phactory.kpi.summarise`; two runs are compared by :mod:`phactory.study.comparison`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

import pandas as pd

from phactory.events import STATES

__all__ = ["SITE_KPIS", "UNIT_KPIS", "KpiResult"]

#: Site KPI names with their unit of measure, in the order they are reported.
SITE_KPIS: Final[dict[str, str]] = {
    "throughput_per_day": "batch/d",
    "throughput_per_week": "batch/wk",
    "quantity_per_day": "batch-size unit/d",
    "quantity_per_week": "batch-size unit/wk",
    "batches_completed": "batch",
    "batches_scrapped": "batch",
    "batches_started": "batch",
    "batches_in_progress": "batch",
    "batch_success_rate": "1",
    "oee": "1",
    "availability": "1",
    "effectiveness": "1",
    "quality_ratio": "1",
    "technical_efficiency": "1",
    "setup_ratio": "1",
    "utilisation": "1",
    "busy_utilisation": "1",
    "cycle_time_h": "h",
    "cycle_time_p50_h": "h",
    "cycle_time_p90_h": "h",
    "lead_time_h": "h",
    "lead_time_p50_h": "h",
    "lead_time_p90_h": "h",
    "vein_to_vein_h": "h",
    "vein_to_vein_p50_h": "h",
    "vein_to_vein_p90_h": "h",
    "wip": "batch",
    "wip_released": "batch",
    "orders_due": "order",
    "orders_on_time": "order",
    "on_time_delivery": "1",
    "labour_utilisation": "1",
    "energy_kwh": "kWh",
    "energy_per_batch_kwh": "kWh/batch",
    "co2e_kg": "kg CO2e",
    "co2e_per_batch_kg": "kg CO2e/batch",
    "bottleneck_share": "1",
}

#: Per-unit KPI columns of :attr:`KpiResult.units` that are ratios or hours.
UNIT_KPIS: Final[tuple[str, ...]] = (
    "availability",
    "effectiveness",
    "effectiveness_uncapped",
    "quality_ratio",
    "oee",
    "technical_efficiency",
    "setup_ratio",
    "utilisation",
    "busy_utilisation",
    "pbt_h",
    "apt_h",
    "aust_h",
    "adet_h",
    "performance_loss_h",
    "quality_loss_h",
    "value_adding_h",
    "batches_processed",
    "energy_kwh",
    "co2e_kg",
    "bottleneck_sole_share",
    "bottleneck_shifting_share",
    "bottleneck_share",
    *(f"{s}_h" for s in STATES),
)


@dataclass
class KpiResult:
    """KPIs of one event log; produced by :func:`phactory.kpi.compute`.

    Attributes
    ----------
    site
        Site KPIs by name (see :data:`SITE_KPIS` for names and units). Ratios are
        fractions in [0, 1]; an undefined KPI (e.g. a cycle time with no completed
        batch) is ``nan``.
    units
        One row per unit: hours per state (``producing_h`` ...), ISO 22400-2 time
        elements (``pbt_h, apt_h, aust_h, adet_h``), ``availability, effectiveness,
        effectiveness_uncapped, quality_ratio, oee, technical_efficiency, setup_ratio``,
        ``utilisation, busy_utilisation``, standard hours (``credit_h, good_credit_h``),
        losses (``performance_loss_h, quality_loss_h``) and ``value_adding_h`` [h],
        ``batches_processed``, ``energy_kwh``, ``co2e_kg`` and the bottleneck shares.
    loss_tree
        The OEE loss tree as a long table (``unit, id, parent, label, kind, iso, hours,
        share_of_pbt, share_of_horizon``); ``unit == "site"`` holds the site total.
        :meth:`loss_tree_nested` turns it into nested dicts.
    bottleneck
        Shifting-bottleneck shares per unit (Roser et al. 2002), sorted, top first.
    throughput
        Batches completed, scrapped, started and quantity per day of the horizon.
    labour
        Person-hours on shift and assigned, and utilisation, per team and shift.
    energy
        Energy [kWh] and CO2e [kg] per unit, split into running and idle draw.
    batches
        One row per batch with its status, cycle time and lead time [h].
    orders
        One row per order with its due time, completion and whether it was on time.
    bottleneck_unit
        The unit that is most often the (sole or shifting) bottleneck, or ``None``.
    horizon_h
        Length of the run [h].
    """

    site: dict[str, float]
    units: pd.DataFrame
    loss_tree: pd.DataFrame
    bottleneck: pd.DataFrame
    throughput: pd.DataFrame
    labour: pd.DataFrame
    energy: pd.DataFrame
    batches: pd.DataFrame
    orders: pd.DataFrame
    bottleneck_unit: str | None
    horizon_h: float
    seed: int | None = None
    notes: list[str] = field(default_factory=list)

    def loss_tree_nested(self, unit: str = "site") -> dict[str, Any]:
        """The loss tree of ``unit`` (default the site) as nested dicts.

        Each node is ``{"id", "label", "hours", "share_of_pbt", "children": [...]}``.
        """
        rows = self.loss_tree[self.loss_tree["unit"] == unit]
        if rows.empty:
            raise KeyError(f"no loss tree for unit {unit!r}")
        nodes: dict[str, dict[str, Any]] = {}
        for rec in rows.to_dict("records"):
            nodes[str(rec["id"])] = {
                "id": rec["id"],
                "label": rec["label"],
                "kind": rec["kind"],
                "iso": rec["iso"],
                "hours": float(rec["hours"]),
                "share_of_pbt": float(rec["share_of_pbt"]),
                "children": [],
            }
        root: dict[str, Any] = {}
        for rec in rows.to_dict("records"):
            parent = str(rec["parent"])
            if parent in nodes:
                nodes[parent]["children"].append(nodes[str(rec["id"])])
            else:
                root = nodes[str(rec["id"])]
        return root

    def weekly_throughput(self) -> pd.DataFrame:
        """:attr:`throughput` summed over weeks of the horizon (week 0 = days 0-6)."""
        t = self.throughput
        cols = ["batches_started", "batches_completed", "batches_scrapped", "quantity"]
        weekly = t.groupby(t["day"] // 7)[cols].sum()
        weekly.index.name = "week"
        weekly = weekly.reset_index()
        weekly.insert(1, "start_h", weekly["week"] * 168.0)
        weekly["cumulative_completed"] = weekly["batches_completed"].cumsum()
        return weekly

    def kpi_series(self) -> pd.Series:
        """Site KPIs and per-unit KPIs as one flat series indexed by ``(scope, kpi)``.

        ``scope`` is ``"site"`` or a unit id. Used by :func:`phactory.kpi.summarise`.
        """
        keys: list[tuple[str, str]] = [("site", k) for k in self.site]
        values: list[float] = [float(v) for v in self.site.values()]
        cols = [c for c in UNIT_KPIS if c in self.units.columns]
        if cols and not self.units.empty:
            stacked = self.units[cols].astype(float).stack(future_stack=True)
            keys.extend((str(u), str(k)) for u, k in stacked.index)
            values.extend(float(x) for x in stacked.to_numpy(dtype=float))
        index = pd.MultiIndex.from_tuples(keys, names=["scope", "kpi"])
        return pd.Series(values, index=index, dtype=float)
