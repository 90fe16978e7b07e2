"""The security bars of the web workspace, over the API (issue 12 items 1-4, 6).

Headers on every answer; request bodies limited before they are read; validation errors
that echo nothing sent; errors of every package mapped to HTTP by kind in one place; the
first admin's password changed before anything else; a password change revoking tokens;
password-login tokens expiring; ids checked where they enter; YAML bombs refused; CSV
exports that a spreadsheet opens without running formulas; the docs served offline.
"""

from __future__ import annotations

import csv
import io
import json
import re
import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import update

from phactory.app.api.errors import install_error_handlers
from phactory.app.errors import (
    Conflict,
    Forbidden,
    Invalid,
    LockedOut,
    Missing,
    NotAuthenticated,
    TooLarge,
    Unavailable,
)
from phactory.app.schema import TokenRow
from phactory.app.services.accounts import SYSTEM
from phactory.app.services.db import now
from phactory.errors import (
    ConflictError,
    DeniedError,
    InvalidError,
    NotFoundError,
    PhactoryError,
    UnavailableError,
)
from phactory.records.errors import AccountLocked, PermissionDenied, Refused, UnknownRecord
from phactory.store import InvalidInput, NotFound, StoreError

from .conftest import ADMIN_PASSWORD, Api, make_settings, open_api

#: Headers every answer carries, and what they must say.
REQUIRED_HEADERS = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
}


def _check_headers(response: Any, *, frame: str = "DENY") -> None:
    where = f"{response.request.method} {response.request.url.path} ({response.status_code})"
    for name, value in REQUIRED_HEADERS.items():
        assert response.headers.get(name) == value, (where, name, dict(response.headers))
    assert response.headers.get("x-frame-options") == frame, where
    policy = response.headers.get("content-security-policy", "")
    assert "frame-ancestors" in policy, (where, policy)
    assert "'unsafe-inline'" not in policy.split("script-src")[-1].split(";")[0], policy


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    """One API on SQLite for the tests that change nothing shared."""
    url = f"sqlite:///{tmp_path_factory.mktemp('security') / 'app.db'}"
    yield from open_api(make_settings(url))


# -- headers ------------------------------------------------------------------------------


def test_every_api_answer_carries_the_security_headers(shared: Api) -> None:
    c = shared.client
    viewer = shared.headers("viewer")
    paths = [
        p
        for p, ops in shared.client.app.openapi()["paths"].items()  # type: ignore[attr-defined]
        if "get" in ops and "{" not in p
    ]
    assert len(paths) >= 5
    for path in paths:
        _check_headers(c.get(path, headers=viewer))
    for response in (
        c.get("/api/v1/sites"),  # 401
        c.get("/api/v1/sites/nope", headers=viewer),  # 404
        c.post("/api/v1/users", headers=viewer, json={"name": "x"}),  # 403 / 422
        c.get("/api/v1/no-such-route"),
        c.get("/openapi.json"),
        c.get("/docs"),
        c.get("/redoc"),
        c.get("/docs-assets/swagger-ui.css"),
    ):
        _check_headers(response)
    cached = c.get("/api/v1/sites", headers=viewer)  # the read cache's kept answer too
    assert cached.headers.get("x-cache") in ("hit", "miss")
    _check_headers(cached)
    api_policy = c.get("/api/v1/health").headers["content-security-policy"]
    assert api_policy.startswith("default-src 'none'")


def test_https_requests_get_strict_transport_security(shared: Api) -> None:
    plain = shared.client.get("/api/v1/health")
    assert "strict-transport-security" not in plain.headers
    secure = TestClient(shared.client.app, base_url="https://testserver")
    assert "max-age=" in secure.get("/api/v1/health").headers["strict-transport-security"]


# -- docs offline --------------------------------------------------------------------------


def test_the_docs_load_nothing_from_another_site(shared: Api) -> None:
    for page in ("/docs", "/redoc"):
        html = shared.client.get(page).text
        urls = re.findall(r'(?:src|href|spec-url)="([^"]+)"', html)
        assert urls, page
        for url in urls:
            assert url.startswith("/") and not url.startswith("//"), (page, url)
            assert shared.client.get(url).status_code == 200, url
        assert "<script>" not in html  # no inline script: the policy allows none
    start = shared.client.get("/docs-start.js").text
    assert '"/openapi.json"' in start


# -- request bodies -----------------------------------------------------------------------


