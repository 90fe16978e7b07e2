"""Fixtures shared by the whole suite."""

from __future__ import annotations

import atexit
import os
import secrets
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from sqlalchemy.engine import URL, make_url

from phactory.store import mask_url

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
DATA = Path(__file__).resolve().parent / "data"
# Nothing the suite runs writes into the user's data folder (the app's historian file,
# certificates, ...): tests that care set their own PHACTORY_HOME.
# Each pytest-xdist worker gets a folder of its own (a worker inherits the folder its
# controller made, marked by _PHACTORY_TEST_HOME, and replaces it).
if os.environ.get("PHACTORY_HOME") in (None, os.environ.get("_PHACTORY_TEST_HOME")):
    _worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    _HOME = tempfile.mkdtemp(prefix=f"phactory-test-home-{_worker}-")
    atexit.register(shutil.rmtree, _HOME, True)
    os.environ["PHACTORY_HOME"] = os.environ["_PHACTORY_TEST_HOME"] = _HOME
# CLI output is checked for whole paths: lines as wide as a worker's tmp_path needs.
os.environ.setdefault("COLUMNS", "200")

#: The PostgreSQL server the storage tests use; CI and the development machines run one.
DEFAULT_TEST_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def _conninfo(url: URL) -> str:
    """libpq URI for psycopg from a SQLAlchemy URL."""
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


@dataclass
class PostgresDatabase:
    """A throw-away database on the test server; empty schemas in it on demand."""

    url: URL

    def new_schema(self) -> str:
        """Create an empty schema; return a URL whose connections work in it."""
        name = f"empty_{secrets.token_hex(6)}"
        with psycopg.connect(_conninfo(self.url), autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(name)))
        url = self.url.update_query_dict({"options": f"-csearch_path={name}"})
        return url.render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[PostgresDatabase]:
    """A fresh ``phactory_test_<random>`` database for the session, or a skip with the reason."""
    raw = os.environ.get("PHACTORY_TEST_POSTGRES_URL", DEFAULT_TEST_POSTGRES_URL)
    admin = make_url(raw)
    name = f"phactory_test_{secrets.token_hex(6)}"
    try:
        with psycopg.connect(_conninfo(admin), autocommit=True, connect_timeout=3) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    except psycopg.Error as exc:
        pytest.skip(f"PostgreSQL not reachable at {mask_url(raw)}: {exc}".strip())
    yield PostgresDatabase(admin.set(database=name))
    with psycopg.connect(_conninfo(admin), autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture(scope="session")
def tiny_site_path() -> Path:
    """Path of the small valid site used across tests."""
    return DATA / "tiny-site.yaml"


@pytest.fixture(scope="session")
def tiny_site(tiny_site_path: Path):  # type: ignore[no-untyped-def]
    """The small valid site, loaded."""
    from phactory.model import load_site

    return load_site(tiny_site_path)


@pytest.fixture(scope="session")
def mab_site():  # type: ignore[no-untyped-def]
    """The mab-biologics example, loaded."""
    from phactory.model import load_site

    return load_site(EXAMPLES / "mab-biologics")
