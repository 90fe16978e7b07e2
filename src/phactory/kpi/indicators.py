"""``compute``: every KPI of one event log.

The event log is the only source of facts; the site adds what a log does not carry:
planned phase durations (for effectiveness), energy draw, teams and shifts, the
emission factor and the order sizes. The same function serves simulated and real logs.
"""

from __future__ import annotations

import datetime as dt
import math

import pandas as pd

from phactory.events import STATES, EventLog
from phactory.kpi.bottleneck import active_periods, pool_periods, shifting_bottleneck, unit_pools
from phactory.kpi.energy import energy_table, unit_power
from phactory.kpi.flow import batch_times, distribution, on_time_delivery, vein_to_vein, wip
from phactory.kpi.labour import labour_table, site_labour_utilisation
from phactory.kpi.losses import loss_tree
from phactory.kpi.oee import (
    PlannedDurations,
    all_units,
    clipped_timeline,
    oee_table,
    planned_phase_hours,
    ratio,
    site_oee,
    state_hours,
    time_elements,
    work_credit,
)
from phactory.kpi.result import SITE_KPIS, KpiResult
from phactory.kpi.throughput import batch_counts, daily_throughput
from phactory.model import Site

__all__ = ["compute"]


def _required_batches(site: Site | None) -> dict[str, int]:
    if site is None:
        return {}
    out: dict[str, int] = {}
    for order in site.orders:
        try:
            out[order.id] = site.batches_for(order)
        except (KeyError, ValueError):
            continue
    return out


def compute(
    log: EventLog,
    site: Site | None = None,
    *,
    planned: PlannedDurations | None = None,
    emission_factor: float | None = None,
) -> KpiResult:
    """Compute the KPIs of one event log.

    Parameters
    ----------
    log
        The event log of one run (simulated or executed).
    site
        The site the log comes from: planned phase durations, energy draw, teams and
        shifts, emission factor, order sizes. Without it, effectiveness is 1 wherever
        producing time exists (no planned times), energy is 0 and labour utilisation
        is ``nan``.
    planned
        Planned phase durations [h] keyed by ``(recipe, procedure, phase)`` (recipe
        ``"*"`` matches any); default the mean phase durations of the site's recipes.
    emission_factor
        Grid emission factor [kg CO2e/kWh]; default ``site.emission_factor``.

    Returns
    -------
    KpiResult
        Site KPIs (names in :data:`phactory.kpi.SITE_KPIS`), per-unit KPIs, loss tree,
        bottleneck shares, daily throughput, labour, energy, batch and order tables.

    Notes
    -----
    Definitions are documented in :mod:`phactory.kpi.oee` (availability,
    effectiveness, quality ratio, OEE per ISO 22400-2:2014), :mod:`phactory.kpi.losses`,
    :mod:`phactory.kpi.flow` (cycle/lead time, WIP per Little 1961, on-time delivery),
    :mod:`phactory.kpi.labour`, :mod:`phactory.kpi.energy` and
    :mod:`phactory.kpi.bottleneck` (Roser et al. 2002).
    """
    horizon = float(log.horizon_h)
    units = all_units(log)
    notes: list[str] = []
    if planned is None and site is not None:
        planned = planned_phase_hours(site)
    if planned is None:
        notes.append("no planned phase durations: effectiveness counts actual time")
    epoch: dt.datetime | None = log.epoch
    if site is not None:
        epoch = site.aware(epoch) if epoch is not None else site.epoch
    ef = float(
        emission_factor
        if emission_factor is not None
        else (site.emission_factor if site is not None else 0.0)
    )

    timeline = clipped_timeline(log)
    hours = state_hours(log, units, timeline)
    elements = time_elements(hours)
    credit = work_credit(log, planned, site, timeline)
    oee = oee_table(elements, credit)
    tree = loss_tree(hours, oee)
    energy = energy_table(hours, unit_power(site, units), ef)
    periods = active_periods(timeline)
    pools = unit_pools(site, units)
    bneck = shifting_bottleneck(
        pool_periods(periods, pools), list(dict.fromkeys(pools[u] for u in units)), horizon
    )
    throughput = daily_throughput(log.batches, horizon, epoch)
    times = batch_times(log.batches, horizon)
    otd, orders = on_time_delivery(log.batches, horizon, _required_batches(site))
    labour = labour_table(log.labour, site, horizon, epoch)

    table = pd.concat(
        [hours.add_suffix("_h"), elements[["pbt_h", "apt_h", "aust_h", "adet_h"]]], axis=1
    )
    table = pd.concat([table, oee], axis=1)
    table["utilisation"] = ratio(hours["producing"], elements["horizon_h"])
    busy = hours[["producing", "setup", "cleaning"]].sum(axis=1)
    table["busy_utilisation"] = ratio(busy, elements["horizon_h"])
    table["energy_kwh"] = energy["energy_kwh"]
    table["co2e_kg"] = energy["co2e_kg"]
    # A unit in a pool carries its pool's bottleneck shares.
    b = bneck.set_index("unit").reindex([pools[u] for u in table.index])
    b.index = table.index
    table["bottleneck_sole_share"] = b["sole_share"]
    table["bottleneck_shifting_share"] = b["shifting_share"]
    table["bottleneck_share"] = b["bottleneck_share"]
    table.index.name = "unit"

    kpis: dict[str, float] = {}
    counts = batch_counts(log.batches, horizon)
    kpis.update(counts)
    kpis.update(site_oee(elements, oee))
    total = float(elements["horizon_h"].sum())
    kpis["utilisation"] = float(ratio(hours["producing"].sum(), total))
    kpis["busy_utilisation"] = float(ratio(busy.sum(), total))
    kpis.update(distribution(times["cycle_time_h"], "cycle_time"))
    kpis.update(distribution(times["lead_time_h"], "lead_time"))
    kpis.update(distribution(vein_to_vein(times), "vein_to_vein"))
    kpis["wip"] = wip(log.batches, horizon, "start_h")
    kpis["wip_released"] = wip(log.batches, horizon, "release_h")
    kpis["orders_due"] = float(orders["due"].sum())
    kpis["orders_on_time"] = float(orders["on_time"].sum())
    kpis["on_time_delivery"] = otd
    kpis["labour_utilisation"] = site_labour_utilisation(labour)
    energy_kwh = float(energy["energy_kwh"].sum())
    kpis["energy_kwh"] = energy_kwh
    kpis["co2e_kg"] = float(energy["co2e_kg"].sum())
    done = counts["batches_completed"]
    kpis["energy_per_batch_kwh"] = energy_kwh / done if done else math.nan
    kpis["co2e_per_batch_kg"] = kpis["co2e_kg"] / done if done else math.nan
    top = bneck.iloc[0] if len(bneck) and bneck["bottleneck_share"].iloc[0] > 0 else None
    kpis["bottleneck_share"] = float(top["bottleneck_share"]) if top is not None else 0.0
    site_kpis = {k: float(kpis[k]) for k in SITE_KPIS}

    assert list(hours.columns) == list(STATES)
    return KpiResult(
        site=site_kpis,
        units=table,
        loss_tree=tree,
        bottleneck=bneck,
        throughput=throughput,
        labour=labour,
        energy=energy,
        batches=times,
        orders=orders,
        bottleneck_unit=str(top["unit"]) if top is not None else None,
        horizon_h=horizon,
        seed=log.seed,
        notes=notes,
    )
