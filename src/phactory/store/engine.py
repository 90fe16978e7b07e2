"""Creating the SQLAlchemy engine for a database URL, with the per-backend settings.

SQLite gets foreign keys, write-ahead logging (readers do not block the writer), a busy
timeout, and ``BEGIN IMMEDIATE`` for write transactions so that two writers queue instead
of failing half-way; PostgreSQL gets connection health checks.
"""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path
from typing import Any, Final

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError
from sqlalchemy.pool import ConnectionPoolEntry, StaticPool

from phactory.store.documents import dumps
from phactory.store.errors import StoreError, mask_url
from phactory.store.settings import StoreSettings

__all__ = ["WRITE_OPTION", "build_engine", "describe_cause"]

#: Execution option marking a connection that will write (``BEGIN IMMEDIATE`` on SQLite).
WRITE_OPTION: Final = "phactory_write"

#: Seconds a SQLite connection waits for another writer before giving up.
SQLITE_BUSY_TIMEOUT_S: Final = 30.0


def describe_cause(exc: BaseException) -> str:
    """A one-line description of a database error, without SQLAlchemy's boilerplate."""
    orig = getattr(exc, "orig", None)
    text = str(orig if orig is not None else exc).strip()
    first = text.splitlines()[0] if text else ""
    return first or type(exc).__name__


def _is_memory(url: URL) -> bool:
    return url.database in (None, "", ":memory:") or "mode=memory" in str(url.query)


def build_engine(settings: StoreSettings) -> Engine:
    """Create (but do not connect) the engine for ``settings.database_url``.

    Raises
    ------
    StoreError
        If the URL is malformed or names a backend or driver that is not installed.
    """
    masked = mask_url(settings.database_url)
    try:
        url = make_url(settings.database_url)
    except ArgumentError as exc:
        raise StoreError(f"invalid database URL {masked}: {exc}") from exc
    kwargs: dict[str, Any] = {"echo": settings.echo, "json_serializer": dumps}
    sqlite = url.get_backend_name() == "sqlite"
    if sqlite:
        kwargs["connect_args"] = {"timeout": SQLITE_BUSY_TIMEOUT_S}
        if _is_memory(url):
            # One connection shared by everyone, or each would see its own empty database.
            kwargs["poolclass"] = StaticPool
            kwargs["connect_args"]["check_same_thread"] = False
        elif url.database:
            if settings.create_folder:
                Path(url.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
            _create_private(Path(url.database).expanduser())
    else:
        kwargs["pool_pre_ping"] = True
    try:
        engine = create_engine(url, **kwargs)
    except (ArgumentError, NoSuchModuleError, ImportError, TypeError) as exc:
        raise StoreError(f"cannot use database URL {masked}: {exc}") from exc
    if sqlite:
        _configure_sqlite(engine, memory=_is_memory(url))
    return engine


def _create_private(path: Path) -> None:
    """Create the SQLite file ``path`` readable and writable by its owner only (0600),
    if it does not exist yet; SQLite gives its ``-wal`` and ``-shm`` files the same mode.
    An existing file keeps its mode, and a folder that does not exist is left to SQLite's
    own error."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except (FileExistsError, FileNotFoundError, NotADirectoryError, PermissionError):
        return
    os.close(fd)


def _set_wal(cursor: Any) -> None:
    # Switching a fresh file to WAL needs an exclusive lock and SQLite may answer
    # "database is locked" at once, without its busy handler, while another connection
    # opens the same file; retry for as long as a busy connection would wait.
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_S
    while True:
        try:
            cursor.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def _configure_sqlite(engine: Engine, *, memory: bool) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
        # Take over transaction control from the sqlite3 module (see "begin" below).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA foreign_keys = ON")
            if not memory:
                _set_wal(cursor)
                cursor.execute("PRAGMA synchronous = NORMAL")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        write = conn.get_execution_options().get(WRITE_OPTION, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")
