"""The time scale of each batch.

Revision ID: e0003
Revises: e0002
Create Date: 2027-02-15

* ``ebr_batches.time_scale``: recipe time per wall-clock time chosen for the batch when it
  was created (``Infinity`` for instant), so that any engine (a restarted server
  included) runs it at that speed. ``NULL`` (every batch made before) keeps the meaning
  they had: the batch runs at the time scale of the engine running it.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "e0003"
down_revision: str | Sequence[str] | None = "e0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add the nullable column (no row changes; ``ebr_batches`` has no append-only guard)."""
    op.add_column("ebr_batches", sa.Column("time_scale", sa.Float(), nullable=True))


def downgrade() -> None:
    """Drop it: only for development databases (needs SQLite >= 3.35)."""
    op.drop_column("ebr_batches", "time_scale")
