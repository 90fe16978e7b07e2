"""Login lockout, and change-log entries stored in the same transaction as their change
(SQLite and PostgreSQL)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
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


def _login(api: Api, name: str, password: str, client: Any = None) -> Any:
    http = api.client if client is None else client
    return http.post("/api/v1/auth/token", json={"username": name, "password": password})


def _from(api: Api, address: str) -> TestClient:
    """A client of the same running application, from another address."""
    return TestClient(api.client.app, client=(address, 40000))


class Clock:
    """Seconds since the epoch that a test moves on."""

    def __init__(self) -> None:
        self.t = 1_800_000_000.0

    def __call__(self) -> float:
        return self.t


def _service(api: Api, clock: Clock) -> accounts.AccountService:
    """The accounts of the running application, on a clock the test moves."""
    return accounts.AccountService(
        api.ctx.db, api.ctx.changes, "test-secret-" + "y" * 24, clock=clock
    )


def test_repeated_failed_logins_lock_the_account_for_that_address(api: Api) -> None:
    for _ in range(accounts.LOCKOUT_FAILURES):
        assert _login(api, "viewer1", "wrong-password").status_code == 401
    locked = _login(api, "viewer1", "viewer-password-1")  # even the right password
    assert locked.status_code == 429
    assert "too many failed logins for viewer1" in locked.json()["detail"]
    assert int(locked.headers["retry-after"]) > 0
    # The lockout is in the change log, with the address.
    changes = api.get("/api/v1/changes", params={"entity_kind": "user"}, role="admin").json()
    lockouts = [c for c in changes if c["action"] == "user.lockout"]
    assert [(c["entity_id"], c["detail"]["client"]) for c in lockouts] == [
        ("viewer1", "testclient")
    ]
    # Others are not affected, nor is the same account from another address.
    assert _login(api, "engineer1", "engineer-password-1").status_code == 201
    assert _login(api, "viewer1", "viewer-password-1", _from(api, "10.0.0.7")).status_code == 201
    # The browser login from the locked address reports the same (LockedOut is a
    # NotAuthenticated), from another it logs in.
    with pytest.raises(LockedOut):
        api.ctx.accounts.login("viewer1", "viewer-password-1", "testclient")
    assert api.ctx.accounts.login("viewer1", "viewer-password-1", "10.0.0.8")[0].name == "viewer1"


def test_an_attacker_cannot_lock_admin_out_for_good(api: Api) -> None:
    attacker = _from(api, "203.0.113.66")
    for _ in range(3 * accounts.LOCKOUT_FAILURES):
        assert _login(api, "admin1", "guess-guess", attacker).status_code in (401, 429)
    assert _login(api, "admin1", "admin-password-1", attacker).status_code == 429
    # The owner, from their own address, logs in at once.
    assert _login(api, "admin1", "admin-password-1").status_code == 201


def test_names_that_exist_and_names_that_do_not_lock_alike(api: Api) -> None:
    for name in ("viewer1", "nobody-here"):
        answers = [_login(api, name, "wrong-password").status_code for _ in range(6)]
        assert answers == [401] * 5 + [429]


def test_the_lockout_was_logged(api: Api, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="phactory.app.accounts"):
        for _ in range(accounts.LOCKOUT_FAILURES):
            with pytest.raises(NotAuthenticated):
                api.ctx.accounts.authenticate("engineer1", "nope-nope", "192.0.2.1")
    assert any(
        "login locked for 'engineer1' from 192.0.2.1" in r.getMessage() for r in caplog.records
    )


def test_the_longest_name_from_the_longest_address_is_counted_too(api: Api) -> None:
    """A name of 100 characters from an address of 200 (an ``X-Forwarded-For`` is any
    text): the failures are counted and lock as for anyone, on both databases."""
    name, address = "n" * 100, "a" * 250
    for _ in range(accounts.LOCKOUT_FAILURES):
        with pytest.raises(NotAuthenticated) as refused:
            api.ctx.accounts.authenticate(name, "wrong-password", address)
        assert not isinstance(refused.value, LockedOut)
    with pytest.raises(LockedOut):
        api.ctx.accounts.authenticate(name, "wrong-password", address)


def test_a_success_before_the_limit_forgives_earlier_failures(api: Api) -> None:
    for _ in range(accounts.LOCKOUT_FAILURES - 1):
        assert _login(api, "viewer1", "wrong-password").status_code == 401
    assert _login(api, "viewer1", "viewer-password-1").status_code == 201
    for _ in range(accounts.LOCKOUT_FAILURES - 1):
        assert _login(api, "viewer1", "wrong-password").status_code == 401
    assert _login(api, "viewer1", "viewer-password-1").status_code == 201


def test_the_lock_backs_off_exponentially_and_is_forgotten_after_a_quiet_day(api: Api) -> None:
    clock = Clock()
    service = _service(api, clock)
    where = "198.51.100.4"

    def fail() -> None:
        with pytest.raises(NotAuthenticated):
            service.authenticate("viewer1", "wrong-password", where)

    for _ in range(accounts.LOCKOUT_FAILURES):
        fail()
    waits = []
    for _ in range(4):
        with pytest.raises(LockedOut) as locked:
            service.authenticate("viewer1", "viewer-password-1", where)
        waits.append(locked.value.retry_after_s)
        clock.t += locked.value.retry_after_s + 0.5  # the lock runs out...
        fail()  # ...and one more failure locks twice as long
    assert waits == pytest.approx([30.0, 60.0, 120.0, 240.0])
    clock.t += 24 * 3600.0 + 1000.0  # a quiet day forgets the failures
    assert service.authenticate("viewer1", "viewer-password-1", where).name == "viewer1"


def test_an_admin_unlocks_through_the_api_and_it_is_recorded(api: Api) -> None:
    for _ in range(accounts.LOCKOUT_FAILURES):
        _login(api, "engineer1", "wrong-password")
    assert _login(api, "engineer1", "engineer-password-1").status_code == 429
    locks = api.get("/api/v1/users/engineer1/locks", role="admin").json()
    assert [(x["client"], x["failures"]) for x in locks] == [("testclient", 5)]
    assert api.post("/api/v1/users/engineer1/unlock", role="engineer").status_code == 403
    unlocked = api.post("/api/v1/users/engineer1/unlock", role="admin")
    assert unlocked.status_code == 200 and unlocked.json()["ended"] == 1
    assert _login(api, "engineer1", "engineer-password-1").status_code == 201
    changes = api.get("/api/v1/changes", params={"entity_id": "engineer1"}, role="admin").json()
    unlock = next(c for c in changes if c["action"] == "user.unlock")
    assert unlock["actor"] == "admin1" and unlock["detail"]["clients"] == ["testclient"]
    assert api.post("/api/v1/users/nobody/unlock", role="admin").status_code == 404


def test_a_new_password_set_by_an_admin_ends_the_lock(api: Api) -> None:
    for _ in range(accounts.LOCKOUT_FAILURES):
        _login(api, "viewer1", "wrong-password")
    assert _login(api, "viewer1", "viewer-password-1").status_code == 429
    assert (
        api.patch("/api/v1/users/viewer1", json={"password": "new-password-1"}).status_code == 200
    )
    assert _login(api, "viewer1", "new-password-1").status_code == 201


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
