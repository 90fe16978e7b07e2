"""A plain-data summary of a site: what ``phactory info`` prints."""

from __future__ import annotations

from collections import Counter
from typing import Any

from phactory.model.site import Site

__all__ = ["summarise_site"]


def summarise_site(site: Site) -> dict[str, Any]:
    """Units by class, recipes with critical paths, teams and shifts, plan totals.

    Returns JSON-ready data; durations are in hours.
    """
    by_class: dict[str, list[str]] = {c: [] for c in site.equipment_classes}
    for u in site.units.values():
        by_class.setdefault(u.equipment_class, []).append(u.id)
    recipes = []
    for r in site.recipes.values():
        cp, path = r.critical_path()
        recipes.append(
            {
                "id": r.id,
                "product": r.product,
                "version": r.version,
                "status": r.status,
                "batch_size": str(r.batch_size) if r.batch_size else None,
                "unit_procedures": len(r.unit_procedures),
                "phases": sum(len(up.phases()) for up in r.unit_procedures.values()),
                "critical_path_h": round(cp, 3),
                "critical_path": path,
            }
        )
    teams = []
    for t in site.teams.values():
        pattern = site.shift_patterns.get(t.shift_pattern)
        teams.append(
            {
                "id": t.id,
                "skills": list(t.skills),
                "headcount": t.headcount,
                "shift_pattern": t.shift_pattern,
                "staffed_h_per_week": round(pattern.weekly_hours(), 2) if pattern else None,
                "shifts": [s.name for s in pattern.shifts] if pattern else [],
            }
        )
    orders = site.orders
    batches: Counter[str] = Counter()
    for o in orders:
        batches[o.product] += site.batches_for(o)
    plan = None
    if site.plan is not None:
        plan = {
            "start": site.epoch.isoformat(),
            "horizon_h": site.plan.horizon,
            "horizon_d": round(site.plan.horizon / 24.0, 3),
            "orders": len(orders),
            "batches": sum(batches.values()),
            "batches_by_product": dict(batches),
            "patients": sum(1 for o in orders if o.patient),
        }
    return {
        "site": site.id,
        "name": site.name,
        "timezone": site.timezone,
        "areas": {a.id: list(a.process_cells) for a in site.areas.values()},
        "units": len(site.units),
        "units_by_class": by_class,
        "recipes": recipes,
        "teams": teams,
        "shift_patterns": list(site.shift_patterns),
        "holidays": len(site.calendar.holidays),
        "maintenance_windows": len(site.calendar.maintenance),
        "plan": plan,
    }
