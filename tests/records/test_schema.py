"""The record tables' own migration history: head equal to the ORM, and a database of the
first schema (hash format 1 entries, units allocated at creation, deviations without a
cause) upgraded without changing what it means; ``audit verify`` passes on old and new
entries. On SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, text

from phactory.records import RecordService, default_hasher
from phactory.records import migrate as record_migrations
from phactory.records.audit import GENESIS_HASH, HASHED_COLUMNS_V1, entry_hash, format_ts
from phactory.records.schema import RecordsBase


def _ebr_only(name: str | None, type_: str, parent: object) -> bool:
    return type_ != "table" or (
        bool(name) and str(name).startswith("ebr_") and name != record_migrations.VERSION_TABLE
    )


def test_head_equals_the_orm(db_url: str) -> None:
    RecordService(db_url, hasher=default_hasher(fast=True)).close()
    engine = create_engine(db_url)
    try:
        with engine.connect() as conn:
            assert record_migrations.current_revision(conn) == record_migrations.head_revision()
            context = MigrationContext.configure(
                conn,
                opts={
                    "compare_type": True,
                    "version_table": record_migrations.VERSION_TABLE,
                    "include_name": _ebr_only,
                },
            )
            assert compare_metadata(context, RecordsBase.metadata) == []
    finally:
        engine.dispose()


def _v1_rows(count: int) -> list[dict[str, Any]]:
    """Audit rows as the first schema wrote them (hash format 1)."""
    rows, prev = [], GENESIS_HASH
    for seq in range(1, count + 1):
        values = [
            seq,
            format_ts(datetime(2027, 1, 4, 8, 0, seq, tzinfo=UTC)),
            "SYSTEM" if seq == 1 else "op1",
            None if seq == 1 else "OLD-1",
            "user.created" if seq == 1 else "value",
            "user:SYSTEM" if seq == 1 else "step:OLD-1/mix/main/stir",
            "" if seq == 1 else "temperature",
            None,
            json.dumps(20.0 + seq),
            "",
            "{}",
            prev,
        ]
        digest = entry_hash(values)
        rows.append({**dict(zip(HASHED_COLUMNS_V1, values, strict=True)), "hash": digest})
        prev = digest
    return rows


_RECIPE = {
    "unit_procedures": [
        {
            "id": "mix",
            "equipment_class": "tank",
            "unit": "T1",
            "operations": [{"id": "main", "phases": [{"path": "mix/main/fill"}]}],
        },
        {
            "id": "hold",
            "equipment_class": "tank",
            "unit": "T2",
            "operations": [{"id": "main", "phases": [{"path": "hold/main/wait"}]}],
        },
    ]
}


def test_a_first_schema_database_upgrades_and_still_verifies(db_url: str) -> None:
    engine = create_engine(db_url)
    try:
        record_migrations.upgrade(engine, "e0001")
        now = datetime(2027, 1, 4, 8, 0, tzinfo=UTC)
        with engine.begin() as conn:
            columns = (*HASHED_COLUMNS_V1, "hash")
            conn.execute(
                text(
                    f"INSERT INTO ebr_audit ({', '.join(columns)}) "
                    f"VALUES ({', '.join(':' + c for c in columns)})"
                ),
                _v1_rows(5),
            )
            conn.execute(
                text(
                    "INSERT INTO ebr_batches (batch_id, site_id, recipe_id, recipe_version, "
                    "product, state, status, control_recipe, created_at, created_by) VALUES "
                    "('OLD-1', 'tiny', 'r1', '1', 'p1', 'Running', 'in_progress', :cr, :t, 'sup')"
                ),
                {"cr": json.dumps(_RECIPE), "t": now},
            )
            for i, (step, state) in enumerate(
                (("mix/main/fill", "Complete"), ("hold/main/wait", "Idle"))
            ):
                conn.execute(
                    text(
                        "INSERT INTO ebr_steps (batch_id, step, position, kind, unit, state, "
                        "elapsed_h) VALUES ('OLD-1', :s, :p, 'automatic', 'T1', :st, 0)"
                    ),
                    {"s": step, "p": i, "st": state},
                )
            conn.execute(
                text(
                    "INSERT INTO ebr_deviations (deviation_id, batch_id, step, kind, severity, "
                    "description, status, raised_at, raised_by) VALUES ('DEV-000001', 'OLD-1', "
                    "'mix/main/stir', 'out_of_limit', 'major', 'temperature 31 degC outside "
                    "[15.0, 25.0]', 'open', :t, 'SYSTEM')"
                ),
                {"t": now},
            )
        records = RecordService(db_url, hasher=default_hasher(fast=True))
        try:
            old = records.audit.entries()
            assert [e.hash_version for e in old[:5]] == [None] * 5
            assert all(e.acting_account is None for e in old[:5])
            assert len(old[4].hashed_values()) == len(HASHED_COLUMNS_V1)
            assert entry_hash(old[4].hashed_values()) == old[4].hash
            records.accounts.bootstrap_admin("admin", "Ada Admin", "admin-pass-1")
            records.accounts.login("admin", "admin-pass-1", acting_account="web:ada")
            report = records.audit.verify()
            assert report.ok, report.describe()
            new = records.audit.entries()[5:]
            assert new and all(e.hash_version == 2 for e in new)
            assert new[-1].acting_account == "web:ada"
            dev = records.deviations.get("DEV-000001")
            assert dev.cause == "out_of_limit:temperature"
            held = [(a.unit_procedure, a.unit) for a in records.batches.allocations("OLD-1")]
            assert held == [("hold", "T2")]  # mix is done: it holds no unit any more
        finally:
            records.close()
    finally:
        engine.dispose()