def test_a_huge_login_body_is_refused_before_it_is_read(shared: Api) -> None:
    marker = "SECRET-PASSWORD-MARKER"
    body = json.dumps({"username": "admin", "password": marker + "x" * 50_000_000})
    response = shared.client.post(
        "/api/v1/auth/token", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == 413
    assert marker not in response.text and len(response.content) < 1000
    _check_headers(response)


def test_a_chunked_body_is_cut_off_at_the_limit(shared: Api) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"username": "admin", "password": "'
        for _ in range(100):
            yield b"p" * 1024
        yield b'"}'

    response = shared.client.post(
        "/api/v1/auth/token", content=chunks(), headers={"content-type": "application/json"}
    )
    assert response.status_code == 413
    assert "ppppp" not in response.text


def test_every_route_has_a_body_limit(shared: Api) -> None:
    big = b"{" + b" " * (shared.ctx.settings.max_body_bytes + 10) + b"}"
    for method, path in (
        ("POST", "/api/v1/scenarios"),
        ("POST", "/api/v1/runs"),
        ("PATCH", "/api/v1/users/viewer1"),
        ("POST", "/api/v1/tokens"),
        ("POST", "/login"),
        ("POST", "/anything/at/all"),
    ):
        response = shared.client.request(
            method,
            path,
            content=big,
            headers={**shared.headers("admin"), "content-type": "application/json"},
        )
        assert response.status_code == 413, (method, path, response.status_code)


def test_validation_errors_never_echo_what_was_sent(shared: Api) -> None:
    c = shared.client
    secret = "hunter2-very-secret"
    for body in (
        {"password": secret},  # username missing: pydantic's input is the whole body
        {"username": "admin", "password": secret, "extra": "<b>x</b>"},
        {"username": "", "password": secret},
        {"username": "admin", "password": secret * 100},
    ):
        response = c.post("/api/v1/auth/token", json=body)
        assert response.status_code == 422, response.text
        assert secret not in response.text and "<b>" not in response.text, response.text
        assert all("loc" in e and "msg" in e for e in response.json()["detail"])
    patched = c.patch(
        "/api/v1/users/viewer1",
        headers=shared.headers("admin"),
        json={"password": "short", "current_password": secret, "role": "boss"},
    )
    assert patched.status_code == 422
    assert secret not in patched.text and '"short"' not in patched.text


# -- ids ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/sites/%3Cimg%20src%3Dx%20onerror%3Dalert(1)%3E",
        "/api/v1/sites/%3Cscript%3E/content",
        "/api/v1/sites/..%2F..%2Fetc/versions",
        "/api/v1/scenarios?site_id=%3Cscript%3Ex",
    ],
)
def test_ids_are_checked_against_their_pattern_and_never_echoed(shared: Api, path: str) -> None:
    response = shared.client.get(path, headers=shared.headers("viewer"))
    assert response.status_code in (404, 422), response.text
    assert "<img" not in response.text and "<script" not in response.text
    assert response.headers["content-type"].startswith("application/json")


def test_a_scenario_for_a_site_id_that_is_no_id_is_refused(shared: Api) -> None:
    response = shared.client.post(
        "/api/v1/scenarios",
        headers=shared.headers("engineer"),
        json={"name": "x", "site_id": '"><script>alert(1)</script>'},
    )
    assert response.status_code == 422
    assert "<script>" not in response.text


@pytest.mark.parametrize("name", ['<img src=x onerror="alert(1)">', 'a" onclick="x', "{{7*7}}"])
def test_user_names_with_markup_are_refused(shared: Api, name: str) -> None:
    response = shared.client.post(
        "/api/v1/users", headers=shared.headers("admin"), json={"name": name, "role": "viewer"}
    )
    assert response.status_code == 422
    with pytest.raises(Invalid):
        shared.ctx.accounts.create_user(SYSTEM, name, "viewer", "long-enough-pass-1")


# -- errors mapped in one place -----------------------------------------------------------


class _Custom(PhactoryError):
    """A kind-less refusal: the root's kind (invalid)."""


ERRORS: dict[str, tuple[Exception, int]] = {
    "not_found": (NotFoundError("no such thing"), 404),
    "invalid": (InvalidError("bad thing"), 422),
    "conflict": (ConflictError("clash"), 409),
    "denied": (DeniedError("not you"), 403),
    "unavailable": (UnavailableError("broker down"), 503),
    "root": (_Custom("plain refusal"), 422),
    "records unknown": (UnknownRecord("batch B9 not found"), 404),
    "records refused": (Refused("reason missing"), 422),
    "records permission": (PermissionDenied("operators may not release"), 403),
    "records locked": (AccountLocked("op1 is locked"), 403),
    "store not found": (NotFound("run", "r1"), 404),
    "store invalid": (InvalidInput("not JSON"), 422),
    "store down": (StoreError("connection refused"), 503),
    "app 401": (NotAuthenticated("send a token"), 401),
    "app 403": (Forbidden("admins only"), 403),
    "app 404": (Missing("user x not found"), 404),
    "app 409": (Conflict("user x exists"), 409),
    "app 413": (TooLarge("too big"), 413),
    "app 429": (LockedOut("locked", 12.5), 429),
    "app 501": (Unavailable("no scheduler"), 501),
}


