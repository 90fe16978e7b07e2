"""Small sites for the twin's tests, built in code so that every number is visible."""

from __future__ import annotations

from typing import Any

from phactory.model import Site

#: Plan start of every test site: Monday 4 January 2027, 00:00 UTC.
START = "2027-01-04T00:00:00"


def phase(hours: float, **extra: Any) -> dict[str, Any]:
    """A phase of fixed duration."""
    return {"duration": f"{hours} h", **extra}


def proc(cls: str, phases: dict[str, dict[str, Any]], after: Any = None) -> dict[str, Any]:
    """A unit procedure with one operation holding ``phases``."""
    up: dict[str, Any] = {"equipment_class": cls, "operations": {"op": {"phases": phases}}}
    if after is not None:
        up["after"] = after
    return up


def recipe(product: str, procs: dict[str, dict[str, Any]], size: str = "100 L") -> dict[str, Any]:
    """An approved master recipe."""
    return {"product": product, "status": "approved", "batch_size": size, "unit_procedures": procs}


def build(
    classes: dict[str, dict[str, Any]],
    units: dict[str, str],
    recipes: dict[str, dict[str, Any]],
    orders: list[dict[str, Any]],
    *,
    horizon: str = "30 d",
    **sections: Any,
) -> Site:
    """A site with one process cell holding ``units`` (``{unit: class}``).

    Products are named after the recipes' ``product`` fields.
    """
    products = {r["product"]: {"recipe": rid} for rid, r in recipes.items()}
    data: dict[str, Any] = {
        "id": "test-site",
        "timezone": "UTC",
        "equipment_classes": classes,
        "areas": {
            "a": {"process_cells": {"c": {"units": {u: {"class": c} for u, c in units.items()}}}}
        },
        "products": products,
        "recipes": recipes,
        "plan": {"start": START, "horizon": horizon, "orders": orders},
        **sections,
    }
    skills = set()
    for team in data.get("teams", {}).values():
        skills.update(team["skills"])
    for r in recipes.values():
        for up in r["unit_procedures"].values():
            for op in up["operations"].values():
                for ph in op["phases"].values():
                    skills.update(lab["skill"] for lab in ph.get("labour", ()))
    data.setdefault("skills", sorted(skills))
    return Site.model_validate(data)


def rows(log: Any, unit: str) -> list[tuple[str, float, float]]:
    """``(state, start_h, end_h)`` of one unit's timeline, rounded to 1e-9 h."""
    tl = log.timeline[log.timeline["unit"] == unit]
    return [
        (s, round(a, 9), round(b, 9))
        for s, a, b in zip(tl["state"], tl["start_h"], tl["end_h"], strict=True)
    ]


def two_step_site(**overrides: Any) -> Site:
    """Two batches through two units with fixed durations and cleaning (hand-checkable).

    ``make`` (4 h) on the only ``A`` unit, then ``finish`` (3 h) on the only ``B`` unit;
    A is cleaned for 1 h (CIP), B for 2 h (CIP) after each batch.
    """
    classes = {
        "A": {"cleaning": {"method": "cip", "cip": "1 h"}},
        "B": {"cleaning": {"method": "cip", "cip": "2 h"}},
    }
    recipes = {
        "r": recipe(
            "p",
            {
                "make": proc("A", {"run": phase(4)}),
                "finish": proc("B", {"run": phase(3)}, after=["make"]),
            },
        )
    }
    orders = [{"id": "O1", "product": "p", "batches": 2, "release": START}]
    kw: dict[str, Any] = {"horizon": "1 d"}
    kw.update(overrides)
    return build(classes, {"A1": "A", "B1": "B"}, recipes, orders, **kw)
