"""Schema migrations of the web application's tables (``app_*``).

They are upgraded when the application starts.

They share the store's database but keep their own Alembic history and version table
(see :mod:`phactory.store.component_migrations`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

from phactory.store.component_migrations import ComponentMigrations

__all__ = [
    "MIGRATIONS",
    "MIGRATIONS_DIR",
    "VERSION_TABLE",
    "current_revision",
    "head_revision",
    "upgrade",
]

#: Folder of the Alembic environment of these tables.
MIGRATIONS_DIR: Final = Path(__file__).resolve().parent / "migrations"
#: Their Alembic version table.
VERSION_TABLE: Final = "app_alembic_version"
#: The history itself.
MIGRATIONS: Final = ComponentMigrations(
    "app", MIGRATIONS_DIR, VERSION_TABLE, 0x7068616374617070 & 0x7FFFFFFFFFFFFFFF
)


# Module-level names for callers and tests; the behaviour lives in ComponentMigrations.
alembic_config = MIGRATIONS.alembic_config
head_revision = MIGRATIONS.head_revision
current_revision = MIGRATIONS.current_revision
upgrade = MIGRATIONS.upgrade
