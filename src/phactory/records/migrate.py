"""Schema migrations of the electronic-batch-record tables (``ebr_*``).

They are upgraded when a :class:`phactory.records.RecordService` opens.

They share the store's database but keep their own Alembic history and version table
(see :mod:`phactory.store.component_migrations`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

from alembic.config import Config
from sqlalchemy import Connection, Engine

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
VERSION_TABLE: Final = "ebr_alembic_version"
#: The history itself.
MIGRATIONS: Final = ComponentMigrations(
    "record", MIGRATIONS_DIR, VERSION_TABLE, 0x7068616374656272 & 0x7FFFFFFFFFFFFFFF
)


def alembic_config(connection: Connection | None = None) -> Config:
    """The Alembic configuration, built in code."""
    return MIGRATIONS.alembic_config(connection)


def head_revision() -> str:
    """The newest revision shipped with this version of Phactory."""
    return MIGRATIONS.head_revision()


def current_revision(connection: Connection) -> str | None:
    """The database's revision of these tables; ``None`` if it has none."""
    return MIGRATIONS.current_revision(connection)


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the tables up to ``revision`` in one transaction (concurrent callers wait)."""
    MIGRATIONS.upgrade(engine, revision)
