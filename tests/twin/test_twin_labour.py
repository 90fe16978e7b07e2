"""People: shifts, holidays, pausing, continuous phases and setup-scope labour."""

from __future__ import annotations

from typing import Any

import pytest
from twinsites import build, phase, proc, recipe, rows

from phactory.model import Site
from phactory.twin import simulate
from phactory.twin.shifts import staffed_intervals

WEEKDAYS_8_16 = {
    "shifts": [{"name": "day", "start": "08:00", "duration": "8 h", "days": "weekdays"}]
}


def one_phase_site(
    ph: dict[str, Any],
    release: str,
    *,
    headcount: int = 1,
    pattern: dict[str, Any] | None = None,
    horizon: str = "10 d",
    **sections: Any,
) -> Site:
    recipes = {"r": recipe("p", {"work": proc("A", {"x": ph})})}
    orders = [{"id": "O1", "product": "p", "batches": 1, "release": release}]
    return build(
        {"A": {}},
        {"A1": "A"},
        recipes,
        orders,
        horizon=horizon,
        shift_patterns={"wd": pattern or WEEKDAYS_8_16},
        teams={"day": {"skills": ["op"], "headcount": headcount, "shift_pattern": "wd"}},
        **sections,
    )


def test_phase_released_on_saturday_waits_for_monday_shift() -> None:
    # Released Saturday 9 Jan 10:00 (130 h); the weekday team is back Monday 08:00 (176 h).
    site = one_phase_site(phase(2, labour=[{"skill": "op"}]), "2027-01-09T10:00")
    log = simulate(site, deterministic=True)
    log.check()
    assert rows(log, "A1") == [
        ("idle", 0, 130),
        ("waiting_labour", 130, 176),
        ("producing", 176, 178),
        ("idle", 178, 240),
    ]
    lab = log.labour
    assert list(
        zip(lab["team"], lab["skill"], lab["count"], lab["start_h"], lab["end_h"], strict=True)
    ) == [("day", "op", 1, 176.0, 178.0)]
    assert lab["batch"].item() == "O1-B01" and lab["unit"].item() == "A1"
    assert lab["phase"].item() == "x"


def test_holiday_keeps_a_team_off_unless_it_works_holidays() -> None:
    ph = phase(2, labour=[{"skill": "op"}])
    cal = {"holidays": [{"date": "2027-01-11", "name": "test holiday"}]}
    log = simulate(one_phase_site(ph, "2027-01-09T10:00", calendar=cal), deterministic=True)
    started = log.events[log.events["kind"] == "phase_started"]["t_h"].item()
    assert started == 200.0  # Tuesday 08:00


def test_pausable_phase_stops_at_shift_end_and_resumes() -> None:
    site = one_phase_site(phase(10, labour=[{"skill": "op"}]), "2027-01-04T08:00")
    log = simulate(site, deterministic=True)
    assert rows(log, "A1")[:4] == [
        ("idle", 0, 8),
        ("producing", 8, 16),
        ("waiting_labour", 16, 32),
        ("producing", 32, 34),
    ]
    assert list(zip(log.labour["start_h"], log.labour["end_h"], strict=True)) == [
        (8.0, 16.0),
        (32.0, 34.0),
    ]


def test_continuous_phase_waits_for_a_long_enough_shift() -> None:
    # Released Monday 12:00: only 4 h of the shift left for a 6 h phase that cannot pause.
    site = one_phase_site(phase(6, continuous=True, labour=[{"skill": "op"}]), "2027-01-04T12:00")
    log = simulate(site, deterministic=True)
    assert rows(log, "A1")[:3] == [
        ("idle", 0, 12),
        ("waiting_labour", 12, 32),
        ("producing", 32, 38),
    ]


def test_continuous_phase_longer_than_any_shift_runs_over() -> None:
    site = one_phase_site(phase(10, continuous=True, labour=[{"skill": "op"}]), "2027-01-04T08:00")
    log = simulate(site, deterministic=True)
    assert rows(log, "A1")[:2] == [("idle", 0, 8), ("producing", 8, 18)]
    assert list(zip(log.labour["start_h"], log.labour["end_h"], strict=True)) == [(8.0, 18.0)]