@pytest.fixture(scope="module")
def raising() -> TestClient:
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/raise/{case}")
    def boom(case: str) -> None:
        raise ERRORS[case][0]

    return TestClient(app)


@pytest.mark.parametrize("case", sorted(ERRORS))
def test_one_handler_maps_every_error_by_kind(raising: TestClient, case: str) -> None:
    exc, status = ERRORS[case]
    response = raising.get(f"/raise/{case}")
    assert response.status_code == status, response.text
    detail = response.json()["detail"]
    text = json.dumps(detail)
    assert str(exc.args[0]) in text
    if status == 422:
        assert isinstance(detail, list) and detail[0]["loc"] == ["body"]
    if status == 401:
        assert response.headers["www-authenticate"] == "Bearer"
    if status == 429:
        assert response.headers["retry-after"] == "13"
    if case == "store down":
        assert detail.startswith("database error:")


def test_the_app_registers_one_handler_for_the_root(shared: Api) -> None:
    handlers = shared.client.app.exception_handlers  # type: ignore[attr-defined]
    phactory = [k for k in handlers if isinstance(k, type) and issubclass(k, PhactoryError)]
    assert phactory == [PhactoryError]


# -- first admin, password changes, token lifetimes -----------------------------------------


def test_the_first_admin_must_change_the_password_before_anything_else(api: Api) -> None:
    c = api.client
    login = c.post("/api/v1/auth/token", json={"username": "admin", "password": ADMIN_PASSWORD})
    assert login.status_code == 201
    first = {"Authorization": f"Bearer {login.json()['token']}"}
    me = c.get("/api/v1/me", headers=first)
    assert me.status_code == 200 and me.json()["must_change_password"] is True
    for method, path in (
        ("GET", "/api/v1/sites"),
        ("GET", "/api/v1/users"),
        ("POST", "/api/v1/tokens"),
    ):
        refused = c.request(method, path, headers=first, json={})
        assert refused.status_code == 403, (path, refused.text)
        assert "must be changed first" in refused.json()["detail"]
    # Not someone else's password, not without the current one.
    assert (
        c.patch(
            "/api/v1/users/viewer1", headers=first, json={"password": "x-long-pass-1"}
        ).status_code
        == 403
    )
    no_current = c.patch("/api/v1/users/admin", headers=first, json={"password": "mine-at-last-9"})
    assert no_current.status_code == 403
    common = c.patch(
        "/api/v1/users/admin",
        headers=first,
        json={"password": "password123", "current_password": ADMIN_PASSWORD},
    )
    assert common.status_code == 422 and "too common" in common.text
    changed = c.patch(
        "/api/v1/users/admin",
        headers=first,
        json={"password": "mine-at-last-9", "current_password": ADMIN_PASSWORD},
    )
    assert changed.status_code == 200 and changed.json()["must_change_password"] is False
    again = c.post("/api/v1/auth/token", json={"username": "admin", "password": "mine-at-last-9"})
    fresh = {"Authorization": f"Bearer {again.json()['token']}"}
    assert c.get("/api/v1/users", headers=fresh).status_code == 200


def test_a_password_change_revokes_every_token_and_session(api: Api) -> None:
    c = api.client
    old_token = api.tokens["engineer"]
    _, session = api.ctx.accounts.login("engineer1", "engineer-password-1", "10.0.0.1")
    assert api.ctx.accounts.resolve(session, kind="session") is not None
    assert c.get("/api/v1/me", headers=api.headers("engineer")).status_code == 200  # cached
    changed = c.patch(
        "/api/v1/users/engineer1",
        headers=api.headers("engineer"),
        json={"password": "engineer-new-pass-2", "current_password": "engineer-password-1"},
    )
    assert changed.status_code == 200
    assert c.get("/api/v1/me", headers={"Authorization": f"Bearer {old_token}"}).status_code == 401
    assert api.ctx.accounts.resolve(session, kind="session") is None
    summary = api.get("/api/v1/changes", role="admin", params={"entity_id": "engineer1"}).json()
    assert "revoked" in summary[0]["summary"]
    # An admin resetting a password revokes too.
    viewer_token = api.tokens["viewer"]
    assert (
        api.patch("/api/v1/users/viewer1", json={"password": "viewer-reset-3"}).status_code == 200
    )
    assert (
        c.get("/api/v1/me", headers={"Authorization": f"Bearer {viewer_token}"}).status_code == 401
    )


