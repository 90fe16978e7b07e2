"""Infeasible plans are explained in words, naming the constraint family to blame."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from test_sched_sites import site_from
from typer.testing import CliRunner

from phactory.cli import schedule_commands  # noqa: F401  (registers the commands)
from phactory.cli.main import app
from phactory.schedule import build_problem, diagnose, solve

runner = CliRunner()


def _site(
    *,
    a_labour: list[dict[str, Any]] | None = None,
    b_labour: list[dict[str, Any]] | None = None,
    link: dict[str, Any] | None = None,
    teams: dict[str, Any] | None = None,
    maintenance: list[dict[str, Any]] | None = None,
    orders: list[dict[str, Any]] | None = None,
    continuous: bool = False,
) -> dict[str, Any]:
    def ph(labour: list[dict[str, Any]] | None) -> dict[str, Any]:
        out: dict[str, Any] = {"duration": "2 h", "continuous": continuous}
        if labour:
            out["labour"] = labour
        return out

    return {
        "id": "why",
        "skills": ["a", "b"],
        "equipment_classes": {"x": {}, "y": {}},
        "areas": {
            "z": {"process_cells": {"c": {"units": {"X": {"class": "x"}, "Y": {"class": "y"}}}}}
        },
        "products": {"p": {"recipe": "r"}},
        "recipes": {
            "r": {
                "product": "p",
                "status": "approved",
                "unit_procedures": {
                    "first": {
                        "equipment_class": "x",
                        "operations": {"o": {"phases": {"f": ph(a_labour)}}},
                    },
                    "second": {
                        "equipment_class": "y",
                        "after": [link or {"procedure": "first"}],
                        "operations": {"o": {"phases": {"s": ph(b_labour)}}},
                    },
                },
            }
        },
        "shift_patterns": {
            "day": {"shifts": [{"name": "d", "start": "08:00", "duration": "8 h"}]},
            "night": {"shifts": [{"name": "n", "start": "20:00", "duration": "8 h"}]},
            "always": {"shifts": [{"name": "d", "start": "00:00", "duration": "24 h"}]},
        },
        "teams": teams or {"t": {"skills": ["a", "b"], "headcount": 3, "shift_pattern": "always"}},
        "calendar": {"maintenance": maintenance or []},
        "plan": {
            "start": "2027-01-04T00:00",
            "horizon": "10 d",
            "orders": orders or [{"id": "O", "product": "p", "batches": 1}],
        },
    }


def test_coupled_skills_short_of_people_are_diagnosed() -> None:
    # One team of 3 holds both skills; a phase needs 2 + 2 of them at once.
    site = site_from(_site(a_labour=[{"skill": "a", "count": 2}, {"skill": "b", "count": 2}]))
    reasons = diagnose(build_problem(site))
    assert reasons and "at most 3 people" in reasons[0] and "a / b" in reasons[0]
    s = solve(site, time_limit_s=2)
    assert s.status == "infeasible"
    assert s.explanation is not None and "ever on duty" in s.explanation


def test_tight_hard_deadline_is_diagnosed() -> None:
    orders = [
        {
            "id": "O",
            "product": "p",
            "batches": 1,
            "release": "2027-01-04T00:00",
            "due": "2027-01-04T03:00",
        }
    ]
    site = site_from(_site(orders=orders))
    s = solve(site, deadlines=True, time_limit_s=2)
    assert s.status == "infeasible"
    assert "due 3 h after its release" in (s.explanation or "")
    # As a soft due date it is only tardiness.
    soft = solve(site, objective="tardiness", time_limit_s=2)
    assert soft.status == "optimal" and soft.objective_value == 1.0


def test_no_wait_between_day_and_night_crews_blames_hold_times_and_shifts() -> None:
    data = _site(
        a_labour=[{"skill": "a", "count": 1}],
        b_labour=[{"skill": "b", "count": 1}],
        link={"procedure": "first", "max_lag": "0 h"},
        teams={
            "days": {"skills": ["a"], "headcount": 1, "shift_pattern": "day"},
            "nights": {"skills": ["b"], "headcount": 1, "shift_pattern": "night"},
        },
        continuous=True,
    )
    site = site_from(data)
    s = solve(site, time_limit_s=10)
    assert s.status == "infeasible", s.summary()
    text = s.explanation or ""
    assert "hold times" in text and "'second' within 0 h after 'first'" in text
    assert "shift calendars" in text


def test_deadlines_against_maintenance_blame_deadlines_and_calendars() -> None:
    maintenance = [
        {"units": ["X"], "start": "2027-01-04T03:00", "duration": "20 d"},
        {"units": ["Y"], "start": "2027-01-04T04:00", "duration": "10 d"},
    ]
    orders = [{"id": "O", "product": "p", "batches": 3, "due": "2027-01-09"}]
    site = site_from(_site(maintenance=maintenance, orders=orders))
    s = solve(site, deadlines=True, time_limit_s=10)
    assert s.status == "infeasible"
    text = s.explanation or ""
    assert "due dates as hard deadlines" in text
    assert "unit calendars" in text
    assert "hold times" not in text


def test_cli_explains_an_infeasible_plan(tmp_path: Path) -> None:
    orders = [
        {
            "id": "O",
            "product": "p",
            "batches": 1,
            "release": "2027-01-04T00:00",
            "due": "2027-01-04T03:00",
        }
    ]
    path = tmp_path / "site.yaml"
    path.write_text(yaml.safe_dump(_site(orders=orders)))
    res = runner.invoke(app, ["schedule", str(path), "--deadlines", "--time-limit", "2"])
    assert res.exit_code == 1, res.output
    assert "infeasible" in res.output and "due 3 h after its release" in res.output
