"""A synthetic site of N identical jacketed bioreactors, for benchmarks and tests.

Every unit is a 1000 L stainless vessel of class ``sim-bioreactor-1000L`` whose recipe
(``sim-process``) runs the shipped logics of a vessel one after the other: charge, heat-up,
mix, hold, culture (temperature, pH and DO loops, CHO model), transfer, CIP and SIP. So a
unit has every vessel instrument (tank, jacket, agitator, pH, DO, steam, CIP supply) and
about 60 tags: 100 units make a site of more than 5,000 tags. Units are grouped ten to a
process cell.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from phactory.model import Site

__all__ = ["synthetic_site"]

CLASS = "sim-bioreactor-1000L"


def _recipe() -> dict[str, Any]:
    def ph(duration: str, **params: dict[str, Any]) -> dict[str, Any]:
        return {"duration": duration, "parameters": params}

    def par(sp: str, low: str | None = None, high: str | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {"setpoint": sp}
        if low is not None:
            out["low"] = low
        if high is not None:
            out["high"] = high
        return out

    return {
        "id": "sim-process",
        "product": "sim-product",
        "status": "approved",
        "batch_size": "600 L",
        "unit_procedures": {
            "vessel": {
                "equipment_class": CLASS,
                "operations": {
                    "prepare": {
                        "phases": {
                            "charge": ph("1 h", volume=par("600 L", "550 L", "650 L")),
                            "heat-up": ph("3 h", temperature=par("37 degC", "36 degC", "38 degC")),
                            "mix": ph("1 h", speed=par("60 rpm", "50 rpm", "70 rpm")),
                            "hold": ph(
                                "2 h",
                                temperature=par("37 degC", "36 degC", "38 degC"),
                                pH=par("7.0", "6.8", "7.2"),
                            ),
                        }
                    },
                    "fed-batch": {
                        "phases": {
                            "culture": ph(
                                "14 d",
                                temperature=par("36.5 degC", "36 degC", "37 degC"),
                                pH=par("7.0", "6.8", "7.2"),
                                **{"dissolved-oxygen": par("40 %", "30 %", "60 %")},
                            ),
                            "transfer": ph("1 h"),
                        }
                    },
                    "clean": {
                        "phases": {
                            "cip": ph("2 h", temperature=par("75 degC", "70 degC", "85 degC")),
                            "sip": ph(
                                "1.5 h", temperature=par("121.5 degC", "121 degC", "124 degC")
                            ),
                        }
                    },
                },
            }
        },
    }


def synthetic_site(n_units: int = 100, *, per_cell: int = 10, site_id: str = "synthetic") -> Site:
    """A site of ``n_units`` identical bioreactors (see the module docstring).

    Raises
    ------
    ValueError
        If ``n_units`` or ``per_cell`` is not positive.
    """
    from phactory.model import Site

    if n_units < 1 or per_cell < 1:
        raise ValueError("n_units and per_cell must be positive")
    cells: dict[str, Any] = {}
    for k in range(n_units):
        cell = f"cell-{k // per_cell + 1:02d}"
        unit = f"BR-{k + 1:03d}"
        cells.setdefault(cell, {"units": {}})["units"][unit] = {
            "class": CLASS,
            "equipment_modules": {
                "TCU": {"function": "temperature control"},
                "AG": {"function": "agitation"},
                "GAS": {"function": "gas (oxygen) control"},
            },
        }
    data: dict[str, Any] = {
        "id": site_id,
        "name": f"Synthetic site of {n_units} bioreactors",
        "equipment_classes": {
            CLASS: {
                "name": "Stainless jacketed bioreactor, 1000 L",
                "capacity": "1000 L",
                "cleaning": {"method": "cip-sip", "cip": "2 h", "sip": "1.5 h"},
            }
        },
        "areas": {"upstream": {"process_cells": cells}},
        "materials": {"sim-drug": {"kind": "product", "unit": "g"}},
        "products": {"sim-product": {"recipe": "sim-process", "material": "sim-drug"}},
        "recipes": {"sim-process": _recipe()},
    }
    return Site.model_validate(data)
