"""The store's database: its engine, schema revision, transactions and shared helpers.

One :class:`Database` is shared by the parts of a :class:`phactory.store.Store` (sites,
scenarios, runs, run event logs). It opens ORM sessions and Core read connections, maps
every database error to a :class:`~phactory.store.StoreError` naming the database (its
password masked), and, for :meth:`phactory.store.Store.transaction`, gives a view of
itself whose sessions all join one outer transaction.
"""

from __future__ import annotations

import copy
import getpass
import hashlib
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Final

from alembic.util.exc import CommandError
from sqlalchemy import Connection, text
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from phactory.store import migrate as _migrate
from phactory.store.engine import WRITE_OPTION, build_engine, describe_cause
from phactory.store.errors import InvalidInput, NotFound, StoreError, mask_url
from phactory.store.settings import StoreSettings

__all__ = ["Database", "default_user", "now", "serialise", "uuid_of"]

#: Longest ``created_by`` [characters] (the column).
_MAX_USER: Final = 200


def now() -> datetime:
    """The current time, aware UTC (every ``created_at``, ``started_at`` ...)."""
    return datetime.now(UTC)


def default_user() -> str:
    """The operating-system user, recorded as ``created_by`` unless one is given."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no user name in the environment or password database
        return "unknown"


def uuid_of(value: uuid.UUID | str, kind: str) -> uuid.UUID:
    """``value`` as a UUID; a text that is none names nothing: :class:`NotFound` ``kind``."""
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise NotFound(kind, value) from None


def serialise(s: Session, key: str) -> None:
    """Make concurrent write transactions on ``key`` wait for each other.

    PostgreSQL: a transaction-scoped advisory lock. SQLite needs nothing: write
    transactions begin with ``BEGIN IMMEDIATE`` and so run one at a time.
    """
    if s.get_bind().dialect.name == "postgresql":
        digest = hashlib.sha256(f"phactory:{key}".encode()).digest()
        s.execute(
            text("SELECT pg_advisory_xact_lock(:k)"),
            {"k": int.from_bytes(digest[:8], "big", signed=True)},
        )


class Database:
    """The engine, sessions and schema revision of one store.

    Parameters
    ----------
    settings
        The store's settings (the database URL).
    user
        Recorded as ``created_by`` when a change is not given one.
    migrate
        Upgrade the schema on opening; with ``False`` a database not at the newest
        revision is an error.

    Raises
    ------
    StoreError
        If the URL is unusable, the database cannot be reached, or its schema cannot be
        brought up to date.
    """

    def __init__(self, settings: StoreSettings, *, user: str, migrate: bool = True) -> None:
        self.settings = settings
        self.user = user
        self.url = mask_url(settings.database_url)
        self.engine = build_engine(settings)
        try:
            self._open(migrate=migrate)
        except BaseException:
            self.engine.dispose()
            raise
        self.write_engine = self.engine.execution_options(**{WRITE_OPTION: True})
        self._read = sessionmaker(self.engine, expire_on_commit=False)
        self._write = sessionmaker(self.write_engine, expire_on_commit=False)
        #: The connection of the outer transaction this view runs in (:meth:`joined`);
        #: ``None`` for the database itself.
        self.connection: Connection | None = None

    def _open(self, *, migrate: bool) -> None:
        try:
            with self.engine.connect() as conn:
                current = _migrate.current_revision(conn)
        except DBAPIError as exc:
            raise StoreError(
                f"cannot connect to database {self.url}: {describe_cause(exc)}"
            ) from exc
        head = _migrate.head_revision()
        if current == head:
            return
        if not migrate:
            raise StoreError(
                f"database {self.url} has schema revision {current or '(none)'}, this "
                f"version of Phactory needs {head}: open the store with migrate=True"
            )
        self.upgrade()

    def current_revision(self) -> str | None:
        """The schema revision of the database; ``None`` if it has no tables yet."""
        with self.errors(), self.engine.connect() as conn:
            return _migrate.current_revision(conn)

    def upgrade(self, revision: str = "head") -> None:
        """Upgrade the schema (see :meth:`phactory.store.Store.upgrade`)."""
        try:
            _migrate.upgrade(self.engine, revision)
        except CommandError as exc:
            raise StoreError(
                f"cannot upgrade the schema of database {self.url}: {exc} "
                f"(was it written by a newer version of Phactory?)"
            ) from exc
        except DBAPIError as exc:
            raise StoreError(
                f"cannot upgrade the schema of database {self.url}: {describe_cause(exc)}"
            ) from exc

    def close(self) -> None:
        """Close all connections."""
        self.engine.dispose()

    @contextmanager
    def errors(self) -> Iterator[None]:
        """Database errors as :class:`StoreError`: a change refused, or a failure."""
        try:
            yield
        except IntegrityError as exc:
            raise StoreError(
                f"database {self.url} refused the change: {describe_cause(exc)}"
            ) from exc
        except DBAPIError as exc:
            raise StoreError(f"database {self.url} failed: {describe_cause(exc)}") from exc

    @contextmanager
    def session(self, *, write: bool = False) -> Iterator[Session]:
        """One transaction; committed on success, rolled back on any error."""
        maker = self._write if write else self._read
        with self.errors(), maker.begin() as session:
            yield session

    @contextmanager
    def reading(self) -> Iterator[Connection]:
        """A connection for a few Core reads: the joined transaction's in a view."""
        if self.connection is not None:
            yield self.connection
            return
        with self.errors(), self.engine.connect() as conn:
            yield conn

    @contextmanager
    def joined(self) -> Iterator[tuple[Database, Connection]]:
        """A view of this database whose sessions all run in one new write transaction,
        and the transaction's connection (the view's :attr:`connection`).

        The transaction commits when the block ends and rolls back if it raises. This
        database itself is not changed.
        """
        with self.errors(), self.write_engine.connect() as conn, conn.begin():
            view = copy.copy(self)
            view._read = view._write = sessionmaker(
                bind=conn, expire_on_commit=False, join_transaction_mode="rollback_only"
            )
            view.connection = conn
            yield view, conn

    def creator(self, created_by: str | None) -> str:
        """Who made a change: ``created_by``, else :attr:`user`.

        Raises
        ------
        InvalidInput
            If it is longer than the column holds.
        """
        who = created_by or self.user
        if len(who) > _MAX_USER:
            raise InvalidInput(f"created_by must be at most {_MAX_USER} characters, got {who!r}")
        return who
