"""Login security: failed logins per account and client address, forced password change.

Revision ID: a0002
Revises: a0001
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "a0002"
down_revision: str | Sequence[str] | None = "a0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add ``app_users.must_change_password`` and the ``app_login_failures`` table."""
    op.add_column(
        "app_users",
        sa.Column("must_change_password", sa.Boolean(), server_default=sa.false(), nullable=False),
    )
    op.create_table(
        "app_login_failures",
        sa.Column("key", sa.String(length=300), nullable=False),
        sa.Column("user_name", sa.String(length=100), nullable=False),
        sa.Column("client", sa.String(length=200), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("last_failure", sa.Double(), nullable=True),
        sa.Column("locked_until", sa.Double(), nullable=True),
        sa.Column("until_unlock", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_app_login_failures")),
    )
    op.create_index(op.f("ix_app_login_failures_user_name"), "app_login_failures", ["user_name"])
    op.create_index(
        op.f("ix_app_login_failures_last_failure"), "app_login_failures", ["last_failure"]
    )


def downgrade() -> None:
    """Drop them again."""
    op.drop_index(op.f("ix_app_login_failures_last_failure"), table_name="app_login_failures")
    op.drop_index(op.f("ix_app_login_failures_user_name"), table_name="app_login_failures")
    op.drop_table("app_login_failures")
    with op.batch_alter_table("app_users") as batch:
        batch.drop_column("must_change_password")
