"""A schedule that omits work of its plan is never valid (issue 12, item 6).

Orders, batches and unit procedures left out are named at their level; the empty file
``phactory schedule`` writes for an infeasible plan fails ``check-schedule`` (exit 1); a
schedule made for part of the plan (``--days``) is held to the orders it was made for.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
import yaml
from test_sched_explain import _site as why_site
from test_sched_sites import heuristic_schedule, rich_site
from typer.testing import CliRunner

from phactory.cli import schedule_commands  # noqa: F401  (registers the commands)
from phactory.cli.main import app
from phactory.model import Site
from phactory.schedule import Schedule, check_schedule

runner = CliRunner()


@pytest.fixture(scope="module")
def site() -> Site:
    return rich_site()


@pytest.fixture(scope="module")
def valid(site: Site) -> Schedule:
    s = heuristic_schedule(site)
    assert check_schedule(site, s) == []
    return s


def _without(s: Schedule, **match: str) -> Schedule:
    """``s`` without the rows (and segments) whose columns equal ``match``."""
    out = copy.copy(s)
    keep = ~(s.operations[list(match)] == list(match.values())).all(axis=1)
    out.operations = s.operations[keep].reset_index(drop=True)
    dropped = set(zip(s.operations[~keep]["batch"], s.operations[~keep]["procedure"], strict=True))
    segs = s.segments
    seg_keep = [
        (b, p) not in dropped for b, p in zip(segs["batch"], segs["procedure"], strict=True)
    ]
    out.segments = segs[seg_keep].reset_index(drop=True)
    return out


def _kinds(found: list) -> dict[str, set[tuple[str | None, str | None, str | None]]]:
    out: dict[str, set[tuple[str | None, str | None, str | None]]] = {}
    for v in found:
        out.setdefault(v.kind, set()).add((v.order, v.batch, v.procedure))
    return out


def test_a_dropped_order_is_named(site: Site, valid: Schedule) -> None:
    found = check_schedule(site, _without(valid, order="OB"))
    assert _kinds(found) == {"missing-order": {("OB", None, None)}}, [str(v) for v in found]
    assert "OB" in found[0].message


def test_a_dropped_batch_is_named(site: Site, valid: Schedule) -> None:
    found = check_schedule(site, _without(valid, batch="OA-B02"))
    assert _kinds(found) == {"missing-batch": {("OA", "OA-B02", None)}}, [str(v) for v in found]


def test_a_dropped_unit_procedure_is_named(site: Site, valid: Schedule) -> None:
    found = check_schedule(site, _without(valid, batch="OA-B03", procedure="qc"))
    assert _kinds(found) == {"missing": {("OA", "OA-B03", "qc")}}, [str(v) for v in found]


def test_every_missing_order_is_listed(site: Site, valid: Schedule) -> None:
    empty = copy.copy(valid)
    empty.operations = valid.operations.iloc[0:0]
    empty.segments = valid.segments.iloc[0:0]
    found = check_schedule(site, empty)
    assert {v.order for v in found if v.kind == "missing-order"} == {o.id for o in site.orders}


def test_the_empty_schedule_of_an_infeasible_plan_is_invalid(site: Site) -> None:
    empty = Schedule.empty(
        site.id, site.epoch, 0.25, status="infeasible", objective="makespan", explanation="why"
    )
    found = check_schedule(site, empty)
    kinds = {v.kind for v in found}
    assert "status" in kinds and "missing-order" in kinds
    assert {v.order for v in found if v.kind == "missing-order"} == {o.id for o in site.orders}


def test_a_schedule_for_part_of_the_plan_is_held_to_its_scope(site: Site) -> None:
    part = heuristic_schedule(site, orders=["OA"])
    assert part.orders == ["OA"]
    assert check_schedule(site, part) == []
    # Without its scope it is held to the whole plan.
    unscoped = copy.copy(part)
    unscoped.orders = None
    missing = {v.order for v in check_schedule(site, unscoped) if v.kind == "missing-order"}
    assert missing == {o.id for o in site.orders} - {"OA"}


def test_the_scope_survives_the_file(site: Site, tmp_path: Path) -> None:
    part = heuristic_schedule(site, orders=["OA"])
    part.to_json(tmp_path / "s.json")
    back = Schedule.from_json(tmp_path / "s.json")
    assert back.orders == ["OA"] and check_schedule(site, back) == []
    # A version-1 file (no scope) is read and held to the whole plan.
    data = json.loads((tmp_path / "s.json").read_text())
    del data["orders"]
    data["version"] = 1
    old = Schedule.from_dict(data)
    assert old.orders is None
    assert {v.kind for v in check_schedule(site, old)} == {"missing-order"}


def test_cli_check_schedule_refuses_a_schedule_that_omits_an_order(
    site: Site, valid: Schedule, tmp_path: Path
) -> None:
    site_path = tmp_path / "rich.yaml"
    site_path.write_text(yaml.safe_dump(site.to_data()))
    path = tmp_path / "bad.json"
    _without(valid, order="OB").to_json(path)
    res = runner.invoke(app, ["check-schedule", str(site_path), str(path)])
    assert res.exit_code == 1, res.output
    assert "missing-order" in res.output and "OB" in res.output
    valid.to_json(tmp_path / "good.json")
    res = runner.invoke(app, ["check-schedule", str(site_path), str(tmp_path / "good.json")])
    assert res.exit_code == 0, res.output


def test_cli_schedule_of_an_infeasible_plan_writes_a_file_check_schedule_refuses(
    tmp_path: Path,
) -> None:
    orders = [
        {
            "id": "O",
            "product": "p",
            "batches": 1,
            "release": "2027-01-04T00:00",
            "due": "2027-01-04T03:00",
        }
    ]
    site_path = tmp_path / "site.yaml"
    site_path.write_text(yaml.safe_dump(why_site(orders=orders)))
    out = tmp_path / "s.json"
    res = runner.invoke(
        app, ["schedule", str(site_path), "--deadlines", "--time-limit", "2", "--out", str(out)]
    )
    assert res.exit_code == 1, res.output
    written = Schedule.from_json(out)
    assert written.status == "infeasible" and len(written.operations) == 0
    res = runner.invoke(app, ["check-schedule", str(site_path), str(out)])
    assert res.exit_code == 1, res.output
    assert "status" in res.output and "missing-order" in res.output
    assert "valid" not in res.output.split("violation")[0]
