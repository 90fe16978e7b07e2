"""Every mutating route answers 401 without valid credentials and 403 to a viewer.

The cases are generated from the application's route table as FastAPI publishes it
(the OpenAPI document), so a new route is covered as soon as it exists, and must be
classified below if it is meant to be open to viewers.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from phactory.app.factory import create_app

from .conftest import Api, make_settings, open_api

MUTATING = {"POST", "PUT", "PATCH", "DELETE"}

#: Routes that exchange credentials themselves.
CREDENTIAL_ROUTES = {("POST", "/api/v1/auth/token")}
#: Mutating routes a viewer may use, because they change only the viewer's own account
#: or nothing at all.
VIEWER_ALLOWED = {
    ("POST", "/api/v1/tokens"): "creates an API token for yourself",
    ("DELETE", "/api/v1/tokens/{token_id}"): "revokes your own token",
    ("PATCH", "/api/v1/users/{name}"): "changes your own password",
    ("POST", "/api/v1/sites/validate"): "validates a file, stores nothing",
}


def _routes() -> list[tuple[str, str]]:
    app = create_app(make_settings("sqlite://"), ui=False)
    found = []
    for path, operations in app.openapi()["paths"].items():
        for method in operations:
            key = (method.upper(), path)
            if path.startswith("/api/v1") and key[0] in MUTATING and key not in CREDENTIAL_ROUTES:
                found.append(key)
    return sorted(found)


ROUTES = _routes()


def _concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", lambda m: "x" if "name" in m.group(0) else str(uuid.uuid4()), path)


@pytest.fixture(scope="module")
def module_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    url = f"sqlite:///{Path(tmp_path_factory.mktemp('creds')) / 'app.db'}"
    yield from open_api(make_settings(url))


def test_the_route_table_has_the_mutating_routes() -> None:
    assert ("POST", "/api/v1/runs") in ROUTES
    assert ("DELETE", "/api/v1/scenarios/{scenario_id}") in ROUTES
    assert len(ROUTES) >= 10


@pytest.mark.parametrize(("method", "path"), ROUTES, ids=[f"{m} {p}" for m, p in ROUTES])
@pytest.mark.parametrize(
    "credentials", ["none", "garbage", "revoked-shape", "session-cookie"], ids=str
)
def test_mutating_route_refuses_missing_or_invalid_credentials(
    module_api: Api, method: str, path: str, credentials: str
) -> None:
    client = module_api.client
    headers = {}
    cookies = {}
    if credentials == "garbage":
        headers["Authorization"] = "Bearer not-a-token"
    elif credentials == "revoked-shape":
        headers["Authorization"] = "Bearer phy_" + "A" * 43
    elif credentials == "session-cookie":  # a browser session never authorises changes
        cookies["phactory_session"] = "phs_" + "A" * 43
    client.cookies.clear()
    for key, value in cookies.items():
        client.cookies.set(key, value)
    response = client.request(method, _concrete(path), headers=headers, json={})
    client.cookies.clear()
    assert response.status_code == 401, (method, path, response.status_code, response.text)
    assert response.headers.get("www-authenticate") == "Bearer"


@pytest.mark.parametrize(
    ("method", "path"),
    [r for r in ROUTES if r not in VIEWER_ALLOWED],
    ids=[f"{m} {p}" for m, p in ROUTES if (m, p) not in VIEWER_ALLOWED],
)
def test_mutating_route_refuses_a_viewer(module_api: Api, method: str, path: str) -> None:
    response = module_api.client.request(
        method,
        _concrete(path),
        headers=module_api.headers("viewer"),
        json=_plausible_body(method, path),
        files=_plausible_files(path),
    )
    assert response.status_code == 403, (method, path, response.status_code, response.text)


def _plausible_body(method: str, path: str) -> dict[str, object] | None:
    if path.endswith("/sites") or path.endswith("/validate"):
        return None
    if path == "/api/v1/scenarios":
        return {"name": "x", "site_id": "tiny"}
    if path == "/api/v1/runs":
        return {"site_id": "tiny"}
    if path.endswith("/versions"):
        return {"overrides": {"teams.ops.headcount": 3}}
    if path == "/api/v1/users":
        return {"name": "mallory", "role": "admin"}
    if path == "/api/v1/users/{name}":
        return {"role": "admin"}
    return {}


def _plausible_files(path: str) -> dict[str, tuple[str, bytes]] | None:
    if path.endswith("/sites"):
        return {
            "file": (
                "tiny.yaml",
                (Path(__file__).parents[1] / "data" / "tiny-site.yaml").read_bytes(),
            )
        }
    return None


def test_a_viewer_changing_their_own_account_is_allowed(module_api: Api) -> None:
    client = module_api.client
    h = module_api.headers("viewer")
    refused = client.patch("/api/v1/users/viewer1", headers=h, json={"password": "fresh-pass-77"})
    assert refused.status_code == 403  # the current password is needed
    own = client.patch(
        "/api/v1/users/viewer1",
        headers=h,
        json={"password": "fresh-pass-77", "current_password": "viewer-password-1"},
    )
    assert own.status_code == 200
    # The new password revoked the token it was sent with: log in again.
    assert client.get("/api/v1/me", headers=h).status_code == 401
    login = client.post(
        "/api/v1/auth/token", json={"username": "viewer1", "password": "fresh-pass-77"}
    )
    h = {"Authorization": f"Bearer {login.json()['token']}"}
    module_api.tokens["viewer"] = login.json()["token"]
    promote = client.patch("/api/v1/users/viewer1", headers=h, json={"role": "admin"})
    assert promote.status_code == 403
    other = client.patch("/api/v1/users/admin1", headers=h, json={"password": "fresh-pass-78"})
    assert other.status_code == 403
