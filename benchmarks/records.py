"""Benchmark of the electronic batch record's audit trail; prints JSON.

Measures, in one process on this machine (wall-clock time; the machines are shared):

- ``append_per_s``: audit entries appended per second through
  :class:`phactory.records.AuditWriter` (hash chain, lock, insert), on SQLite (a file,
  WAL) and on PostgreSQL (the local server), each

  * ``single``: one entry per transaction from one session, as the batch engine writes a
    state change (bar: >= 1,000/s); each append waits for its own durable commit;
  * ``concurrent_8`` / ``concurrent_32``: 8 or 32 threads (batches, operators) each
    writing one record-service transaction per entry at once, as the web server's
    record service does (``RecordService(group_commit=True)``, see
    :class:`phactory.records.group_commit.SharedTransaction`): each transaction returns
    only once its entry is committed and chained, so the rate counts durable,
    acknowledged entries; with ``entries_per_commit``, the mean group size;
  * ``batched``: 1,000 entries per transaction, as the engine writes a burst of process
    values;
  * on PostgreSQL also ``single_async_commit``: one entry per transaction with
    ``synchronous_commit = off``, for comparison only (not durable): it separates the
    software's cost from the disk's flush latency, which bounds durable single-entry
    commits (``raw_durable_commits_per_s``: bare one-row ``INSERT`` + ``COMMIT`` through
    psycopg on the same server);

- ``verify_1m_s``: wall time of :func:`phactory.records.verify_chain` over a chain of
  1,000,000 entries on SQLite (bar: <= 30 s), with its rate, and on PostgreSQL unless
  ``--quick``.

Each entry looks like a process value (subject, field, value, unit and limits in its
details). PostgreSQL comes from ``PHACTORY_TEST_POSTGRES_URL`` (default the local server,
user ``postgres``); a throw-away database is created and dropped. It is reported as
skipped if the server cannot be reached.

Usage: ``python benchmarks/records.py [--quick]`` (``--quick``: 100,000 entries).
"""

from __future__ import annotations

import json
import os
import secrets
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from sqlalchemy import Engine
from sqlalchemy.engine import make_url

from phactory.records import RecordService
from phactory.records.audit import AuditWriter, verify_chain
from phactory.records.migrate import upgrade
from phactory.store.engine import WRITE_OPTION, build_engine
from phactory.store.settings import StoreSettings

