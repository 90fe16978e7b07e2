"""Checks across the whole site: references, units and basic plan feasibility.

Structure and units of single values are checked by the model classes; what needs
the whole site (does this class exist, has any team this skill, can this continuous
phase ever be staffed) is checked here. Each check yields problems with a path into the
site; the loader turns paths into ``FILE:LINE:COL``.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Iterator

from phactory.model.control import check_control
from phactory.model.errors import PathItem, Problem
from phactory.model.site import Site

__all__ = ["check_site"]


def _p(message: str, *path: PathItem, warning: bool = False) -> Problem:
    return Problem(message, tuple(path), None, "warning" if warning else "error")


def _known(what: str, ref: str, known: Iterable[str]) -> str:
    names = sorted(known)
    hint = ", ".join(names[:8]) + (" ..." if len(names) > 8 else "")
    return f"unknown {what} {ref!r} (known: {hint or 'none defined'})"


def check_site(site: Site) -> list[Problem]:
    """Every cross-reference and feasibility problem of ``site``."""
    out: list[Problem] = []
    for check in (_equipment, _materials, _recipes, _people, _calendar, _changeovers, _plan):
        out.extend(check(site))
    out.extend(check_control(site))
    return out


def _equipment(site: Site) -> Iterator[Problem]:
    seen: dict[str, tuple[str, str]] = {}
    for a in site.areas.values():
        for c in a.process_cells.values():
            for u in c.units.values():
                path = ("areas", a.id, "process_cells", c.id, "units", u.id)
                if u.id in seen:
                    yield _p(
                        f"unit id {u.id!r} is also used in {seen[u.id][0]}/{seen[u.id][1]}", *path
                    )
                seen[u.id] = (a.id, c.id)
                if u.equipment_class not in site.equipment_classes:
                    yield _p(
                        _known("equipment class", u.equipment_class, site.equipment_classes),
                        *path,
                        "class",
                    )


def _materials(site: Site) -> Iterator[Problem]:
    for lot in site.lots.values():
        mat = site.materials.get(lot.material)
        if mat is None:
            yield _p(_known("material", lot.material, site.materials), "lots", lot.id, "material")
        elif not lot.quantity.compatible(mat.unit):
            yield _p(
                f"quantity '{lot.quantity}' is not in a unit of {mat.unit!r} (material {mat.id!r})",
                "lots",
                lot.id,
                "quantity",
            )
    for prod in site.products.values():
        if prod.recipe not in site.recipes:
            yield _p(_known("recipe", prod.recipe, site.recipes), "products", prod.id, "recipe")
        if prod.material is not None and prod.material not in site.materials:
            yield _p(
                _known("material", prod.material, site.materials), "products", prod.id, "material"
            )


def _recipes_in_plan(site: Site) -> set[str]:
    used: set[str] = set()
    for order in site.orders:
        if order.recipe:
            used.add(order.recipe)
        elif order.product in site.products:
            used.add(site.products[order.product].recipe)
    return used


def _recipes(site: Site) -> Iterator[Problem]:
    in_plan = _recipes_in_plan(site)
    for r in site.recipes.values():
        rp: tuple[PathItem, ...] = ("recipes", r.id)
        used = r.id in in_plan
        if r.product not in site.products:
            yield _p(_known("product", r.product, site.products), *rp, "product")
        ids = set(r.unit_procedures)
        order = r.topological_order()
        for up in r.unit_procedures.values():
            for i, link in enumerate(up.after):
                if link.procedure not in ids:
                    yield _p(
                        _known("procedure", link.procedure, ids),
                        *rp,
                        "unit_procedures",
                        up.id,
                        "after",
                        i,
                        "procedure",
                    )
        if len(order) != len(ids) and all(
            lk.procedure in ids for up in r.unit_procedures.values() for lk in up.after
        ):
            cyclic = sorted(ids - set(order))
            yield _p(f"unit procedures form a cycle: {', '.join(cyclic)}", *rp)
        for up in r.unit_procedures.values():
            upp = (*rp, "unit_procedures", up.id)
            cls = up.equipment_class
            if cls not in site.equipment_classes:
                yield _p(
                    _known("equipment class", cls, site.equipment_classes), *upp, "equipment_class"
                )
            elif not site.units_of_class(cls):
                yield _p(
                    f"equipment class {cls!r} has no units, so this unit procedure can "
                    "never run" + ("" if used else " (recipe not in the plan)"),
                    *upp,
                    "equipment_class",
                    warning=not used,
                )
            for op in up.operations.values():
                for ph in op.phases.values():
                    php = (*upp, "operations", op.id, "phases", ph.id)
                    yield from _phase(site, ph, php, used)


def _phase(site: Site, ph: object, php: tuple[PathItem, ...], used: bool) -> Iterator[Problem]:
    from phactory.model.procedural import Phase

    assert isinstance(ph, Phase)
    for i, lab in enumerate(ph.labour):
        lp = (*php, "labour", i)
        if lab.skill not in site.skills:
            yield _p(_known("skill", lab.skill, site.skills), *lp, "skill")
            continue
        teams = site.teams_with_skill(lab.skill)
        if not teams:
            yield _p(f"no team has skill {lab.skill!r}", *lp, "skill", warning=not used)
            continue
        crew = max(t.headcount for t in teams)
        if lab.count > crew:
            yield _p(
                f"needs {lab.count} people with {lab.skill!r} but the largest crew on a "
                f"shift has {crew}",
                *lp,
                "count",
                warning=not used,
            )
        if ph.continuous and lab.scope == "phase":
            window = (
                max(
                    site.shift_patterns[t.shift_pattern].longest_window()
                    for t in teams
                    if t.shift_pattern in site.shift_patterns
                )
                if any(t.shift_pattern in site.shift_patterns for t in teams)
                else 0.0
            )
            need = ph.duration.minimum
            if need > window:
                yield _p(
                    f"continuous phase of at least {need:g} h needs {lab.skill!r} "
                    f"throughout, but the longest staffed window is {window:g} h",
                    *php,
                    "duration",
                    warning=not used,
                )
    for kind in ("inputs", "outputs"):
        for i, flow in enumerate(getattr(ph, kind)):
            mat = site.materials.get(flow.material)
            if mat is None:
                yield _p(
                    _known("material", flow.material, site.materials), *php, kind, i, "material"
                )
            elif not flow.quantity.compatible(mat.unit):
                yield _p(
                    f"quantity '{flow.quantity}' is not in a unit of {mat.unit!r} "
                    f"(material {mat.id!r})",
                    *php,
                    kind,
                    i,
                    "quantity",
                )


def _people(site: Site) -> Iterator[Problem]:
    for t in site.teams.values():
        if t.shift_pattern not in site.shift_patterns:
            yield _p(
                _known("shift pattern", t.shift_pattern, site.shift_patterns),
                "teams",
                t.id,
                "shift_pattern",
            )
        for i, s in enumerate(t.skills):
            if s not in site.skills:
                yield _p(_known("skill", s, site.skills), "teams", t.id, "skills", i)


def _calendar(site: Site) -> Iterator[Problem]:
    for i, w in enumerate(site.calendar.maintenance):
        for j, u in enumerate(w.units):
            if u not in site.units:
                yield _p(_known("unit", u, site.units), "calendar", "maintenance", i, "units", j)


def _changeovers(site: Site) -> Iterator[Problem]:
    for i, rule in enumerate(site.changeovers):
        if rule.equipment_class != "*" and rule.equipment_class not in site.equipment_classes:
            yield _p(
                _known("equipment class", rule.equipment_class, site.equipment_classes),
                "changeovers",
                i,
                "equipment_class",
            )
        for field, alias in (("from_product", "from"), ("to_product", "to")):
            ref = getattr(rule, field)
            if ref != "*" and ref not in site.products:
                yield _p(_known("product", ref, site.products), "changeovers", i, alias)


def _plan(site: Site) -> Iterator[Problem]:
    if site.plan is None:
        return
    ids: Counter[str] = Counter()
    for i, order in enumerate(site.plan.orders):
        yield from _order(site, order, ("plan", "orders", i))
        ids[order.id] += 1
    for i, stream in enumerate(site.plan.demand):
        sp = ("plan", "demand", i)
        if stream.product not in site.products:
            yield _p(_known("product", stream.product, site.products), *sp, "product")
            continue
        if site.to_hours(stream.end) < site.to_hours(stream.start):
            yield _p("end is before start", *sp, "end")
        rec = site.recipes.get(site.products[stream.product].recipe)
        if rec is not None and rec.status != "approved":
            yield _p(
                f"recipe {rec.id!r} is {rec.status}", *sp, "product", warning=rec.status == "draft"
            )
    explicit = {o.id for o in site.plan.orders}
    for order in site.orders:
        if order.id not in explicit:
            ids[order.id] += 1
    for oid, n in ids.items():
        if n > 1:
            yield _p(f"order id {oid!r} is used {n} times", "plan", "orders")


def _order(site: Site, order: object, op: tuple[PathItem, ...]) -> Iterator[Problem]:
    from phactory.model.plan import Order

    assert isinstance(order, Order)
    prod = site.products.get(order.product)
    if prod is None:
        yield _p(_known("product", order.product, site.products), *op, "product")
        return
    rid = order.recipe or prod.recipe
    rec = site.recipes.get(rid)
    if rec is None:
        yield _p(_known("recipe", rid, site.recipes), *op, "recipe" if order.recipe else "product")
        return
    if rec.status == "obsolete":
        yield _p(f"recipe {rid!r} version {rec.version} is obsolete", *op, "product")
    elif rec.status == "draft":
        yield _p(
            f"recipe {rid!r} version {rec.version} is a draft, not approved",
            *op,
            "product",
            warning=True,
        )
    if order.quantity is not None:
        if rec.batch_size is None:
            yield _p(
                f"recipe {rid!r} has no batch_size, so a quantity cannot be turned into "
                "batches; give 'batches'",
                *op,
                "quantity",
            )
        elif not order.quantity.compatible(rec.batch_size.unit or "dimensionless"):
            yield _p(
                f"quantity '{order.quantity}' is not comparable with the batch size "
                f"'{rec.batch_size}'",
                *op,
                "quantity",
            )
    if prod.autologous and not order.patient:
        yield _p(f"product {prod.id!r} is autologous: the order needs a 'patient' id", *op)
    if order.release is not None and order.due is not None:
        rel, due = site.to_hours(order.release), site.to_hours(order.due)
        if due < rel:
            yield _p("due date is before the release date", *op, "due")
        elif due - rel < rec.critical_path()[0] and math.isfinite(due):
            yield _p(
                f"due {due - rel:g} h after release, but the recipe's critical path is "
                f"{rec.critical_path()[0]:g} h",
                *op,
                "due",
                warning=True,
            )
