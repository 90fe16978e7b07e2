"""Group commit of the audit trail: concurrent writers share commits, the chain stays
linear and verifiable, and each caller returns only once its entry is committed
(21 CFR 11.10(e); EU GMP Annex 11 §9). On SQLite and PostgreSQL (``world`` fixture)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from ebr_world import World, make_world
from sqlalchemy import text

from phactory.records import AuditEntry, RecordService, Refused


def _value(i: int, who: int) -> dict[str, Any]:
    return {
        "user_id": "SYSTEM",
        "kind": "value",
        "subject": f"step:G-{who}/p",
        "field": "temperature",
        "new": 20.0 + i,
        "data": {"unit": "degC", "sample": i},
        "batch_id": f"G-{who}",
    }


@pytest.fixture
def grouped(db_url: str) -> Iterator[World]:
    """A record service whose every write transaction goes through group commit."""
    w = make_world(db_url, group_commit=True)
    try:
        yield w
    finally:
        w.records.close()


def test_11_10_e_service_transactions_of_many_threads_share_commits(grouped: World) -> None:
    records = grouped.records
    threads, each = 8, 20
    errors: list[BaseException] = []
    start = threading.Barrier(threads)

    def work(who: int) -> None:
        start.wait()
        try:
            for i in range(each):
                with records.access.transaction() as tx:
                    tx.append(**_value(i, who))
        except BaseException as exc:
            errors.append(exc)

    pool = [threading.Thread(target=work, args=(k,)) for k in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    assert not errors, errors
    report = records.audit.verify()
    assert report.ok, report.describe()
    mine = [e for e in records.audit.entries() if e.batch_id and e.batch_id.startswith("G-")]
    assert len(mine) == threads * each
    for who in range(threads):  # each thread's entries in its own order
        assert [e.new for e in mine if e.batch_id == f"G-{who}"] == [20.0 + i for i in range(each)]
    shared = records.access.shared_transaction()
    assert shared.submissions >= threads * each
    assert shared.groups < shared.submissions  # some commits served several writers


def test_a_failing_block_under_group_commit_rolls_back_alone(grouped: World) -> None:
    records = grouped.records
    before = len(records.audit.entries())
    with records.access.transaction() as tx:
        tx.append(**_value(0, 1))
    with pytest.raises(RuntimeError, match="boom"), records.access.transaction() as tx:
        tx.append(**_value(1, 2))
        tx.flush()
        tx.conn.execute(text("SELECT 1"))
        raise RuntimeError("boom")
    with records.access.transaction() as tx:
        tx.append(**_value(2, 3))
    entries = records.audit.entries()[before:]
    assert [e.batch_id for e in entries] == ["G-1", "G-3"]
    assert records.audit.verify().ok
    # A refusal inside the service (a user id used before) leaves nothing behind either.
    with pytest.raises(Refused):
        records.accounts.create_user(
            grouped["admin"], "op1", "Someone Else", "operator", "pw-123456!"
        )
    assert records.audit.verify().ok


def test_a_transaction_inside_a_group_turn_is_refused_not_deadlocked(grouped: World) -> None:
    records = grouped.records
    outer = records.access.transaction()
    with pytest.raises(RuntimeError, match="inside another"), outer, records.access.transaction():
        pass
    with records.access.transaction() as tx:  # the service goes on
        tx.append(**_value(0, 9))
    assert records.audit.verify().ok


def test_11_10_e_each_writer_is_answered_only_once_its_entries_are_stored(
    grouped: World,
) -> None:
    records = grouped.records
    threads, each = 8, 25
    got: dict[int, list[AuditEntry]] = {}

    def work(who: int) -> None:
        mine = []
        for i in range(each):
            with records.access.transaction() as tx:
                entry = tx.append(**_value(i, who))
            mine.append(entry)
        got[who] = mine

    pool = [threading.Thread(target=work, args=(k,)) for k in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    report = records.audit.verify()
    assert report.ok, report.describe()
    stored = {e.seq: e for e in records.audit.entries()}
    for entries in got.values():
        assert [e.new for e in entries] == [20.0 + i for i in range(each)]
        for e in entries:  # answered only once durable: the row is there, as returned
            assert stored[e.seq] == e
    seqs = sorted(e.seq for entries in got.values() for e in entries)
    assert seqs == list(range(seqs[0], seqs[0] + threads * each))


def test_11_10_e_a_refused_writer_rolls_back_alone_while_others_commit(grouped: World) -> None:
    records = grouped.records
    results: dict[str, Any] = {}
    start = threading.Barrier(2)

    def bad() -> None:
        start.wait()
        try:
            with records.access.transaction() as tx:
                tx.append(**_value(1, 2))
                tx.conn.execute(text("UPDATE ebr_batches SET state = 'x' WHERE 1 = 0"))
                raise Refused("refused half-way")
        except Refused as exc:
            results["bad"] = exc

    def good() -> None:
        start.wait()
        with records.access.transaction() as tx:
            results["good"] = tx.append(**_value(2, 3)).seq

    pool = [threading.Thread(target=bad), threading.Thread(target=good)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    assert isinstance(results["bad"], Refused)
    assert [e.batch_id for e in records.audit.entries() if e.kind == "value"] == ["G-3"]
    assert results["good"] == records.audit.entries()[-1].seq
    with pytest.raises(Refused, match="reason is required"), records.access.transaction() as tx:
        tx.append(**_value(0, 1), old=19.0)  # a change without a reason
    with records.access.transaction() as tx:  # the service goes on after refusals
        tx.append(**_value(3, 4))
    assert records.audit.verify().ok


def test_group_commit_interleaves_with_another_service_committing_each(
    grouped: World,
) -> None:
    other = RecordService(grouped.url)  # a second process's writes, one commit each
    try:
        for i in range(5):
            with grouped.records.access.transaction() as tx:
                tx.append(**_value(i, 5))
            with other.access.transaction() as tx:
                tx.append(**_value(i, 6))
    finally:
        other.close()
    values = [e.batch_id for e in grouped.records.audit.entries() if e.kind == "value"]
    assert values == ["G-5", "G-6"] * 5
    assert grouped.records.audit.verify().ok


def test_a_database_error_in_one_writer_spares_the_shared_transaction(grouped: World) -> None:
    from sqlalchemy.exc import DBAPIError

    records = grouped.records
    with pytest.raises(DBAPIError), records.access.transaction() as tx:
        tx.append(**_value(0, 6))
        tx.conn.execute(text("SELECT * FROM no_such_table"))
    with records.access.transaction() as tx:  # the same connection goes on
        entry = tx.append(**_value(1, 7))
    assert [e.batch_id for e in records.audit.entries() if e.kind == "value"] == ["G-7"]
    assert entry.seq == records.audit.entries()[-1].seq
    assert records.audit.verify().ok
