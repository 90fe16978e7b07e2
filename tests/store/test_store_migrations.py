"""Schema migrations: empty database to head, head equal to the ORM, safe re-opening."""

from __future__ import annotations

import threading

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text

from phactory.store import Store, StoreError
from phactory.store.migrate import MIGRATIONS_DIR, alembic_config, head_revision
from phactory.store.schema import Base

TABLES = {"alembic_version", "events", "runs", "scenarios", "site_versions"}


def test_upgrade_from_empty_to_head(empty_url: str) -> None:
    engine = create_engine(empty_url)
    try:
        assert set(inspect(engine).get_table_names()) == set()
        with Store(empty_url) as store:
            assert store.current_revision() == head_revision() == store.head_revision
        assert set(inspect(engine).get_table_names()) == TABLES
    finally:
        engine.dispose()


def test_head_matches_orm_metadata(empty_url: str) -> None:
    Store(empty_url).close()
    engine = create_engine(empty_url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            assert compare_metadata(context, Base.metadata) == []
    finally:
        engine.dispose()


def test_downgrade_to_base_and_upgrade_again(empty_url: str) -> None:
    Store(empty_url).close()
    engine = create_engine(empty_url)
    try:
        with engine.begin() as conn:
            command.downgrade(alembic_config(connection=conn), "base")
        assert set(inspect(engine).get_table_names()) == {"alembic_version"}
        with Store(empty_url) as store:
            assert store.current_revision() == head_revision()
    finally:
        engine.dispose()


def test_reopening_a_migrated_database_changes_nothing(store_url: str) -> None:
    with Store(store_url) as first:
        revision = first.current_revision()
    with Store(store_url, migrate=False) as again:
        assert again.current_revision() == revision


def test_concurrent_openers_migrate_once(empty_url: str) -> None:
    errors: list[BaseException] = []

    def open_store() -> None:
        try:
            Store(empty_url).close()
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=open_store) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


def test_migrate_false_refuses_an_unmigrated_database(empty_url: str) -> None:
    with pytest.raises(StoreError, match=r"schema revision \(none\).*migrate=True"):
        Store(empty_url, migrate=False)


def test_a_database_from_a_newer_version_is_refused(empty_url: str) -> None:
    Store(empty_url).close()
    engine = create_engine(empty_url)
    try:
        with engine.begin() as conn:
            conn.execute(text("UPDATE alembic_version SET version_num = 'from_the_future'"))
    finally:
        engine.dispose()
    with pytest.raises(StoreError, match="newer version of Phactory"):
        Store(empty_url)


def test_migrations_ship_their_template() -> None:
    # Needed to write new revisions from an installed package.
    assert (MIGRATIONS_DIR / "script.py.mako").is_file()
    assert (MIGRATIONS_DIR / "env.py").is_file()
