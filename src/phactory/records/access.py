"""Access to the record: the database, transactions, sessions and the role matrix.

One :class:`AccessControl` is shared by every part of the record service
(:class:`phactory.records.RecordService`): it opens transactions (each with the audit
chain locked), keeps the sessions the service issued, and checks at every action that
the session is open, its account active and unlocked, and its role allowed to act
(21 CFR 11.10(d), (g)); every refusal is written to the audit trail. Logins, passwords
and lockout are the accounts' (:mod:`phactory.records.accounts`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime
from typing import Final, Self

from sqlalchemy import Connection, Engine, select

from phactory.records.audit import AuditWriter
from phactory.records.errors import AuthenticationFailed, PermissionDenied
from phactory.records.group_commit import SharedTransaction
from phactory.records.migrate import upgrade as _upgrade
from phactory.records.roles import Action, allowed, roles_for
from phactory.records.rows import TABLES as _T
from phactory.records.session import UserSession
from phactory.records.tx import RecordTx
from phactory.records.users import SYSTEM_USER
from phactory.records.view import RecordView
from phactory.store import Store
from phactory.store.engine import WRITE_OPTION

__all__ = ["DEFAULT_SESSION_TIMEOUT_S", "AccessControl", "RecordTx", "UserSession"]

#: Idle time after which a session ends and the user must log in again [s].
DEFAULT_SESSION_TIMEOUT_S: Final = 900.0


def _now() -> datetime:
    return datetime.now(UTC)


class AccessControl:
    """The database, transactions, sessions and the role matrix of one record service.

    Parameters
    ----------
    store
        A :class:`phactory.store.Store`, or a database URL, or ``None`` for the store's
        default. The record tables are created or upgraded on opening.
    session_timeout_s
        Idle time that ends a session [s].
    clock
        Current time (aware), for tests; default the system clock in UTC.

    Attributes
    ----------
    group_commit
        Whether write transactions go through the group-commit writer
        (:mod:`phactory.records.group_commit`).
    """

    def __init__(
        self,
        store: Store | str | None = None,
        *,
        session_timeout_s: float = DEFAULT_SESSION_TIMEOUT_S,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self._own_store = not isinstance(store, Store)
        self.store = store if isinstance(store, Store) else Store(store)
        self.session_timeout_s = session_timeout_s
        self._clock = clock or _now
        _upgrade(self.store.engine)
        self._write_engine = self.store.engine.execution_options(**{WRITE_OPTION: True})
        self._sessions: dict[str, UserSession] = {}
        self._shared: SharedTransaction | None = None
        self._group_lock = threading.Lock()
        self.group_commit = False

    @property
    def engine(self) -> Engine:
        """The SQLAlchemy engine of the database."""
        return self.store.engine

    def close(self) -> None:
        """Commit what the shared transaction holds, then close the database connections (if
        the service opened the store)."""
        if self._shared is not None:
            self._shared.close()
            self._shared = None
        if self._own_store:
            self.store.close()

    def shared_transaction(self) -> SharedTransaction:
        """The shared transaction of ``group_commit`` (made on first use), with its
        ``groups`` and ``submissions`` counters."""
        with self._group_lock:
            if self._shared is None:
                self._shared = SharedTransaction(self)
            return self._shared

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def now(self) -> datetime:
        """The service's current time (aware UTC)."""
        return self._clock()

    @contextmanager
    def transaction(
        self, *, acting_account: str | None = None, connection: Connection | None = None
    ) -> Iterator[RecordTx]:
        """One write transaction with the audit chain locked; all or nothing.

        Parameters
        ----------
        acting_account
            Recorded with every audit entry of the transaction: the application account
            that acted (usually ``session.acting_account``).
        connection
            A connection of :meth:`write_connection` to run it on (a writer that keeps
            one); default one from the pool, or, with ``group_commit``, a turn on the
            open shared transaction
            (:class:`~phactory.records.group_commit.SharedTransaction`: concurrent
            callers then share durable commits).
        """
        if connection is None and self.group_commit:
            with self.shared_transaction().transaction(acting_account) as tx:
                yield tx
            return
        with ExitStack() as stack:
            if connection is None:
                connection = stack.enter_context(self._write_engine.begin())
            else:
                stack.enter_context(connection.begin())
            tx = RecordTx(
                connection, AuditWriter(connection, self._clock), self._clock, acting_account
            )
            yield tx
            tx.flush()

    def write_connection(self) -> Connection:
        """A connection for write transactions, for a writer that keeps one open."""
        return self._write_engine.connect()

    @contextmanager
    def reading(self) -> Iterator[RecordView]:
        """Reads of the record on one read connection (``.conn`` is the connection)."""
        with self.engine.connect() as conn:
            yield RecordView(conn)

    # -- sessions ------------------------------------------------------------------------

    def open_session(
        self,
        user_id: str,
        role: str,
        full_name: str,
        skills: tuple[str, ...],
        *,
        acting_account: str | None = None,
    ) -> UserSession:
        """Issue a session (the accounts do, after checking the password)."""
        session = UserSession(
            user_id,
            role,
            full_name,
            skills,
            acting_account=acting_account,
            issued_at=self.now(),
        )
        self._sessions[session.token] = session
        return session

    def end_session(self, session: UserSession) -> None:
        """End a session; the next signing needs both components again."""
        session.closed = True
        self._sessions.pop(session.token, None)

    def end_sessions_of(self, user_id: str) -> int:
        """End every session of a user that this service issued; how many."""
        ended = [s for s in self._sessions.values() if s.user_id == user_id]
        for session in ended:
            self.end_session(session)
        return len(ended)

    def check_session(self, session: UserSession) -> None:
        """Only sessions this service issued, still open, of an active unlocked account
        whose password has not changed since.

        The role and qualifications are read from the account each time, so a session
        object altered or made up by a caller grants nothing.

        Raises
        ------
        AuthenticationFailed
            If not.
        """
        if session.closed:
            raise AuthenticationFailed(f"the session of {session.user_id} has ended: log in")
        if self._sessions.get(session.token) is not session:
            raise AuthenticationFailed("not a session of this service: log in")
        if session.user_id == SYSTEM_USER:
            session.role = "system"
            return
        if time.monotonic() - session.last_activity > self.session_timeout_s:
            self.end_session(session)
            raise AuthenticationFailed(f"the session of {session.user_id} timed out: log in")
        users = _T["users"]
        with self.engine.connect() as conn:
            row = conn.execute(select(users).where(users.c.user_id == session.user_id)).first()
        if row is None or not row.active or row.locked:
            self.end_session(session)
            raise AuthenticationFailed(f"account {session.user_id} is locked or inactive")
        changed = row.password_changed_at
        if row.must_change_password or (
            changed is not None and session.issued_at is not None and session.issued_at < changed
        ):
            self.end_session(session)
            raise AuthenticationFailed(
                f"the password of {session.user_id} was changed: the session has ended, log in"
            )
        session.role = row.role
        session.skills = tuple(row.skills or ())
        session.full_name = row.full_name
        session.last_activity = time.monotonic()

    def authorize(
        self,
        session: UserSession,
        action: Action,
        *,
        subject: str | None = None,
        batch_id: str | None = None,
    ) -> None:
        """Check the session and that its role allows ``action``; log and raise if not.

        Raises
        ------
        AuthenticationFailed
            If the session ended, timed out or its account is locked.
        PermissionDenied
            If the role does not allow the action; the attempt is written to the audit
            trail (21 CFR 11.10(g)).
        """
        self.check_session(session)
        if allowed(session.role, action):
            return
        with self.transaction(acting_account=session.acting_account) as tx:
            tx.append(
                user_id=session.user_id,
                kind="security.denied",
                subject=subject or f"user:{session.user_id}",
                field=str(action),
                new={"role": session.role},
                batch_id=batch_id,
            )
        raise PermissionDenied(
            f"{session.user_id} ({session.role}) may not {action}: "
            f"allowed for {', '.join(roles_for(action)) or 'nobody'}"
        )
