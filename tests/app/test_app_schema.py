"""The app tables' own migration history: empty database to head, head equal to the ORM,
and the store's tables and history untouched."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, inspect

from phactory.app import migrate
from phactory.app.schema import AppBase
from phactory.store import Store

APP_TABLES = {
    "app_users",
    "app_tokens",
    "app_changes",
    "app_run_artifacts",
    "app_login_failures",
}


def _app_only(name: str | None, type_: str, parent: object) -> bool:
    return type_ != "table" or (bool(name) and str(name).startswith("app_")
                                and name != migrate.VERSION_TABLE)  # fmt: skip


def test_upgrade_from_empty_and_compare(db_url: str) -> None:
    with Store(db_url) as store:
        store_head = store.current_revision()
        migrate.upgrade(store.engine)
        migrate.upgrade(store.engine)  # a second time changes nothing
        assert store.current_revision() == store_head
    engine = create_engine(db_url)
    try:
        tables = set(inspect(engine).get_table_names())
        assert APP_TABLES | {migrate.VERSION_TABLE} <= tables
        with engine.connect() as conn:
            assert migrate.current_revision(conn) == migrate.head_revision()
            context = MigrationContext.configure(
                conn,
                opts={
                    "compare_type": True,
                    "version_table": migrate.VERSION_TABLE,
                    "include_name": _app_only,
                },
            )
            assert compare_metadata(context, AppBase.metadata) == []
    finally:
        engine.dispose()


def test_migrations_ship_their_template() -> None:
    assert (migrate.MIGRATIONS_DIR / "script.py.mako").is_file()
    assert (migrate.MIGRATIONS_DIR / "env.py").is_file()
