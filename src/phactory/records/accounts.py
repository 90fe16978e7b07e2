"""User accounts, logins and the components of a signing.

Accounts are created by administrators, never reused, deactivated not deleted (21 CFR
11.100(a), 11.300(a)). Logins and signings need user id and password (11.200(a)(1));
:data:`~phactory.records.users.DEFAULT_MAX_FAILURES` consecutive failures lock the
account until an administrator unlocks it (the shared
:class:`phactory.credentials.LockoutPolicy` with no time limit), and every failure and the
lockout are written to the audit trail, which is how they reach the security function
(11.300(d); EU GMP Annex 11 §12.1). A password reset by an administrator is a temporary
password: the user must choose a new one before logging in, and a changed password ends
the user's open sessions (11.300(b): only the individual knows the password).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, insert, select, update

from phactory.records.access import AccessControl
from phactory.records.audit import check_acting_account
from phactory.records.errors import (
    AccountLocked,
    AuthenticationFailed,
    PasswordChangeRequired,
    Refused,
    UnknownRecord,
)
from phactory.records.inputs import NAME_MAX, free_text, required_text
from phactory.records.roles import HUMAN_ROLES, Action
from phactory.records.rows import TABLES as _T
from phactory.records.rows import user_info as _user
from phactory.records.session import UserSession
from phactory.records.tx import RecordTx
from phactory.records.users import (
    DEFAULT_MAX_FAILURES,
    SYSTEM_USER,
    PasswordHasher,
    User,
    check_new_password,
    check_user_id,
    default_hasher,
    lockout_policy,
)

__all__ = ["Accounts"]


class Accounts:
    """Accounts of people, their logins and the password check of every signing.

    Parameters
    ----------
    access
        The record service's access control (sessions, transactions).
    hasher
        Password hasher; default Argon2id (:func:`phactory.credentials.default_hasher`).
    max_failures
        Consecutive failed logins or signings that lock an account until an
        administrator unlocks it (:func:`phactory.records.users.lockout_policy`).
    """

    def __init__(
        self,
        access: AccessControl,
        *,
        hasher: PasswordHasher | None = None,
        max_failures: int = DEFAULT_MAX_FAILURES,
    ) -> None:
        self.access = access
        self.hasher = hasher or default_hasher()
        self.max_failures = max_failures
        self.lockout = lockout_policy(max_failures)
        self._ensure_system_user()

    # -- logins --------------------------------------------------------------------------

    def login(
        self, user_id: str, password: str, *, acting_account: str | None = None
    ) -> UserSession:
        """Open a session with both components, user id and password.

        Parameters
        ----------
        acting_account
            The application account the person acts through (e.g. ``web:alice``):
            recorded with every audit entry written for the session.

        Raises
        ------
        AuthenticationFailed
            On an unknown user id or a wrong password (the failure is logged and counted).
        AccountLocked
            If the account is locked, or this failure locks it (the lockout is logged).
        PasswordChangeRequired
            If an administrator reset the password: choose a new one with
            :meth:`change_password` first.
        """
        check_acting_account(acting_account)
        row = self._authenticate(user_id, password, what="login", acting_account=acting_account)
        if row.must_change_password:
            raise PasswordChangeRequired(
                f"the password of {user_id} was reset by an administrator: choose a new one"
            )
        session = self.access.open_session(
            row.user_id,
            row.role,
            row.full_name,
            tuple(row.skills or ()),
            acting_account=acting_account,
        )
        with self.access.transaction(acting_account=acting_account) as tx:
            tx.append(user_id=row.user_id, kind="security.login", subject=f"user:{row.user_id}")
        return session

    def logout(self, session: UserSession) -> None:
        """End a session; the next signing needs both components again."""
        self.access.end_session(session)

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
        self.access.check_session(session)
        if not session.signed and user_id is None:
            raise AuthenticationFailed(
                "the first signing of a session needs both components: user id and password"
            )
        if user_id is not None and user_id != session.user_id:
            with self.access.transaction(acting_account=session.acting_account) as tx:
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
            self._authenticate(
                session.user_id, password, what="signature", acting_account=session.acting_account
            )
        except AccountLocked:
            self.access.end_session(session)
            raise

    def _authenticate(
        self, user_id: str, password: str, *, what: str, acting_account: str | None
    ) -> Any:
        """Check user id and password; count and log failures, lock after too many."""
        users = _T["users"]
        with self.access.reading() as view:
            row = view.conn.execute(select(users).where(users.c.user_id == user_id)).first()

        def failed(new: str) -> None:
            with self.access.transaction(acting_account=acting_account) as tx:
                tx.append(
                    user_id=user_id[:100] or "?",
                    kind="security.failed",
                    subject=f"user:{user_id[:90]}",
                    field=what,
                    new=new,
                )

        if row is None or row.role == "system":
            failed("unknown user id")
            raise AuthenticationFailed("unknown user id or wrong password")
        if row.locked:
            failed("account locked")
            raise AccountLocked(f"account {user_id} is locked: ask an administrator")
        if not row.active:
            raise AuthenticationFailed(f"account {user_id} is deactivated")
        if self.hasher.verify(row.password_hash, password):
            if row.failed_attempts:
                with self.access.transaction() as tx:
                    tx.conn.execute(
                        update(users).where(users.c.user_id == user_id).values(failed_attempts=0)
                    )
            return row
        failures = int(row.failed_attempts) + 1
        lock = self.lockout.lock_for(failures) > 0.0
        with self.access.transaction(acting_account=acting_account) as tx:
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

    # -- accounts ------------------------------------------------------------------------

    def _ensure_system_user(self) -> None:
        users = _T["users"]
        with self.access.reading() as view:
            if view.conn.execute(
                select(users.c.user_id).where(users.c.user_id == SYSTEM_USER)
            ).first():
                return
        with self.access.transaction() as tx:
            if tx.conn.execute(
                select(users.c.user_id).where(users.c.user_id == SYSTEM_USER)
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
                created_at=tx.now(),
                must_change_password=False,
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
        required_text(full_name, "printed name", "a user needs a printed name", NAME_MAX)
        free_text(reason, "reason")
        check_new_password(password, user_id)
        users = _T["users"]
        exists = tx.conn.execute(
            select(users.c.user_id).where(func.lower(users.c.user_id) == user_id.lower())
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
        users = _T["users"]
        with self.access.transaction() as tx:
            count = tx.conn.execute(
                select(func.count()).select_from(users).where(users.c.role != "system")
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
        self.access.authorize(session, Action.USER_MANAGE, subject=f"user:{user_id}")
        with self.access.transaction(acting_account=session.acting_account) as tx:
            self._new_user(
                tx, session.user_id, user_id, full_name, role, password, tuple(skills), reason
            )
        return self.user(user_id)

    def _change_user(
        self, session: UserSession, user_id: str, values: dict[str, Any], reason: str
    ) -> User:
        """Change an account (administrators), each field audited with the reason."""
        self.access.authorize(session, Action.USER_MANAGE, subject=f"user:{user_id}")
        if user_id == SYSTEM_USER:
            raise Refused("the system account cannot be changed")
        required_text(reason, "reason", f"a change of account {user_id} needs a reason")
        before = self.user(user_id)
        users = _T["users"]
        with self.access.transaction(acting_account=session.acting_account) as tx:
            tx.conn.execute(update(users).where(users.c.user_id == user_id).values(**values))
            for name, new in values.items():
                if name == "password_changed_at":
                    continue
                old_value: Any
                if name == "password_hash":
                    old_value, new_value, field = "(set)", "(reset)", "password"
                else:
                    old = getattr(before, name)
                    old_value = list(old) if isinstance(old, tuple) else old
                    new_value, field = new, name
                tx.append(
                    user_id=session.user_id,
                    kind="user.changed",
                    subject=f"user:{user_id}",
                    field=field,
                    old=old_value,
                    new=new_value,
                    reason=reason,
                )
        return self.user(user_id)

    def unlock_user(self, session: UserSession, user_id: str, reason: str) -> User:
        """Unlock a locked account and reset its failure count (administrators, audited)."""
        return self._change_user(session, user_id, {"locked": False, "failed_attempts": 0}, reason)

    def deactivate_user(self, session: UserSession, user_id: str, reason: str) -> User:
        """Deactivate an account; it stays in the record and its id is never reused."""
        user = self._change_user(session, user_id, {"active": False}, reason)
        self.access.end_sessions_of(user_id)
        return user

    def reset_password(
        self, session: UserSession, user_id: str, new_password: str, reason: str
    ) -> User:
        """Set a temporary password for an account (administrators, audited).

        The user must choose a new password at their next login
        (:meth:`change_password`); their open sessions end. The account is unlocked,
        its failure count reset.
        """
        check_new_password(new_password, user_id)
        user = self._change_user(
            session,
            user_id,
            {
                "password_hash": self.hasher.hash(new_password),
                "must_change_password": True,
                "password_changed_at": self.access.now(),
                "locked": False,
                "failed_attempts": 0,
            },
            reason,
        )
        self.access.end_sessions_of(user_id)
        return user

    def change_password(
        self,
        user_id: str,
        password: str,
        new_password: str,
        *,
        acting_account: str | None = None,
    ) -> User:
        """A user changes their own password with the current (or temporary) one.

        Their open sessions end (in every process: sessions opened before the change are
        refused).

        Raises
        ------
        AuthenticationFailed, AccountLocked
            If the current password is wrong (counted as for :meth:`login`).
        Refused
            If the new password is too short, equals the user id or the current one.
        """
        self._authenticate(user_id, password, what="password change", acting_account=acting_account)
        check_new_password(new_password, user_id)
        if new_password == password:
            raise Refused("the new password must differ from the current one")
        users = _T["users"]
        with self.access.transaction(acting_account=acting_account) as tx:
            tx.conn.execute(
                update(users)
                .where(users.c.user_id == user_id)
                .values(
                    password_hash=self.hasher.hash(new_password),
                    must_change_password=False,
                    password_changed_at=tx.now(),
                )
            )
            tx.append(
                user_id=user_id,
                kind="user.changed",
                subject=f"user:{user_id}",
                field="password",
                old="(set)",
                new="(changed by the user)",
                reason="password changed by its owner",
            )
        self.access.end_sessions_of(user_id)
        return self.user(user_id)

    def user(self, user_id: str) -> User:
        """An account.

        Raises
        ------
        UnknownRecord
            If there is no such account.
        """
        users = _T["users"]
        with self.access.reading() as view:
            row = view.conn.execute(select(users).where(users.c.user_id == user_id)).first()
        if row is None:
            raise UnknownRecord(f"user {user_id} not found")
        return _user(row)

    def users(self) -> list[User]:
        """Every account, by id."""
        users = _T["users"]
        with self.access.reading() as view:
            rows = view.conn.execute(select(users).order_by(users.c.user_id)).all()
        return [_user(r) for r in rows]
