"""Failed logins per account and client address, kept in the database.

The workspace locks the pair (account name, client address) after
:data:`LOGIN_LOCKOUT`'s failures, with exponential back-off, so that someone guessing a
password from one address locks only themselves there: the account's owner still logs in
from anywhere else, and an administrator can end every lock of an account at once
(``phactory user unlock NAME`` or the *Users and tokens* page). The state is a row per
pair in ``app_login_failures`` rather than in a server's memory, so that every server
process sees the same locks and the command line can end them; rows without a failure
for :attr:`~phactory.credentials.LockoutPolicy.forget_s` are deleted as new ones come.

The client address is the peer's address as uvicorn reports it: behind a reverse proxy,
serve with ``--forwarded-allow-ips`` set to the proxy's address so that it is the
browser's (from ``X-Forwarded-For``), or every user behind the proxy shares one.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Final

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from phactory.app.schema import LoginFailureRow
from phactory.app.services.db import AppDatabase
from phactory.credentials import Attempts, LockoutPolicy

__all__ = ["LOGIN_LOCKOUT", "MAX_ROWS", "DatabaseLockoutStore", "LockInfo", "login_key"]

#: Five failures from one address lock the account there for 30 s, each further one
#: twice as long, at most 15 min; a day without failures forgets them.
LOGIN_LOCKOUT: Final = LockoutPolicy(
    max_failures=5, lock_s=30.0, max_lock_s=15 * 60.0, forget_s=24 * 3600.0
)
#: Most rows kept: beyond, the oldest unlocked ones go (a flood of made-up names).
MAX_ROWS: Final = 50_000
_SEP: Final = "|"


def login_key(user_name: str, client: str | None) -> str:
    """The lockout key of an account name and a client address (``|`` is in neither).

    At most 300 characters, the key column's width: the name has at most 100 (the
    account names' pattern), the address is cut to 199 (it is any text a trusted proxy
    forwards in ``X-Forwarded-For``).
    """
    return f"{user_name[:100]}{_SEP}{(client or 'unknown')[:199]}"


def _split(key: str) -> tuple[str, str]:
    name, _, client = key.partition(_SEP)
    return name, client


@dataclass(frozen=True, slots=True)
class LockInfo:
    """A locked (account, client address) pair."""

    user_name: str
    client: str
    failures: int
    remaining_s: float


def _attempts(row: LoginFailureRow | None) -> Attempts:
    if row is None:
        return Attempts()
    until = math.inf if row.until_unlock else row.locked_until
    return Attempts(row.failures, row.last_failure, until)


class DatabaseLockoutStore:
    """A :class:`~phactory.credentials.LockoutStore` on ``app_login_failures``.

    Parameters
    ----------
    db
        The app tables.
    policy
        Its :attr:`~phactory.credentials.LockoutPolicy.forget_s` prunes old rows.
    clock
        Seconds since the epoch (the clock of the :class:`~phactory.credentials.Lockout`).
    """

    def __init__(
        self,
        db: AppDatabase,
        policy: LockoutPolicy = LOGIN_LOCKOUT,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._db = db
        self._policy = policy
        self._clock = clock

    def get(self, key: str) -> Attempts:
        """The attempts of ``key``."""
        with self._db.session() as s:
            return _attempts(s.get(LoginFailureRow, key))

    def update(self, key: str, change: Callable[[Attempts], Attempts]) -> Attempts:
        """Replace the attempts of ``key`` in one write transaction (the row locked)."""
        name, client = _split(key)
        with self._db.session(write=True, quiet=True) as s:
            row = s.get(LoginFailureRow, key, with_for_update=True)
            new = change(_attempts(row))
            if new == Attempts():
                if row is not None:
                    s.delete(row)
                return new
            if row is None:
                self._prune(s)
                row = LoginFailureRow(key=key, user_name=name, client=client)
                s.add(row)
            row.failures = new.failures
            row.last_failure = new.last_failure
            row.until_unlock = new.locked_until == math.inf
            row.locked_until = None if row.until_unlock else new.locked_until
            return new

    def _prune(self, s: Session) -> None:
        if self._policy.forget_s is not None:
            cutoff = self._clock() - self._policy.forget_s
            s.execute(
                delete(LoginFailureRow).where(
                    LoginFailureRow.last_failure < cutoff,
                    LoginFailureRow.until_unlock.is_(False),
                )
            )
        count = int(s.scalar(select(func.count()).select_from(LoginFailureRow)) or 0)
        if count >= MAX_ROWS:
            oldest = (
                select(LoginFailureRow.key)
                .where(LoginFailureRow.until_unlock.is_(False))
                .order_by(LoginFailureRow.last_failure)
                .limit(count - MAX_ROWS + 1)
            )
            s.execute(delete(LoginFailureRow).where(LoginFailureRow.key.in_(oldest)))

    def delete(self, keys: Iterable[str]) -> int:
        """Forget ``keys``."""
        wanted = list(keys)
        if not wanted:
            return 0
        with self._db.session(write=True, quiet=True) as s:
            rows = s.scalars(select(LoginFailureRow).where(LoginFailureRow.key.in_(wanted))).all()
            for row in rows:
                s.delete(row)
            return len(rows)

    def keys_of(self, user_name: str) -> list[str]:
        """Every key kept for ``user_name`` (any client address)."""
        with self._db.session() as s:
            return list(
                s.scalars(select(LoginFailureRow.key).where(LoginFailureRow.user_name == user_name))
            )

    def locks(self, user_name: str | None = None) -> list[LockInfo]:
        """The pairs locked now (of ``user_name``, or of everyone), longest first."""
        now = self._clock()
        stmt = select(LoginFailureRow)
        if user_name is not None:
            stmt = stmt.where(LoginFailureRow.user_name == user_name)
        with self._db.session() as s:
            rows = s.scalars(stmt).all()
            found = [
                LockInfo(r.user_name, r.client, r.failures, _attempts(r).remaining(now))
                for r in rows
            ]
        return sorted(
            (f for f in found if f.remaining_s > 0), key=lambda f: (-f.remaining_s, f.client)
        )
