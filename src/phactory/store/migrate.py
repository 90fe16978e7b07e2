"""Schema migrations with Alembic, run from code: no ``alembic.ini`` needed.

The revisions live in :mod:`phactory.store.migrations` inside the package. To add one
after changing :mod:`phactory.store.schema`::

    from alembic import command
    from phactory.store.migrate import alembic_config
    command.revision(alembic_config("sqlite:////tmp/scratch.db"), "add x", autogenerate=True)

(upgrade the scratch database to head first), then review the generated file.
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

__all__ = ["MIGRATIONS_DIR", "alembic_config", "current_revision", "head_revision", "upgrade"]

#: Folder of the Alembic environment and its ``versions/``.
MIGRATIONS_DIR: Final = Path(__file__).resolve().parent / "migrations"

# Any constant works; it only has to be the same in every Phactory process.
_PG_MIGRATION_LOCK: Final = 0x70686163746F7279 & 0x7FFFFFFFFFFFFFFF  # "phactory"


def alembic_config(url: str | None = None, connection: Connection | None = None) -> Config:
    """Build the Alembic configuration in code.

    Parameters
    ----------
    url
        Database URL for Alembic commands run without a connection (e.g. ``revision``);
        default: :meth:`phactory.store.StoreSettings.from_env`.
    connection
        A connection to migrate on; when given, ``env.py`` uses it and its transaction.

    Returns
    -------
    alembic.config.Config
    """
    cfg = Config()
    # Config values go through configparser interpolation: escape '%'.
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR).replace("%", "%%"))
    if url is not None:
        cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def head_revision() -> str:
    """The newest revision shipped with this version of Phactory."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None, "no migrations shipped"
    return head


def current_revision(connection: Connection) -> str | None:
    """The revision the database is at; ``None`` for an empty database."""
    return MigrationContext.configure(connection).get_current_revision()


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the database up to ``revision``, in one transaction where the backend allows.

    Concurrent callers on PostgreSQL (say several workers starting at once) wait for each
    other on an advisory lock, so each migration runs once.

    Parameters
    ----------
    engine
        The database.
    revision
        Target revision; default the newest.
    """
    target = head_revision() if revision == "head" else revision
    # On SQLite, BEGIN IMMEDIATE: a second process waits instead of migrating concurrently.
    with engine.execution_options(**{WRITE_OPTION: True}).begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_MIGRATION_LOCK})
        if current_revision(conn) == target:
            return
        command.upgrade(alembic_config(connection=conn), revision)
