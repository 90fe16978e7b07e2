"""The historian's connection to its database: a SQLite file or a PostgreSQL server.

The historian talks to its database through the DB-API drivers themselves (the standard
``sqlite3`` module and psycopg 3), not through SQLAlchemy: ingest is a few set-based
statements per batch, and the time a batch takes is mostly the driver moving rows
(``executemany`` into SQLite, ``COPY`` into PostgreSQL), which an ORM or a SQL builder
would only slow down.

Every thread gets its own connection (SQLite connections must stay in their thread;
one psycopg connection serialises its users), opened on first use and all closed by
:meth:`Database.close`. SQL is written once with ``?`` placeholders; the PostgreSQL
cursor turns them into psycopg's ``%s``. Driver errors leave as
:class:`~phactory.errors.UnavailableError` naming the database (its password masked).

SQLite: the file is created readable and writable by its owner only (0600; SQLite gives
its ``-wal`` and ``-shm`` files the same mode), runs in write-ahead-log mode (readers do
not block the writer), ``synchronous=NORMAL`` (a power cut may lose the last commits but
never corrupts the file), a 30 s busy timeout, and write transactions begin with
``BEGIN IMMEDIATE`` so that two writers queue rather than fail half-way.
PostgreSQL: write transactions take a transaction-scoped advisory lock, so that two
ingesting processes take turns (their aggregate upserts would otherwise lock rows in
different orders and may deadlock).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Literal, Protocol, cast

from phactory.errors import InvalidError, UnavailableError

if TYPE_CHECKING:
    import psycopg

__all__ = [
    "Cursor",
    "Database",
    "Dialect",
    "PgCursor",
    "PostgresDatabase",
    "SqliteDatabase",
    "connect",
    "mask_url",
]

Dialect = Literal["sqlite", "postgresql"]

#: Seconds a SQLite connection waits for another writer before giving up.
SQLITE_BUSY_TIMEOUT_S: Final = 30.0
_PASSWORD_IN_URL = re.compile(r"(?P<head>//[^:/@]*:)(?P<password>[^@]*)(?P<tail>@)")
_PG_SCHEMES: Final = ("postgresql", "postgres", "postgresql+psycopg", "postgresql+psycopg2")
#: Key of the PostgreSQL advisory lock that serialises writers.
_WRITE_LOCK: Final = int.from_bytes(hashlib.sha256(b"phactory:historian").digest()[:8], "big") - (
    1 << 63
)


def mask_url(url: str) -> str:
    """``url`` with its password replaced by ``***`` (for messages and logs)."""
    return _PASSWORD_IN_URL.sub(r"\g<head>***\g<tail>", url)


class Cursor(Protocol):
    """What the historian needs of a DB-API cursor (``?`` placeholders on both databases)."""

    @property
    def rowcount(self) -> int: ...

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Cursor: ...

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None: ...

    def fetchall(self) -> list[tuple[Any, ...]]: ...

    def fetchone(self) -> tuple[Any, ...] | None: ...


class Database(Protocol):
    """A historian database: its dialect, connections and transactions."""

    dialect: Dialect
    #: The URL (or file) for messages, its password masked.
    url: str

    def transaction(self, *, write: bool = False) -> Any:
        """A context manager: one transaction, yielding a :class:`Cursor`; committed
        when the block ends, rolled back if it raises."""
        ...

    def close(self) -> None:
        """Close every connection; the database cannot be used afterwards."""
        ...


class _Connections:
    """One connection per thread, all closed together.

    A thread that ends leaves its connection behind (the web server's worker threads come
    and go): connections of threads no longer alive are closed whenever a new one opens,
    so that their number stays that of the live threads.
    """

    def __init__(self) -> None:
        self._local = threading.local()
        self._all: list[tuple[threading.Thread, Any]] = []
        self._lock = threading.Lock()
        self.closed = False

    def get(self, opener: Any) -> Any:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            if self.closed:
                raise UnavailableError("the historian is closed")
            conn = opener()
            with self._lock:
                dead = [c for t, c in self._all if not t.is_alive()]
                self._all = [(t, c) for t, c in self._all if t.is_alive()]
                self._all.append((threading.current_thread(), conn))
            self._local.conn = conn
            _close_all(dead)
        return conn

    def discard(self) -> None:
        """Forget this thread's connection (broken: the next use opens a new one)."""
        conn = getattr(self._local, "conn", None)
        if conn is None:
            return
        self._local.conn = None
        with self._lock:
            self._all = [(t, c) for t, c in self._all if c is not conn]
        _close_all([conn])

    def close(self) -> None:
        with self._lock:
            self.closed = True
            conns, self._all = [c for _, c in self._all], []
        _close_all(conns)

    def __len__(self) -> int:
        return len(self._all)


def _close_all(conns: list[Any]) -> None:
    for conn in conns:
        with contextlib.suppress(Exception):  # closing a broken connection
            conn.close()


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


