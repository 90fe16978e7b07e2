"""Alembic histories of components that keep their own tables in the store's database.

The batch records (``ebr_*``) and the web application (``app_*``) share the store's
database but not its Alembic history: each has its own migrations folder and version
table, so the store's migrations (and the store's schema test) never see their tables,
and neither sees the other's. :class:`ComponentMigrations` is the one implementation of
such a history; :func:`run_env` is the body of each component's ``env.py``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, MetaData, create_engine, pool, text

from phactory.store.engine import WRITE_OPTION

__all__ = ["ComponentMigrations", "run_env"]


@dataclass(frozen=True)
class ComponentMigrations:
    """The Alembic history of one component's tables.

    Parameters
    ----------
    name
        What the tables are, for messages ("record", "app").
    folder
        The component's Alembic environment (``env.py``, ``versions/``).
    version_table
        Its Alembic version table.
    pg_lock
        PostgreSQL advisory-lock key that serialises concurrent upgrades.
    """

    name: str
    folder: Path
    version_table: str
    pg_lock: int

    def alembic_config(self, connection: Connection | None = None) -> Config:
        """The Alembic configuration, built in code (no alembic.ini needed)."""
        cfg = Config()
        cfg.set_main_option("script_location", str(self.folder).replace("%", "%%"))
        if connection is not None:
            cfg.attributes["connection"] = connection
        return cfg

    def head_revision(self) -> str:
        """The newest revision shipped with this version of Phactory."""
        head = ScriptDirectory.from_config(self.alembic_config()).get_current_head()
        assert head is not None, f"no {self.name} migrations shipped"
        return head

    def current_revision(self, connection: Connection) -> str | None:
        """The database's revision of these tables; ``None`` if it has none."""
        ctx = MigrationContext.configure(connection, opts={"version_table": self.version_table})
        return ctx.get_current_revision()

    def upgrade(self, engine: Engine, revision: str = "head") -> None:
        """Bring the tables up to ``revision`` in one transaction.

        Concurrent callers wait for each other (``BEGIN IMMEDIATE`` on SQLite, an
        advisory lock on PostgreSQL), so each migration runs once.
        """
        target = self.head_revision() if revision == "head" else revision
        with engine.connect() as probe:
            if self.current_revision(probe) == target:
                return
        with engine.execution_options(**{WRITE_OPTION: True}).begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": self.pg_lock})
            if self.current_revision(conn) == target:
                return
            command.upgrade(self.alembic_config(connection=conn), revision)


def run_env(metadata: MetaData, version_table: str, prefix: str) -> None:
    """Run a component's Alembic environment (the whole body of its ``env.py``).

    Autogenerate looks only at tables named ``prefix*``; the connection is taken from
    ``config.attributes["connection"]`` when the component's ``upgrade`` drives it.
    """
    from alembic import context
    from alembic.autogenerate.api import AutogenContext

    from phactory.store.schema import UTCDateTime
    from phactory.store.settings import StoreSettings

    config = context.config

    def render_item(type_: str, obj: Any, autogen: AutogenContext) -> str | Literal[False]:
        if type_ == "type" and isinstance(obj, UTCDateTime):
            return "sa.DateTime(timezone=True)"
        return False

    def include_name(name: str | None, type_: str, parent_names: Any) -> bool:
        if type_ == "table":
            return bool(name) and str(name).startswith(prefix) and name != version_table
        return True

    def configure(connection: Connection) -> None:
        context.configure(
            connection=connection,
            target_metadata=metadata,
            version_table=version_table,
            include_name=include_name,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
            render_item=render_item,
        )

    url = config.get_main_option("sqlalchemy.url") or StoreSettings.from_env().database_url
    if context.is_offline_mode():
        context.configure(
            url=url, target_metadata=metadata, literal_binds=True, version_table=version_table
        )
        with context.begin_transaction():
            context.run_migrations()
        return
    connection = config.attributes.get("connection")
    if connection is not None:
        configure(connection)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = create_engine(url, poolclass=pool.NullPool)
    try:
        with engine.connect() as conn:
            configure(conn)
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()
