"""Historian throughput: ingest into SQLite and PostgreSQL, and the 1-minute trend query.

Prints JSON::

    {"sqlite": {"ingest": {...}, "replay": {...}, "query_7d_1min_mean": {...}},
     "postgresql": {... the same, or {"skipped": reason}}, "targets": {...}}

* ``ingest``: ``--samples`` new samples (default 200,000) of ``--tags`` tags (20) at 1 Hz
  each, in batches of ``--batch`` (5,000), one :meth:`Historian.ingest` call per batch:
  samples per second (targets: >= 50,000/s into SQLite, >= 20,000/s into PostgreSQL).
* ``replay``: the same samples again (a store-and-forward replay: all duplicates).
* ``query_7d_1min_mean``: 1-minute means of one tag over 7 days of 1 Hz data (604,800
  samples, ingested first), median of ``--repeat`` runs (target <= 0.5 s); the same
  computed from the raw samples alone for comparison.

SQLite in a temporary file; PostgreSQL in a temporary database on
``PHACTORY_TEST_POSTGRES_URL`` (default the local server), dropped afterwards, and left
out with the reason if it cannot be reached. Run ``python benchmarks/live_historian.py``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import secrets
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from phactory.historian import Historian, Sample, open_historian

PG_URL = os.environ.get(
    "PHACTORY_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
T0_US = 1_740_787_200_000_000  # 2025-03-01T00:00:00Z
WEEK_S = 7 * 86_400
TARGETS = {
    "sqlite_ingest_per_s": 50_000,
    "postgresql_ingest_per_s": 20_000,
    "query_7d_1min_mean_s": 0.5,
}


@contextmanager
def sqlite_url() -> Iterator[str]:
    with tempfile.TemporaryDirectory() as folder:
        yield f"sqlite:///{Path(folder) / 'historian.sqlite'}"


def _admin() -> str:
    _, _, rest = PG_URL.partition("://")
    return f"postgresql://{rest}"


@contextmanager
def postgres_url() -> Iterator[str]:
    admin = _admin()
    name = f"phactory_bench_{secrets.token_hex(4)}"
    with psycopg.connect(admin, autocommit=True, connect_timeout=3) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        base, _, _ = admin.rpartition("/")
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))


def _samples(n: int, tags: int) -> list[Sample]:
    """``n`` samples of ``tags`` tags sampled together at 1 Hz, numbered per publisher."""
    names = [f"bench/area/cell/U{i // 5}/tag{i}" for i in range(tags)]
    return [
        Sample(names[i % tags], T0_US + (i // tags) * 1_000_000, 20.0 + (i % 997) * 0.01, i,
               source="edge-bench", unit="degC")
        for i in range(n)
    ]  # fmt: skip


def _ingest_rate(h: Historian, samples: list[Sample], batch: int) -> dict[str, Any]:
    t0 = time.perf_counter()
    stored = duplicates = 0
    for i in range(0, len(samples), batch):
        result = h.ingest(samples[i : i + batch])
        stored += result.stored
        duplicates += result.duplicates
    seconds = time.perf_counter() - t0
    return {
        "samples": len(samples),
        "batch": batch,
        "stored": stored,
        "duplicates": duplicates,
        "seconds": round(seconds, 3),
        "samples_per_s": round(len(samples) / seconds),
    }


def _median_s(fn: Callable[[], Any], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return round(statistics.median(times), 4)


def _week_query(h: Historian, repeat: int) -> dict[str, Any]:
    tag = "bench/area/cell/BR1/temp"
    t_load = time.perf_counter()
    for start in range(0, WEEK_S, 50_000):
        h.ingest(
            [Sample(tag, T0_US + s * 1_000_000, 37.0 + (s % 600) / 600, s)
             for s in range(start, min(start + 50_000, WEEK_S))]
        )  # fmt: skip
    load_s = time.perf_counter() - t_load
    begin = dt.datetime(2025, 3, 1, tzinfo=dt.UTC)
    end = begin + dt.timedelta(days=7)
    minute = dt.timedelta(minutes=1)
    frame = h.query(tag, begin, end, every=minute)
    assert len(frame) == 7 * 24 * 60 and frame[tag].notna().all()
    fast = _median_s(lambda: h.query(tag, begin, end, every=minute), repeat)
    slow = _median_s(lambda: h.reader.aggregate(tag, begin, end, minute, raw_only=True), 1)
    return {
        "samples": WEEK_S,
        "load_seconds": round(load_s, 2),
        "steps": len(frame),
        "seconds": fast,
        "seconds_from_raw_samples": slow,
    }


def bench(url: str, args: argparse.Namespace) -> dict[str, Any]:
    samples = _samples(args.samples, args.tags)
    with open_historian(url) as h:
        out = {"ingest": _ingest_rate(h, samples, args.batch)}
        out["replay"] = _ingest_rate(h, samples, args.batch)
        out["query_7d_1min_mean"] = _week_query(h, args.repeat)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=200_000)
    parser.add_argument("--tags", type=int, default=20)
    parser.add_argument("--batch", type=int, default=5_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()
    report: dict[str, Any] = {
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
        "targets": TARGETS,
    }
    with sqlite_url() as url:
        report["sqlite"] = bench(url, args)
    if args.no_postgres:
        report["postgresql"] = {"skipped": "--no-postgres"}
    else:
        try:
            with postgres_url() as url:
                report["postgresql"] = bench(url, args)
        except psycopg.OperationalError as exc:
            report["postgresql"] = {"skipped": f"PostgreSQL not reachable: {exc}".strip()}
    report["met"] = {
        "sqlite_ingest": report["sqlite"]["ingest"]["samples_per_s"]
        >= TARGETS["sqlite_ingest_per_s"],
        "postgresql_ingest": "ingest" in report["postgresql"]
        and report["postgresql"]["ingest"]["samples_per_s"] >= TARGETS["postgresql_ingest_per_s"],
        "query_sqlite": report["sqlite"]["query_7d_1min_mean"]["seconds"]
        <= TARGETS["query_7d_1min_mean_s"],
        "query_postgresql": "ingest" in report["postgresql"]
        and report["postgresql"]["query_7d_1min_mean"]["seconds"]
        <= TARGETS["query_7d_1min_mean_s"],
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
