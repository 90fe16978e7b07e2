"""Live monitoring: deployed monitors, their alarms and the alarms' history.

Revision ID: a0003
Revises: a0002
Create Date: 2026-12-08
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "a0003"
down_revision: str | Sequence[str] | None = "a0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_UTC = sa.DateTime(timezone=True)  # phactory.store.schema.UTCDateTime


def upgrade() -> None:
    """Create ``app_monitors``, ``app_monitor_alarms`` and ``app_monitor_alarm_events``."""
    op.create_table(
        "app_monitors",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("family", sa.String(length=16), nullable=False),
        sa.Column("site", sa.String(length=100), nullable=False),
        sa.Column("unit", sa.String(length=100), nullable=False),
        sa.Column("tag_prefix", sa.Text(), nullable=False),
        sa.Column("model_file", sa.String(length=300), nullable=False),
        sa.Column("model_sha256", sa.String(length=64), nullable=False),
        sa.Column("summary", sa.JSON(), nullable=False),
        sa.Column("settings", sa.JSON(), nullable=False),
        sa.Column("state", sa.JSON(), nullable=False),
        sa.Column("created_at", _UTC, nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("removed_at", _UTC, nullable=True),
        sa.Column("removed_by", sa.String(length=100), nullable=True),
        sa.Column("shelved_until", _UTC, nullable=True),
        sa.Column("shelved_at", _UTC, nullable=True),
        sa.Column("shelved_by", sa.String(length=100), nullable=True),
        sa.Column("shelve_reason", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_app_monitors")),
    )
    op.create_index(op.f("ix_app_monitors_name"), "app_monitors", ["name"])
    op.create_table(
        "app_monitor_alarms",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("monitor_id", sa.Integer(), nullable=False),
        sa.Column("monitor", sa.String(length=100), nullable=False),
        sa.Column("site", sa.String(length=100), nullable=False),
        sa.Column("unit", sa.String(length=100), nullable=False),
        sa.Column("raised_us", sa.BigInteger(), nullable=False),
        sa.Column("raised_at", _UTC, nullable=False),
        sa.Column("detected_at", _UTC, nullable=False),
        sa.Column("cleared_at", _UTC, nullable=True),
        sa.Column("statistic", sa.String(length=16), nullable=False),
        sa.Column("t2", sa.Double(), nullable=True),
        sa.Column("spe", sa.Double(), nullable=True),
        sa.Column("t2_limit", sa.Double(), nullable=True),
        sa.Column("spe_limit", sa.Double(), nullable=True),
        sa.Column("top", sa.JSON(), nullable=False),
        sa.Column("contributions", sa.JSON(), nullable=False),
        sa.Column("acked_at", _UTC, nullable=True),
        sa.Column("acked_by", sa.String(length=100), nullable=True),
        sa.Column("ack_note", sa.Text(), nullable=False),
        sa.Column("shelved", sa.Boolean(), nullable=False),
        sa.Column("batch_id", sa.String(length=100), nullable=True),
        sa.Column("step", sa.Text(), nullable=True),
        sa.Column("deviation_id", sa.String(length=100), nullable=True),
        sa.ForeignKeyConstraint(
            ["monitor_id"],
            ["app_monitors.id"],
            name=op.f("fk_app_monitor_alarms_monitor_id_app_monitors"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_app_monitor_alarms")),
        sa.UniqueConstraint(
            "monitor_id", "raised_us", name=op.f("uq_app_monitor_alarms_monitor_id_raised_us")
        ),
    )
    op.create_index(op.f("ix_app_monitor_alarms_cleared_at"), "app_monitor_alarms", ["cleared_at"])
    op.create_index(op.f("ix_app_monitor_alarms_raised_at"), "app_monitor_alarms", ["raised_at"])
    op.create_table(
        "app_monitor_alarm_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("monitor_id", sa.Integer(), nullable=False),
        sa.Column("alarm_id", sa.Integer(), nullable=True),
        sa.Column("monitor", sa.String(length=100), nullable=False),
        sa.Column("at", _UTC, nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["alarm_id"],
            ["app_monitor_alarms.id"],
            name=op.f("fk_app_monitor_alarm_events_alarm_id_app_monitor_alarms"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["monitor_id"],
            ["app_monitors.id"],
            name=op.f("fk_app_monitor_alarm_events_monitor_id_app_monitors"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_app_monitor_alarm_events")),
    )
    op.create_index(
        op.f("ix_app_monitor_alarm_events_monitor_id_id"),
        "app_monitor_alarm_events",
        ["monitor_id", "id"],
    )
    op.create_index(
        op.f("ix_app_monitor_alarm_events_alarm_id"), "app_monitor_alarm_events", ["alarm_id"]
    )


def downgrade() -> None:
    """Drop them again."""
    op.drop_index(op.f("ix_app_monitor_alarm_events_alarm_id"), "app_monitor_alarm_events")
    op.drop_index(op.f("ix_app_monitor_alarm_events_monitor_id_id"), "app_monitor_alarm_events")
    op.drop_table("app_monitor_alarm_events")
    op.drop_index(op.f("ix_app_monitor_alarms_raised_at"), "app_monitor_alarms")
    op.drop_index(op.f("ix_app_monitor_alarms_cleared_at"), "app_monitor_alarms")
    op.drop_table("app_monitor_alarms")
    op.drop_index(op.f("ix_app_monitors_name"), "app_monitors")
    op.drop_table("app_monitors")
