"""Labour utilisation per team and shift."""

from __future__ import annotations

import datetime as dt

import pytest

from phactory.events import EventLog
from phactory.kpi import compute
from phactory.kpi.labour import labour_table, shift_windows

from .helpers import EPOCH, one_unit_log, tiny_site, tl


def week_log() -> EventLog:
    """One week from Monday 00:00 with two assignments of team ``ops``."""
    labour = [
        # Monday 10-20 h, one person: 6 h in "early" (08-16), 4 h in "late" (16-24).
        {
            "team": "ops",
            "skill": "op",
            "count": 1,
            "start_h": 10.0,
            "end_h": 20.0,
            "batch": "B1",
            "unit": "U1",
            "phase": "ph1",
        },
        # Saturday 17-19 h, two people: no late shift at weekends -> off shift.
        {
            "team": "ops",
            "skill": "op",
            "count": 2,
            "start_h": 137.0,
            "end_h": 139.0,
            "batch": "B1",
            "unit": "U1",
            "phase": "ph2",
        },
    ]
    return EventLog(
        horizon_h=168.0,
        units=["U1"],
        timeline=tl("U1", [("idle", 0, 168)]),
        labour=labour,
        epoch=EPOCH,
    )


def test_windows_of_one_week() -> None:
    w = shift_windows(tiny_site(), "ops", 168.0, EPOCH)
    early, late = w[w["shift"] == "early"], w[w["shift"] == "late"]
    assert len(early) == 7 and len(late) == 5
    assert (early["start_h"].iloc[0], early["end_h"].iloc[0]) == (8.0, 16.0)
    assert (late["start_h"].iloc[-1], late["end_h"].iloc[-1]) == (4 * 24 + 16.0, 5 * 24.0)


def test_utilisation_per_shift_by_hand() -> None:
    r = compute(week_log(), tiny_site())
    t = r.labour.set_index(["team", "shift"])
    assert t.loc[("ops", "early"), "available_person_h"] == 2 * 7 * 8
    assert t.loc[("ops", "late"), "available_person_h"] == 2 * 5 * 8
    assert t.loc[("ops", "early"), "assigned_person_h"] == pytest.approx(6)
    assert t.loc[("ops", "late"), "assigned_person_h"] == pytest.approx(4)
    assert t.loc[("ops", "early"), "utilisation"] == pytest.approx(6 / 112)
    assert t.loc[("ops", "late"), "utilisation"] == pytest.approx(4 / 80)
    assert t.loc[("ops", "all"), "assigned_person_h"] == pytest.approx(14)
    assert t.loc[("ops", "all"), "off_shift_person_h"] == pytest.approx(4)
    assert t.loc[("ops", "all"), "utilisation"] == pytest.approx(14 / 192)
    assert r.site["labour_utilisation"] == pytest.approx(14 / 192)


def test_worked_example_labour() -> None:
    # 2 people 20-26 h on Monday: 16-24 is "late" (8 person-h), 24-26 off shift (4).
    t = compute(one_unit_log(), tiny_site()).labour.set_index(["team", "shift"])
    assert t.loc[("ops", "late"), "assigned_person_h"] == pytest.approx(8)
    assert t.loc[("ops", "all"), "off_shift_person_h"] == pytest.approx(4)


def test_holidays_remove_shifts_of_teams_that_do_not_work_them() -> None:
    holidays = {"holidays": [{"date": "2027-01-05", "name": "a Tuesday off"}]}
    site = tiny_site(calendar=holidays)
    t = labour_table(week_log().labour, site, 168.0, EPOCH).set_index(["team", "shift"])
    assert t.loc[("ops", "early"), "shift_hours"] == 6 * 8
    assert t.loc[("ops", "late"), "shift_hours"] == 4 * 8
    teams = {
        "ops": {"skills": ["op"], "headcount": 2, "shift_pattern": "day", "works_holidays": True}
    }
    site = tiny_site(calendar=holidays, teams=teams)
    t = labour_table(week_log().labour, site, 168.0, EPOCH).set_index(["team", "shift"])
    assert t.loc[("ops", "early"), "shift_hours"] == 7 * 8


def test_windows_use_the_time_base_of_the_site() -> None:
    # Ireland springs forward on Sunday 2027-03-28: windows are placed at 08:00 local
    # wall-clock time and converted to run hours the way the site does it.
    site = tiny_site(timezone="Europe/Dublin", plan={"start": "2027-03-22", "horizon": "200 h"})
    w = shift_windows(site, "ops", 200.0)
    early = w[w["shift"] == "early"]
    assert early["start_h"].iloc[0] == 8.0
    assert early["start_h"].iloc[7] == pytest.approx(site.to_hours(dt.datetime(2027, 3, 29, 8, 0)))
    # A log whose epoch is a day later sees the same windows 24 h earlier.
    later = shift_windows(site, "ops", 200.0, site.epoch + dt.timedelta(days=1))
    early_later = later[later["shift"] == "early"]["start_h"].to_list()
    assert early_later[0] == 8.0
    # Elapsed time: 08:00 on Monday 29 March comes 23 h after 08:00 on Sunday 28 March.
    assert early_later[5] - early_later[4] == pytest.approx(23.0)
    assert len(early_later) == 9


def test_holidays_cut_whole_local_days() -> None:
    # Thursday 2027-01-07 off: the early shift goes, and so does a night window across
    # midnight into the holiday (cut at 00:00).
    site = tiny_site(
        calendar={"holidays": [{"date": "2027-01-07"}]},
        shift_patterns={
            "day": {
                "shifts": [
                    {"name": "night", "start": "20:00", "duration": "8 h"},
                ]
            }
        },
    )
    w = shift_windows(site, "ops", 168.0, EPOCH)
    spans = list(zip(w["start_h"], w["end_h"], strict=True))
    assert (68.0, 72.0) in spans  # Wed 20:00 -> Thu 00:00, cut
    assert not any(72.0 <= a < 96.0 for a, _ in spans)  # nothing starts on Thursday
    assert (96.0 + 20 - 24, 96.0 + 4) not in spans


def test_unknown_team_and_no_site() -> None:
    lab = week_log().labour.assign(team="ghosts")
    t = labour_table(lab, tiny_site(), 168.0, EPOCH).set_index(["team", "shift"])
    assert t.loc[("ghosts", "all"), "assigned_person_h"] == pytest.approx(14)
    assert t.loc[("ops", "all"), "assigned_person_h"] == 0
    t = labour_table(lab, None, 168.0, EPOCH)
    assert list(t["team"]) == ["ghosts"]


def test_shift_windows_are_computed_once_per_site_and_follow_its_overrides() -> None:
    from phactory.model.timebase import shift_windows as placed

    site = tiny_site()
    pattern = next(iter(site.shift_patterns.values()))
    first = placed(site, pattern, 168.0)
    assert any(key[0] == "shift_windows" for key in site.memo)
    first.clear()  # a caller's copy: the memo keeps its own
    assert placed(site, pattern, 168.0) == placed(tiny_site(), pattern, 168.0) != []
    # A variant is a new site with its own memo: a changed pattern gives new windows.
    shifted = site.with_overrides({f"shift_patterns.{pattern.id}.shifts.0.start": "09:00"})
    moved = placed(shifted, shifted.shift_patterns[pattern.id], 168.0)
    assert moved != placed(site, pattern, 168.0)
    assert moved[0][0] == placed(site, pattern, 168.0)[0][0] + 1.0
