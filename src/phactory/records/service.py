"""The record service: the one layer that writes GMP records, enforcing the rules.

Every public method checks the caller's session and role (:mod:`phactory.records.roles`),
runs in one transaction, and writes what it changes to the hash-chained audit trail in
that transaction, with the old and new value and the reason (21 CFR 11.10(d), (e), (g);
EU GMP Annex 11 §9, §12). Signatures need the user id and password for the first signing
of a session and the password for later ones (21 CFR 11.200(a)(1)); repeated failures
lock the account (11.300(d)).

>>> from phactory.records import RecordService
>>> records = RecordService("sqlite://")                             # doctest: +SKIP
>>> records.bootstrap_admin("admin", "Ada Admin", "correct horse")   # doctest: +SKIP
>>> admin = records.login("admin", "correct horse")                  # doctest: +SKIP
"""

from __future__ import annotations

import os
import secrets
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any, Final, cast

from sqlalchemy import Connection, Engine, Table, func, insert, select, update

from phactory.records.audit import (
    AuditEntry,
    AuditWriter,
    ChainReport,
    format_ts,
    read_entries,
    verify_chain,
)
from phactory.records.deviations import WORKFLOW, Deviation
from phactory.records.errors import (
    AccountLocked,
    AuthenticationFailed,
    PermissionDenied,
    Refused,
    UnknownRecord,
)
from phactory.records.genealogy import Direction, Genealogy, TraceEdge, trace
from phactory.records.migrate import upgrade as _upgrade
from phactory.records.record import BatchInfo, BatchRecord, LotInfo, StepInfo
from phactory.records.review import (
    ReviewItem,
    release_blockers,
    review_blockers,
    review_exceptions,
)
from phactory.records.roles import HUMAN_ROLES, Action, allowed, roles_for
from phactory.records.schema import (
    BatchRow,
    DeviationRow,
    LotLinkRow,
    LotRow,
    SignatureRow,
    StepRow,
    UserRow,
)
from phactory.records.signatures import (
    MEANINGS,
    Signature,
    content_hash,
    record_content,
    signature_hash,
    signatures_for,
)
from phactory.records.users import (
    DEFAULT_MAX_FAILURES,
    SYSTEM_USER,
    PasswordHasher,
    User,
    check_new_password,
    check_user_id,
    default_hasher,
)
from phactory.store import Store
from phactory.store.engine import WRITE_OPTION

if TYPE_CHECKING:
    from phactory.model import Site

__all__ = ["DEFAULT_SESSION_TIMEOUT_S", "RecordService", "RecordTx", "UserSession"]

#: Idle time after which a session ends and the user must log in again [s].
DEFAULT_SESSION_TIMEOUT_S: Final = 900.0

_T = {
    name: cast(Table, row.__table__)
    for name, row in (
        ("users", UserRow),
        ("batches", BatchRow),
        ("steps", StepRow),
        ("signatures", SignatureRow),
        ("deviations", DeviationRow),
        ("lots", LotRow),
        ("links", LotLinkRow),
    )
}
_LOT_STATUSES: Final = ("quarantine", "released", "rejected", "consumed")


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


def _user(row: Any) -> User:
    return User(
        user_id=row.user_id,
        full_name=row.full_name,
        role=row.role,
        skills=tuple(row.skills or ()),
        active=bool(row.active),
        locked=bool(row.locked),
        failed_attempts=int(row.failed_attempts),
        created_at=row.created_at,
    )


def _deviation(row: Any) -> Deviation:
    return Deviation(
        deviation_id=row.deviation_id,
        batch_id=row.batch_id,
        step=row.step,
        kind=row.kind,
        severity=row.severity,
        description=row.description,
        status=row.status,
        raised_at=row.raised_at,
        raised_by=row.raised_by,
    )


def _batch(row: Any) -> BatchInfo:
    return BatchInfo(
        batch_id=row.batch_id,
        site_id=row.site_id,
        recipe_id=row.recipe_id,
        recipe_version=row.recipe_version,
        product=row.product,
        order_id=row.order_id,
        patient=row.patient,
        state=row.state,
        status=row.status,
        created_at=row.created_at,
        created_by=row.created_by,
        control_recipe=row.control_recipe,
        ended_at=row.ended_at,
    )


def _step(row: Any) -> StepInfo:
    return StepInfo(
        batch_id=row.batch_id,
        step=row.step,
        position=row.position,
        kind=row.kind,
        unit=row.unit,
        state=row.state,
        elapsed_h=row.elapsed_h,
        started_at=row.started_at,
        ended_at=row.ended_at,
        blocked_by=row.blocked_by,
    )


