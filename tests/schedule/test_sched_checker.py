"""The independent checker finds every kind of broken constraint; ``check-schedule`` CLI."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
from test_sched_sites import heuristic_schedule, rich_site
from typer.testing import CliRunner

from phactory.cli import schedule_commands  # noqa: F401  (registers the commands)
from phactory.cli.main import app
from phactory.model import Site
from phactory.schedule import Schedule, check_schedule

runner = CliRunner()
DATA = Path(__file__).resolve().parents[1] / "data"


@pytest.fixture(scope="module")
def site() -> Site:
    return rich_site()


@pytest.fixture(scope="module")
def valid(site: Site) -> Schedule:
    s = heuristic_schedule(site)
    assert check_schedule(site, s) == []
    return s


def _copy(s: Schedule) -> Schedule:
    out = copy.copy(s)
    out.operations = s.operations.copy()
    out.segments = s.segments.copy()
    out.downtime = list(s.downtime)
    return out


def _move(s: Schedule, batch: str, proc: str, delta: float) -> None:
    """Shift one unit procedure and its phases by ``delta`` hours."""
    o = (s.operations["batch"] == batch) & (s.operations["procedure"] == proc)
    for c in ("start_h", "end_h", "clean_end_h"):
        s.operations.loc[o, c] += delta
    g = (s.segments["batch"] == batch) & (s.segments["procedure"] == proc)
    for c in ("start_h", "end_h"):
        s.segments.loc[g, c] += delta


def _row(s: Schedule, batch: str, proc: str) -> int:
    ops = s.operations
    return int(ops.index[(ops["batch"] == batch) & (ops["procedure"] == proc)][0])


def _kinds(site: Site, s: Schedule) -> set[str]:
    return {v.kind for v in check_schedule(site, s)}


def _start(s: Schedule, batch: str, proc: str) -> float:
    return float(s.operations.loc[_row(s, batch, proc), "start_h"])


def _overlap(s: Schedule) -> None:
    # Put OA-B02's reaction on top of OA-B01's on the single reactor.
    _move(s, "OA-B02", "react", _start(s, "OA-B01", "react") - _start(s, "OA-B02", "react"))


def _wrong_class(s: Schedule) -> None:
    s.operations.loc[_row(s, "OA-B01", "react"), "unit"] = "MX-1"
    s.segments.loc[
        (s.segments["batch"] == "OA-B01") & (s.segments["procedure"] == "react"), "unit"
    ] = "MX-1"


def _short(s: Schedule) -> None:
    i = s.segments.index[(s.segments["batch"] == "OA-B01") & (s.segments["phase"] == "stir")][0]
    s.segments.loc[i, "end_h"] -= 0.5
    s.operations.loc[_row(s, "OA-B01", "mix"), "end_h"] -= 0.5


def _late_hold(s: Schedule) -> None:
    _move(s, "OA-B01", "mix", -30.0)


def _before_release(s: Schedule) -> None:
    _move(s, "OB-B01", "mix", -_start(s, "OB-B01", "mix") + 0.5)


def _missing(s: Schedule) -> None:
    s.operations = s.operations.drop(index=_row(s, "OA-B02", "qc"))


def _duplicate(s: Schedule) -> None:
    row = s.operations.loc[[_row(s, "OA-B02", "qc")]]
    s.operations = pd.concat([s.operations, row], ignore_index=True)


def _no_crew(s: Schedule) -> None:
    i = s.segments.index[(s.segments["batch"] == "OA-B01") & (s.segments["phase"] == "charge")][0]
    s.segments.loc[i, "crew"] = ""


def _night_qc(s: Schedule) -> None:
    # QC analysts work 07:00-17:00 on weekdays: move a QC set-up into the night.
    start = _start(s, "OA-B01", "qc")
    _move(s, "OA-B01", "qc", (start // 24 + 1) * 24 + 20 - start - 24)


def _maintenance(s: Schedule) -> None:
    # R-1 is maintained 2027-01-05 10:00-16:00 = h 28-34.
    for b in ("OA-B01", "OA-B02", "OA-B03", "OB-B01", "OB-B02"):
        for p in ("mix", "react", "qc"):
            _move(s, b, p, 1000.0)
    _move(s, "OA-B01", "react", 27.0 - _start(s, "OA-B01", "react"))


def _no_cleaning(s: Schedule) -> None:
    end = float(s.operations.loc[_row(s, "OA-B01", "mix"), "clean_end_h"])
    unit = s.operations.loc[_row(s, "OA-B01", "mix"), "unit"]
    other = s.operations[(s.operations["unit"] == unit) & (s.operations["batch"] != "OA-B01")]
    b = other.sort_values("start_h").iloc[0]
    _move(s, str(b["batch"]), "mix", end - 0.5 - float(b["start_h"]))


CASES: dict[str, tuple[Callable[[Schedule], None], str]] = {
    "overlap": (_overlap, "overlap"),
    "wrong class": (_wrong_class, "wrong-class"),
    "short phase": (_short, "duration"),
    "hold time": (_late_hold, "max-lag"),
    "release": (_before_release, "release"),
    "missing": (_missing, "missing"),
    "duplicate": (_duplicate, "duplicate"),
    "crew": (_no_crew, "crew"),
    "off shift": (_night_qc, "labour"),
    "maintenance": (_maintenance, "maintenance"),
    "cleaning": (_no_cleaning, "cleaning"),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_checker_reports_each_kind(site: Site, valid: Schedule, name: str) -> None:
    mutate, kind = CASES[name]
    bad = _copy(valid)
    mutate(bad)
    found = check_schedule(site, bad)
    assert kind in {v.kind for v in found}, [str(v) for v in found]
    assert all(v.message for v in found)


def test_changeover_gap_is_checked(site: Site, valid: Schedule) -> None:
    bad = _copy(valid)
    ops = bad.operations
    on_r1 = ops[ops["unit"] == "R-1"].sort_values("start_h")
    # Find consecutive reactor batches of different products and close the gap.
    for (_, a), (_, b) in zip(on_r1.iterrows(), on_r1.iloc[1:].iterrows(), strict=False):
        if a["product"] != b["product"]:
            gap = float(b["start_h"]) - float(a["end_h"]) - 2.0  # cleaning is 2 h
            _move(bad, str(b["batch"]), "react", -gap)
            _move(bad, str(b["batch"]), "qc", 0.0)
            break
    found = check_schedule(site, bad)
    assert "changeover" in {v.kind for v in found}, [str(v) for v in found]


def test_deadlines_are_checked_when_hard(site: Site, valid: Schedule) -> None:
    bad = _copy(valid)
    bad.deadlines = True
    # OB is due 2027-01-12 00:00 = h 162: a QC ending later breaks it.
    found = check_schedule(site, bad)
    late = float(bad.operations[bad.operations["order"] == "OB"]["end_h"].max())
    assert ("deadline" in {v.kind for v in found}) == (late > 162.0)


def test_cli_check_schedule_exit_codes(tiny_site: Site, tmp_path: Path) -> None:
    good = heuristic_schedule(tiny_site)
    ok = tmp_path / "ok.json"
    good.to_json(ok)
    site_path = str(DATA / "tiny-site.yaml")
    res = runner.invoke(app, ["check-schedule", site_path, str(ok)])
    assert res.exit_code == 0, res.output
    assert "valid" in res.output

    bad = _copy(good)
    bad.operations.loc[0, "start_h"] -= 100.0
    broken = tmp_path / "bad.json"
    bad.to_json(broken)
    res = runner.invoke(app, ["check-schedule", site_path, str(broken)])
    assert res.exit_code == 1
    assert "violation" in res.output

    garbage = tmp_path / "garbage.json"
    garbage.write_text("{not json")
    res = runner.invoke(app, ["check-schedule", site_path, str(garbage)])
    assert res.exit_code == 2
    assert "not valid JSON" in res.output

    wrong = tmp_path / "wrong.json"
    wrong.write_text('{"format": "phactory-schedule", "version": 1}')
    res = runner.invoke(app, ["check-schedule", site_path, str(wrong)])
    assert res.exit_code == 2 and "operations" in res.output

    res = runner.invoke(app, ["check-schedule", site_path, str(tmp_path / "nope.json")])
    assert res.exit_code == 2 and "no such file" in res.output