def test_tokens_from_a_password_login_expire(api: Api) -> None:
    c = api.client
    login = c.post(
        "/api/v1/auth/token", json={"username": "viewer1", "password": "viewer-password-1"}
    ).json()
    lifetime = api.ctx.settings.login_token_hours
    expires = login["expires_at"]
    assert expires is not None
    from datetime import datetime

    left = datetime.fromisoformat(expires) - now()
    assert timedelta(hours=lifetime) - timedelta(minutes=5) < left <= timedelta(hours=lifetime)
    headers = {"Authorization": f"Bearer {login['token']}"}
    assert c.get("/api/v1/me", headers=headers).status_code == 200
    with api.ctx.db.session(write=True) as s:  # as if the lifetime had passed
        s.execute(
            update(TokenRow)
            .where(TokenRow.id == uuid.UUID(login["id"]))
            .values(expires_at=now() - timedelta(seconds=1))
        )
    api.ctx.accounts._forget_user("viewer1")  # the few seconds' cache, as after a change
    assert c.get("/api/v1/me", headers=headers).status_code == 401


def test_the_password_policy_refuses_weak_passwords(shared: Api) -> None:
    admin = shared.headers("admin")
    for name, password, why in (
        ("pat", "short", "at least 8"),
        ("quinn", "quinn", "at least 8"),
        ("robin99", "ROBIN99 ", "differ from the user name"),
        ("sam", "password1", "too common"),
        ("tess", "aaaaaaaaaa", "repeated"),
    ):
        response = shared.client.post(
            "/api/v1/users",
            headers=admin,
            json={"name": name, "role": "viewer", "password": password},
        )
        assert response.status_code == 422, (name, response.text)
        assert why in response.text and password not in response.json()["detail"][0]["msg"]


# -- YAML bombs ------------------------------------------------------------------------------


def _billion_laughs() -> bytes:
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    previous = "a"
    for name in "bcdefghi":
        refs = ",".join([f"*{previous}"] * 9)
        lines.append(f"{name}: &{name} [{refs}]")
        previous = name
    return ("\n".join(lines) + "\n").encode()


def _quadratic() -> bytes:
    big = "x" * 2000
    anchor = "base: &base [" + ",".join([f'"{big}"'] * 200) + "]\n"
    refs = "copies: [" + ",".join(["*base"] * 5000) + "]\n"
    return (anchor + refs).encode()


@pytest.mark.timeout(60)  # a hang guard: an expanded bomb would take minutes and gigabytes
@pytest.mark.parametrize("bomb", [_billion_laughs, _quadratic], ids=["billion-laughs", "quadratic"])
@pytest.mark.parametrize("path", ["/api/v1/sites/validate", "/api/v1/sites"])
def test_yaml_bombs_are_refused_with_422_naming_the_file(api: Api, bomb: Any, path: str) -> None:
    content = bomb()
    assert len(content) < api.ctx.settings.max_upload_bytes
    response = api.upload("bomb.yaml", content, path=path)
    assert response.status_code == 422, response.text[:500]
    detail = response.json()["detail"]
    assert any(d["file"] == "bomb.yaml" and "alias" in d["msg"] for d in detail), detail
    assert api.get("/api/v1/sites").json() == []


# -- CSV exports -------------------------------------------------------------------------------


def test_the_event_log_csv_neutralises_formulas(api: Api, upload_tiny: Any) -> None:
    upload_tiny(api)
    run = api.ctx.store.create_run("simulate", site_id="tiny", created_by="engineer1")
    formulas = ['=HYPERLINK("http://evil","x")', "+1+2", "-2+3", "@SUM(A1)", "=cmd|' /C calc'!A0"]
    api.ctx.store.append_events(
        run.id,
        [{"t_h": float(i), "kind": "state", "unit": f, "batch": f} for i, f in enumerate(formulas)],
    )
    response = api.get(f"/api/v1/runs/{run.id}/events.csv")
    assert response.status_code == 200
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert len(rows) == len(formulas)
    for row in rows:
        for column in ("unit", "batch"):
            assert row[column][0] not in "=+-@", row
            assert row[column].startswith("'")
    assert rows[0]["t_h"] == "0.0"  # numbers stay numbers


def test_the_database_file_is_created_for_its_owner_only(tmp_path: Any) -> None:
    import os
    import stat

    from phactory.app.context import AppContext

    old = os.umask(0o022)  # the usual umask would make it world-readable
    try:
        ctx = AppContext(make_settings(f"sqlite:///{tmp_path / 'new.db'}"))
        try:
            ctx.accounts.count_users()
            for name in os.listdir(tmp_path):
                if name.startswith("new.db"):
                    mode = stat.S_IMODE(os.stat(tmp_path / name).st_mode)
                    assert mode == 0o600, (name, oct(mode))
        finally:
            ctx.close()
    finally:
        os.umask(old)
