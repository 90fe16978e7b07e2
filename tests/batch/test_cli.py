"""``phactory batch start|run|status|export``, ``phactory audit verify`` and ``phactory trace``."""

from __future__ import annotations

import json
import math
import sqlite3
from pathlib import Path

import pytest
import yaml
from ebr_world import PEOPLE, cart_site, tiny_site
from typer.testing import CliRunner

import phactory.cli.batch_commands  # noqa: F401  (registers the commands)
from phactory.cli.main import _register, app


@pytest.fixture(scope="module")
def runner() -> CliRunner:
    _register()
    return CliRunner()


def _invoke(runner: CliRunner, args: list[str], password: str | None = None, **env: str):  # type: ignore[no-untyped-def]
    environ = dict(env)
    if password is not None:
        environ["PHACTORY_PASSWORD"] = password
    return runner.invoke(app, args, env=environ)


def _users(runner: CliRunner, db: str) -> None:
    for user_id, (name, role, skills, password) in PEOPLE.items():
        args = ["batch", "user-add", user_id, "--name", name, "--role", role, "--db", db]
        args += [a for s in skills for a in ("--skill", s)]
        if user_id != "admin":
            args += ["--admin", "admin"]
        result = _invoke(runner, args, PEOPLE["admin"][3], PHACTORY_NEW_PASSWORD=password)
        assert result.exit_code == 0, result.output


def _site_file(tmp_path: Path, site: object) -> Path:
    path = tmp_path / "site.yaml"
    path.write_text(yaml.safe_dump(site.to_data(), sort_keys=False))  # type: ignore[attr-defined]
    return path


def test_batch_start_run_status_export_and_verify(runner: CliRunner, tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'cli.db'}"
    _users(runner, db)
    site = _site_file(tmp_path, tiny_site())
    result = _invoke(
        runner,
        [
            "batch",
            "start",
            str(site),
            "--recipe",
            "r1",
            "--batch-id",
            "B1",
            "--user",
            "sup",
            "--db",
            db,
        ],
        PEOPLE["sup"][3],
    )
    assert result.exit_code == 0, result.output
    assert "started batch B1" in result.output
    result = _invoke(
        runner,
        [
            "batch",
            "run",
            "B1",
            "--time-scale",
            "inf",
            "--operator",
            "op1",
            "--verifier",
            "op2",
            "--db",
            db,
        ],
        PHACTORY_OPERATOR_PASSWORD=PEOPLE["op1"][3],
        PHACTORY_VERIFIER_PASSWORD=PEOPLE["op2"][3],
    )
    assert result.exit_code == 0, result.output
    assert "batch B1: Complete" in result.output
    result = _invoke(runner, ["batch", "status", "B1", "--json", "--db", db])
    data = json.loads(result.stdout)
    assert data["state"] == "Complete" and len(data["steps"]) == 3
    assert {s["manifestation"].split(",")[1].strip() for s in data["signatures"]} == {
        "performed",
        "verified",
    }
    result = _invoke(runner, ["batch", "status", "--db", db])
    assert "B1" in result.output
    html, xml, pdf = tmp_path / "b1.html", tmp_path / "b1.xml", tmp_path / "b1.pdf"
    export = ["batch", "export", "B1", "--html", str(html), "--batchml", str(xml)]
    result = _invoke(runner, [*export, "--pdf", str(pdf), "--db", db])
    assert result.exit_code == 0, result.output
    assert "meaning: <b>verified</b>" in html.read_text()
    assert pdf.read_bytes().startswith(b"%PDF-") and f"wrote {pdf}" in result.output
    assert 'xmlns="http://www.mesa.org/xml/B2MML"' in xml.read_text()
    result = _invoke(runner, ["audit", "verify", "--db", db])
    assert result.exit_code == 0 and "OK:" in result.output
    conn = sqlite3.connect(tmp_path / "cli.db")
    conn.execute("DROP TRIGGER ebr_audit_no_update")
    conn.execute("UPDATE ebr_audit SET reason = 'x' WHERE seq = 20")
    conn.commit()
    conn.close()
    result = _invoke(runner, ["audit", "verify", "--db", db])
    assert result.exit_code == 1
    assert "BROKEN at entry 20" in result.output


def test_commands_refusals_and_errors(runner: CliRunner, tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'cli.db'}"
    _users(runner, db)
    site = _site_file(tmp_path, tiny_site())
    _invoke(
        runner,
        [
            "batch",
            "start",
            str(site),
            "--recipe",
            "r1",
            "--batch-id",
            "B2",
            "--user",
            "sup",
            "--db",
            db,
        ],
        PEOPLE["sup"][3],
    )
    result = _invoke(
        runner, ["batch", "command", "B2", "restart", "--user", "sup", "--db", db], PEOPLE["sup"][3]
    )
    assert result.exit_code == 2 and "command Restart refused" in result.output
    result = _invoke(
        runner,
        ["batch", "command", "B2", "hold", "--reason", "pump noise", "--user", "op1", "--db", db],
        PEOPLE["op1"][3],
    )
    assert result.exit_code == 0 and "Holding" in result.output
    result = _invoke(runner, ["batch", "run", "B2", "--time-scale", "inf", "--db", db])
    assert "batch B2: Held" in result.output
    result = _invoke(
        runner,
        ["batch", "start", str(site), "--recipe", "r1", "--user", "sup", "--db", db],
        "wrong password",
    )
    assert result.exit_code == 2 and "wrong password" in result.output
    result = _invoke(runner, ["batch", "status", "NOPE", "--db", db])
    assert result.exit_code == 2 and "batch NOPE not found" in result.output


def test_trace_forward_and_backward(runner: CliRunner, tmp_path: Path) -> None:
    from phactory.batch import BatchEngine, SimulatedOperator
    from phactory.records import RecordService, default_hasher

    db = f"sqlite:///{tmp_path / 'cli.db'}"
    _users(runner, db)
    records = RecordService(db, hasher=default_hasher(fast=True))
    login = {u: records.accounts.login(u, PEOPLE[u][3]) for u in ("sup", "op1", "op2", "qa")}
    records.lots.receive(login["op1"], "APH-A", "apheresis", 1, "bag", patient="PAT-A")
    records.lots.release(
        login["qa"], "APH-A", "incoming checks passed", password=PEOPLE["qa"][3], user_id="qa"
    )
    engine = BatchEngine(records, time_scale=math.inf, tick_s=0.001)
    info = engine.lifecycle.create_batch(
        login["sup"], cart_site(), order_id="PAT-A-ORDER", batch_id="CAR1"
    )
    engine.lifecycle.command(login["sup"], "CAR1", "Start")
    op = SimulatedOperator(login["op1"], PEOPLE["op1"][3], login["op2"], PEOPLE["op2"][3])
    assert engine.runner.run(info.batch_id, operator=op, timeout_s=30).batch.state == "Complete"
    records.close()
    result = _invoke(runner, ["trace", "APH-A", "--forward", "--db", db])
    assert result.exit_code == 0, result.output
    assert "batch CAR1" in result.output and "lot CAR1-cells" in result.output
    result = _invoke(runner, ["trace", "CAR1-cells", "--backward", "--json", "--db", db])
    data = json.loads(result.stdout)
    assert set(data["lots"]) == {"CAR1-cells", "APH-A", "MED-1"}
    result = _invoke(runner, ["trace", "NO-LOT", "--db", db])
    assert result.exit_code == 2 and "lot NO-LOT not found" in result.output
