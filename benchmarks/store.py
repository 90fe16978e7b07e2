"""Store throughput on SQLite (temporary file) and PostgreSQL (temporary database).

Prints JSON: ``[{"backend", "operation", "n", "seconds", "per_second"}]``. PostgreSQL is
taken from ``PHACTORY_TEST_POSTGRES_URL`` (default the local server) and left out if it
cannot be reached. Run ``python benchmarks/store.py [--events N]``.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from sqlalchemy.engine import make_url

from phactory.model import Site
from phactory.store import Store

PG_URL = os.environ.get(
    "PHACTORY_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
TINY: dict[str, Any] = {
    "id": "tiny",
    "skills": ["op"],
    "equipment_classes": {"tank": {}},
    "areas": {"a": {"process_cells": {"c": {"units": {"T1": {"class": "tank"}}}}}},
}


@contextmanager
def sqlite_url() -> Iterator[str]:
    with tempfile.TemporaryDirectory() as folder:
        yield f"sqlite:///{Path(folder) / 'bench.db'}"


@contextmanager
def postgres_url() -> Iterator[str]:
    admin = make_url(PG_URL)
    conninfo = admin.set(drivername="postgresql").render_as_string(hide_password=False)
    name = f"phactory_bench_{secrets.token_hex(4)}"
    with psycopg.connect(conninfo, autocommit=True, connect_timeout=3) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield admin.set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(conninfo, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))


def _timed(
    results: list[dict[str, Any]], backend: str, op: str, n: int, fn: Callable[[], Any]
) -> Any:
    t0 = time.perf_counter()
    value = fn()
    seconds = time.perf_counter() - t0
    results.append(
        {
            "backend": backend,
            "operation": op,
            "n": n,
            "seconds": round(seconds, 4),
            "per_second": round(n / seconds, 1) if seconds else None,
        }
    )
    return value


def bench(backend: str, url: str, n_events: int, results: list[dict[str, Any]]) -> None:
    store = _timed(results, backend, "open (create schema)", 1, lambda: Store(url))
    try:
        sites = [Site.model_validate({**TINY, "name": f"v{i}"}) for i in range(100)]
        _timed(
            results,
            backend,
            "save_site (new version)",
            100,
            lambda: [store.save_site(s) for s in sites],
        )
        _timed(
            results,
            backend,
            "save_site (unchanged)",
            100,
            lambda: [store.save_site(sites[-1]) for _ in range(100)],
        )
        _timed(
            results, backend, "get_site", 100, lambda: [store.get_site("tiny") for _ in range(100)]
        )
        run = store.start_run(store.create_run("simulate", site_id="tiny").id)
        _timed(
            results,
            backend,
            "update_run (progress)",
            200,
            lambda: [store.update_run(run.id, progress=i / 200) for i in range(200)],
        )
        events = [
            {
                "t_h": i / 60,
                "kind": "state",
                "unit": f"U{i % 40}",
                "batch": f"B{i // 500}",
                "payload": {"state": "running", "i": i},
            }
            for i in range(n_events)
        ]
        _timed(
            results, backend, "append_events", n_events, lambda: store.append_events(run.id, events)
        )
        _timed(results, backend, "read_events", n_events, lambda: store.read_events(run.id))
    finally:
        store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=100_000)
    args = parser.parse_args()
    results: list[dict[str, Any]] = []
    with sqlite_url() as url:
        bench("sqlite", url, args.events, results)
    try:
        with postgres_url() as url:
            bench("postgresql", url, args.events, results)
    except psycopg.OperationalError as exc:
        results.append({"backend": "postgresql", "skipped": str(exc).strip()})
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
