"""Acting account in the audit trail, causes of deviations, dynamic unit allocation, lots.

Revision ID: e0002
Revises: e0001
Create Date: 2027-02-01

* ``ebr_audit.acting_account`` (the account that acted, e.g. a web account, next to the
  signer ``user_id``) and ``ebr_audit.hash_version``: entries written from now on use
  hash format 2, which covers ``acting_account``; older entries keep format 1 (the
  column is ``NULL``) and verify as before (:mod:`phactory.records.audit`). Adding
  nullable columns changes no row, so the append-only guards are not involved.
* ``ebr_deviations.cause``: one deviation per batch, step and cause; filled in for the
  deviations raised automatically so far (out of limit, hold time, material).
* ``ebr_allocations``: units are allocated when their unit procedure starts. Batches not
  finished yet had their units allocated when they were created: those allocations are
  written here, so that they keep their units.
* ``ebr_users.must_change_password`` and ``password_changed_at``; ``ebr_lots`` gets
  supplier, supplier lot and who received it when.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "e0002"
down_revision: str | Sequence[str] | None = "e0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_UTC = sa.DateTime(timezone=True)  # phactory.store.schema.UTCDateTime
_FINAL = ("Complete", "Stopped", "Aborted")

#: (kind, pattern of the description) -> cause, for the deviations raised automatically.
_CAUSES: tuple[tuple[str, re.Pattern[str], str], ...] = (
    ("out_of_limit", re.compile(r"^(\S+) "), "out_of_limit:{}"),
    ("hold_time", re.compile(r"^hold time after (\S+) was "), "hold_time:{}"),
    ("material", re.compile(r"^not enough released (\S+) for "), "material:{}"),
)


def _backfill_causes(bind: sa.Connection) -> None:
    devs = sa.table(
        "ebr_deviations",
        sa.column("deviation_id", sa.String),
        sa.column("kind", sa.String),
        sa.column("description", sa.Text),
        sa.column("cause", sa.String),
    )
    rows = bind.execute(sa.select(devs.c.deviation_id, devs.c.kind, devs.c.description)).all()
    for deviation_id, kind, description in rows:
        for k, pattern, template in _CAUSES:
            match = pattern.match(str(description or "")) if kind == k else None
            if match:
                bind.execute(
                    sa.update(devs)
                    .where(devs.c.deviation_id == deviation_id)
                    .values(cause=template.format(match.group(1)))
                )
                break


def _keep_allocations(bind: sa.Connection) -> None:
    """Allocations of the unfinished batches, whose units were allocated at creation."""
    batches = sa.table(
        "ebr_batches",
        sa.column("batch_id", sa.String),
        sa.column("control_recipe", sa.JSON),
        sa.column("created_at", _UTC),
        sa.column("ended_at", _UTC),
    )
    steps = sa.table(
        "ebr_steps",
        sa.column("batch_id", sa.String),
        sa.column("step", sa.String),
        sa.column("state", sa.String),
    )
    allocations = sa.table(
        "ebr_allocations",
        sa.column("batch_id", sa.String),
        sa.column("unit_procedure", sa.String),
        sa.column("equipment_class", sa.String),
        sa.column("unit", sa.String),
        sa.column("requested_at", _UTC),
        sa.column("allocated_at", _UTC),
    )
    open_batches = bind.execute(
        sa.select(batches.c.batch_id, batches.c.control_recipe, batches.c.created_at).where(
            batches.c.ended_at.is_(None)
        )
    ).all()
    recipe: Any
    for batch_id, recipe, created_at in open_batches:
        states: dict[str, str] = {
            str(step): str(state)
            for step, state in bind.execute(
                sa.select(steps.c.step, steps.c.state).where(steps.c.batch_id == batch_id)
            )
        }
        document: dict[str, Any] = dict(recipe or {})
        procedures: list[dict[str, Any]] = list(document.get("unit_procedures", []))
        for up in procedures:
            paths = [ph["path"] for op_ in up.get("operations", []) for ph in op_["phases"]]
            if paths and all(states.get(p) in _FINAL for p in paths):
                continue  # done: it holds no unit any more
            if not up.get("unit"):
                continue
            bind.execute(
                sa.insert(allocations).values(
                    batch_id=batch_id,
                    unit_procedure=up["id"],
                    equipment_class=up.get("equipment_class", ""),
                    unit=up["unit"],
                    requested_at=created_at or datetime.now(UTC),
                    allocated_at=created_at or datetime.now(UTC),
                )
            )


def upgrade() -> None:
    """Add the columns and the allocation table; keep what the existing rows mean."""
    # Plain ADD COLUMN on both databases: no table is rebuilt, so the append-only
    # triggers stay and no row is rewritten.
    op.add_column("ebr_audit", sa.Column("acting_account", sa.String(length=100), nullable=True))
    op.add_column("ebr_audit", sa.Column("hash_version", sa.Integer(), nullable=True))
    op.add_column(
        "ebr_users",
        sa.Column("must_change_password", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.add_column("ebr_users", sa.Column("password_changed_at", _UTC, nullable=True))
    op.add_column("ebr_deviations", sa.Column("cause", sa.String(length=300), nullable=True))
    op.create_index(
        op.f("ix_ebr_deviations_batch_id_step_cause"),
        "ebr_deviations",
        ["batch_id", "step", "cause"],
    )
    op.add_column("ebr_lots", sa.Column("supplier", sa.String(length=200), nullable=True))
    op.add_column("ebr_lots", sa.Column("supplier_lot", sa.String(length=100), nullable=True))
    op.add_column("ebr_lots", sa.Column("received_at", _UTC, nullable=True))
    op.add_column("ebr_lots", sa.Column("received_by", sa.String(length=100), nullable=True))
    op.create_table(
        "ebr_allocations",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("batch_id", sa.String(length=100), nullable=False),
        sa.Column("unit_procedure", sa.String(length=100), nullable=False),
        sa.Column("equipment_class", sa.String(length=100), nullable=False),
        sa.Column("unit", sa.String(length=100), nullable=True),
        sa.Column("requested_at", _UTC, nullable=False),
        sa.Column("allocated_at", _UTC, nullable=True),
        sa.Column("released_at", _UTC, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ebr_allocations")),
    )
    op.create_index(op.f("ix_ebr_allocations_batch_id"), "ebr_allocations", ["batch_id"])
    op.create_index(
        op.f("ix_ebr_allocations_equipment_class_released_at"),
        "ebr_allocations",
        ["equipment_class", "released_at"],
    )
    bind = op.get_bind()
    _backfill_causes(bind)
    _keep_allocations(bind)


def downgrade() -> None:
    """Drop what e0002 added: only for development databases (needs SQLite >= 3.35)."""
    op.drop_table("ebr_allocations")
    for name in ("received_by", "received_at", "supplier_lot", "supplier"):
        op.drop_column("ebr_lots", name)
    op.drop_index(op.f("ix_ebr_deviations_batch_id_step_cause"), table_name="ebr_deviations")
    op.drop_column("ebr_deviations", "cause")
    op.drop_column("ebr_users", "password_changed_at")
    op.drop_column("ebr_users", "must_change_password")
    op.drop_column("ebr_audit", "hash_version")
    op.drop_column("ebr_audit", "acting_account")
