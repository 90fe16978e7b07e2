"""Fixtures: every historian test runs on a SQLite file and on a real PostgreSQL server.

PostgreSQL comes from ``PHACTORY_TEST_POSTGRES_URL`` (default the local server, user
``postgres``) through the suite's ``postgres_database`` fixture (tests/conftest.py): the
session creates a ``phactory_test_<random>`` database and each historian gets an empty
schema in it. Without a server the PostgreSQL cases are skipped with the reason.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from phactory.historian import Historian, open_historian

BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
#: A round time to start from: 2025-03-01T00:00:00Z.
T0 = dt.datetime(2025, 3, 1, tzinfo=dt.UTC)
T0_US = 1_740_787_200_000_000
TABLES = ("hist_samples", "hist_agg_1m", "hist_agg_1h", "hist_events", "hist_tags", "hist_state")


def us(seconds: float) -> int:
    """``T0`` + ``seconds`` [µs]."""
    return T0_US + round(seconds * 1_000_000)


def at(seconds: float) -> dt.datetime:
    """``T0`` + ``seconds``."""
    return T0 + dt.timedelta(seconds=seconds)


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """``"sqlite"`` or ``"postgresql"``."""
    return str(request.param)


@pytest.fixture
def historian_url(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """URL of an empty database on the backend."""
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'historian.sqlite'}"
    database = request.getfixturevalue("postgres_database")
    url: str = database.new_schema()
    return url


@pytest.fixture
def historian_pair(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[tuple[Historian, Historian]]:
    """Two open, empty historians in separate databases of the backend."""
    if backend == "sqlite":
        urls = [f"sqlite:///{tmp_path / f'h{i}.sqlite'}" for i in (1, 2)]
    else:
        database = request.getfixturevalue("postgres_database")
        urls = [database.new_schema() for _ in (1, 2)]
    pair = (open_historian(urls[0]), open_historian(urls[1]))
    yield pair
    for h in pair:
        h.close()


@pytest.fixture
def make_historian(historian_url: str) -> Iterator[Callable[[], Historian]]:
    """Open the historian of :func:`historian_url` (again); all closed at the end."""
    opened: list[Historian] = []

    def make() -> Historian:
        h = open_historian(historian_url)
        opened.append(h)
        return h

    yield make
    for h in opened:
        h.close()


@pytest.fixture
def historian(make_historian: Callable[[], Historian]) -> Historian:
    """An open, empty historian on the backend."""
    return make_historian()


def wipe(h: Historian) -> None:
    """Empty every table of ``h`` (between Hypothesis examples)."""
    with h.database.transaction(write=True) as cur:
        for table in TABLES:
            cur.execute(f"DELETE FROM {table}")
    h.catalog._ids.clear()


def dump(h: Historian, table: str) -> list[tuple[Any, ...]]:
    """Every row of a table of ``h`` with tag names for ids, sorted."""
    with h.database.transaction() as cur:
        names = dict(cur.execute("SELECT id, name FROM hist_tags").fetchall())
        rows = cur.execute(f"SELECT * FROM {table}").fetchall()
    return sorted((names[r[0]], *r[1:]) for r in rows)
