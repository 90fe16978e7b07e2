"""Refusals are reported in one place: one line naming what and where, exit code 2;
anything else is a bug, reported in one line with exit code 1."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from phactory.cli.main import PhactoryGroup
from phactory.errors import NotFoundError, UnavailableError
from phactory.model.errors import Mark, Problem, SiteValidationError

DATA = Path(__file__).resolve().parents[1] / "data"


def _app() -> typer.Typer:
    app = typer.Typer(cls=PhactoryGroup, pretty_exceptions_enable=False)

    @app.command()
    def missing() -> None:
        raise NotFoundError("run 42 not found in the store")

    @app.command()
    def broken() -> None:
        problems = [
            Problem("unknown skill 'x'", ("teams", "a", "skills", 0), Mark("s.yaml", 3, 5)),
            Problem("no units", ("equipment_classes", "dryer"), Mark("s.yaml", 9, 3)),
        ]
        raise SiteValidationError.of(problems, "s.yaml")

    @app.command()
    def bug() -> None:
        raise RuntimeError("oops")

    sub = typer.Typer()

    @sub.command()
    def deep() -> None:
        raise UnavailableError("database sqlite:///x.db failed: disk I/O error")

    app.add_typer(sub, name="sub")
    return app


def test_a_refusal_is_one_line_with_exit_2() -> None:
    result = CliRunner().invoke(_app(), ["missing"])
    assert result.exit_code == 2
    assert result.output.strip() == "error: run 42 not found in the store"


def test_a_refusal_in_a_sub_group_is_reported_alike() -> None:
    result = CliRunner().invoke(_app(), ["sub", "deep"])
    assert result.exit_code == 2
    assert result.output.strip() == "error: database sqlite:///x.db failed: disk I/O error"


def test_an_invalid_site_lists_each_problem_then_one_summary_line() -> None:
    result = CliRunner().invoke(_app(), ["broken"])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert lines[0].startswith("s.yaml:3:5") and "unknown skill 'x'" in lines[0]
    assert lines[1].startswith("s.yaml:9:3") and "no units" in lines[1]
    assert lines[2] == "error: 2 error(s) in s.yaml; nothing was written"


def test_anything_else_is_not_swallowed_by_the_group() -> None:
    result = CliRunner().invoke(_app(), ["bug"])
    assert result.exit_code == 1 and isinstance(result.exception, RuntimeError)


def test_the_command_reports_a_bug_in_one_line_with_exit_1() -> None:
    # No shipped command is known to have a bug: one is added for the check.
    code = (
        "import sys\n"
        "from phactory.cli import app, main\n"
        "@app.command('explode')\n"
        "def explode() -> None:\n"
        "    raise RuntimeError('boom')\n"
        "sys.argv = ['phactory', 'explode']\n"
        "main()\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "PHACTORY_DEBUG"}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=env
    )
    assert done.returncode == 1
    assert "internal error: RuntimeError: boom" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize("debug", ["1"])
def test_debug_shows_the_traceback_of_a_refusal(
    debug: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PHACTORY_DEBUG", debug)
    result = CliRunner().invoke(_app(), ["missing"])
    assert isinstance(result.exception, NotFoundError)


def test_real_commands_keep_their_exit_codes(tmp_path: Path) -> None:
    from phactory.cli.main import _register, app

    _register()
    runner = CliRunner()
    broken = tmp_path / "broken.yaml"
    broken.write_text("phactory: 1\nid: x\nteams:\n  t: {skills: [nobody], headcount: 1}\n")
    result = runner.invoke(app, ["validate", str(broken)])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "nothing was written" in result.output
    missing = runner.invoke(app, ["simulate", "--scenario", str(tmp_path / "nope.yaml")])
    assert missing.exit_code == 2 and "nope.yaml" in missing.output
    unreachable = runner.invoke(
        app,
        ["simulate", str(DATA / "tiny-site.yaml"), "--days", "2", "--save"],
        env={"PHACTORY_DATABASE_URL": "postgresql+psycopg://nobody@127.0.0.1:1/none"},
    )
    assert unreachable.exit_code == 1, unreachable.output  # as documented for --save
    assert "127.0.0.1:1" in unreachable.output and "Traceback" not in unreachable.output
