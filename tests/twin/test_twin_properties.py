"""Invariants over random small sites (Hypothesis)."""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from twinsites import START, build, recipe

from phactory.model import Site
from phactory.twin import simulate

DURATIONS = [
    "1 h",
    "2.5 h",
    "30 min",
    "6 h",
    {"distribution": "triangular", "low": "1 h", "mode": "2 h", "high": "5 h"},
    {"distribution": "lognormal", "mean": "3 h", "sd": "1 h"},
    {"distribution": "uniform", "low": "30 min", "high": "2 h"},
]
CLEANING = [
    {},
    {"method": "cip", "cip": "1 h"},
    {"method": "cip-sip", "cip": "1 h", "sip": "30 min", "clean_hold": "12 h"},
    {"method": "single-use", "changeout": "30 min"},
    {"method": "cip", "cip": "1 h", "dirty_hold": "6 h", "after_each_batch": False},
]
RELIABILITY = [
    None,
    {"mtbf": "20 h", "mttr": "1 h"},
    {
        "mtbf": "40 h",
        "model": "weibull",
        "shape": 2.0,
        "mttr": {"distribution": "triangular", "low": "1 h", "mode": "2 h", "high": "4 h"},
    },
]
PATTERNS = {
    "round": {
        "shifts": [
            {"name": "d", "start": "07:00", "duration": "12 h"},
            {"name": "n", "start": "19:00", "duration": "12 h"},
        ]
    },
    "weekdays": {
        "shifts": [
            {
                "name": "e",
                "start": "06:00",
                "duration": "8 h",
                "days": "weekdays",
                "breaks": [{"start_after": "4 h", "duration": "30 min"}],
            }
        ]
    },
}


@st.composite
def small_sites(draw: st.DrawFn) -> tuple[Site, dict[str, Any]]:
    classes: dict[str, Any] = {}
    units: dict[str, str] = {}
    for c in range(draw(st.integers(1, 3))):
        cls: dict[str, Any] = {"cleaning": draw(st.sampled_from(CLEANING))}
        rel = draw(st.sampled_from(RELIABILITY))
        if rel is not None:
            cls["reliability"] = rel
        classes[f"C{c}"] = cls
        for u in range(draw(st.integers(1, 3))):
            units[f"C{c}-U{u}"] = f"C{c}"
    names = sorted(classes)
    recipes: dict[str, Any] = {}
    for r in range(draw(st.integers(1, 2))):
        procs: dict[str, Any] = {}
        for k in range(draw(st.integers(1, 4))):
            phases: dict[str, Any] = {}
            for j in range(draw(st.integers(1, 3))):
                ph: dict[str, Any] = {"duration": draw(st.sampled_from(DURATIONS))}
                if draw(st.booleans()):
                    lab: dict[str, Any] = {"skill": "op", "count": draw(st.integers(1, 2))}
                    if draw(st.booleans()):
                        lab.update(scope="setup", setup="1 h")
                    ph["labour"] = [lab]
                    ph["continuous"] = draw(st.booleans())
                ph["failure_probability"] = draw(st.sampled_from([0.0, 0.0, 0.1]))
                ph["utilities"] = {"wfi": draw(st.sampled_from(["0 L", "0 L", "800 L"]))}
                phases[f"ph{j}"] = ph
            after = []
            for pred in (
                draw(st.lists(st.integers(0, max(k - 1, 0)), max_size=2, unique=True)) if k else []
            ):
                link: dict[str, Any] = {"procedure": f"up{pred}"}
                if draw(st.booleans()):
                    link["min_lag"] = "1 h"
                if draw(st.booleans()):
                    link["max_lag"] = draw(st.sampled_from(["2 h", "12 h"]))
                    link["on_breach"] = draw(st.sampled_from(["deviation", "scrap"]))
                after.append(link)
            procs[f"up{k}"] = {
                "equipment_class": draw(st.sampled_from(names)),
                "after": after,
                "operations": {"op": {"phases": phases}},
            }
        recipes[f"r{r}"] = recipe(f"p{r}", procs)
    products = [r["product"] for r in recipes.values()]
    orders = []
    for o in range(draw(st.integers(1, 3))):
        release = dt.datetime(2027, 1, 4) + dt.timedelta(hours=draw(st.integers(0, 60)))
        orders.append(
            {
                "id": f"O{o}",
                "product": draw(st.sampled_from(products)),
                "batches": draw(st.integers(1, 3)),
                "release": release.isoformat(),
                "priority": draw(st.integers(0, 2)),
            }
        )
    sections: dict[str, Any] = {
        "shift_patterns": PATTERNS,
        "teams": {
            "ops": {
                "skills": ["op"],
                "headcount": 2,
                "shift_pattern": draw(st.sampled_from(sorted(PATTERNS))),
                "works_holidays": draw(st.booleans()),
            }
        },
        "calendar": {"holidays": [{"date": "2027-01-06"}]},
        "utilities": {"wfi": {"capacity": "500 L/h"}},
    }
    if draw(st.booleans()):
        sections["changeovers"] = [{"from": "*", "to": "*", "duration": "3 h"}]
    if draw(st.booleans()):
        sections["calendar"]["maintenance"] = [
            {
                "units": [draw(st.sampled_from(sorted(units)))],
                "start": START,
                "duration": "4 h",
                "every": "30 h",
            }
        ]
    horizon = f"{draw(st.integers(2, 8))} d"
    site = build(classes, units, recipes, orders, horizon=horizon, **sections)
    run = {
        "seed": draw(st.integers(0, 2**32)),
        "deterministic": draw(st.booleans()),
        "lookahead": draw(st.booleans()),
        "dispatch": draw(st.sampled_from(["fifo", "edd", "priority"])),
    }
    return site, run


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(small_sites())
def test_states_tile_the_horizon_on_random_sites(case: tuple[Site, dict[str, Any]]) -> None:
    site, run = case
    log = simulate(site, **run)
    log.check()
    hours = log.state_hours()
    assert hours.sum(axis=1).to_numpy() == pytest.approx(log.horizon_h)
    b = log.batches
    assert set(b["status"]) <= {"completed", "scrapped", "in_progress", "not_started"}
    assert ((b["quantity"] > 0) == (b["status"] == "completed")).all()
    # People: never more on duty than the team's headcount.
    lab = log.labour
    assert (lab["end_h"] > lab["start_h"]).all()
    times = sorted({*lab["start_h"], *lab["end_h"]})
    for a, z in itertools.pairwise(times):
        mid = (a + z) / 2
        on = lab[(lab["start_h"] <= mid) & (lab["end_h"] > mid)]["count"].sum()
        assert on <= 2
    # Precedence: a procedure starts after each predecessor completed plus its min lag.
    ev = log.events
    started = ev[ev["kind"] == "procedure_started"].set_index(["batch", "procedure"])["t_h"]
    done = ev[ev["kind"] == "procedure_completed"].set_index(["batch", "procedure"])["t_h"]
    for (batch, procedure), t in started.items():
        order = b.set_index("batch").loc[batch]
        up = site.recipes[order["recipe"]].unit_procedures[procedure]
        for link in up.after:
            assert (batch, link.procedure) in done.index
            assert t >= done[(batch, link.procedure)] + link.min_lag - 1e-9
