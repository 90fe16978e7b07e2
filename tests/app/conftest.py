"""Fixtures of the web-application tests: the API on SQLite and on PostgreSQL.

As in ``tests/store``: PostgreSQL comes from ``PHACTORY_TEST_POSTGRES_URL`` (default the
local server, user ``postgres``); the session creates a ``phactory_apptest_<random>``
database and each test gets an empty schema in it. Without a server the PostgreSQL cases
are skipped with the reason.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from phactory.app.context import AppContext
from phactory.app.factory import create_app
from phactory.app.services.accounts import SYSTEM
from phactory.app.settings import AppSettings

DEFAULT_TEST_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
TINY = ROOT / "tests" / "data" / "tiny-site.yaml"
ADMIN_PASSWORD = "admin-password-1"
#: Debian's Chromium, which the browser tests drive (they are skipped where it is missing).
CHROMIUM = Path("/usr/bin/chromium")


@pytest.fixture(autouse=True)
def fast_password_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Argon2id with small parameters: same code path, a fraction of the time."""
    from phactory.app import security
    from phactory.credentials import default_hasher

    fast = default_hasher(fast=True)
    monkeypatch.setattr(security, "_hasher", lambda: fast)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless :data:`CHROMIUM` through Playwright, one per test module."""
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield b
        b.close()


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """``"sqlite"`` or ``"postgresql"``."""
    return str(request.param)


def make_settings(url: str, **changes: Any) -> AppSettings:
    """Test settings: no examples, no pre-started workers, a known admin password."""
    values: dict[str, Any] = {
        "database_url": url,
        "secret": "test-secret-" + "x" * 24,
        "admin_password": ADMIN_PASSWORD,
        "examples_dir": None,
        "prewarm_workers": False,
        "port": 8080,
    }
    values.update(changes)
    return AppSettings(**values)


@pytest.fixture
def db_url(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """URL of an empty database on the backend."""
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'app.db'}"
    database = request.getfixturevalue("postgres_database")
    return database.new_schema()


@dataclass
class Api:
    """A test client with a token per role."""

    client: TestClient
    ctx: AppContext
    tokens: dict[str, str]

    def headers(self, role: str = "engineer") -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"}

    def get(
        self, path: str, role: str = "viewer", headers: dict[str, str] | None = None, **kw: Any
    ) -> Any:
        return self.client.get(path, headers={**self.headers(role), **(headers or {})}, **kw)

    def post(self, path: str, role: str = "engineer", **kw: Any) -> Any:
        return self.client.post(path, headers=self.headers(role), **kw)

    def delete(self, path: str, role: str = "engineer", **kw: Any) -> Any:
        return self.client.delete(path, headers=self.headers(role), **kw)

    def patch(self, path: str, role: str = "admin", **kw: Any) -> Any:
        return self.client.patch(path, headers=self.headers(role), **kw)

    def upload(self, name: str, content: bytes, path: str = "/api/v1/sites", **kw: Any) -> Any:
        return self.post(path, files={"file": (name, content, "application/yaml")}, **kw)

    def wait(self, run_id: str, timeout: float = 90.0) -> dict[str, Any]:
        """Poll a run until it is over; return its last state."""
        deadline = time.monotonic() + timeout
        while True:
            state: dict[str, Any] = self.get(f"/api/v1/runs/{run_id}").json()
            if state["status"] in ("done", "failed", "cancelled"):
                return state
            if time.monotonic() > deadline:
                raise AssertionError(f"run {run_id} still {state['status']} after {timeout} s")
            time.sleep(0.2)


def open_api(settings: AppSettings) -> Iterator[Api]:
    """Start the application (lifespan included) and issue one token per role."""
    app = create_app(settings, ui=False)
    with TestClient(app) as client:
        ctx: AppContext = app.state.ctx
        tokens = {}
        for role in ("viewer", "engineer", "admin"):
            name = f"{role}1"
            ctx.accounts.create_user(SYSTEM, name, role, f"{role}-password-1")
            _, tokens[role] = ctx.accounts.create_token(SYSTEM, name, "tests")
        yield Api(client, ctx, tokens)


@pytest.fixture
def api(db_url: str) -> Iterator[Api]:
    """The API on an empty database of the backend."""
    yield from open_api(make_settings(db_url))


@pytest.fixture(scope="module")
def run_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    """One API on SQLite for a module's run tests (its worker process starts once)."""
    url = f"sqlite:///{tmp_path_factory.mktemp('runs') / 'app.db'}"
    yield from open_api(make_settings(url, prewarm_workers=True, examples_dir=EXAMPLES))


@pytest.fixture
def tiny_yaml() -> bytes:
    """The tiny test site as uploaded bytes."""
    return TINY.read_bytes()


@pytest.fixture
def upload_tiny(tiny_yaml: bytes) -> Callable[[Api], dict[str, Any]]:
    """Upload the tiny site through the API; returns the new site record."""

    def upload(api: Api) -> dict[str, Any]:
        response = api.upload("tiny-site.yaml", tiny_yaml)
        assert response.status_code == 201, response.text
        body: dict[str, Any] = response.json()
        return body

    return upload
