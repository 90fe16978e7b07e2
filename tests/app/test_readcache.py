"""The read cache in front of the API: kept answers, invalidation by writes, ETags, and
credentials checked on every request (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from phactory.app.readcache import CACHEABLE, DataVersion
from phactory.app.services.accounts import SYSTEM

from .conftest import Api

Upload = Callable[[Api], dict[str, Any]]


def test_cacheable_paths_are_the_user_independent_reads() -> None:
    for path in (
        "/api/v1/sites",
        "/api/v1/sites/mab-biologics",
        "/api/v1/sites/tiny/versions",
        "/api/v1/scenarios",
        "/api/v1/runs",
        "/api/v1/runs/compare",
        "/api/v1/runs/0d9c9f0e-0000-4000-8000-000000000000/kpis",
    ):
        assert CACHEABLE.match(path), path
    for path in (
        "/api/v1/me",
        "/api/v1/tokens",
        "/api/v1/users",
        "/api/v1/changes",
        "/api/v1/runs/0d9c9f0e-0000-4000-8000-000000000000/events.csv",
        "/api/v1/sitesx",
        "/dashboard",
    ):
        assert not CACHEABLE.match(path), path


def test_writes_change_the_data_version_and_reads_do_not(api: Api, upload_tiny: Upload) -> None:
    version: DataVersion = api.ctx.data_version
    before = version.value
    api.ctx.store.list_sites()
    api.ctx.workspace.list_runs()
    assert version.value == before
    upload_tiny(api)  # a store write (site) and an app-table write (change log)
    assert version.value > before
    middle = version.value
    api.ctx.changes.record("tester", "test.write", "test", "1", "a write on the app tables")
    assert version.value > middle


def test_a_second_read_is_served_from_the_cache_until_a_write(
    api: Api, upload_tiny: Upload
) -> None:
    upload_tiny(api)
    first = api.get("/api/v1/sites")
    second = api.get("/api/v1/sites")
    assert first.status_code == second.status_code == 200
    assert first.headers["x-cache"] == "miss"
    assert second.headers["x-cache"] == "hit"
    assert second.json() == first.json()
    assert second.headers["etag"] == first.headers["etag"]
    # A new scenario is listed at once: the write invalidated the kept answer.
    assert api.get("/api/v1/scenarios").json() == []
    created = api.post("/api/v1/scenarios", json={"name": "more ops", "site_id": "tiny"})
    assert created.status_code == 201, created.text
    listed = api.get("/api/v1/scenarios")
    assert [s["name"] for s in listed.json()] == ["more ops"]
    # Asking for a fresh answer recomputes it.
    assert api.get("/api/v1/sites", headers={"Cache-Control": "no-cache"}).headers["x-cache"] == (
        "miss"
    )


def test_if_none_match_gets_304(api: Api, upload_tiny: Upload) -> None:
    upload_tiny(api)
    etag = api.get("/api/v1/sites/tiny").headers["etag"]
    again = api.get("/api/v1/sites/tiny", headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""
    other = api.get("/api/v1/sites/tiny", headers={"If-None-Match": '"something-else"'})
    assert other.status_code == 200
    assert other.json()["site_id"] == "tiny"


def test_errors_are_not_kept(api: Api) -> None:
    assert api.get("/api/v1/sites/nowhere").status_code == 404
    again = api.get("/api/v1/sites/nowhere")
    assert again.status_code == 404
    assert "x-cache" not in again.headers


def test_kept_answers_still_need_valid_credentials(api: Api, upload_tiny: Upload) -> None:
    upload_tiny(api)
    assert api.get("/api/v1/sites").status_code == 200
    assert api.get("/api/v1/sites").headers["x-cache"] == "hit"
    assert api.client.get("/api/v1/sites").status_code == 401
    forged = api.client.get("/api/v1/sites", headers={"Authorization": "Bearer phy_" + "A" * 43})
    assert forged.status_code == 401


def test_a_revoked_token_stops_working_on_the_next_request(api: Api) -> None:
    created = api.post("/api/v1/tokens", json={"label": "script"}, role="viewer").json()
    headers = {"Authorization": f"Bearer {created['token']}"}
    for _ in range(2):  # the second read is served from the cache
        assert api.client.get("/api/v1/sites", headers=headers).status_code == 200
    assert api.delete(f"/api/v1/tokens/{created['id']}", role="viewer").status_code == 200
    assert api.client.get("/api/v1/sites", headers=headers).status_code == 401
    assert api.client.get("/api/v1/me", headers=headers).status_code == 401


def test_a_deactivated_user_is_refused_on_the_next_request(api: Api) -> None:
    assert api.get("/api/v1/sites", role="viewer").status_code == 200
    assert api.patch("/api/v1/users/viewer1", json={"active": False}).status_code == 200
    assert api.get("/api/v1/sites", role="viewer").status_code == 401


def test_an_ended_session_stops_working_on_the_next_request(api: Api) -> None:
    _, secret = api.ctx.accounts.login("viewer1", "viewer-password-1")
    cookies = {"phactory_session": secret}
    api.client.cookies.clear()
    for key, value in cookies.items():
        api.client.cookies.set(key, value)
    try:
        for _ in range(2):
            assert api.client.get("/api/v1/sites").status_code == 200
        api.ctx.accounts.logout(secret)
        assert api.client.get("/api/v1/sites").status_code == 401
        assert api.ctx.accounts.resolve(secret, kind="session") is None
    finally:
        api.client.cookies.clear()


def test_a_token_revoked_by_another_process_is_refused_after_the_cache_window(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another process on the same database (a second server) revoking a token: this
    process notices when its few-second cache entry ends."""
    import time
    import types
    from datetime import UTC, datetime

    from sqlalchemy import update

    from phactory.app.schema import TokenRow
    from phactory.app.services import accounts

    info, secret = api.ctx.accounts.create_token(SYSTEM, "viewer1", "elsewhere")
    headers = {"Authorization": f"Bearer {secret}"}
    assert api.client.get("/api/v1/sites", headers=headers).status_code == 200
    with api.ctx.db.session(write=True) as s:
        s.execute(
            update(TokenRow).where(TokenRow.id == info.id).values(revoked_at=datetime.now(UTC))
        )
    later = types.SimpleNamespace(
        monotonic=lambda: time.monotonic() + accounts._CACHE_S + 1, sleep=time.sleep
    )
    monkeypatch.setattr(accounts, "time", later)
    assert api.client.get("/api/v1/sites", headers=headers).status_code == 401
