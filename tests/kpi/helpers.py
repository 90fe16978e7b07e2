"""Small hand-made sites and event logs for the KPI tests."""

from __future__ import annotations

import datetime as dt
from typing import Any

from phactory.events import EventLog
from phactory.model import Site

EPOCH = dt.datetime(2027, 1, 4, tzinfo=dt.UTC)  # a Monday, 00:00 UTC


def tiny_site(**overrides: Any) -> Site:
    """One area, units U1 (mixer) and U2 (tank), recipe r1 (P: ph1 25 h, ph2 mean 25 h)."""
    data: dict[str, Any] = {
        "id": "tiny",
        "timezone": "UTC",
        "emission_factor": 0.5,
        "skills": ["op"],
        "equipment_classes": {
            "mixer": {"energy": {"idle": "2 kW", "running": "10 kW"}},
            "tank": {"energy": {"idle": "1 kW", "running": "4 kW"}},
        },
        "areas": {
            "a": {
                "process_cells": {
                    "c": {
                        "units": {
                            "U1": {"class": "mixer"},
                            "U2": {
                                "class": "tank",
                                "energy": {"idle": "0.5 kW", "running": "3 kW"},
                            },
                        }
                    }
                }
            }
        },
        "materials": {"m": {"unit": "L"}},
        "products": {"p1": {"recipe": "r1", "material": "m"}},
        "recipes": {
            "r1": {
                "product": "p1",
                "batch_size": "100 L",
                "unit_procedures": {
                    "P": {
                        "equipment_class": "mixer",
                        "operations": {
                            "o": {
                                "phases": {
                                    "ph1": {"duration": "25 h"},
                                    "ph2": {
                                        "duration": {
                                            "distribution": "triangular",
                                            "low": "20 h",
                                            "mode": "25 h",
                                            "high": "30 h",
                                        }
                                    },
                                }
                            }
                        },
                    },
                    "Q": {
                        "equipment_class": "tank",
                        "after": ["P"],
                        "operations": {
                            "o": {
                                "phases": {
                                    "hold": {"duration": "10 h"},
                                }
                            }
                        },
                    },
                },
            }
        },
        "shift_patterns": {
            "day": {
                "shifts": [
                    {"name": "early", "start": "08:00", "duration": "8 h"},
                    {"name": "late", "start": "16:00", "duration": "8 h", "days": "weekdays"},
                ]
            }
        },
        "teams": {"ops": {"skills": ["op"], "headcount": 2, "shift_pattern": "day"}},
        "plan": {
            "start": "2027-01-04T00:00:00",
            "horizon": "100 h",
            "orders": [
                {
                    "id": "O1",
                    "product": "p1",
                    "batches": 1,
                    "release": "2027-01-04",
                    "due": "2027-01-07",
                },
            ],
        },
    }
    data.update(overrides)
    return Site.model_validate(data)


def tl(unit: str, rows: list[tuple[Any, ...]]) -> list[dict[str, Any]]:
    """Timeline rows ``(state, start, end[, batch, procedure, phase])`` of one unit."""
    out = []
    for r in rows:
        state, start, end, *rest = r
        batch, proc, phase = ([*list(rest), None, None, None])[:3]
        out.append(
            {
                "unit": unit,
                "state": state,
                "start_h": float(start),
                "end_h": float(end),
                "batch": batch,
                "order": "O1" if batch else None,
                "product": "p1" if batch else None,
                "procedure": proc,
                "phase": phase,
            }
        )
    return out


def batch(
    name: str,
    status: str,
    release: float,
    start: float | None,
    end: float | None,
    due: float | None,
    order: str = "O1",
    quantity: float = 100.0,
    patient: str | None = None,
) -> dict[str, Any]:
    """One row of the batches table."""
    return {
        "batch": name,
        "order": order,
        "product": "p1",
        "recipe": "r1",
        "patient": patient,
        "release_h": release,
        "start_h": start,
        "end_h": end,
        "due_h": due,
        "status": status,
        "quantity": quantity if status == "completed" else 0.0,
    }


def one_unit_log() -> EventLog:
    """The worked example: one unit U1 over 100 h.

    idle 0-10, setup 10-20, producing B1/P/ph1 20-50 (30 h, planned 25),
    down 50-60, producing B1/P/ph2 60-90 (30 h, planned 25), planned_down 90-100.
    """
    rows = tl(
        "U1",
        [
            ("idle", 0, 10),
            ("setup", 10, 20, "B1", "P"),
            ("producing", 20, 50, "B1", "P", "ph1"),
            ("down", 50, 60, "B1", "P", "ph2"),
            ("producing", 60, 90, "B1", "P", "ph2"),
            ("planned_down", 90, 100),
        ],
    )
    return EventLog(
        horizon_h=100.0,
        units=["U1"],
        timeline=rows,
        batches=[batch("B1", "completed", 0.0, 10.0, 90.0, 72.0 + 24.0)],
        labour=[
            {
                "team": "ops",
                "skill": "op",
                "count": 2,
                "start_h": 20.0,
                "end_h": 26.0,
                "batch": "B1",
                "unit": "U1",
                "phase": "ph1",
            }
        ],
        epoch=EPOCH,
    )


def two_unit_log() -> EventLog:
    """U1 and U2 over 100 h, batch B1 good, B2 scrapped on U1 at 95 h.

    U1: B1/ph1 0-25 (plan 25), B1/ph2 25-65 (40 h, plan 25), cleaning 65-70,
        waiting_labour 70-75, B2/ph1 75-95 (20 h, plan 25; scrapped), idle 95-100.
    U2: idle 0-65, waiting_upstream 65-70, B1/Q/hold 70-82 (12 h, plan 10), blocked 82-85,
        cleaning 85-90, planned_down 90-100.
    """
    rows = tl(
        "U1",
        [
            ("producing", 0, 25, "B1", "P", "ph1"),
            ("producing", 25, 65, "B1", "P", "ph2"),
            ("cleaning", 65, 70),
            ("waiting_labour", 70, 75, "B2", "P", "ph1"),
            ("producing", 75, 95, "B2", "P", "ph1"),
            ("idle", 95, 100),
        ],
    ) + tl(
        "U2",
        [
            ("idle", 0, 65),
            ("waiting_upstream", 65, 70, "B1", "Q"),
            ("producing", 70, 82, "B1", "Q", "hold"),
            ("blocked", 82, 85, "B1", "Q"),
            ("cleaning", 85, 90),
            ("planned_down", 90, 100),
        ],
    )
    return EventLog(
        horizon_h=100.0,
        units=["U1", "U2"],
        timeline=rows,
        epoch=EPOCH,
        batches=[
            batch("B1", "completed", 0.0, 0.0, 85.0, 96.0),
            batch("B2", "scrapped", 10.0, 70.0, 95.0, 96.0, order="O2"),
        ],
    )
