"""Small sites for the phase, plant and site tests: one unit each, one recipe."""

from __future__ import annotations

from typing import Any

from phactory.model import Site


def one_unit_site(
    phases: dict[str, Any],
    *,
    capacity: str | None = "100 L",
    modules: dict[str, Any] | None = None,
    control: dict[str, Any] | None = None,
    equipment_class: str = "vessel",
) -> Site:
    """A site with one unit ``U-01`` of ``equipment_class`` and a recipe running
    ``phases`` (``{phase id: phase data}``) on it, in area ``a``, cell ``c``."""
    unit: dict[str, Any] = {"class": equipment_class}
    if modules:
        unit["equipment_modules"] = modules
    cls: dict[str, Any] = {"name": "test unit"}
    if capacity is not None:
        cls["capacity"] = capacity
    data: dict[str, Any] = {
        "id": "test-site",
        "equipment_classes": {equipment_class: cls},
        "areas": {"a": {"process_cells": {"c": {"units": {"U-01": unit}}}}},
        "materials": {"drug": {"kind": "product", "unit": "g"}},
        "products": {"p": {"recipe": "r", "material": "drug"}},
        "recipes": {
            "r": {
                "id": "r",
                "product": "p",
                "status": "approved",
                "unit_procedures": {
                    "up": {
                        "equipment_class": equipment_class,
                        "operations": {"op": {"phases": phases}},
                    }
                },
            }
        },
    }
    if control is not None:
        data["control"] = control
    return Site.model_validate(data)


def timed_site() -> Site:
    """One unit with a generic timed phase ``work`` (1 h) and a heat phase ``heat-up``."""
    return one_unit_site(
        {
            "work": {"duration": "1 h"},
            "heat-up": {
                "duration": "2 h",
                "parameters": {"temperature": {"setpoint": "30 degC", "low": "25 degC",
                                               "high": "35 degC"}},
            },
        }
    )  # fmt: skip


def freeze_dryer_site() -> Site:
    """A freeze dryer whose ``freeze-dry`` phase names the lyophilisation model."""
    return one_unit_site(
        {
            "freeze-dry": {
                "duration": "12 h",
                "process_model": "lyophilisation",
                "parameters": {
                    "shelf_temperature": {"setpoint": "-10 degC", "low": "-15 degC",
                                          "high": "-5 degC"},
                    "chamber_pressure": {"setpoint": "100 mtorr", "low": "80 mtorr",
                                         "high": "120 mtorr"},
                    "freezing_time": {"setpoint": "30 min"},
                },
            }
        },
        capacity="200 L",
        equipment_class="freeze-dryer",
    )  # fmt: skip


def fill_line_site() -> Site:
    """A filling line with an automatic ``fill`` phase of 500 vials of 2.25 mL."""
    return one_unit_site(
        {
            "fill": {
                "duration": "1 h",
                "parameters": {
                    "fill-volume": {"setpoint": "2.25 mL", "low": "2.2 mL", "high": "2.35 mL"},
                    "vials": {"setpoint": "500"},
                },
            }
        },
        capacity=None,
        equipment_class="fill-line",
    )
