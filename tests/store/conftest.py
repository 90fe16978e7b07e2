"""Fixtures: the same tests run on a SQLite file and on a real PostgreSQL server.

PostgreSQL comes from ``PHACTORY_TEST_POSTGRES_URL`` (default the local server with user
``postgres``); each test session creates its own ``phactory_test_<random>`` database and
drops it at the end. Store tests share its migrated ``public`` schema (emptied after each
test); migration tests get a new empty schema each. If the server cannot be reached, the
PostgreSQL cases are skipped with the reason.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from phactory.model import Site
from phactory.store import Store

DEFAULT_TEST_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"

BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]

TINY_SITE: dict[str, Any] = {
    "id": "tiny",
    "skills": ["op"],
    "equipment_classes": {"tank": {}},
    "areas": {"a": {"process_cells": {"c": {"units": {"T1": {"class": "tank"}}}}}},
}


@pytest.fixture(scope="session")
def postgres_store_url(postgres_database: Any) -> str:
    """The session database, migrated once; tests empty it after use."""
    url = postgres_database.url.render_as_string(hide_password=False)
    Store(url).close()
    return url


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """``"sqlite"`` or ``"postgresql"``."""
    return str(request.param)


@pytest.fixture
def empty_url(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """URL of a new, empty database on the backend."""
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'empty.db'}"
    database = request.getfixturevalue("postgres_database")
    return database.new_schema()


@pytest.fixture
def store_url(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """URL of a migrated database with no data in it."""
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    return str(request.getfixturevalue("postgres_store_url"))


@pytest.fixture
def store(store_url: str, backend: str) -> Iterator[Store]:
    """An open, empty store on the backend, user ``tester``."""
    opened = Store(store_url, user="tester")
    try:
        yield opened
    finally:
        if backend == "postgresql":
            with opened.engine.begin() as conn:
                conn.exec_driver_sql("TRUNCATE events, runs, scenarios, site_versions CASCADE")
        opened.close()


@pytest.fixture
def make_site() -> Callable[..., Site]:
    """Build a tiny site, with fields changed by keyword."""

    def make(**changes: Any) -> Site:
        return Site.model_validate({**TINY_SITE, **changes})

    return make


@pytest.fixture
def site(make_site: Callable[..., Site]) -> Site:
    """The tiny site of the brief: one area, one cell, one tank."""
    return make_site()
