"""OPC UA users from the web workspace's accounts (:mod:`phactory.app.services.opcua_users`).

The workspace on SQLite, real accounts with Argon2id (small parameters); the adapter
alone, and then a real OPC UA session logged in with a workspace account.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from phactory.app.context import AppContext
from phactory.app.services.accounts import SYSTEM
from phactory.app.services.opcua_users import AccountsAuthenticator
from phactory.app.settings import AppSettings
from phactory.connect.opcua import ServerThread

from .conftest import connect, run
from .plant import REACTOR, SmallPlant


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[AppContext]:
    from phactory.app import security
    from phactory.credentials import default_hasher

    fast = default_hasher(fast=True)
    monkeypatch.setattr(security, "_hasher", lambda: fast)
    settings = AppSettings(
        database_url=f"sqlite:///{tmp_path / 'app.db'}",
        secret="test-secret-" + "x" * 24,
        examples_dir=None,
        prewarm_workers=False,
    )
    ctx = AppContext(settings, bootstrap=False)
    for name, role in (
        ("viewer1", "viewer"),
        ("operator1", "operator"),
        ("engineer1", "engineer"),
        ("admin1", "admin"),
    ):
        ctx.accounts.create_user(SYSTEM, name, role, f"{name}-password-1")
    try:
        yield ctx
    finally:
        ctx.close()


def test_web_roles_map_to_opcua_roles(workspace: AppContext) -> None:
    auth = AccountsAuthenticator(workspace.accounts)
    got = {
        name: auth.authenticate(name, f"{name}-password-1")
        for name in ("viewer1", "operator1", "engineer1", "admin1")
    }
    assert got == {
        "viewer1": "viewer",
        "operator1": "operator",
        "engineer1": "engineer",
        "admin1": "engineer",
    }
    assert auth.authenticate("engineer1", "wrong-password-1") is None
    assert auth.authenticate("nobody", "whatever-password") is None


def test_an_operator_account_has_web_viewer_rights_only(workspace: AppContext) -> None:
    operator = workspace.accounts.authenticate("operator1", "operator1-password-1")
    assert operator.has("viewer") and not operator.has("engineer")
    assert not operator.can_change


def test_inactive_and_must_change_accounts_are_refused(workspace: AppContext) -> None:
    auth = AccountsAuthenticator(workspace.accounts)
    workspace.accounts.update_user(SYSTEM, "engineer1", active=False)
    assert auth.authenticate("engineer1", "engineer1-password-1") is None
    workspace.accounts.create_user(
        SYSTEM, "fresh1", "engineer", "fresh1-password-1", must_change_password=True
    )
    assert auth.authenticate("fresh1", "fresh1-password-1") is None


@pytest.mark.slow  # a server of its own: about 5 s
def test_an_opcua_session_with_a_workspace_account(
    workspace: AppContext, pki_dir: Path, client_cert
) -> None:
    plant = SmallPlant()
    with ServerThread(
        plant, port=0, authenticator=AccountsAuthenticator(workspace.accounts), pki_dir=pki_dir
    ) as server:

        async def body() -> float:
            async with connect(
                server.endpoint, client_cert, "operator1", "operator1-password-1"
            ) as c:
                value: float = await c.get_node(server.node_id(f"{REACTOR}/TT101")).read_value()
                return value

        assert run(body()) == 20.0
