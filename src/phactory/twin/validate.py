"""Refuse plans the twin could never complete, before simulating anything.

The loader already reports structural problems with file and line; a site can also be
built in code (``Site.model_validate``) or changed by overrides, and some problems only
matter for a run: an order whose recipe needs an equipment class without units, or a
phase needing a skill no team holds, would leave batches waiting forever. Those are
refused here with a :class:`~phactory.twin.errors.TwinError` naming the order, recipe,
unit procedure and phase.
"""

from __future__ import annotations

import math

from phactory.model import MasterRecipe, Site
from phactory.twin.errors import TwinError

__all__ = ["check_runnable", "horizon_hours"]


def horizon_hours(site: Site, days: float | None) -> float:
    """The run length [h]: ``days`` if given, else the plan horizon."""
    if days is not None:
        if isinstance(days, bool) or not isinstance(days, int | float):
            raise TwinError(f"days must be a number of days, got {days!r}")
        if not math.isfinite(days) or days <= 0:
            raise TwinError(f"days must be a positive number of days, got {days!r}")
        return float(days) * 24.0
    if site.plan is None:
        raise TwinError(f"site {site.id!r} has no plan: give the run length with days=")
    return float(site.plan.horizon)


def check_runnable(site: Site) -> list[MasterRecipe]:
    """Check that every order of the plan can run; return the recipes in use.

    Raises
    ------
    TwinError
        Listing every problem found, one per line.
    """
    problems: list[str] = []
    for unit in site.units.values():
        if unit.equipment_class not in site.equipment_classes:
            problems.append(
                f"unit {unit.id!r} has unknown equipment class {unit.equipment_class!r}"
            )
    for i, w in enumerate(site.calendar.maintenance):
        for u in w.units:
            if u not in site.units:
                problems.append(f"maintenance window {i + 1} names unknown unit {u!r}")
    for team in site.teams.values():
        if team.shift_pattern not in site.shift_patterns:
            problems.append(f"team {team.id!r} has unknown shift pattern {team.shift_pattern!r}")
    recipes: dict[str, MasterRecipe] = {}
    for order in site.orders:
        product = site.products.get(order.product)
        if product is None:
            problems.append(f"order {order.id!r}: unknown product {order.product!r}")
            continue
        rid = order.recipe or product.recipe
        recipe = site.recipes.get(rid)
        if recipe is None:
            problems.append(f"order {order.id!r}: unknown recipe {rid!r}")
            continue
        try:
            site.batches_for(order)
        except (ValueError, ArithmeticError) as exc:
            problems.append(f"order {order.id!r}: cannot work out its batches ({exc})")
        recipes.setdefault(recipe.id, recipe)
    for recipe in recipes.values():
        problems.extend(_recipe_problems(site, recipe))
        phases = [ph for up in recipe.unit_procedures.values() for ph in up.phases()]
        if any(ph.process_model for ph in phases):
            from phactory.twin.hybrid import check_process_models

            problems.extend(f"recipe {recipe.id!r}, {p}" for p in check_process_models(phases))
    if problems:
        raise TwinError("the plan cannot be simulated:\n" + "\n".join(f"  - {p}" for p in problems))
    return list(recipes.values())


def _recipe_problems(site: Site, recipe: MasterRecipe) -> list[str]:
    out: list[str] = []
    for up in recipe.unit_procedures.values():
        where = f"recipe {recipe.id!r}, unit procedure {up.id!r}"
        cls = up.equipment_class
        if cls not in site.equipment_classes:
            out.append(f"{where}: unknown equipment class {cls!r}")
        elif not site.units_of_class(cls):
            out.append(f"{where}: equipment class {cls!r} has no units, so it can never run")
        for op in up.operations.values():
            for ph in op.phases.values():
                for lab in ph.labour:
                    teams = [
                        t
                        for t in site.teams_with_skill(lab.skill)
                        if t.shift_pattern in site.shift_patterns
                    ]
                    staffed = [
                        t
                        for t in teams
                        if t.headcount > 0 and site.shift_patterns[t.shift_pattern].weekly_windows()
                    ]
                    crew = sum(t.headcount for t in staffed)
                    if not teams:
                        out.append(
                            f"{where}, phase {ph.id!r}: needs skill {lab.skill!r} "
                            "but no team has it"
                        )
                    elif crew < lab.count:
                        out.append(
                            f"{where}, phase {ph.id!r}: needs {lab.count} people with "
                            f"skill {lab.skill!r} but the teams holding it have "
                            f"{crew} on shift at most"
                        )
    return out