class SqliteDatabase:
    """A historian in one SQLite file (see the module docstring).

    Parameters
    ----------
    path
        The file; created (0600) if missing. Its folder must exist.

    Raises
    ------
    InvalidError
        If the folder does not exist or the path is a folder.
    """

    dialect: Dialect = "sqlite"

    def __init__(self, path: Path) -> None:
        path = Path(path).expanduser()
        if str(path) in ("", ":memory:"):
            raise InvalidError("the historian needs a file, not an in-memory SQLite database")
        if not path.parent.is_dir():
            raise InvalidError(f"historian file {path}: folder {path.parent} does not exist")
        if path.is_dir():
            raise InvalidError(f"historian file {path} is a folder")
        self.path = path
        self.url = str(path)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            os.close(fd)
        except FileExistsError:
            pass
        except OSError as exc:
            raise UnavailableError(f"cannot create historian file {path}: {exc}") from exc
        self._connections = _Connections()

    def _open(self) -> sqlite3.Connection:
        conn = sqlite3.connect(
            self.path,
            timeout=SQLITE_BUSY_TIMEOUT_S,
            isolation_level=None,
            # used by its own thread only, but closed by another once that thread ended
            check_same_thread=False,
        )
        deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_S
        while True:  # a fresh file switches to WAL under an exclusive lock: retry
            try:
                conn.execute("PRAGMA journal_mode = WAL")
                break
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    conn.close()
                    raise
                time.sleep(0.05)
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA temp_store = MEMORY")
        conn.execute("PRAGMA cache_size = -32000")  # 32 MB
        return conn

    @contextmanager
    def transaction(self, *, write: bool = False) -> Iterator[Cursor]:
        try:
            conn: sqlite3.Connection = self._connections.get(self._open)
            cur = conn.cursor()
            cur.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            try:
                yield cast(Cursor, cur)
            except BaseException:
                conn.rollback()
                raise
            conn.commit()
        except sqlite3.Error as exc:
            raise UnavailableError(
                f"historian database {self.url} failed: {_first_line(exc)}"
            ) from exc

    def close(self) -> None:
        self._connections.close()


class PgCursor:
    """A psycopg cursor taking ``?`` placeholders."""

    def __init__(self, cur: psycopg.Cursor[Any]) -> None:
        self.cur = cur

    @property
    def rowcount(self) -> int:
        return self.cur.rowcount

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Cursor:
        self.cur.execute(sql.replace("?", "%s"), params or None)
        return self

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        self.cur.executemany(sql.replace("?", "%s"), rows)

    def fetchall(self) -> list[tuple[Any, ...]]:
        return self.cur.fetchall()

    def fetchone(self) -> tuple[Any, ...] | None:
        return self.cur.fetchone()


class PostgresDatabase:
    """A historian in a PostgreSQL database (see the module docstring).

    Parameters
    ----------
    url
        ``postgresql://user[:password]@host[:port]/database[?options]`` (``postgres://``
        and SQLAlchemy's ``postgresql+psycopg://`` are accepted too).
    """

    dialect: Dialect = "postgresql"

    def __init__(self, url: str) -> None:
        scheme, _, rest = url.partition("://")
        self.conninfo = f"postgresql://{rest}"
        self.url = mask_url(url)
        if scheme not in _PG_SCHEMES:
            raise InvalidError(f"historian URL {self.url} is not a PostgreSQL URL")
        self._connections = _Connections()

    def _open(self) -> psycopg.Connection[Any]:
        import psycopg

        return psycopg.connect(self.conninfo, autocommit=True, connect_timeout=10)

    @contextmanager
    def transaction(self, *, write: bool = False) -> Iterator[Cursor]:
        import psycopg

        try:
            conn: psycopg.Connection[Any] = self._connections.get(self._open)
            with conn.transaction(), conn.cursor() as cur:
                if write:
                    cur.execute("SELECT pg_advisory_xact_lock(%s)", (_WRITE_LOCK,))
                yield PgCursor(cur)
        except psycopg.Error as exc:
            if isinstance(exc, psycopg.OperationalError):
                self._connections.discard()
            raise UnavailableError(
                f"historian database {self.url} failed: {_first_line(exc)}"
            ) from exc

    def close(self) -> None:
        self._connections.close()


def connect(
    url: str | None = None, *, path: Path | None = None
) -> SqliteDatabase | PostgresDatabase:
    """The database named by ``url`` or ``path`` (exactly one of them).

    ``url`` is ``sqlite:///FILE`` (a relative file) or ``sqlite:////ABSOLUTE/FILE``, a
    PostgreSQL URL, or a plain file path (no ``://``).

    Raises
    ------
    InvalidError
        If neither or both are given, or the URL names another database.
    """
    if (url is None) == (path is None):
        raise InvalidError(
            "open the historian with a database URL or a file path (one of them): "
            "e.g. postgresql://user@host/db or path=Path('historian.sqlite')"
        )
    if path is not None:
        return SqliteDatabase(path)
    assert url is not None
    url = url.strip()
    scheme, sep, rest = url.partition("://")
    if not sep:
        return SqliteDatabase(Path(url))
    if scheme == "sqlite":
        file = rest[1:] if rest.startswith("/") else rest
        return SqliteDatabase(Path(file.partition("?")[0]))
    if scheme in _PG_SCHEMES:
        return PostgresDatabase(url)
    raise InvalidError(
        f"historian URL {mask_url(url)}: use sqlite:///FILE or postgresql://..., not {scheme}://"
    )
