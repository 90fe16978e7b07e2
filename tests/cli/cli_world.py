"""The batch-record world of the command-line tests: people, the tiny site with water,
and a command run with a password from the environment, as a user runs it.

Test modules import it (``from cli_world import PEOPLE, invoke``).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml
from typer.testing import CliRunner, Result

from phactory.cli.main import app

ROOT = Path(__file__).resolve().parents[2]
TINY = ROOT / "tests" / "data" / "tiny-site.yaml"
#: user id -> (printed name, role, password)
PEOPLE = {
    "admin": ("Ada Admin", "admin", "admin-pass-1"),
    "sup": ("Sam Supervisor", "supervisor", "sup-pass-1"),
    "op1": ("Olive Operator", "operator", "op1-pass-1"),
    "op2": ("Otto Operator", "operator", "op2-pass-1"),
    "qa": ("Quinn Quality", "qa", "qa-pass-1"),
    "qp": ("Pat Qualified-Person", "qp", "qp-pass-1"),
}


def invoke(runner: CliRunner, args: list[str], password: str | None = None, **env: str) -> Result:
    """Run ``phactory ARGS`` with ``PHACTORY_PASSWORD`` (if given) and ``env`` set."""
    environ = dict(env)
    if password is not None:
        environ["PHACTORY_PASSWORD"] = password
    return runner.invoke(app, args, env=environ)


def water_site(folder: Path) -> Path:
    """``tests/data/tiny-site.yaml`` with a released lot of water, written to ``folder``."""
    data: dict[str, Any] = yaml.safe_load(TINY.read_text())
    data["lots"] = {"W-001": {"material": "water", "quantity": "1000 L", "status": "released"}}
    site = folder / "site.yaml"
    site.write_text(yaml.safe_dump(data, sort_keys=False))
    return site


def add_people(
    runner: CliRunner, db: str, people: Iterable[str] = PEOPLE, *, skills_of: Path | None = None
) -> None:
    """``phactory batch user add`` each of ``people`` (the administrator first, then by
    the administrator; qualified for every skill of the site ``skills_of`` if given)."""
    for user_id in people:
        name, role, password = PEOPLE[user_id]
        args = ["batch", "user", "add", user_id, "--name", name, "--role", role, "--db", db]
        if user_id != "admin":
            args += ["--admin", "admin"]
            if skills_of is not None:
                args += ["--skills-of", str(skills_of)]
        done = invoke(runner, args, PEOPLE["admin"][2], PHACTORY_NEW_PASSWORD=password)
        assert done.exit_code == 0, done.output
