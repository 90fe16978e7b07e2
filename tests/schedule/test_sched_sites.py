"""Small synthetic sites for the scheduler tests, and tests of the problem they become.

The builders return validated :class:`~phactory.model.Site` objects; other scheduler test
modules import them (``from test_sched_sites import rich_site``).
"""

from __future__ import annotations

from typing import Any

import pytest

from phactory.model import Site
from phactory.model.checks import check_site
from phactory.schedule import Schedule, build_problem, dispatch
from phactory.schedule.heuristic import DispatchOrder
from phactory.schedule.solution import to_schedule


def site_from(data: dict[str, Any]) -> Site:
    """Validate site data like a file; fail the test on any error."""
    site = Site.model_validate(data)
    errors = [p for p in check_site(site) if p.severity == "error"]
    assert not errors, errors
    return site


def heuristic_schedule(
    site: Site, *, orders: list[str] | None = None, rule: DispatchOrder = "release"
) -> Schedule:
    """The dispatch heuristic's schedule of ``site`` (of ``orders`` only, if given)."""
    p = build_problem(site, orders=orders)
    return to_schedule(p, dispatch(p, rule), objective="makespan", status="heuristic")


def phase(hours: float, **kw: Any) -> dict[str, Any]:
    return {"duration": f"{hours} h", **kw}


def rich_site(
    *,
    batches: int = 3,
    deadline_days: float | None = None,
    qc_count: int = 2,
    hold_h: float = 8.0,
    fill_hours: float = 3.0,
) -> Site:
    """Two products, a pooled mixer pair, a reactor with changeovers and maintenance,
    QC slots with a long pausable set-up, two teams sharing a skill, breaks, a holiday."""
    due = {"due": f"2027-01-{4 + int(deadline_days):02d}"} if deadline_days is not None else {}
    return site_from(
        {
            "id": "rich",
            "timezone": "Europe/Dublin",
            "skills": ["op", "qc", "lead"],
            "equipment_classes": {
                "mixer": {"cleaning": {"method": "manual", "changeout": "1 h"}},
                "reactor": {"cleaning": {"method": "cip", "cip": "2 h"}},
                "qc-slot": {},
            },
            "areas": {
                "a": {
                    "process_cells": {
                        "c": {
                            "units": {
                                "MX-1": {"class": "mixer"},
                                "MX-2": {"class": "mixer"},
                                "R-1": {"class": "reactor"},
                                "QC-1": {"class": "qc-slot"},
                                "QC-2": {"class": "qc-slot"},
                            }
                        }
                    }
                }
            },
            "products": {"pa": {"recipe": "ra"}, "pb": {"recipe": "rb"}},
            "recipes": {
                r: {
                    "product": prod,
                    "status": "approved",
                    "unit_procedures": {
                        "mix": {
                            "equipment_class": "mixer",
                            "operations": {
                                "main": {
                                    "phases": {
                                        "charge": phase(1, labour=[{"skill": "op", "count": 1}]),
                                        "stir": phase(mix_h),
                                    }
                                }
                            },
                        },
                        "react": {
                            "equipment_class": "reactor",
                            "after": [{"procedure": "mix", "max_lag": f"{hold_h} h"}],
                            "operations": {
                                "main": {
                                    "phases": {
                                        "fill": phase(
                                            fill_hours,
                                            continuous=True,
                                            labour=[{"skill": "op", "count": 2}],
                                        ),
                                        "run": phase(
                                            react_h,
                                            labour=[
                                                {
                                                    "skill": "lead",
                                                    "count": 1,
                                                    "scope": "setup",
                                                    "setup": "1 h",
                                                }
                                            ],
                                        ),
                                    }
                                }
                            },
                        },
                        "qc": {
                            "equipment_class": "qc-slot",
                            "after": [{"procedure": "react", "min_lag": "1 h"}],
                            "operations": {
                                "test": {
                                    "phases": {
                                        "assay": phase(
                                            30,
                                            labour=[
                                                {
                                                    "skill": "qc",
                                                    "count": qc_count,
                                                    "scope": "setup",
                                                    "setup": "6 h",
                                                }
                                            ],
                                        )
                                    }
                                }
                            },
                        },
                    },
                }
                for r, prod, mix_h, react_h in (("ra", "pa", 2, 5), ("rb", "pb", 3, 4))
            },
            "changeovers": [
                {"equipment_class": "reactor", "from": "*", "to": "*", "duration": "3 h"}
            ],
            "shift_patterns": {
                "days": {
                    "shifts": [
                        {
                            "name": "day",
                            "start": "07:00",
                            "duration": "10 h",
                            "days": "weekdays",
                            "breaks": [{"start_after": "4 h", "duration": "30 min"}],
                        }
                    ]
                },
                "always": {
                    "shifts": [
                        {"name": "d", "start": "06:00", "duration": "12 h"},
                        {"name": "n", "start": "18:00", "duration": "12 h"},
                    ]
                },
            },
            "teams": {
                "ops": {"skills": ["op"], "headcount": 2, "shift_pattern": "always"},
                "leads": {"skills": ["lead", "op"], "headcount": 1, "shift_pattern": "always"},
                "lab": {"skills": ["qc"], "headcount": 2, "shift_pattern": "days"},
            },
            "calendar": {
                "holidays": [{"date": "2027-01-06", "name": "Epiphany"}],
                "maintenance": [{"units": ["R-1"], "start": "2027-01-05T10:00", "duration": "6 h"}],
            },
            "plan": {
                "start": "2027-01-04T06:00",
                "horizon": "30 d",
                "orders": [
                    {
                        "id": "OA",
                        "product": "pa",
                        "batches": batches,
                        "release": "2027-01-04T06:00",
                        "priority": 2,
                        **due,
                    },
                    {
                        "id": "OB",
                        "product": "pb",
                        "batches": max(1, batches - 1),
                        "release": "2027-01-04T08:00",
                        "due": "2027-01-12",
                    },
                ],
            },
        }
    )


def test_rich_site_problem_shape() -> None:
    site = rich_site()
    p = build_problem(site)
    assert len(p.ops) == 3 * (3 + 2)
    kinds = {g.equipment_class: (g.capacity, g.changeover) for g in p.groups}
    assert kinds["mixer"] == (2, "none")  # identical mixers pooled
    assert kinds["reactor"] == (1, "circuit")
    # 'op' is held by two teams, one of which also holds 'lead': coupled skill sets.
    sets = {lg.skills for lg in p.labour}
    assert frozenset({"lead", "op"}) in sets and frozenset({"lead"}) in sets
    # The 6 h QC set-up is longer than a half shift (4 h / 5.5 h): worked in chunks.
    qc = next(op for op in p.ops if op.procedure == "qc")
    assert qc.template.pieces[0].kind == "chunked"


def test_durations_round_up_to_the_grain() -> None:
    site = rich_site()
    p = build_problem(site, grain_h=2.0)
    mix = next(op for op in p.ops if op.procedure == "mix" and op.product == "pa")
    # 1 h + 2 h -> 2 + 2 grains of 2 h
    assert mix.template.min_length == 2


def test_days_restricts_the_plan(tiny_site: Site) -> None:
    with pytest.raises(ValueError, match="no orders"):
        build_problem(tiny_site, days=-1)
