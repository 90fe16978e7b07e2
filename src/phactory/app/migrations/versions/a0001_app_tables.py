"""Web application tables: accounts, API tokens and sessions, change log, run artifacts.

Revision ID: a0001
Revises:
Create Date: 2026-11-27
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "a0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_UTC = sa.DateTime(timezone=True)  # phactory.store.schema.UTCDateTime


def upgrade() -> None:
    """Create the four ``app_*`` tables."""
    op.create_table(
        "app_users",
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("password_hash", sa.Text(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("preferences", sa.JSON(), nullable=False),
        sa.Column("created_at", _UTC, nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("updated_at", _UTC, nullable=True),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_app_users")),
    )
    op.create_table(
        "app_tokens",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("user_name", sa.String(length=100), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("label", sa.Text(), nullable=False),
        sa.Column("created_at", _UTC, nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("expires_at", _UTC, nullable=True),
        sa.Column("last_used_at", _UTC, nullable=True),
        sa.Column("revoked_at", _UTC, nullable=True),
        sa.ForeignKeyConstraint(
            ["user_name"],
            ["app_users.name"],
            name=op.f("fk_app_tokens_user_name_app_users"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_app_tokens")),
    )
    op.create_index(op.f("ix_app_tokens_digest"), "app_tokens", ["digest"], unique=True)
    op.create_index(op.f("ix_app_tokens_user_name"), "app_tokens", ["user_name"])
    op.create_table(
        "app_changes",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("at", _UTC, nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("entity_kind", sa.String(length=32), nullable=False),
        sa.Column("entity_id", sa.String(length=200), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_app_changes")),
    )
    op.create_index(op.f("ix_app_changes_at"), "app_changes", ["at"])
    op.create_index(
        op.f("ix_app_changes_entity_kind_entity_id"), "app_changes", ["entity_kind", "entity_id"]
    )
    op.create_table(
        "app_run_artifacts",
        sa.Column("run_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("content", sa.JSON(), nullable=False),
        sa.Column("created_at", _UTC, nullable=False),
        sa.PrimaryKeyConstraint("run_id", "name", name=op.f("pk_app_run_artifacts")),
    )


def downgrade() -> None:
    """Drop the four ``app_*`` tables (and with them accounts, tokens and the change log)."""
    op.drop_table("app_run_artifacts")
    op.drop_index(op.f("ix_app_changes_entity_kind_entity_id"), table_name="app_changes")
    op.drop_index(op.f("ix_app_changes_at"), table_name="app_changes")
    op.drop_table("app_changes")
    op.drop_index(op.f("ix_app_tokens_user_name"), table_name="app_tokens")
    op.drop_index(op.f("ix_app_tokens_digest"), table_name="app_tokens")
    op.drop_table("app_tokens")
    op.drop_table("app_users")
