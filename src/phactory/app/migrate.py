"""Schema migrations of the ``app_*`` tables, with their own Alembic history.

Like the batch records (:mod:`phactory.records.migrate`), the web application's tables
share the store's database but not its Alembic history: their revisions live in
:mod:`phactory.app.migrations` and their version in the table ``app_alembic_version``.
:func:`upgrade` runs when the application starts.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, text

from phactory.store.engine import WRITE_OPTION

__all__ = ["MIGRATIONS_DIR", "VERSION_TABLE", "current_revision", "head_revision", "upgrade"]

#: Folder of the Alembic environment of the app tables.
MIGRATIONS_DIR: Final = Path(__file__).resolve().parent / "migrations"
#: Alembic version table of the app tables.
VERSION_TABLE: Final = "app_alembic_version"

_PG_LOCK: Final = 0x7068616374617070 & 0x7FFFFFFFFFFFFFFF  # "phactapp"


def alembic_config(connection: Connection | None = None) -> Config:
    """The Alembic configuration of the app tables, built in code."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR).replace("%", "%%"))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def head_revision() -> str:
    """The newest app-schema revision shipped with this version of Phactory."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None, "no app migrations shipped"
    return head


def current_revision(connection: Connection) -> str | None:
    """The app-schema revision of the database; ``None`` if it has no app tables."""
    context = MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE})
    return context.get_current_revision()


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the app tables up to ``revision`` in one transaction.

    Concurrent callers wait for each other (``BEGIN IMMEDIATE`` on SQLite, an advisory
    lock on PostgreSQL), so each migration runs once.
    """
    target = head_revision() if revision == "head" else revision
    with engine.connect() as probe:
        if current_revision(probe) == target:
            return
    with engine.execution_options(**{WRITE_OPTION: True}).begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK})
        if current_revision(conn) == target:
            return
        command.upgrade(alembic_config(connection=conn), revision)
