"""User accounts: created by administrators, never reused, deactivated not deleted (21 CFR
11.100(a), 11.300).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select, update

from phactory.records.access import AccessControl, RecordTx, UserSession
from phactory.records.errors import (
    Refused,
    UnknownRecord,
)
from phactory.records.roles import HUMAN_ROLES, Action
from phactory.records.rows import TABLES as _T
from phactory.records.rows import user_info as _user
from phactory.records.users import (
    SYSTEM_USER,
    User,
    check_new_password,
    check_user_id,
)

__all__ = ["Accounts"]


class Accounts(AccessControl):
    """Accounts of people, managed by administrators."""

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