def test_setup_scope_holds_people_only_for_the_setup_hours() -> None:
    ph = phase(10, labour=[{"skill": "op", "scope": "setup", "setup": "1 h"}])
    log = simulate(one_phase_site(ph, "2027-01-04T08:00"), deterministic=True)
    # One producing row: the phase goes on unattended after its setup hour.
    assert rows(log, "A1")[:2] == [("idle", 0, 8), ("producing", 8, 18)]
    assert list(zip(log.labour["start_h"], log.labour["end_h"], strict=True)) == [(8.0, 9.0)]
    assert log.state_hours().loc["A1", "producing"] == 10.0


def test_a_crew_is_shared_and_phases_queue_for_it() -> None:
    recipes = {
        "r": recipe("p", {"work": proc("A", {"x": phase(3, labour=[{"skill": "op", "count": 2}])})})
    }
    orders = [{"id": "O1", "product": "p", "batches": 2, "release": "2027-01-04T08:00"}]
    site = build(
        {"A": {}},
        {"A1": "A", "A2": "A"},
        recipes,
        orders,
        horizon="1 d",
        shift_patterns={"wd": WEEKDAYS_8_16},
        teams={"day": {"skills": ["op"], "headcount": 3, "shift_pattern": "wd"}},
    )
    log = simulate(site, deterministic=True)
    assert rows(log, "A1")[:2] == [("idle", 0, 8), ("producing", 8, 11)]
    assert rows(log, "A2")[:3] == [("idle", 0, 8), ("waiting_labour", 8, 11), ("producing", 11, 14)]


def test_requirement_split_across_two_teams() -> None:
    recipes = {
        "r": recipe("p", {"work": proc("A", {"x": phase(2, labour=[{"skill": "op", "count": 3}])})})
    }
    orders = [{"id": "O1", "product": "p", "batches": 1, "release": "2027-01-04T08:00"}]
    site = build(
        {"A": {}},
        {"A1": "A"},
        recipes,
        orders,
        horizon="1 d",
        shift_patterns={"wd": WEEKDAYS_8_16},
        teams={
            "t1": {"skills": ["op"], "headcount": 2, "shift_pattern": "wd"},
            "t2": {"skills": ["op"], "headcount": 2, "shift_pattern": "wd"},
        },
    )
    log = simulate(site, deterministic=True)
    assert sorted(zip(log.labour["team"], log.labour["count"], strict=True)) == [
        ("t1", 2),
        ("t2", 1),
    ]


def test_breaks_split_staffed_windows() -> None:
    pattern = {
        "shifts": [
            {
                "name": "day",
                "start": "08:00",
                "duration": "8 h",
                "days": "weekdays",
                "breaks": [{"start_after": "4 h", "duration": "30 min"}],
            }
        ]
    }
    site = one_phase_site(phase(6, labour=[{"skill": "op"}]), "2027-01-04T08:00", pattern=pattern)
    log = simulate(site, deterministic=True)
    assert rows(log, "A1")[:4] == [
        ("idle", 0, 8),
        ("producing", 8, 12),
        ("waiting_labour", 12, 12.5),
        ("producing", 12.5, 14.5),
    ]


def test_shift_windows_follow_local_time_across_daylight_saving() -> None:
    site = Site.model_validate(
        {
            "id": "dst",
            "timezone": "Europe/London",
            "shift_patterns": {"wd": WEEKDAYS_8_16},
            "plan": {"start": "2027-03-22", "horizon": "14 d"},
        }
    )
    spans = staffed_intervals(site, site.shift_patterns["wd"], 14 * 24.0)
    starts = [a for a, _ in spans if 0 <= a < 14 * 24]
    # Monday 22 March 08:00 GMT = 8 h; Monday 29 March 08:00 BST = 07:00 UTC = 175 h.
    assert starts[0] == pytest.approx(8.0)
    assert starts[5] == pytest.approx(175.0)
    assert all(b - a == pytest.approx(8.0) for a, b in spans)


def test_epoch_mid_week_and_mid_day_is_accounted_for() -> None:
    site = Site.model_validate(
        {
            "id": "mid",
            "timezone": "UTC",
            "shift_patterns": {"wd": WEEKDAYS_8_16},
            "plan": {"start": "2027-01-08T12:00", "horizon": "7 d"},  # Friday noon
        }
    )
    spans = staffed_intervals(site, site.shift_patterns["wd"], 7 * 24.0)
    current = [(a, b) for a, b in spans if b > 0]
    # Friday 08:00-16:00 is -4..4 h; the next shift is Monday 08:00 = 68 h.
    assert current[0] == pytest.approx((-4.0, 4.0))
    assert current[1] == pytest.approx((68.0, 76.0))
