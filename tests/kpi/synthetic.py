"""A crude stand-in for the plant twin: plausible event logs of a real site.

Batches run their recipe's unit procedures in topological order on the first free unit
of the right class; phases take sampled durations; labour waits, breakdowns, blocking,
changeovers, cleaning and scrap happen at random; gaps are idle or planned maintenance.
It is not a simulation (no shared resources beyond units), only a realistic *shape* of
log for testing KPI code and the report at scale.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from phactory.events import EventLog
from phactory.model import Site, load_site

ROOT = Path(__file__).resolve().parents[2]
MAB = ROOT / "examples" / "mab-biologics"


def mab_site() -> Site:
    """The mab-biologics example site."""
    return load_site(MAB)


def synthetic_log(
    site: Site, seed: int = 0, horizon_h: float | None = None, scale: int = 1
) -> EventLog:
    """A plausible event log of ``site`` (``scale`` multiplies the batches per order)."""
    rng = np.random.default_rng(seed)
    horizon = float(
        horizon_h if horizon_h is not None else (site.plan.horizon if site.plan else 8760.0)
    )
    units = list(site.units)
    free = dict.fromkeys(units, 0.0)
    last_product: dict[str, str | None] = dict.fromkeys(units)
    segs: dict[str, list[tuple[Any, ...]]] = {u: [] for u in units}
    labour: list[dict[str, Any]] = []
    batches: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
    team_of = {
        sk: next((t.id for t in site.teams.values() if sk in t.skills), "none")
        for sk in site.skills
    }
    maint: dict[str, list[tuple[float, float]]] = {u: [] for u in units}
    for w in site.calendar.maintenance:
        t0 = site.to_hours(w.start)
        while t0 < horizon:
            for u in w.units:
                maint[u].append((t0, t0 + w.duration))
            if w.every is None:
                break
            t0 += w.every

    n = 0
    for order in site.orders:
        recipe = site.recipe_for(order)
        release = max(0.0, site.to_hours(order.release)) if order.release else 0.0
        due = site.to_hours(order.due) if order.due else math.nan
        for _ in range(site.batches_for(order) * scale):
            n += 1
            name = f"{order.id}-B{n:04d}"
            end_of: dict[str, float] = {}
            status, b_start, b_end = "completed", math.nan, math.nan
            for proc_id in recipe.topological_order():
                up = recipe.unit_procedures[proc_id]
                est = max([release] + [end_of[lk.procedure] + lk.min_lag for lk in up.after])
                cands = [u.id for u in site.units_of_class(up.equipment_class)]
                unit = min(cands, key=lambda u: free[u])
                t = max(est, free[unit])
                segs[unit].append(("__gap__", free[unit], t))
                if t > est + 1e-9 and up.after:
                    pass
                if last_product[unit] not in (None, order.product) and rng.random() < 0.9:
                    d = float(rng.uniform(4, 12))
                    segs[unit].append(("setup", t, t + d, name, proc_id, None))
                    t += d
                last_product[unit] = order.product
                if math.isnan(b_start):
                    b_start = t
                    events.append({"t_h": t, "kind": "batch_started", "batch": name})
                for ph in up.phases():
                    if any(req for req in ph.labour) and rng.random() < 0.15:
                        d = float(rng.exponential(2.0))
                        segs[unit].append(("waiting_labour", t, t + d, name, proc_id, ph.id))
                        t += d
                    d = ph.duration.sample(rng)
                    if rng.random() < min(0.5, d / 2000.0):
                        cut = float(rng.uniform(0, d))
                        rep = float(rng.lognormal(1.5, 0.6))
                        segs[unit].append(("producing", t, t + cut, name, proc_id, ph.id))
                        segs[unit].append(("down", t + cut, t + cut + rep, name, proc_id, ph.id))
                        segs[unit].append(
                            ("producing", t + cut + rep, t + d + rep, name, proc_id, ph.id)
                        )
                        t += d + rep
                    else:
                        segs[unit].append(("producing", t, t + d, name, proc_id, ph.id))
                        t += d
                    for req in ph.labour:
                        ln = req.setup if req.scope == "setup" and req.setup else d
                        labour.append(
                            {
                                "team": team_of.get(req.skill, "none"),
                                "skill": req.skill,
                                "count": req.count,
                                "start_h": t - d,
                                "end_h": t - d + ln,
                                "batch": name,
                                "unit": unit,
                                "phase": ph.id,
                            }
                        )
                    if rng.random() < ph.failure_probability * 3:
                        status = "scrapped"
                        break
                if rng.random() < 0.1:
                    d = float(rng.exponential(3.0))
                    segs[unit].append(("blocked", t, t + d, name, proc_id, None))
                    t += d
                end_of[proc_id] = t
                clean = site.equipment_classes[up.equipment_class].cleaning.duration
                if clean > 0:
                    segs[unit].append(("cleaning", t, t + clean, None, None, None))
                free[unit] = t + clean
                if status == "scrapped":
                    break
            b_end = max(end_of.values()) if end_of else math.nan
            if status == "scrapped":
                events.append({"t_h": b_end, "kind": "batch_scrapped", "batch": name})
            if b_start >= horizon:
                status, b_start, b_end = "not_started", math.nan, math.nan
            elif b_end > horizon:
                status, b_end = "in_progress", math.nan
            batches.append(
                {
                    "batch": name,
                    "order": order.id,
                    "product": order.product,
                    "recipe": recipe.id,
                    "patient": order.patient,
                    "release_h": release,
                    "start_h": b_start,
                    "end_h": b_end,
                    "due_h": due,
                    "status": status,
                    "quantity": 2000.0 if status == "completed" else 0.0,
                }
            )

    rows: list[dict[str, Any]] = []
    for u in units:
        t = 0.0
        for seg in segs[u] + [("__gap__", t, horizon)]:
            state, a, b, *rest = seg
            a, b = max(a, t), min(b, horizon)
            if state == "__gap__":
                b = max(b, t) if seg is not segs[u][-1:] else b
                cur = t
                for m0, m1 in sorted(maint[u]):
                    if m1 <= cur or m0 >= b:
                        continue
                    if m0 > cur:
                        rows.append(_row(u, "idle", cur, m0))
                    rows.append(_row(u, "planned_down", max(m0, cur), min(m1, b)))
                    cur = min(m1, b)
                if b > cur:
                    rows.append(_row(u, "idle", cur, b))
                t = max(t, b)
                continue
            if b > a:
                batch_, proc, phase = (list(rest) + [None] * 3)[:3]
                rows.append(_row(u, state, a, b, batch_, proc, phase))
                t = b
            if t >= horizon:
                break
        if t < horizon:
            rows.append(_row(u, "idle", t, horizon))
    return EventLog(
        horizon_h=horizon,
        units=units,
        timeline=rows,
        events=events,
        batches=batches,
        labour=labour,
        epoch=site.epoch,
        site_id=site.id,
        seed=seed,
    )


def _row(
    unit: str,
    state: str,
    a: float,
    b: float,
    batch: Any = None,
    proc: Any = None,
    phase: Any = None,
) -> dict[str, Any]:
    order = batch.rsplit("-B", 1)[0] if isinstance(batch, str) else None
    return {
        "unit": unit,
        "state": state,
        "start_h": a,
        "end_h": b,
        "batch": batch,
        "order": order,
        "product": None,
        "procedure": proc,
        "phase": phase,
    }
