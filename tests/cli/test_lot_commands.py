"""``phactory lot receive | release | reject | list`` and the batch-record accounts commands
(``phactory batch user add | list | unlock | reset-password | change-password``), on a
SQLite database, as a user runs them (passwords from the environment).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from cli_world import PEOPLE, add_people, invoke, water_site
from typer.testing import CliRunner


@pytest.fixture
def world(runner: CliRunner, tmp_path: Path) -> tuple[str, Path]:
    """A database with the people, and the tiny site with a released lot of water."""
    db = f"sqlite:///{tmp_path / 'lots.db'}"
    add_people(runner, db, ("admin", "sup", "op1", "qa"))
    return db, water_site(tmp_path)


def _lots(runner: CliRunner, db: str, *filters: str) -> dict[str, dict[str, Any]]:
    done = invoke(runner, ["lot", "list", "--json", "--db", db, *filters])
    assert done.exit_code == 0, done.output
    return {x["lot"]: x for x in json.loads(done.stdout)}


def test_receive_release_reject_and_list(runner: CliRunner, world: tuple[str, Path]) -> None:
    db, site = world
    receive = ["lot", "receive", str(site), "W-100", "--material", "water", "--db", db]
    done = invoke(
        runner,
        [*receive, "--quantity", "2", "--unit", "m^3", "--shelf-life", "30", "--user", "op1"],
        PEOPLE["op1"][2],
    )
    assert done.exit_code == 0, done.output
    assert "received W-100: 2000 L of water, quarantine" in done.output
    lots = _lots(runner, db)
    assert lots["W-100"]["status"] == "quarantine" and lots["W-001"]["status"] == "released"
    # An operator may not release; QA releases with a reason and a signature.
    refused = invoke(
        runner, ["lot", "release", "W-100", "--reason", "ok", "--user", "op1", "--db", db],
        PEOPLE["op1"][2],
    )  # fmt: skip
    assert refused.exit_code == 2 and "op1 (operator) may not" in refused.output
    wrong = invoke(
        runner, ["lot", "release", "W-100", "--reason", "ok", "--user", "qa", "--db", db], "nope"
    )
    assert wrong.exit_code == 2 and "Traceback" not in wrong.output
    released = invoke(
        runner,
        ["lot", "release", "W-100", "--reason", "CoA checked", "--user", "qa", "--db", db],
        PEOPLE["qa"][2],
    )
    assert released.exit_code == 0, released.output
    assert "W-100: released" in released.output
    assert set(_lots(runner, db, "--status", "released")) == {"W-001", "W-100"}
    rejected = invoke(
        runner,
        ["lot", "reject", "W-001", "--reason", "seal broken", "--user", "qa", "--db", db],
        PEOPLE["qa"][2],
    )
    assert rejected.exit_code == 0, rejected.output
    assert _lots(runner, db, "--material", "water")["W-001"]["status"] == "rejected"


def test_receipt_refusals_name_what_is_wrong(runner: CliRunner, world: tuple[str, Path]) -> None:
    db, site = world
    base = ["lot", "receive", str(site), "--db", db, "--user", "op1", "--quantity", "5"]
    for extra, message in (
        (["W-9", "--material", "gold"], "material gold is not a material of site tiny"),
        (["W-9", "--material", "water", "--expiry", "2001-02-03"], "expired on 2001-02-03"),
        (["W-9", "--material", "water", "--expiry", "soon"], "write a date as YYYY-MM-DD"),
        (["W-9", "--material", "water", "--unit", "kg"], "kg"),
        (["<img src=x>", "--material", "water"], "lot id '<img src=x>' is not valid"),
    ):
        done = invoke(runner, [*base, *extra], PEOPLE["op1"][2])
        assert done.exit_code == 2, (extra, done.output)
        assert message in done.output, (extra, done.output)
    assert "W-9" not in _lots(runner, db)


def test_an_administrator_unlocks_and_resets_a_locked_account(
    runner: CliRunner, world: tuple[str, Path]
) -> None:
    db, site = world
    receive = ["lot", "receive", str(site), "W-5", "--material", "water", "--quantity", "1"]
    for _ in range(3):
        invoke(runner, [*receive, "--user", "op1", "--db", db], "wrong-password")
    locked = invoke(runner, [*receive, "--user", "op1", "--db", db], PEOPLE["op1"][2])
    assert locked.exit_code == 2 and "locked" in locked.output
    users = json.loads(invoke(runner, ["batch", "user", "list", "--json", "--db", db]).stdout)
    assert {u["user_id"]: u["locked"] for u in users}["op1"] is True
    no_admin = invoke(
        runner,
        ["batch", "user", "unlock", "op1", "--admin", "qa", "--reason", "x", "--db", db],
        PEOPLE["qa"][2],
    )
    assert no_admin.exit_code == 2 and "may not" in no_admin.output
    unlock = ["batch", "user", "unlock", "op1", "--admin", "admin", "--db", db]
    assert invoke(runner, [*unlock, "--reason", ""], PEOPLE["admin"][2]).exit_code == 2
    done = invoke(runner, [*unlock, "--reason", "help-desk call 4711"], PEOPLE["admin"][2])
    assert done.exit_code == 0, done.output
    assert invoke(runner, [*receive, "--user", "op1", "--db", db], PEOPLE["op1"][2]).exit_code == 0
    # A new password set by the administrator must be changed by its owner first.
    reset = invoke(
        runner,
        ["batch", "user", "reset-password", "op1", "--admin", "admin", "--reason", "forgot",
         "--db", db],
        PEOPLE["admin"][2],
        PHACTORY_NEW_PASSWORD="temporary-pass-1",
    )  # fmt: skip
    assert reset.exit_code == 0, reset.output
    receive2 = [*receive[:3], "W-6", *receive[4:], "--user", "op1", "--db", db]
    must_change = invoke(runner, receive2, "temporary-pass-1")
    assert must_change.exit_code == 2
    assert "phactory batch user change-password op1" in must_change.output
    changed = invoke(
        runner,
        ["batch", "user", "change-password", "op1", "--db", db],
        "temporary-pass-1",
        PHACTORY_NEW_PASSWORD="my-own-pass-2",
    )
    assert changed.exit_code == 0, changed.output
    assert invoke(runner, receive2, "my-own-pass-2").exit_code == 0


def test_lot_and_batch_help_load_no_heavy_library() -> None:
    heavy = ("pandas", "scipy", "numpy", "sqlalchemy", "phactory.app", "phactory.records")
    code = (
        "import json, sys\n"
        "from typer.testing import CliRunner\n"
        "from phactory.cli.main import _register, app\n"
        "_register()\n"
        "r = CliRunner()\n"
        "codes = [r.invoke(app, a).exit_code for a in (['lot', '--help'], "
        "['lot', 'receive', '--help'], ['batch', 'review', '--help'], "
        "['batch', 'user', 'unlock', '--help'], ['batch', 'start', '--help'])]\n"
        f"print(json.dumps([codes, sorted(m for m in {heavy!r} if m in sys.modules)]))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    codes, loaded = json.loads(done.stdout.strip().splitlines()[-1])
    assert codes == [0] * 5
    assert loaded == []
