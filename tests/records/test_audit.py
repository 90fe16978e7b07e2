"""The hash chain: any change to any byte of any audit row is found and named."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from ebr_world import World, completed_batch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from phactory.records import RecordService, default_hasher, verify_chain
from phactory.records.audit import GENESIS_HASH, HASHED_COLUMNS, AuditWriter, entry_hash

COLUMNS = (*HASHED_COLUMNS, "hash")


def _append(records: RecordService, n: int, who: str = "op1") -> None:
    with records.access.transaction() as tx:
        for i in range(n):
            tx.append(
                user_id=who,
                kind="value",
                subject="step:B/x",
                field="t",
                new=i * 0.5,
                data={"unit": "degC", "i": i},
                batch_id="B",
            )


@pytest.fixture(scope="module")
def chain_db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A SQLite record database with a chain of entries and its guards removed."""
    path = tmp_path_factory.mktemp("chain") / "chain.db"
    records = RecordService(f"sqlite:///{path}", hasher=default_hasher(fast=True))
    records.accounts.bootstrap_admin("admin", "Ada Admin", "admin-pass-1")
    _append(records, 30)
    with records.access.transaction() as tx:
        tx.append(user_id="admin", kind="comment", subject="batch:B", new="naïve ünïcode ✓")
    records.close()
    conn = sqlite3.connect(path)
    conn.execute("DROP TRIGGER ebr_audit_no_update")
    conn.commit()
    conn.close()
    yield path


def _flip(value: object, position: int, byte: int) -> object:
    """``value`` with one byte changed (integers: one bit)."""
    if isinstance(value, int):
        return value ^ (1 << (20 + position % 16))  # one bit, never onto another row
    if value is None:
        return chr(byte)
    raw = bytearray(str(value).encode("utf-8"))
    i = position % len(raw) if raw else 0
    if not raw:
        return chr(byte)
    new = byte if raw[i] != byte else (byte + 1) % 128
    raw[i] = new
    return raw.decode("utf-8", errors="replace")


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_any_single_byte_change_of_any_row_is_detected(chain_db: Path, data: st.DataObject) -> None:
    conn = sqlite3.connect(chain_db)
    try:
        count = conn.execute("SELECT count(*) FROM ebr_audit").fetchone()[0]
        seq = data.draw(st.integers(1, count), label="seq")
        column = data.draw(st.sampled_from(COLUMNS), label="column")
        position = data.draw(st.integers(0, 200), label="position")
        byte = data.draw(st.integers(32, 126), label="byte")
        select = f"SELECT {column} FROM ebr_audit WHERE seq = ?"
        original = conn.execute(select, (seq,)).fetchone()[0]
        changed = _flip(original, position, byte)
        if changed == original:
            return
        conn.execute(f"UPDATE ebr_audit SET {column} = ? WHERE seq = ?", (changed, seq))
        conn.commit()
        try:
            report = verify_chain(_engine(chain_db))
        finally:
            restore_seq = changed if column == "seq" else seq
            conn.execute(
                f"UPDATE ebr_audit SET {column} = ? WHERE seq = ?", (original, restore_seq)
            )
            conn.commit()
        assert not report.ok
        assert report.first_bad == seq, report
    finally:
        conn.close()
    assert verify_chain(_engine(chain_db)).ok


_ENGINES: dict[Path, object] = {}


def _engine(path: Path):  # type: ignore[no-untyped-def]
    from sqlalchemy import create_engine

    if path not in _ENGINES:
        _ENGINES[path] = create_engine(f"sqlite:///{path}")
    return _ENGINES[path]


def test_every_column_of_every_row_is_covered_on_each_backend(world: World) -> None:
    """Loop over columns (both backends): a one-character change is named at its entry."""
    completed_batch(world)
    engine = world.records.access.engine
    entries = world.records.audit.entries()
    pg = engine.dialect.name == "postgresql"
    for entry in entries[:: max(1, len(entries) // 6)]:
        for column in COLUMNS:
            original = getattr(entry, column)
            changed = _flip(original, 3, ord("x"))
            with engine.begin() as conn:
                if pg:
                    conn.execute(text("ALTER TABLE ebr_audit DISABLE TRIGGER USER"))
                else:
                    conn.execute(text("DROP TRIGGER IF EXISTS ebr_audit_no_update"))
                conn.execute(
                    text(f"UPDATE ebr_audit SET {column} = :v WHERE seq = :s"),
                    {"v": changed, "s": entry.seq},
                )
            report = world.records.audit.verify()
            with engine.begin() as conn:
                conn.execute(
                    text(f"UPDATE ebr_audit SET {column} = :v WHERE seq = :s"),
                    {"v": original, "s": changed if column == "seq" else entry.seq},
                )
                if pg:
                    conn.execute(text("ALTER TABLE ebr_audit ENABLE TRIGGER USER"))
            assert not report.ok and report.first_bad == entry.seq, (column, report)
    assert world.records.audit.verify().ok


def test_a_deleted_entry_is_named(sqlite_world: World) -> None:
    records = sqlite_world.records
    _append(records, 5)
    last = records.audit.entries()[-1].seq
    with records.access.engine.begin() as conn:
        conn.execute(text("DROP TRIGGER ebr_audit_no_delete"))
        conn.execute(text("DELETE FROM ebr_audit WHERE seq = :s"), {"s": last - 2})
    report = records.audit.verify()
    assert (report.ok, report.first_bad) == (False, last - 2)
    assert "missing" in report.describe()


def test_chain_starts_at_genesis_and_hashes_the_canonical_form(sqlite_world: World) -> None:
    first = sqlite_world.records.audit.entries()[0]
    assert first.seq == 1 and first.prev_hash == GENESIS_HASH
    assert first.hash == entry_hash(first.hashed_values())


def test_concurrent_writers_keep_one_chain(world: World) -> None:
    errors: list[BaseException] = []

    def write(who: str) -> None:
        try:
            for _ in range(10):
                _append(world.records, 3, who)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(w,)) for w in ("op1", "op2", "sup")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    report = world.records.audit.verify()
    assert report.ok and report.entries == len(world.records.audit.entries())


def test_the_clock_never_runs_backwards_along_the_chain(sqlite_world: World) -> None:
    from datetime import UTC, datetime

    with sqlite_world.records.access.engine.begin() as conn:
        writer = AuditWriter(conn, clock=lambda: datetime(2000, 1, 1, tzinfo=UTC))
        entry = writer.append(user_id="x", kind="k", subject="s")
        writer.flush()
    assert entry.ts >= sqlite_world.records.audit.entries()[-2].ts
    assert sqlite_world.records.audit.verify().ok