def _lot(row: Any) -> LotInfo:
    return LotInfo(
        lot_id=row.lot_id,
        material=row.material,
        quantity=row.quantity,
        unit=row.unit,
        status=row.status,
        expiry=row.expiry,
        patient=row.patient,
        batch_id=row.batch_id,
    )


class RecordService:
    """Electronic batch records, audit trail, users, signatures, deviations and lots.

    Parameters
    ----------
    store
        A :class:`phactory.store.Store`, or a database URL, or ``None`` for the store's
        default (``PHACTORY_DATABASE_URL`` or the SQLite file in the data folder).
        The record tables are created or upgraded on opening.
    hasher
        Password hasher; default Argon2id (:func:`phactory.records.users.default_hasher`).
    max_failures
        Consecutive failed logins or signings that lock an account.
    session_timeout_s
        Idle time that ends a session [s].
    clock
        Current time (aware), for tests; default the system clock in UTC.
    """

    def __init__(
        self,
        store: Store | str | None = None,
        *,
        hasher: PasswordHasher | None = None,
        max_failures: int = DEFAULT_MAX_FAILURES,
        session_timeout_s: float = DEFAULT_SESSION_TIMEOUT_S,
        clock: Callable[[], datetime] | None = None,
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
        self._ensure_system_user()

    # -- lifecycle -----------------------------------------------------------------------

    @property
    def engine(self) -> Engine:
        """The SQLAlchemy engine of the database."""
        return self.store.engine

    def close(self) -> None:
        """Close the database connections (if the service opened the store)."""
        if self._own_store:
            self.store.close()

    def __enter__(self) -> RecordService:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def now(self) -> datetime:
        """The service's current time (aware UTC)."""
        return self._clock()

    @contextmanager
    def transaction(self) -> Iterator[RecordTx]:
        """One write transaction with the audit chain locked; all or nothing."""
        with self._write_engine.begin() as conn:
            tx = RecordTx(conn, AuditWriter(conn, self._clock))
            yield tx
            tx.flush()

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

    def system_session(self) -> UserSession:
        """The session of the batch engine's automatic recordings (user ``SYSTEM``)."""
        session = UserSession(SYSTEM_USER, "system", "Phactory batch engine", ())
        self._sessions[session.token] = session
        return session

    # -- sessions and authorisation -------------------------------------------------------

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

    # -- users ---------------------------------------------------------------------------

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

    def _new_user(
        self,
        tx: RecordTx,
        by: str,
        user_id: str,
        full_name: str,
        role: str,
        password: str,
        skills: tuple[str, ...],
        reason: str,
    ) -> None:
        check_user_id(user_id)
        if role not in HUMAN_ROLES:
            raise Refused(f"unknown role {role!r}: use one of {', '.join(HUMAN_ROLES)}")
        if not full_name.strip():
            raise Refused("a user needs a printed name")
        check_new_password(password, user_id)
        exists = tx.conn.execute(
            select(_T["users"].c.user_id).where(
                func.lower(_T["users"].c.user_id) == user_id.lower()
            )
        ).first()
        if exists:
            raise Refused(f"user id {user_id} exists or existed: user ids are never reused")
        self._insert_user(tx, user_id, full_name, role, self.hasher.hash(password), skills)
        tx.append(
            user_id=by,
            kind="user.created",
            subject=f"user:{user_id}",
            new={"full_name": full_name, "role": role, "skills": list(skills), "active": True},
            reason=reason,
        )

    def bootstrap_admin(self, user_id: str, full_name: str, password: str) -> User:
        """Create the first administrator of an empty system (no login needed).

        Raises
        ------
        Refused
            If any person's account exists already.
        """
        with self.transaction() as tx:
            count = tx.conn.execute(
                select(func.count()).select_from(_T["users"]).where(_T["users"].c.role != "system")
            ).scalar_one()
            if count:
                raise Refused("accounts exist already: an administrator must create users")
            self._new_user(
                tx, user_id, user_id, full_name, "admin", password, (), "first administrator"
            )
        return self.user(user_id)

    def create_user(
        self,
        session: UserSession,
        user_id: str,
        full_name: str,
        role: str,
        password: str,
        *,
        skills: tuple[str, ...] | list[str] = (),
        reason: str = "new account",
    ) -> User:
        """Create an account (administrators only); a user id is never reused.

        Parameters
        ----------
        full_name
            The printed name shown with the user's signatures.
        role
            ``operator``, ``supervisor``, ``qa``, ``qp`` or ``admin``.
        skills
            Site skill ids the person is qualified for.
        """
        self.authorize(session, Action.USER_MANAGE, subject=f"user:{user_id}")
        with self.transaction() as tx:
            self._new_user(
                tx, session.user_id, user_id, full_name, role, password, tuple(skills), reason
            )
        return self.user(user_id)

    def _change_user(
        self, session: UserSession, user_id: str, values: dict[str, Any], reason: str
    ) -> User:
        self.authorize(session, Action.USER_MANAGE, subject=f"user:{user_id}")
        if user_id == SYSTEM_USER:
            raise Refused("the system account cannot be changed")
        before = self.user(user_id)
        with self.transaction() as tx:
            tx.conn.execute(
                update(_T["users"]).where(_T["users"].c.user_id == user_id).values(**values)
            )
            for name, new in values.items():
                if name == "password_hash":
                    tx.append(
                        user_id=session.user_id,
                        kind="user.changed",
                        subject=f"user:{user_id}",
                        field="password",
                        old="(set)",
                        new="(reset)",
                        reason=reason,
                    )
                    continue
                old = getattr(before, name)
                tx.append(
                    user_id=session.user_id,
                    kind="user.changed",
                    subject=f"user:{user_id}",
                    field=name,
                    old=list(old) if isinstance(old, tuple) else old,
                    new=new,
                    reason=reason,
                )
        return self.user(user_id)

    def unlock_user(self, session: UserSession, user_id: str, reason: str) -> User:
        """Unlock a locked account and reset its failure count (administrators)."""
        return self._change_user(session, user_id, {"locked": False, "failed_attempts": 0}, reason)

    def deactivate_user(self, session: UserSession, user_id: str, reason: str) -> User:
        """Deactivate an account; it stays in the record and its id is never reused."""
        return self._change_user(session, user_id, {"active": False}, reason)

    def reset_password(
        self, session: UserSession, user_id: str, new_password: str, reason: str
    ) -> User:
        """Set a new password for an account (administrators)."""
        check_new_password(new_password, user_id)
        return self._change_user(
            session, user_id, {"password_hash": self.hasher.hash(new_password)}, reason
        )

    def user(self, user_id: str) -> User:
        """An account.

        Raises
        ------
        UnknownRecord
            If there is no such account.
        """
        with self.reading() as conn:
            row = conn.execute(select(_T["users"]).where(_T["users"].c.user_id == user_id)).first()
        if row is None:
            raise UnknownRecord(f"user {user_id} not found")
        return _user(row)

    def users(self) -> list[User]:
        """Every account, by id."""
        with self.reading() as conn:
            rows = conn.execute(select(_T["users"]).order_by(_T["users"].c.user_id)).all()
        return [_user(r) for r in rows]

    # -- signatures ----------------------------------------------------------------------

    def sign_in(
        self,
        tx: RecordTx,
        session: UserSession,
        *,
        record_type: str,
        record_id: str,
        meaning: str,
        batch_id: str | None = None,
    ) -> Signature:
        """Execute a signature inside a transaction, after :meth:`authenticate_signature`.

        The signature binds the printed name, the time, the meaning and the content hash
        of the record as it is in this transaction (21 CFR 11.50, 11.70).
        """
        if meaning not in MEANINGS:
            raise Refused(f"unknown signature meaning {meaning!r}: use one of {MEANINGS}")
        tx.flush()
        chash = content_hash(
            record_type, record_id, record_content(tx.conn, record_type, record_id)
        )
        signed_at = format_ts(self.now())
        seal = signature_hash(
            record_type=record_type,
            record_id=record_id,
            batch_id=batch_id,
            user_id=session.user_id,
            printed_name=session.full_name,
            meaning=meaning,
            signed_at=signed_at,
            content_hash=chash,
        )
        entry = tx.append(
            user_id=session.user_id,
            kind="signature",
            subject=f"{record_type}:{record_id}",
            field=meaning,
            new={
                "printed_name": session.full_name,
                "meaning": meaning,
                "signed_at": signed_at,
                "content_hash": chash,
                "signature_hash": seal,
            },
            batch_id=batch_id,
        )
        tx.flush()
        row: dict[str, Any] = {
            "batch_id": batch_id,
            "record_type": record_type,
            "record_id": record_id,
            "user_id": session.user_id,
            "printed_name": session.full_name,
            "meaning": meaning,
            "signed_at": signed_at,
            "content_hash": chash,
            "signature_hash": seal,
            "audit_seq": entry.seq,
        }
        result = tx.conn.execute(insert(_T["signatures"]).values(**row))
        session.signed = True
        pk = result.inserted_primary_key
        return Signature(id=int(pk[0]) if pk else 0, **row, valid=True)

    def signatures(
        self,
        *,
        batch_id: str | None = None,
        record_type: str | None = None,
        record_id: str | None = None,
    ) -> list[Signature]:
        """Signatures, each verified against its record as it is now (21 CFR 11.70)."""
        with self.reading() as conn:
            return signatures_for(
                conn, batch_id=batch_id, record_type=record_type, record_id=record_id
            )

    # -- comments and corrections --------------------------------------------------------

    def comment(
        self,
        session: UserSession,
        text: str,
        *,
        batch_id: str | None = None,
        subject: str | None = None,
    ) -> AuditEntry:
        """Add a comment to a batch record (or to another record by ``subject``)."""
        if not text.strip():
            raise Refused("a comment needs text")
        subject = subject or (f"batch:{batch_id}" if batch_id else f"user:{session.user_id}")
        self.authorize(session, Action.RECORD_COMMENT, subject=subject, batch_id=batch_id)
        with self.transaction() as tx:
            self._refuse_if_disposed(tx.conn, batch_id)
            return tx.append(
                user_id=session.user_id,
                kind="comment",
                subject=subject,
                new=text,
                batch_id=batch_id,
            )

    def latest_value(self, conn: Connection, subject: str, field_name: str) -> Any:
        """The newest recorded value of a data item, or ``None`` if there is none."""
        entries = [
            e
            for e in read_entries(conn, subject=subject)
            if e.field == field_name and e.kind in ("entry", "value", "correction")
        ]
        return entries[-1].new if entries else None

    def correct(
        self,
        session: UserSession,
        *,
        batch_id: str,
        subject: str,
        field: str,
        new: Any,
        reason: str,
    ) -> AuditEntry:
        """Correct a recorded value: a new entry with old and new value and the reason.

        Nothing is overwritten: the original stays in the trail (21 CFR 11.10(e)).
        Signatures over the record no longer verify afterwards and must be re-applied.

        Raises
        ------
        Refused
            If there is no value to correct, the reason is empty, or the batch is
            already reviewed or released.
        """
        self.authorize(session, Action.RECORD_CORRECT, subject=subject, batch_id=batch_id)
        if not reason.strip():
            raise Refused("a correction needs a reason")
        with self.transaction() as tx:
            self._refuse_if_disposed(tx.conn, batch_id)
            old = self.latest_value(tx.conn, subject, field)
            if old is None:
                raise Refused(f"nothing recorded for {subject} {field} to correct")
            return tx.append(
                user_id=session.user_id,
                kind="correction",
                subject=subject,
                field=field,
                old=old,
                new=new,
                reason=reason,
                batch_id=batch_id,
                data={"override": True},
            )

    def _refuse_if_disposed(self, conn: Connection, batch_id: str | None) -> None:
        if batch_id is None:
            return
        status = conn.execute(
            select(_T["batches"].c.status).where(_T["batches"].c.batch_id == batch_id)
        ).scalar()
        if status in ("reviewed", "released", "rejected"):
            raise Refused(f"batch {batch_id} is {status}: its record can no longer change")

    # -- deviations ----------------------------------------------------------------------

    def raise_in(
        self,
        tx: RecordTx,
        *,
        user_id: str,
        batch_id: str | None,
        step: str | None,
        kind: str,
        description: str,
        severity: str = "major",
    ) -> Deviation:
        """Raise a deviation inside a transaction (the engine's automatic deviations)."""
        devs = _T["deviations"]
        n = tx.conn.execute(select(func.count()).select_from(devs)).scalar_one() + 1
        deviation_id = f"DEV-{n:06d}"
        raised_at = self.now()
        tx.conn.execute(
            insert(devs).values(
                deviation_id=deviation_id,
                batch_id=batch_id,
                step=step,
                kind=kind,
                severity=severity,
                description=description,
                status="open",
                raised_at=raised_at,
                raised_by=user_id,
            )
        )
        tx.append(
            user_id=user_id,
            kind="deviation.raised",
            subject=f"deviation:{deviation_id}",
            field="status",
            new="open",
            data={"kind": kind, "severity": severity, "step": step, "description": description},
            batch_id=batch_id,
        )
        return Deviation(
            deviation_id, batch_id, step, kind, severity, description, "open", raised_at, user_id
        )

    def raise_deviation(
        self,
        session: UserSession,
        *,
        batch_id: str | None,
        description: str,
        step: str | None = None,
        kind: str = "other",
        severity: str = "major",
    ) -> Deviation:
        """Raise a deviation by hand (e.g. an observation during a step)."""
        self.authorize(session, Action.DEVIATION_RAISE, batch_id=batch_id)
        if not description.strip():
            raise Refused("a deviation needs a description")
        with self.transaction() as tx:
            return self.raise_in(
                tx,
                user_id=session.user_id,
                batch_id=batch_id,
                step=step,
                kind=kind,
                description=description,
                severity=severity,
            )

    def advance_deviation(
        self,
        session: UserSession,
        deviation_id: str,
        note: str,
        *,
        password: str,
        user_id: str | None = None,
    ) -> Deviation:
        """Move a deviation one step along open -> investigation -> capa -> closed, signed.

        Parameters
        ----------
        note
            The investigation scope, the root cause, or the CAPA and closure rationale
            (mandatory): the reason of the status change.
        password, user_id
            Signature components (:meth:`authenticate_signature`).
        """
        current = self.deviation(deviation_id)
        step = WORKFLOW.get(current.status)
        if step is None:
            raise Refused(f"deviation {deviation_id} is closed")
        self.authorize(
            session, step.action, subject=f"deviation:{deviation_id}", batch_id=current.batch_id
        )
        if not note.strip():
            raise Refused(f"moving to {step.to_status} needs the {step.note_label}")
        self.authenticate_signature(session, password, user_id)
        devs = _T["deviations"]
        with self.transaction() as tx:
            status: Any = tx.conn.execute(
                select(devs.c.status).where(devs.c.deviation_id == deviation_id)
            ).scalar_one()
            if status != current.status:
                raise Refused(f"deviation {deviation_id} changed meanwhile (now {status})")
            tx.conn.execute(
                update(devs)
                .where(devs.c.deviation_id == deviation_id)
                .values(status=step.to_status)
            )
            record_id = f"{deviation_id}/{step.to_status}"
            tx.append(
                user_id=session.user_id,
                kind="deviation.status",
                subject=f"deviation:{record_id}",
                field="status",
                old=current.status,
                new=step.to_status,
                reason=note,
                batch_id=current.batch_id,
            )
            self.sign_in(
                tx,
                session,
                record_type="deviation",
                record_id=record_id,
                meaning=step.meaning,
                batch_id=current.batch_id,
            )
        return self.deviation(deviation_id)

    def deviation(self, deviation_id: str) -> Deviation:
        """One deviation.

        Raises
        ------
        UnknownRecord
            If there is no such deviation.
        """
        devs = _T["deviations"]
        with self.reading() as conn:
            row = conn.execute(select(devs).where(devs.c.deviation_id == deviation_id)).first()
        if row is None:
            raise UnknownRecord(f"deviation {deviation_id} not found")
        return _deviation(row)

    def deviations(
        self, batch_id: str | None = None, *, open_only: bool = False
    ) -> list[Deviation]:
        """Deviations, oldest first, of one batch or all."""
        devs = _T["deviations"]
        stmt = select(devs).order_by(devs.c.deviation_id)
        if batch_id is not None:
            stmt = stmt.where(devs.c.batch_id == batch_id)
        if open_only:
            stmt = stmt.where(devs.c.status != "closed")
        with self.reading() as conn:
            return [_deviation(r) for r in conn.execute(stmt)]

    # -- lots and material movements -----------------------------------------------------

    def register_site_lots(self, site: Site) -> list[str]:
        """Make the lots of a site file known to the record (those not known yet).

        Returns
        -------
        list of str
            The lot ids added.
        """
        lots = _T["lots"]
        added = []
        with self.transaction() as tx:
            known: set[Any] = set(tx.conn.execute(select(lots.c.lot_id)).scalars())
            for lot in site.lots.values():
                if lot.id in known:
                    continue
                unit = lot.quantity.unit or site.materials[lot.material].unit
                self._insert_lot(
                    tx,
                    SYSTEM_USER,
                    LotInfo(
                        lot.id,
                        lot.material,
                        lot.quantity.value,
                        unit,
                        lot.status,
                        lot.expiry.isoformat() if lot.expiry else None,
                        None,
                        None,
                    ),
                    reason=f"from site {site.id}",
                )
                added.append(lot.id)
        return added

    def _insert_lot(self, tx: RecordTx, user_id: str, lot: LotInfo, *, reason: str) -> None:
        tx.conn.execute(
            insert(_T["lots"]).values(
                lot_id=lot.lot_id,
                material=lot.material,
                quantity=lot.quantity,
                unit=lot.unit,
                status=lot.status,
                expiry=lot.expiry,
                patient=lot.patient,
                batch_id=lot.batch_id,
            )
        )
        tx.append(
            user_id=user_id,
            kind="lot.registered",
            subject=f"lot:{lot.lot_id}",
            new={
                "material": lot.material,
                "quantity": lot.quantity,
                "unit": lot.unit,
                "status": lot.status,
                "expiry": lot.expiry,
                "patient": lot.patient,
            },
            reason=reason,
            batch_id=lot.batch_id,
        )

    def receive_lot(
        self,
        session: UserSession,
        lot_id: str,
        material: str,
        quantity: float,
        unit: str,
        *,
        patient: str | None = None,
        expiry: date | None = None,
    ) -> LotInfo:
        """Receive a lot into quarantine (e.g. a patient's apheresis with its patient id)."""
        self.authorize(session, Action.LOT_RECEIVE, subject=f"lot:{lot_id}")
        check_user_id(lot_id)  # the same character rules as ids
        if quantity <= 0:
            raise Refused("a lot needs a positive quantity")
        with self.transaction() as tx:
            if tx.conn.execute(
                select(_T["lots"].c.lot_id).where(_T["lots"].c.lot_id == lot_id)
            ).first():
                raise Refused(f"lot {lot_id} exists already")
            self._insert_lot(
                tx,
                session.user_id,
                LotInfo(
                    lot_id,
                    material,
                    float(quantity),
                    unit,
                    "quarantine",
                    expiry.isoformat() if expiry else None,
                    patient,
                    None,
                ),
                reason="received",
            )
        return self.lot(lot_id)

    def set_lot_status(
        self, session: UserSession, lot_id: str, status: str, reason: str
    ) -> LotInfo:
        """QA disposition of a lot (quarantine, released, rejected)."""
        self.authorize(session, Action.LOT_DISPOSITION, subject=f"lot:{lot_id}")
        if status not in _LOT_STATUSES:
            raise Refused(f"unknown lot status {status!r}")
        with self.transaction() as tx:
            self.lot_status_in(tx, session.user_id, lot_id, status, reason)
        return self.lot(lot_id)

    def lot_status_in(
        self,
        tx: RecordTx,
        user_id: str,
        lot_id: str,
        status: str,
        reason: str,
        batch_id: str | None = None,
    ) -> None:
        """Change a lot's status inside a transaction, audited."""
        lots = _T["lots"]
        old = tx.conn.execute(select(lots.c.status).where(lots.c.lot_id == lot_id)).scalar()
        if old is None:
            raise UnknownRecord(f"lot {lot_id} not found")
        if old == status:
            return
        tx.conn.execute(update(lots).where(lots.c.lot_id == lot_id).values(status=status))
        tx.append(
            user_id=user_id,
            kind="lot.status",
            subject=f"lot:{lot_id}",
            field="status",
            old=old,
            new=status,
            reason=reason,
            batch_id=batch_id,
        )

    def lot(self, lot_id: str) -> LotInfo:
        """A lot.

        Raises
        ------
        UnknownRecord
            If the lot is not known to the record.
        """
        with self.reading() as conn:
            row = conn.execute(select(_T["lots"]).where(_T["lots"].c.lot_id == lot_id)).first()
        if row is None:
            raise UnknownRecord(f"lot {lot_id} not found")
        return _lot(row)

    def lots(self, material: str | None = None) -> list[LotInfo]:
        """Lots, by expiry then id (first expiring first), optionally of one material."""
        lots = _T["lots"]
        stmt = select(lots).order_by(lots.c.expiry.is_(None), lots.c.expiry, lots.c.lot_id)
        if material is not None:
            stmt = stmt.where(lots.c.material == material)
        with self.reading() as conn:
            return [_lot(r) for r in conn.execute(stmt)]

    def consume_in(
        self,
        tx: RecordTx,
        *,
        user_id: str,
        batch_id: str,
        step: str,
        lot: LotInfo,
        quantity: float,
        unit: str,
        data: dict[str, Any] | None = None,
    ) -> AuditEntry:
        """Record a lot consumed by a batch step: genealogy edge, lot quantity, audit."""
        subject = f"step:{batch_id}/{step}"
        entry = tx.append(
            user_id=user_id,
            kind="material.consumed",
            subject=subject,
            field=lot.material,
            new={"lot": lot.lot_id, "quantity": quantity, "unit": unit},
            data=data or {},
            batch_id=batch_id,
        )
        tx.flush()
        tx.conn.execute(
            insert(_T["links"]).values(
                batch_id=batch_id,
                step=step,
                lot_id=lot.lot_id,
                material=lot.material,
                quantity=quantity,
                unit=unit,
                direction="consumed",
                audit_seq=entry.seq,
            )
        )
        lots = _T["lots"]
        current = tx.conn.execute(
            select(lots.c.quantity).where(lots.c.lot_id == lot.lot_id)
        ).scalar()
        if current is not None and unit == lot.unit:
            left = max(0.0, float(current) - quantity)
            tx.conn.execute(update(lots).where(lots.c.lot_id == lot.lot_id).values(quantity=left))
            tx.append(
                user_id=user_id,
                kind="lot.quantity",
                subject=f"lot:{lot.lot_id}",
                field="quantity",
                old=float(current),
                new=left,
                reason=f"consumed by batch {batch_id} step {step}",
                batch_id=batch_id,
            )
        return entry

    def produce_in(
        self,
        tx: RecordTx,
        *,
        user_id: str,
        batch_id: str,
        step: str,
        lot_id: str,
        material: str,
        quantity: float,
        unit: str,
        patient: str | None,
    ) -> AuditEntry:
        """Record a lot produced by a batch step: new lot (quarantine), genealogy edge."""
        self._insert_lot(
            tx,
            user_id,
            LotInfo(lot_id, material, quantity, unit, "quarantine", None, patient, batch_id),
            reason=f"produced by batch {batch_id} step {step}",
        )
        entry = tx.append(
            user_id=user_id,
            kind="material.produced",
            subject=f"step:{batch_id}/{step}",
            field=material,
            new={"lot": lot_id, "quantity": quantity, "unit": unit},
            batch_id=batch_id,
        )
        tx.flush()
        tx.conn.execute(
            insert(_T["links"]).values(
                batch_id=batch_id,
                step=step,
                lot_id=lot_id,
                material=material,
                quantity=quantity,
                unit=unit,
                direction="produced",
                audit_seq=entry.seq,
            )
        )
        return entry

    def trace(self, lot_id: str, direction: Direction = "forward") -> Genealogy:
        """The genealogy of a lot, forward or backward (see :func:`genealogy.trace`)."""
        with self.reading() as conn:
            known = conn.execute(
                select(_T["lots"].c.lot_id).where(_T["lots"].c.lot_id == lot_id)
            ).first()
            if known is None:
                raise UnknownRecord(f"lot {lot_id} not found")
            return trace(conn, lot_id, direction)

    # -- batches (read side) -------------------------------------------------------------

    def batch(self, batch_id: str) -> BatchInfo:
        """One batch.

        Raises
        ------
        UnknownRecord
            If there is no such batch.
        """
        with self.reading() as conn:
            row = conn.execute(
                select(_T["batches"]).where(_T["batches"].c.batch_id == batch_id)
            ).first()
        if row is None:
            raise UnknownRecord(f"batch {batch_id} not found")
        return _batch(row)

    def batches(self) -> list[BatchInfo]:
        """Every batch, newest first."""
        b = _T["batches"]
        with self.reading() as conn:
            rows = conn.execute(select(b).order_by(b.c.created_at.desc(), b.c.batch_id)).all()
        return [_batch(r) for r in rows]

    def steps(self, batch_id: str) -> list[StepInfo]:
        """The steps of a batch in execution order."""
        s = _T["steps"]
        with self.reading() as conn:
            rows = conn.execute(
                select(s).where(s.c.batch_id == batch_id).order_by(s.c.position)
            ).all()
        return [_step(r) for r in rows]

    def entries(
        self, batch_id: str | None = None, *, subject: str | None = None
    ) -> list[AuditEntry]:
        """Audit entries in chain order, of one batch and/or one subject."""
        with self.reading() as conn:
            return read_entries(conn, batch_id=batch_id, subject=subject)

    def batch_record(self, batch_id: str) -> BatchRecord:
        """The complete electronic batch record of one batch."""
        info = self.batch(batch_id)
        links = _T["links"]
        with self.reading() as conn:
            entries = read_entries(conn, batch_id=batch_id)
            sigs = signatures_for(conn, batch_id=batch_id)
            mats = [
                TraceEdge(r.lot_id, r.material, r.batch_id, r.step, r.quantity, r.unit, r.direction)
                for r in conn.execute(
                    select(links).where(links.c.batch_id == batch_id).order_by(links.c.id)
                )
            ]
        return BatchRecord(
            batch=info,
            steps=self.steps(batch_id),
            entries=entries,
            signatures=sigs,
            deviations=self.deviations(batch_id),
            materials=mats,
        )

    # -- review and release --------------------------------------------------------------

    def review_exceptions(self, batch_id: str) -> list[ReviewItem]:
        """The exceptions QA reviews for a batch (review by exception)."""
        record = self.batch_record(batch_id)
        return review_exceptions(record.entries, record.deviations, record.signatures)

    def _disposition_in(
        self, tx: RecordTx, session: UserSession, batch_id: str, old: str, new: str, reason: str
    ) -> None:
        tx.conn.execute(
            update(_T["batches"]).where(_T["batches"].c.batch_id == batch_id).values(status=new)
        )
        tx.append(
            user_id=session.user_id,
            kind="batch.disposition",
            subject=f"batch:{batch_id}",
            field="status",
            old=old,
            new=new,
            reason=reason,
            batch_id=batch_id,
        )

    def review(
        self,
        session: UserSession,
        batch_id: str,
        *,
        password: str,
        user_id: str | None = None,
        note: str = "reviewed by exception",
    ) -> Signature:
        """QA signs the review of a finished batch record (meaning *reviewed*)."""
        self.authorize(session, Action.REVIEW, subject=f"batch:{batch_id}", batch_id=batch_id)
        info = self.batch(batch_id)
        problems = review_blockers(info.state, info.status)
        if problems:
            raise Refused(f"batch {batch_id} cannot be reviewed: {'; '.join(problems)}")
        self.authenticate_signature(session, password, user_id)
        with self.transaction() as tx:
            sig = self.sign_in(
                tx,
                session,
                record_type="batch",
                record_id=batch_id,
                meaning="reviewed",
                batch_id=batch_id,
            )
            self._disposition_in(tx, session, batch_id, info.status, "reviewed", note)
        return sig

    def release(
        self,
        session: UserSession,
        batch_id: str,
        *,
        password: str,
        user_id: str | None = None,
    ) -> Signature:
        """The QP certifies the batch with a signature (meaning *released*).

        The lots the batch produced are released with it, inside the signed content.

        Raises
        ------
        Refused
            If the batch did not complete, is not reviewed, has an open deviation or an
            invalid signature (EU GMP Annex 11 §15).
        """
        self.authorize(session, Action.RELEASE, subject=f"batch:{batch_id}", batch_id=batch_id)
        info = self.batch(batch_id)
        problems = release_blockers(
            info.state, info.status, self.deviations(batch_id), self.signatures(batch_id=batch_id)
        )
        if problems:
            raise Refused(f"batch {batch_id} cannot be released: {'; '.join(problems)}")
        self.authenticate_signature(session, password, user_id)
        lots = _T["lots"]
        with self.transaction() as tx:
            produced: list[Any] = list(
                tx.conn.execute(
                    select(lots.c.lot_id).where(lots.c.batch_id == batch_id).order_by(lots.c.lot_id)
                )
                .scalars()
                .all()
            )
            for lot_id in produced:
                self.lot_status_in(
                    tx,
                    session.user_id,
                    lot_id,
                    "released",
                    f"batch {batch_id} released",
                    batch_id=batch_id,
                )
            sig = self.sign_in(
                tx,
                session,
                record_type="batch",
                record_id=batch_id,
                meaning="released",
                batch_id=batch_id,
            )
            self._disposition_in(tx, session, batch_id, info.status, "released", "QP release")
        return sig

    def reject(
        self,
        session: UserSession,
        batch_id: str,
        reason: str,
        *,
        password: str,
        user_id: str | None = None,
    ) -> Signature:
        """The QP rejects the batch (signed, meaning *approved* of the rejection)."""
        self.authorize(session, Action.RELEASE, subject=f"batch:{batch_id}", batch_id=batch_id)
        if not reason.strip():
            raise Refused("a rejection needs a reason")
        info = self.batch(batch_id)
        if info.status in ("released", "rejected"):
            raise Refused(f"batch {batch_id} is already {info.status}")
        self.authenticate_signature(session, password, user_id)
        lots = _T["lots"]
        with self.transaction() as tx:
            lot_id: Any
            for lot_id in (
                tx.conn.execute(select(lots.c.lot_id).where(lots.c.batch_id == batch_id))
                .scalars()
                .all()
            ):
                self.lot_status_in(tx, session.user_id, lot_id, "rejected", reason, batch_id)
            self._disposition_in(tx, session, batch_id, info.status, "rejected", reason)
            return self.sign_in(
                tx,
                session,
                record_type="batch",
                record_id=batch_id,
                meaning="approved",
                batch_id=batch_id,
            )

    # -- the audit trail -----------------------------------------------------------------

    def verify_audit(self, progress: Callable[[int], None] | None = None) -> ChainReport:
        """Verify the whole audit chain; the report names the first bad entry."""
        return verify_chain(self.engine, progress=progress)


def runner_identity() -> str:
    """``host:pid`` of this process, as recorded in an engine lease."""
    return f"{socket.gethostname()}:{os.getpid()}"
