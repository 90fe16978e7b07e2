"""``phactory user add | token | list`` and ``phactory serve --help``."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

import phactory.cli.serve_commands  # noqa: F401  (registers serve and user)
from phactory.app.context import AppContext
from phactory.app.errors import LockedOut, NotAuthenticated
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


def test_user_unlock_ends_the_locks_a_server_keeps_in_the_database(home: Path) -> None:
    runner = CliRunner()
    runner.invoke(app, ["user", "add", "gina", "--password-stdin"], input="gina-pass-12\n")
    ctx = AppContext(AppSettings.from_env(prewarm_workers=False), bootstrap=False)
    try:
        for _ in range(5):
            with pytest.raises(NotAuthenticated):
                ctx.accounts.authenticate("gina", "wrong-guess", "198.51.100.9")
        with pytest.raises(LockedOut):
            ctx.accounts.authenticate("gina", "gina-pass-12", "198.51.100.9")
        listed = runner.invoke(app, ["user", "list"])
        assert "locked from 198.51.100.9" in listed.output
        # Another process (this command) ends the lock the server process sees.
        unlocked = runner.invoke(app, ["user", "unlock", "gina"])
        assert unlocked.exit_code == 0, unlocked.output
        assert "Unlocked gina (1 address(es) cleared)" in unlocked.output
        assert ctx.accounts.authenticate("gina", "gina-pass-12", "198.51.100.9").name == "gina"
        unlock = next(c for c in ctx.changes.list() if c.action == "user.unlock")
        assert unlock.actor.startswith("cli:") and unlock.entity_id == "gina"
    finally:
        ctx.close()
    assert runner.invoke(app, ["user", "unlock", "nobody"]).exit_code == 2


def test_user_password_sets_a_new_one_and_revokes_the_old_tokens(home: Path) -> None:
    runner = CliRunner()
    runner.invoke(app, ["user", "add", "hal", "--password-stdin"], input="hal-pass-123\n")
    token = runner.invoke(app, ["user", "token", "hal"]).output.strip().splitlines()[-1]
    chosen = runner.invoke(
        app, ["user", "password", "hal", "--password-stdin"], input="hal-new-pass-4\n"
    )
    assert chosen.exit_code == 0, chosen.output
    assert "hal-new-pass-4" not in chosen.output
    generated = runner.invoke(app, ["user", "password", "hal"])
    assert generated.exit_code == 0, generated.output
    password = generated.output.split("password: ")[1].split()[0]
    ctx = AppContext(AppSettings.from_env(prewarm_workers=False), bootstrap=False)
    try:
        assert ctx.accounts.resolve(token, kind="api") is None
        who = ctx.accounts.authenticate("hal", password)
        assert who.must_change_password  # a generated password is to be changed
    finally:
        ctx.close()
    weak = runner.invoke(app, ["user", "password", "hal", "--password-stdin"], input="password1\n")
    assert weak.exit_code == 2 and "too common" in weak.output


def test_serve_refuses_half_a_tls_setup(home: Path, tmp_path: Path) -> None:
    cert = tmp_path / "cert.pem"
    cert.write_text("not really")
    result = CliRunner().invoke(app, ["serve", "--ssl-certfile", str(cert), "--port", "1"])
    assert result.exit_code == 2
    assert "--ssl-keyfile" in result.output
    help_text = CliRunner().invoke(app, ["serve", "--help"]).output
    for option in ("--ssl-certfile", "--ssl-keyfile", "--forwarded-allow-ips"):
        assert option in help_text