PG_URL = os.environ.get(
    "PHACTORY_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


def _entry_fields(i: int) -> dict[str, Any]:
    return {
        "user_id": "SYSTEM",
        "kind": "value",
        "subject": "step:B-0001/production/fed-batch/culture",
        "field": "temperature",
        "new": 36.5 + (i % 7) * 0.01,
        "data": {
            "unit": "degC",
            "low": 36.0,
            "high": 37.0,
            "setpoint": 36.5,
            "sample": i,
            "out_of_limit": False,
        },
        "batch_id": "B-0001",
    }


def _entry(writer: AuditWriter, i: int) -> None:
    writer.append(**_entry_fields(i))


def append_single(engine: Engine, n: int) -> float:
    """Entries per second, one entry per transaction."""
    writer_engine = engine.execution_options(**{WRITE_OPTION: True})
    t0 = time.perf_counter()
    for i in range(n):
        with writer_engine.begin() as conn:
            w = AuditWriter(conn)
            _entry(w, i)
            w.flush()
    return n / (time.perf_counter() - t0)


def append_batched(engine: Engine, n: int, per_tx: int = 1000) -> float:
    """Entries per second, ``per_tx`` entries per transaction."""
    writer_engine = engine.execution_options(**{WRITE_OPTION: True})
    t0 = time.perf_counter()
    done = 0
    while done < n:
        with writer_engine.begin() as conn:
            w = AuditWriter(conn)
            for i in range(done, min(n, done + per_tx)):
                _entry(w, i)
            w.flush()
        done = min(n, done + per_tx)
    return n / (time.perf_counter() - t0)


def append_concurrent(url: str, threads: int, per_thread: int) -> dict[str, Any]:
    """Durable entries per second with ``threads`` concurrent appenders (group commit).

    Each appender writes as the batch engine and the web server do: one write
    transaction of the record service per entry (``RecordService(group_commit=True)``).
    """
    records = RecordService(url, group_commit=True)
    try:
        with records.access.transaction() as tx:  # start the writer and its connection
            tx.append(**_entry_fields(0))
        writer = records.access.shared_transaction()  # its commit counters
        groups0, subs0 = writer.groups, writer.submissions
        errors: list[BaseException] = []
        start = threading.Barrier(threads + 1)

        def work(k: int) -> None:
            start.wait()
            try:
                for i in range(per_thread):
                    with records.access.transaction() as tx:
                        tx.append(**_entry_fields(k * per_thread + i))
            except BaseException as exc:  # reported below, not lost in the thread
                errors.append(exc)

        pool = [threading.Thread(target=work, args=(k,)) for k in range(threads)]
        for t in pool:
            t.start()
        start.wait()
        t0 = time.perf_counter()
        for t in pool:
            t.join()
        elapsed = time.perf_counter() - t0
        if errors:
            raise errors[0]
        n = threads * per_thread
        groups = writer.groups - groups0
        return {
            "per_s": round(n / elapsed),
            "entries": n,
            "entries_per_commit": round((writer.submissions - subs0) / max(groups, 1), 1),
        }
    finally:
        records.close()


def verify(engine: Engine) -> dict[str, Any]:
    """Wall time of verifying the whole chain."""
    t0 = time.perf_counter()
    report = verify_chain(engine)
    elapsed = time.perf_counter() - t0
    assert report.ok, report.describe()
    return {
        "entries": report.entries,
        "seconds": round(elapsed, 2),
        "entries_per_s": round(report.entries / elapsed),
    }


def raw_commit_rate(url: str, n: int = 500) -> float:
    """Bare durable one-row commits per second through psycopg (the disk's bound)."""
    info = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(info) as conn:
        conn.execute("CREATE TABLE bench_commit (a int)")
        conn.commit()
        t0 = time.perf_counter()
        for i in range(n):
            conn.execute("INSERT INTO bench_commit VALUES (%s)", (i,))
            conn.commit()
        rate = n / (time.perf_counter() - t0)
        conn.execute("DROP TABLE bench_commit")
        conn.commit()
    return rate


def run_backend(url: str, chain: int, single: int) -> dict[str, Any]:
    """Append and verify benchmarks on one database."""
    engine = build_engine(StoreSettings(url))
    extra: dict[str, Any] = {}
    try:
        upgrade(engine)
        if engine.dialect.name == "postgresql":
            extra["raw_durable_commits_per_s"] = round(raw_commit_rate(url))
            async_url = make_url(url).update_query_dict({"options": "-csynchronous_commit=off"})
            async_engine = build_engine(
                StoreSettings(async_url.render_as_string(hide_password=False))
            )
            try:
                extra["single_async_commit"] = round(append_single(async_engine, single))
            finally:
                async_engine.dispose()
        single_rate = append_single(engine, single)
        concurrent = {
            f"concurrent_{threads}": append_concurrent(url, threads, per_thread)
            for threads, per_thread in ((8, 500), (32, 250))
        }
        t0 = time.perf_counter()
        with engine.connect() as conn:
            already = int(conn.exec_driver_sql("SELECT count(*) FROM ebr_audit").scalar_one())
        batched_rate = append_batched(engine, chain - already)
        build_s = time.perf_counter() - t0
        result = verify(engine)
        return {
            "append_per_s": {
                "single": round(single_rate),
                **{k: v["per_s"] for k, v in concurrent.items()},
                "batched": round(batched_rate),
                **extra,
            },
            "concurrent": concurrent,
            "chain_build_s": round(build_s, 1),
            f"verify_{chain // 1000}k": result,
        }
    finally:
        engine.dispose()


def _pg_database() -> tuple[str, str] | None:
    admin = make_url(PG_URL)
    name = f"phactory_bench_{secrets.token_hex(4)}"
    info = admin.set(drivername="postgresql").render_as_string(hide_password=False)
    try:
        with psycopg.connect(info, autocommit=True, connect_timeout=3) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    except psycopg.Error:
        return None
    return admin.set(database=name).render_as_string(hide_password=False), name


def _drop_pg(name: str) -> None:
    info = make_url(PG_URL).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(info, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))


def main() -> None:
    quick = "--quick" in sys.argv
    chain = 100_000 if quick else 1_000_000
    single = 2_000
    out: dict[str, Any] = {
        "cpus": os.cpu_count(),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "chain_entries": chain,
        "note": "wall-clock rates on a machine shared with other jobs: noisy",
    }
    with tempfile.TemporaryDirectory() as tmp:
        out["sqlite"] = run_backend(f"sqlite:///{Path(tmp) / 'bench.db'}", chain, single)
    pg = _pg_database()
    if pg is None:
        out["postgresql"] = {"skipped": f"no server at {PG_URL}"}
    else:
        url, name = pg
        try:
            out["postgresql"] = run_backend(url, chain if not quick else 100_000, single)
        finally:
            _drop_pg(name)
    verify_s = out["sqlite"][f"verify_{chain // 1000}k"]["seconds"]
    out["bars"] = {
        "sqlite_single_append_ge_1000_per_s": out["sqlite"]["append_per_s"]["single"] >= 1000,
        "postgresql_single_append_ge_1000_per_s": (
            out["postgresql"].get("append_per_s", {}).get("single", 0) >= 1000
        ),
        "postgresql_concurrent_8_append_ge_1000_per_s": (
            out["postgresql"].get("append_per_s", {}).get("concurrent_8", 0) >= 1000
        ),
        "postgresql_concurrent_32_append_ge_1000_per_s": (
            out["postgresql"].get("append_per_s", {}).get("concurrent_32", 0) >= 1000
        ),
        "postgresql_batched_append_ge_1000_per_s": (
            out["postgresql"].get("append_per_s", {}).get("batched", 0) >= 1000
        ),
        "verify_1m_le_30_s": (not quick) and verify_s <= 30,
    }
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
