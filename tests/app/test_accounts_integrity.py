"""Login lockout, and change-log entries stored in the same transaction as their change
(SQLite and PostgreSQL)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import func, select

from phactory.app.errors import LockedOut, NotAuthenticated
from phactory.app.schema import ChangeRow
from phactory.app.services import accounts
from phactory.app.services.changes import ChangeLog
from phactory.store.schema import ScenarioRow

from .conftest import Api

Upload = Callable[[Api], dict[str, Any]]


@pytest.fixture(autouse=True)
def no_fail_delay(monkeypatch: pytest.MonkeyPatch) -> None:
    """The pause after a wrong password only slows the test down."""
    monkeypatch.setattr(accounts, "_FAIL_DELAY_S", 0.0)


def _login(api: Api, name: str, password: str) -> Any:
    return api.client.post("/api/v1/auth/token", json={"username": name, "password": password})


def test_repeated_failed_logins_lock_the_account(api: Api) -> None:
    for _ in range(accounts.LOCKOUT_FAILURES):
        assert _login(api, "viewer1", "wrong-password").status_code == 401
    locked = _login(api, "viewer1", "viewer-password-1")  # even the right password
    assert locked.status_code == 429
    assert "too many failed logins for viewer1" in locked.json()["detail"]
    assert int(locked.headers["retry-after"]) > 0
    # The lockout is in the change log.
    changes = api.get("/api/v1/changes", params={"entity_kind": "user"}, role="admin").json()
    assert any(c["action"] == "user.lockout" and c["entity_id"] == "viewer1" for c in changes)
    # Others are not affected.
    assert _login(api, "engineer1", "engineer-password-1").status_code == 201
    # The browser login reports the same (LockedOut is a NotAuthenticated).
    with pytest.raises(LockedOut):
        api.ctx.accounts.login("viewer1", "viewer-password-1")


def test_the_lockout_was_logged(api: Api, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="phactory.app.accounts"):
        for _ in range(accounts.LOCKOUT_FAILURES):
            with pytest.raises(NotAuthenticated):
                api.ctx.accounts.authenticate("engineer1", "nope-nope")
    assert any("login locked for 'engineer1'" in r.getMessage() for r in caplog.records)


def test_a_success_before_the_limit_forgives_earlier_failures(api: Api) -> None:
    for _ in range(accounts.LOCKOUT_FAILURES - 1):
        assert _login(api, "viewer1", "wrong-password").status_code == 401
    assert _login(api, "viewer1", "viewer-password-1").status_code == 201
    for _ in range(accounts.LOCKOUT_FAILURES - 1):
        assert _login(api, "viewer1", "wrong-password").status_code == 401
    assert _login(api, "viewer1", "viewer-password-1").status_code == 201


def test_the_lock_ends_after_the_window_or_with_a_new_password(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    for _ in range(accounts.LOCKOUT_FAILURES):
        _login(api, "viewer1", "wrong-password")
    assert _login(api, "viewer1", "viewer-password-1").status_code == 429
    assert (
        api.patch("/api/v1/users/viewer1", json={"password": "new-password-1"}).status_code == 200
    )
    assert _login(api, "viewer1", "new-password-1").status_code == 201
    for _ in range(accounts.LOCKOUT_FAILURES):
        _login(api, "engineer1", "wrong-password")
    assert _login(api, "engineer1", "engineer-password-1").status_code == 429
    import time
    import types

    later = types.SimpleNamespace(
        monotonic=lambda: time.monotonic() + accounts.LOCKOUT_WINDOW_S + 1, sleep=time.sleep
    )
    monkeypatch.setattr(accounts, "time", later)
    assert _login(api, "engineer1", "engineer-password-1").status_code == 201


def _count(api: Api, row: Any) -> int:
    with api.ctx.db.session() as s:
        return int(s.scalar(select(func.count()).select_from(row)) or 0)


def test_a_failing_change_log_leaves_the_store_unchanged(
    api: Api, upload_tiny: Upload, monkeypatch: pytest.MonkeyPatch
) -> None:
    upload_tiny(api)
    scenarios, changes = _count(api, ScenarioRow), _count(api, ChangeRow)
    real = ChangeLog.record

    def broken(self: ChangeLog, *args: Any, **kwargs: Any) -> Any:
        real(self, *args, **kwargs)
        raise RuntimeError("the change log failed after writing")

    monkeypatch.setattr(ChangeLog, "record", broken)
    with pytest.raises(RuntimeError):
        api.post("/api/v1/scenarios", json={"name": "lost", "site_id": "tiny"})
    monkeypatch.setattr(ChangeLog, "record", real)
    assert (_count(api, ScenarioRow), _count(api, ChangeRow)) == (scenarios, changes)
    assert api.get("/api/v1/scenarios").json() == []


def test_a_failing_store_change_leaves_no_change_log_entry(
    api: Api, upload_tiny: Upload, monkeypatch: pytest.MonkeyPatch
) -> None:
    from phactory.store import Store

    upload_tiny(api)
    changes = _count(api, ChangeRow)
    real = Store.create_run

    def broken(self: Store, *args: Any, **kwargs: Any) -> Any:
        real(self, *args, **kwargs)
        raise RuntimeError("the store failed after writing")

    monkeypatch.setattr(Store, "create_run", broken)
    with pytest.raises(RuntimeError):
        api.post("/api/v1/runs", json={"site_id": "tiny", "days": 1})
    monkeypatch.setattr(Store, "create_run", real)
    assert _count(api, ChangeRow) == changes
    assert api.get("/api/v1/runs").json() == []


def test_every_change_is_logged_with_its_store_record(api: Api, upload_tiny: Upload) -> None:
    upload_tiny(api)
    created = api.post("/api/v1/scenarios", json={"name": "s1", "site_id": "tiny"}).json()
    assert api.delete(f"/api/v1/scenarios/{created['id']}").status_code == 204
    actions = [
        (c["action"], c["entity_id"], c["actor"])
        for c in api.get("/api/v1/changes", params={"entity_kind": "scenario"}).json()
    ]
    assert actions == [
        ("scenario.delete", created["id"], "engineer1"),
        ("scenario.create", created["id"], "engineer1"),
    ]
