"""Transactions on the ``app_*`` tables, with the store's per-backend conventions."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from phactory.app.readcache import QUIET
from phactory.store import Store, StoreError, mask_url
from phactory.store.engine import WRITE_OPTION, describe_cause

__all__ = ["AppDatabase", "now"]


def now() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


class AppDatabase:
    """Sessions on the store's engine for the app tables (``BEGIN IMMEDIATE`` for writes
    on SQLite, so that writers queue instead of failing half-way)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._url = mask_url(str(engine.url.render_as_string(hide_password=True)))
        self._read = sessionmaker(engine, expire_on_commit=False)
        self._write_engine = engine.execution_options(**{WRITE_OPTION: True})
        self._write = sessionmaker(self._write_engine, expire_on_commit=False)
        self._quiet = sessionmaker(
            engine.execution_options(**{WRITE_OPTION: True, QUIET: True}),
            expire_on_commit=False,
        )

    @contextmanager
    def session(self, *, write: bool = False, quiet: bool = False) -> Iterator[Session]:
        """One transaction; committed on success, rolled back on any error.

        ``quiet`` writes are bookkeeping that no cached read shows (they leave the
        :class:`~phactory.app.readcache.DataVersion` as it is).
        """
        maker = (self._quiet if quiet else self._write) if write else self._read
        try:
            with maker.begin() as s:
                yield s
        except DBAPIError as exc:
            raise StoreError(f"database {self._url} failed: {describe_cause(exc)}") from exc

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A connection for a few read queries (SQLAlchemy Core: a fraction of an ORM
        session's cost, for the reads the API answers most)."""
        try:
            with self.engine.connect() as conn:
                yield conn
        except DBAPIError as exc:
            raise StoreError(f"database {self._url} failed: {describe_cause(exc)}") from exc

    @contextmanager
    def together(self, store: Store) -> Iterator[tuple[Store, Session]]:
        """One write transaction for a store change and the app tables' rows about it.

        Yields a view of ``store`` whose methods run in this transaction, and a session
        for the ``app_*`` rows (the change-log entry); both are committed together at the
        end, or neither if anything fails, so that the change log never misses a change
        nor records one that did not happen. The transaction is the store's
        (:meth:`phactory.store.Store.transaction`); the session joins its connection.
        """
        with store.transaction() as (view, conn):
            joined = Session(
                bind=conn, expire_on_commit=False, join_transaction_mode="rollback_only"
            )
            try:
                with joined.begin():
                    yield view, joined
            except DBAPIError as exc:
                raise StoreError(f"database {self._url} failed: {describe_cause(exc)}") from exc
            finally:
                joined.close()
