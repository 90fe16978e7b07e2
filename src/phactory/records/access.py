"""Access to the record: sessions, two-component authentication, lockout, the role matrix.

Only sessions the service issued act; the role and qualifications are read from the
account each time (21 CFR 11.10(d), (g)); logins and signings need user id and password
(11.200(a)(1)), repeated failures lock the account (11.300(d)); every refusal is written
to the audit trail.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final, Self

from sqlalchemy import Connection, Engine, insert, select, update

from phactory.records.audit import (
    AuditEntry,
    AuditWriter,
)
from phactory.records.errors import (
    AccountLocked,
    AuthenticationFailed,
    PermissionDenied,
)
from phactory.records.group_commit import SharedTransaction
from phactory.records.migrate import upgrade as _upgrade
from phactory.records.roles import Action, allowed, roles_for
from phactory.records.rows import TABLES as _T
from phactory.records.users import (
    DEFAULT_MAX_FAILURES,
    SYSTEM_USER,
    PasswordHasher,
    default_hasher,
)
from phactory.store import Store
from phactory.store.engine import WRITE_OPTION

__all__ = ["DEFAULT_SESSION_TIMEOUT_S", "AccessControl", "RecordTx", "UserSession"]

#: Idle time after which a session ends and the user must log in again [s].
DEFAULT_SESSION_TIMEOUT_S: Final = 900.0


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass
class UserSession:
    """A period of controlled system access by one person (21 CFR 11.200(a)(1)(i)).

    Attributes
    ----------
    user_id, role, full_name
        Who is logged in.
    signed
        Whether this session has executed a signing already: later signings then need
        only the password.
    """

    user_id: str
    role: str
    full_name: str
    skills: tuple[str, ...]
    token: str = field(default_factory=lambda: secrets.token_hex(16))
    last_activity: float = field(default_factory=time.monotonic)
    signed: bool = False
    closed: bool = False


@dataclass
class RecordTx:
    """One write transaction: its connection and the audit writer bound to it."""

    conn: Connection
    audit: AuditWriter

    def append(self, **kwargs: Any) -> AuditEntry:
        """Append an audit entry (see :meth:`AuditWriter.append`)."""
        return self.audit.append(**kwargs)

    def flush(self) -> None:
        """Insert buffered audit entries, before reading the trail in this transaction."""
        self.audit.flush()


class AccessControl:
    """The database, transactions, sessions, authentication and the role matrix.

    Parameters are those of :class:`phactory.records.RecordService`.
    """

    def __init__(
        self,
        store: Store | str | None = None,
        *,
        hasher: PasswordHasher | None = None,
        max_failures: int = DEFAULT_MAX_FAILURES,
        session_timeout_s: float = DEFAULT_SESSION_TIMEOUT_S,
        clock: Callable[[], datetime] | None = None,
        group_commit: bool = False,
    ) -> None:
        self._own_store = not isinstance(store, Store)
        self.store = store if isinstance(store, Store) else Store(store)
        self.hasher = hasher or default_hasher()
        self.max_failures = max_failures
        self.session_timeout_s = session_timeout_s
        self._clock = clock or _now
        _upgrade(self.store.engine)
        self._write_engine = self.store.engine.execution_options(**{WRITE_OPTION: True})
        self._sessions: dict[str, UserSession] = {}
        self._shared: SharedTransaction | None = None
        self._group_lock = threading.Lock()
        self.group_commit = False
        self._ensure_system_user()
        # After the start-up writes, so that they do not start the committer thread.
        self.group_commit = group_commit

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
    def transaction(self, connection: Connection | None = None) -> Iterator[RecordTx]:
        """One write transaction with the audit chain locked; all or nothing.

        Parameters
        ----------
        connection
            A connection of :meth:`write_connection` to run it on (a writer that keeps
            one); default one from the pool, or, with
            ``group_commit``, a turn on the open shared transaction
            (:class:`~phactory.records.group_commit.SharedTransaction`: concurrent
            callers then share durable commits).
        """
        if connection is None and self.group_commit:
            with self.shared_transaction().transaction() as tx:
                yield tx
            return
        if connection is not None:
            with connection.begin():
                tx = RecordTx(connection, AuditWriter(connection, self._clock))
                yield tx
                tx.flush()
            return
        with self._write_engine.begin() as conn:
            tx = RecordTx(conn, AuditWriter(conn, self._clock))
            yield tx
            tx.flush()

    def write_connection(self) -> Connection:
        """A connection for write transactions, for a writer that keeps one open."""
        return self._write_engine.connect()

    @contextmanager
    def reading(self) -> Iterator[Connection]:
        """A read-only connection."""
        with self.engine.connect() as conn:
            yield conn

    def _ensure_system_user(self) -> None:
        with self.reading() as conn:
            if conn.execute(
                select(_T["users"].c.user_id).where(_T["users"].c.user_id == SYSTEM_USER)
            ).first():
                return
        with self.transaction() as tx:
            if tx.conn.execute(
                select(_T["users"].c.user_id).where(_T["users"].c.user_id == SYSTEM_USER)
            ).first():
                return
            self._insert_user(tx, SYSTEM_USER, "Phactory batch engine", "system", "!", ())
            tx.append(
                user_id=SYSTEM_USER,
                kind="user.created",
                subject=f"user:{SYSTEM_USER}",
                new={"full_name": "Phactory batch engine", "role": "system", "skills": []},
                reason="account of the batch engine's automatic recordings",
            )

    def _insert_user(
        self,
        tx: RecordTx,
        user_id: str,
        full_name: str,
        role: str,
        password_hash: str,
        skills: tuple[str, ...],
    ) -> None:
        tx.conn.execute(
            insert(_T["users"]).values(
                user_id=user_id,
                full_name=full_name,
                role=role,
                skills=list(skills),
                password_hash=password_hash,
                active=True,
                locked=False,
                failed_attempts=0,
                created_at=self.now(),
            )
        )

    def system_session(self) -> UserSession:
        """The session of the batch engine's automatic recordings (user ``SYSTEM``)."""
        session = UserSession(SYSTEM_USER, "system", "Phactory batch engine", ())
        self._sessions[session.token] = session
        return session

    def _check_session(self, session: UserSession) -> None:
        """Only sessions this service issued, still open, of an active unlocked account.

        The role and qualifications are read from the account each time, so a session
        object altered or made up by a caller grants nothing.
        """
        if self._sessions.get(session.token) is not session:
            raise AuthenticationFailed("not a session of this service: log in")
        if session.user_id == SYSTEM_USER:
            session.role = "system"
            return
        if session.closed:
            raise AuthenticationFailed(f"the session of {session.user_id} has ended: log in")
        if time.monotonic() - session.last_activity > self.session_timeout_s:
            self.logout(session)
            raise AuthenticationFailed(f"the session of {session.user_id} timed out: log in")
        with self.reading() as conn:
            row = conn.execute(
                select(_T["users"]).where(_T["users"].c.user_id == session.user_id)
            ).first()
        if row is None or not row.active or row.locked:
            self.logout(session)
            raise AuthenticationFailed(f"account {session.user_id} is locked or inactive")
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
        self._check_session(session)
        if allowed(session.role, action):
            return
        with self.transaction() as tx:
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

    def login(self, user_id: str, password: str) -> UserSession:
        """Open a session with both components, user id and password.

        Raises
        ------
        AuthenticationFailed
            On an unknown user id or a wrong password (the failure is logged and counted).
        AccountLocked
            If the account is locked, or this failure locks it (the lockout is logged).
        """
        row = self._authenticate(user_id, password, what="login")
        session = UserSession(row.user_id, row.role, row.full_name, tuple(row.skills or ()))
        self._sessions[session.token] = session
        with self.transaction() as tx:
            tx.append(user_id=row.user_id, kind="security.login", subject=f"user:{row.user_id}")
        return session

    def logout(self, session: UserSession) -> None:
        """End a session; the next signing needs both components again."""
        session.closed = True
        self._sessions.pop(session.token, None)

    def _authenticate(self, user_id: str, password: str, *, what: str) -> Any:
        """Check user id and password; count and log failures, lock after too many."""
        users = _T["users"]
        with self.reading() as conn:
            row = conn.execute(select(users).where(users.c.user_id == user_id)).first()
        if row is None or row.role == "system":
            with self.transaction() as tx:
                tx.append(
                    user_id=user_id[:100] or "?",
                    kind="security.failed",
                    subject=f"user:{user_id[:90]}",
                    field=what,
                    new="unknown user id",
                )
            raise AuthenticationFailed("unknown user id or wrong password")
        if row.locked:
            with self.transaction() as tx:
                tx.append(
                    user_id=user_id,
                    kind="security.failed",
                    subject=f"user:{user_id}",
                    field=what,
                    new="account locked",
                )
            raise AccountLocked(f"account {user_id} is locked: ask an administrator")
        if not row.active:
            raise AuthenticationFailed(f"account {user_id} is deactivated")
        if self.hasher.verify(row.password_hash, password):
            if row.failed_attempts:
                with self.transaction() as tx:
                    tx.conn.execute(
                        update(users).where(users.c.user_id == user_id).values(failed_attempts=0)
                    )
            return row
        failures = int(row.failed_attempts) + 1
        lock = failures >= self.max_failures
        with self.transaction() as tx:
            tx.conn.execute(
                update(users)
                .where(users.c.user_id == user_id)
                .values(failed_attempts=failures, locked=lock)
            )
            tx.append(
                user_id=user_id,
                kind="security.failed",
                subject=f"user:{user_id}",
                field=what,
                new=f"wrong password ({failures} of {self.max_failures})",
            )
            if lock:
                tx.append(
                    user_id=user_id,
                    kind="security.lockout",
                    subject=f"user:{user_id}",
                    field="locked",
                    old=False,
                    new=True,
                    reason=f"{failures} consecutive failed attempts",
                )
        if lock:
            raise AccountLocked(
                f"account {user_id} locked after {failures} failed attempts; the lockout "
                "was recorded for the security administrator"
            )
        raise AuthenticationFailed("unknown user id or wrong password")

    def authenticate_signature(
        self, session: UserSession, password: str, user_id: str | None = None
    ) -> None:
        """Check the components of a signing (21 CFR 11.200(a)(1)).

        The first signing of a session needs both components, user id and password;
        later signings of the same session need the password.

        Raises
        ------
        AuthenticationFailed, AccountLocked
            As for :meth:`login`; a lockout also ends the session.
        """
        self._check_session(session)
        if not session.signed and user_id is None:
            raise AuthenticationFailed(
                "the first signing of a session needs both components: user id and password"
            )
        if user_id is not None and user_id != session.user_id:
            with self.transaction() as tx:
                tx.append(
                    user_id=session.user_id,
                    kind="security.failed",
                    subject=f"user:{session.user_id}",
                    field="signature",
                    new=f"user id {user_id[:90]} given in the session of {session.user_id}",
                )
            raise AuthenticationFailed(
                f"user id {user_id} does not match the session of {session.user_id}"
            )
        try:
            self._authenticate(session.user_id, password, what="signature")
        except AccountLocked:
            self.logout(session)
            raise
