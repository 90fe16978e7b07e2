"""Transactions on the ``app_*`` tables, with the store's per-backend conventions."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from phactory.store import StoreError, mask_url
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
        self._write = sessionmaker(
            engine.execution_options(**{WRITE_OPTION: True}), expire_on_commit=False
        )

    @contextmanager
    def session(self, *, write: bool = False) -> Iterator[Session]:
        """One transaction; committed on success, rolled back on any error."""
        maker = self._write if write else self._read
        try:
            with maker.begin() as s:
                yield s
        except DBAPIError as exc:
            raise StoreError(f"database {self._url} failed: {describe_cause(exc)}") from exc
