"""The scheduler's calendar is the time base's placement, rounded to the grain.

Shifts and holidays are placed once, by :mod:`phactory.model.timebase`; the scheduler
only rounds: a grain step is staffed exactly when the time base has the team on duty for
the whole step, and a unit is blocked in every step that touches its maintenance.
Hypothesis draws shift patterns (start, length, days, a break), holidays, time zones with
daylight-saving changes, plan starts and grains.
"""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from phactory.model import Site
from phactory.model.timebase import maintenance_windows, merge_intervals, shift_windows
from phactory.schedule.calendar import Grain, maintenance_intervals, staffed_steps

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
HORIZON_H = 24.0 * 21


@st.composite
def shifts(draw: Any) -> dict[str, Any]:
    minutes = draw(st.integers(0, 24 * 4 - 1)) * 15
    length = draw(st.sampled_from([4.0, 6.5, 8.0, 10.0, 12.0, 24.0]))
    shift: dict[str, Any] = {
        "name": "s",
        "start": f"{minutes // 60:02d}:{minutes % 60:02d}",
        "duration": f"{length} h",
        "days": sorted(draw(st.sets(st.sampled_from(DAYS), min_size=1)), key=DAYS.index),
    }
    if draw(st.booleans()) and length >= 4:
        shift["breaks"] = [{"start_after": f"{length / 2 - 0.5} h", "duration": "45 min"}]
    return shift


@st.composite
def sites(draw: Any) -> Site:
    zone = draw(st.sampled_from(["UTC", "Europe/Dublin", "America/New_York", "Asia/Kolkata"]))
    # Plan starts around the spring and autumn daylight-saving changes.
    start = dt.datetime(2027, 3, 20, 0, 0) + dt.timedelta(
        days=draw(st.sampled_from([0, 200])), minutes=15 * draw(st.integers(0, 95))
    )
    holidays = draw(st.lists(st.integers(-2, 20), max_size=3, unique=True))
    return Site.model_validate(
        {
            "id": "cal",
            "timezone": zone,
            "skills": ["op"],
            "shift_patterns": {"p": {"shifts": draw(st.lists(shifts(), min_size=1, max_size=3))}},
            "teams": {
                "t": {
                    "skills": ["op"],
                    "headcount": 1,
                    "shift_pattern": "p",
                    "works_holidays": draw(st.booleans()),
                }
            },
            "calendar": {
                "holidays": [
                    {"date": (start.date() + dt.timedelta(days=d)).isoformat(), "name": f"h{d}"}
                    for d in holidays
                ],
            },
            "plan": {"start": start.isoformat(), "horizon": "21 d", "orders": []},
        }
    )


def _covered(spans: list[tuple[float, float]], a: float, b: float) -> bool:
    return any(x <= a + 1e-9 and y >= b - 1e-9 for x, y in spans)


@given(sites(), st.sampled_from([0.25, 0.5, 1.0, 0.4]))
@settings(max_examples=60, deadline=None)
def test_staffed_steps_are_the_time_bases_windows_rounded_inwards(site: Site, g: float) -> None:
    team = site.teams["t"]
    grain = Grain(g)
    steps = staffed_steps(site, team, grain, HORIZON_H)
    on = {k for a, b in steps for k in range(a, b)}
    windows = shift_windows(
        site, site.shift_patterns["p"], HORIZON_H, works_holidays=team.works_holidays
    )
    duty = merge_intervals((a, b) for a, b, _ in windows)
    end = grain.up(HORIZON_H)
    for k in range(end):
        assert (k in on) == _covered(duty, grain.h(k), grain.h(k + 1)), (k, grain.h(k))
    # Intervals come sorted, disjoint and non-empty.
    assert all(a < b for a, b in steps)
    assert all(b1 < a2 for (_, b1), (a2, _) in itertools.pairwise(steps))


def test_a_holiday_is_off_from_local_midnight_to_midnight() -> None:
    site = Site.model_validate(
        {
            "id": "cal",
            "timezone": "Europe/Dublin",
            "skills": ["op"],
            "shift_patterns": {
                "p": {"shifts": [{"name": "d", "start": "00:00", "duration": "24 h"}]}
            },
            "teams": {"t": {"skills": ["op"], "headcount": 1, "shift_pattern": "p"}},
            # 2027-03-28 is the spring change in Dublin: a 23-hour day.
            "calendar": {"holidays": [{"date": "2027-03-28", "name": "x"}]},
            "plan": {"start": "2027-03-27T00:00", "horizon": "7 d", "orders": []},
        }
    )
    steps = staffed_steps(site, site.teams["t"], Grain(1.0), 24.0 * 7)
    assert steps == [(0, 24), (47, 168)]


def test_maintenance_is_the_time_bases_with_cleaning_after_long_windows() -> None:
    site = Site.model_validate(
        {
            "id": "cal",
            "timezone": "UTC",
            "equipment_classes": {
                "v": {"cleaning": {"method": "cip", "cip": "3 h", "clean_hold": "24 h"}}
            },
            "areas": {"a": {"process_cells": {"c": {"units": {"V": {"class": "v"}}}}}},
            "calendar": {
                "maintenance": [
                    {"units": ["V"], "start": "2027-01-04T10:00", "duration": "30 h"},
                    {"units": ["V"], "start": "2027-01-08T10:00", "duration": "2 h"},
                ]
            },
            "plan": {"start": "2027-01-04T00:00", "horizon": "7 d", "orders": []},
        }
    )
    base = [(a, b) for a, b, _ in maintenance_windows(site, 168.0)["V"]]
    assert base == [(10.0, 40.0), (106.0, 108.0)]
    # The 30 h window outlasts the 24 h clean hold: the unit is cleaned after it.
    assert maintenance_intervals(site, 168.0)["V"] == [(10.0, 43.0), (106.0, 108.0)]
