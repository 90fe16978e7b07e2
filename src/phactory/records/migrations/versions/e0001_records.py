"""Electronic batch record: audit trail, users, batches, steps, signatures, deviations, lots.

Revision ID: e0001
Revises:
Create Date: 2026-12-01

The audit trail, signatures and lot links are append-only: triggers make the database
refuse ``UPDATE`` and ``DELETE`` on them (and ``TRUNCATE`` on PostgreSQL); users cannot
be deleted (21 CFR 11.10(c), 11.10(e), 11.300(a); EU GMP Annex 11 §7.1, §9).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "e0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_UTC = sa.DateTime(timezone=True)  # phactory.store.schema.UTCDateTime

#: (table, operations refused)
_GUARDED = (
    ("ebr_audit", ("UPDATE", "DELETE")),
    ("ebr_signatures", ("UPDATE", "DELETE")),
    ("ebr_lot_links", ("UPDATE", "DELETE")),
    ("ebr_users", ("DELETE",)),
)


def _create_guards() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute(
            """
            CREATE FUNCTION ebr_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                RAISE EXCEPTION '% on % refused: rows of this table cannot be changed',
                    TG_OP, TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';
            END
            $$
            """
        )
        for table, ops in _GUARDED:
            op.execute(
                f"CREATE TRIGGER {table}_guard BEFORE {' OR '.join(ops)} ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION ebr_refuse_change()"
            )
            op.execute(
                f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                "FOR EACH STATEMENT EXECUTE FUNCTION ebr_refuse_change()"
            )
        return
    for table, ops in _GUARDED:
        for what in ops:
            op.execute(
                f"CREATE TRIGGER {table}_no_{what.lower()} BEFORE {what} ON {table} "
                f"BEGIN SELECT RAISE(ABORT, '{what} on {table} refused: rows of this table "
                "cannot be changed'); END"
            )


def _drop_guards() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        for table, _ops in _GUARDED:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_guard ON {table}")
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}")
        op.execute("DROP FUNCTION IF EXISTS ebr_refuse_change()")
        return
    for table, ops in _GUARDED:
        for what in ops:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_{what.lower()}")


def upgrade() -> None:
    """Create the record tables and their guards."""
    op.create_table(
        "ebr_audit",
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("ts", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.String(length=100), nullable=False),
        sa.Column("batch_id", sa.String(length=100), nullable=True),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("subject", sa.String(length=300), nullable=False),
        sa.Column("field", sa.String(length=200), nullable=False),
        sa.Column("old_value", sa.Text(), nullable=True),
        sa.Column("new_value", sa.Text(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_ebr_audit")),
    )
    op.create_index(op.f("ix_ebr_audit_batch_id"), "ebr_audit", ["batch_id"])
    op.create_index(op.f("ix_ebr_audit_subject"), "ebr_audit", ["subject"])
    op.create_table(
        "ebr_users",
        sa.Column("user_id", sa.String(length=100), nullable=False),
        sa.Column("full_name", sa.Text(), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("skills", sa.JSON(), nullable=False),
        sa.Column("password_hash", sa.Text(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("locked", sa.Boolean(), nullable=False),
        sa.Column("failed_attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", _UTC, nullable=False),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_ebr_users")),
    )
    op.create_table(
        "ebr_batches",
        sa.Column("batch_id", sa.String(length=100), nullable=False),
        sa.Column("site_id", sa.String(length=100), nullable=False),
        sa.Column("recipe_id", sa.String(length=100), nullable=False),
        sa.Column("recipe_version", sa.String(length=40), nullable=False),
        sa.Column("product", sa.String(length=100), nullable=False),
        sa.Column("order_id", sa.String(length=100), nullable=True),
        sa.Column("patient", sa.String(length=100), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("control_recipe", sa.JSON(), nullable=False),
        sa.Column("created_at", _UTC, nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("ended_at", _UTC, nullable=True),
        sa.Column("runner", sa.String(length=200), nullable=True),
        sa.Column("heartbeat", _UTC, nullable=True),
        sa.PrimaryKeyConstraint("batch_id", name=op.f("pk_ebr_batches")),
    )
    op.create_index(op.f("ix_ebr_batches_status"), "ebr_batches", ["status"])
    op.create_table(
        "ebr_steps",
        sa.Column("batch_id", sa.String(length=100), nullable=False),
        sa.Column("step", sa.String(length=300), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("unit", sa.String(length=100), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("elapsed_h", sa.Float(), nullable=False),
        sa.Column("started_at", _UTC, nullable=True),
        sa.Column("ended_at", _UTC, nullable=True),
        sa.Column("blocked_by", sa.String(length=100), nullable=True),
        sa.PrimaryKeyConstraint("batch_id", "step", name=op.f("pk_ebr_steps")),
    )
    op.create_table(
        "ebr_signatures",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("batch_id", sa.String(length=100), nullable=True),
        sa.Column("record_type", sa.String(length=32), nullable=False),
        sa.Column("record_id", sa.String(length=300), nullable=False),
        sa.Column("user_id", sa.String(length=100), nullable=False),
        sa.Column("printed_name", sa.Text(), nullable=False),
        sa.Column("meaning", sa.String(length=16), nullable=False),
        sa.Column("signed_at", sa.String(length=32), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("signature_hash", sa.String(length=64), nullable=False),
        sa.Column("audit_seq", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ebr_signatures")),
    )
    op.create_index(
        op.f("ix_ebr_signatures_record_type_record_id"),
        "ebr_signatures",
        ["record_type", "record_id"],
    )
    op.create_index(op.f("ix_ebr_signatures_batch_id"), "ebr_signatures", ["batch_id"])
    op.create_table(
        "ebr_deviations",
        sa.Column("deviation_id", sa.String(length=40), nullable=False),
        sa.Column("batch_id", sa.String(length=100), nullable=True),
        sa.Column("step", sa.String(length=300), nullable=True),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("raised_at", _UTC, nullable=False),
        sa.Column("raised_by", sa.String(length=100), nullable=False),
        sa.CheckConstraint(
            "status IN ('open', 'investigation', 'capa', 'closed')",
            name=op.f("ck_ebr_deviations_status_known"),
        ),
        sa.PrimaryKeyConstraint("deviation_id", name=op.f("pk_ebr_deviations")),
    )
    op.create_index(op.f("ix_ebr_deviations_batch_id"), "ebr_deviations", ["batch_id"])
    op.create_table(
        "ebr_lots",
        sa.Column("lot_id", sa.String(length=100), nullable=False),
        sa.Column("material", sa.String(length=100), nullable=False),
        sa.Column("quantity", sa.Float(), nullable=False),
        sa.Column("unit", sa.String(length=40), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("expiry", sa.String(length=10), nullable=True),
        sa.Column("patient", sa.String(length=100), nullable=True),
        sa.Column("batch_id", sa.String(length=100), nullable=True),
        sa.PrimaryKeyConstraint("lot_id", name=op.f("pk_ebr_lots")),
    )
    op.create_table(
        "ebr_lot_links",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("batch_id", sa.String(length=100), nullable=False),
        sa.Column("step", sa.String(length=300), nullable=False),
        sa.Column("lot_id", sa.String(length=100), nullable=False),
        sa.Column("material", sa.String(length=100), nullable=False),
        sa.Column("quantity", sa.Float(), nullable=False),
        sa.Column("unit", sa.String(length=40), nullable=False),
        sa.Column("direction", sa.String(length=16), nullable=False),
        sa.Column("audit_seq", sa.BigInteger(), nullable=False),
        sa.CheckConstraint(
            "direction IN ('consumed', 'produced')",
            name=op.f("ck_ebr_lot_links_direction_known"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ebr_lot_links")),
    )
    op.create_index(op.f("ix_ebr_lot_links_lot_id"), "ebr_lot_links", ["lot_id"])
    op.create_index(op.f("ix_ebr_lot_links_batch_id"), "ebr_lot_links", ["batch_id"])
    _create_guards()


def downgrade() -> None:
    """Drop the record tables: only for development databases; GMP data is lost."""
    _drop_guards()
    for table in (
        "ebr_lot_links",
        "ebr_lots",
        "ebr_deviations",
        "ebr_signatures",
        "ebr_steps",
        "ebr_batches",
        "ebr_users",
        "ebr_audit",
    ):
        op.drop_table(table)
