"""``phactory user add | token | list`` and ``phactory serve --help``."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

import phactory.cli.serve_commands  # noqa: F401  (registers serve and user)
from phactory.app.context import AppContext
from phactory.app.settings import AppSettings
from phactory.cli.main import app


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PHACTORY_HOME", str(tmp_path))
    monkeypatch.delenv("PHACTORY_DATABASE_URL", raising=False)
    monkeypatch.setenv("PHACTORY_EXAMPLES", "none")
    return tmp_path


def test_user_add_with_password_on_stdin_then_token(home: Path) -> None:
    runner = CliRunner()
    added = runner.invoke(
        app, ["user", "add", "alice", "--role", "engineer", "--password-stdin"],
        input="correct-horse-1\n",
    )  # fmt: skip
    assert added.exit_code == 0, added.output
    assert "Added alice (engineer)" in added.output
    assert "correct-horse-1" not in added.output
    token = runner.invoke(app, ["user", "token", "alice", "--label", "ci"])
    assert token.exit_code == 0, token.output
    secret = token.output.strip().splitlines()[-1]
    assert secret.startswith("phy_")
    ctx = AppContext(AppSettings.from_env(prewarm_workers=False), bootstrap=False)
    try:
        who = ctx.accounts.resolve(secret, kind="api")
        assert who is not None and (who.name, who.role) == ("alice", "engineer")
        assert ctx.accounts.authenticate("alice", "correct-horse-1").name == "alice"
        actions = [c.action for c in ctx.changes.list()]
        assert "user.create" in actions and "token.create" in actions
        assert ctx.changes.list()[0].actor.startswith("cli:")
    finally:
        ctx.close()
    listed = runner.invoke(app, ["user", "list"])
    assert any(line.split() == ["alice", "engineer"] for line in listed.output.splitlines())


def test_user_add_generates_a_password_once(home: Path) -> None:
    result = CliRunner().invoke(app, ["user", "add", "bob"])
    assert result.exit_code == 0, result.output
    assert "password: " in result.output


def test_bad_user_input_exits_2(home: Path) -> None:
    runner = CliRunner()
    assert runner.invoke(app, ["user", "add", "bad name!"]).exit_code == 2
    assert runner.invoke(app, ["user", "add", "carol", "--role", "boss"]).exit_code == 2
    runner.invoke(app, ["user", "add", "dave"])
    assert runner.invoke(app, ["user", "add", "dave"]).exit_code == 2
    assert runner.invoke(app, ["user", "token", "nobody"]).exit_code == 2
    short = runner.invoke(app, ["user", "add", "erin", "--password-stdin"], input="short\n")
    assert short.exit_code == 2
    assert "8 characters" in short.output


def test_serve_help_names_the_options() -> None:
    result = CliRunner().invoke(app, ["serve", "--help"])
    assert result.exit_code == 0
    for option in ("--host", "--port", "PATH"):
        assert option in result.output


def test_serve_refuses_a_broken_site(home: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("id: x\nareas: 3\n")
    result = CliRunner().invoke(app, ["serve", str(broken), "--port", "1"])
    assert result.exit_code == 2
    assert "broken.yaml:2" in result.output
    with pytest.raises(httpx.HTTPError):
        httpx.get("http://127.0.0.1:1/", timeout=0.5)
