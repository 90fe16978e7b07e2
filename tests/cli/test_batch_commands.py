"""``phactory batch start | run --time-scale | review | release | reject | status``: a batch
from start to release on the command line, as on the web, and the refusals on the way.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from cli_world import PEOPLE, add_people, invoke, water_site
from typer.testing import CliRunner, Result


@pytest.fixture
def world(runner: CliRunner, tmp_path: Path) -> tuple[str, Path]:
    """A database with the people (qualified for the site), and the tiny site with water."""
    db = f"sqlite:///{tmp_path / 'batch.db'}"
    site = water_site(tmp_path)
    add_people(runner, db, skills_of=site)
    return db, site


def _start(runner: CliRunner, db: str, site: Path, batch_id: str, *extra: str) -> Result:
    return invoke(
        runner,
        ["batch", "start", str(site), "--recipe", "r1", "--batch-id", batch_id, "--user", "sup",
         "--db", db, *extra],
        PEOPLE["sup"][2],
    )  # fmt: skip


def _run(runner: CliRunner, db: str, batch_id: str, *extra: str) -> Result:
    return invoke(
        runner,
        ["batch", "run", batch_id, "--operator", "op1", "--verifier", "op2", "--db", db, *extra],
        PHACTORY_OPERATOR_PASSWORD=PEOPLE["op1"][2],
        PHACTORY_VERIFIER_PASSWORD=PEOPLE["op2"][2],
    )


def _status(runner: CliRunner, db: str, batch_id: str) -> dict[str, Any]:
    done = invoke(runner, ["batch", "status", batch_id, "--json", "--db", db])
    assert done.exit_code == 0, done.output
    data: dict[str, Any] = json.loads(done.stdout)
    return data


def test_a_batch_from_start_to_release(runner: CliRunner, world: tuple[str, Path]) -> None:
    db, site = world
    assert _start(runner, db, site, "B1").exit_code == 0
    done = _run(runner, db, "B1", "--time-scale", "inf")
    assert done.exit_code == 0, done.output
    assert "batch B1: Complete" in done.output
    # The QP cannot release before QA has reviewed.
    early = invoke(runner, ["batch", "release", "B1", "--user", "qp", "--db", db], PEOPLE["qp"][2])
    assert early.exit_code == 2 and "not reviewed" in early.output
    reviewed = invoke(
        runner, ["batch", "review", "B1", "--user", "qa", "--note", "ok", "--db", db],
        PEOPLE["qa"][2],
    )  # fmt: skip
    assert reviewed.exit_code == 0, reviewed.output
    assert "Quinn Quality (qa), reviewed" in reviewed.output
    released = invoke(
        runner, ["batch", "release", "B1", "--user", "qp", "--db", db], PEOPLE["qp"][2]
    )
    assert released.exit_code == 0, released.output
    assert "disposition: released" in released.output
    status = _status(runner, db, "B1")
    assert (status["status"], status["disposition"]) == ("released", "released")
    assert all(s["valid"] for s in status["signatures"])  # the review's still holds
    again = invoke(runner, ["batch", "reject", "B1", "--user", "qp", "--reason", "x", "--db", db],
                   PEOPLE["qp"][2])  # fmt: skip
    assert again.exit_code == 2 and "already released" in again.output


def test_a_rejection_needs_a_reason_and_a_qp(runner: CliRunner, world: tuple[str, Path]) -> None:
    db, site = world
    assert _start(runner, db, site, "B2").exit_code == 0
    assert _run(runner, db, "B2", "--time-scale", "inf").exit_code == 0
    reject = ["batch", "reject", "B2", "--db", db]
    by_qa = invoke(runner, [*reject, "--user", "qa", "--reason", "x"], PEOPLE["qa"][2])
    assert by_qa.exit_code == 2 and "qa (qa) may not" in by_qa.output
    no_reason = invoke(runner, [*reject, "--user", "qp", "--reason", " "], PEOPLE["qp"][2])
    assert no_reason.exit_code == 2 and "needs a reason" in no_reason.output
    done = invoke(
        runner, [*reject, "--user", "qp", "--reason", "sterility failed"], PEOPLE["qp"][2]
    )
    assert done.exit_code == 0, done.output
    assert _status(runner, db, "B2")["status"] == "rejected"


def test_time_scale_is_checked(runner: CliRunner, world: tuple[str, Path]) -> None:
    db, site = world
    assert _start(runner, db, site, "B3").exit_code == 0
    for bad in ("0", "0.5", "fast", "nan"):
        done = _run(runner, db, "B3", "--time-scale", bad)
        assert done.exit_code == 2, (bad, done.output)
        assert "time scale" in done.output.lower(), done.output
    bad_start = _start(runner, db, site, "B4", "--time-scale", "-1")
    assert bad_start.exit_code == 2 and "time scale" in bad_start.output.lower()


def test_status_and_commands_refuse_bad_ids(runner: CliRunner, world: tuple[str, Path]) -> None:
    db, _ = world
    missing = invoke(runner, ["batch", "status", "NOPE", "--db", db])
    assert missing.exit_code == 2 and "batch NOPE not found" in missing.output
    bad = invoke(runner, ["batch", "status", "<script>", "--db", db])
    assert bad.exit_code == 2 and "batch id '<script>' is not valid" in bad.output
    hold = invoke(
        runner, ["batch", "command", "NOPE", "hold", "--user", "sup", "--db", db], PEOPLE["sup"][2]
    )
    assert hold.exit_code == 2 and "needs a reason" in hold.output
