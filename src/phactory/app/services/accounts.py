"""Local accounts, passwords, API tokens and browser sessions.

Accounts are never deleted, only deactivated, so a name is never reused and the change
log always names a real account. Tokens and sessions are random secrets shown once; the
database keeps their HMAC digest (:mod:`phactory.app.security`).
"""

from __future__ import annotations

import logging
import math
import re
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final, Literal, cast

from sqlalchemy import func, select

from phactory.app.errors import (
    Conflict,
    Forbidden,
    Invalid,
    LockedOut,
    Missing,
    NotAuthenticated,
)
from phactory.app.principal import ROLES, Principal, Role, require
from phactory.app.schema import TokenRow, UserRow
from phactory.app.security import (
    MIN_PASSWORD_LENGTH,
    hash_password,
    new_password,
    new_token,
    token_digest,
    verify_password,
)
from phactory.app.services.changes import ChangeLog
from phactory.app.services.db import AppDatabase, now

__all__ = ["SYSTEM", "AccountService", "TokenInfo", "UserInfo"]

#: The principal of changes the server makes by itself (first admin, example sites).
SYSTEM: Final = Principal("system", "admin", via="system")

_NAME: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@\-]{0,99}$")
#: How long a resolved token is trusted without asking the database again [s].
_CACHE_S: Final = 5.0
#: ``last_used_at`` is written at most this often per token [s].
_TOUCH_S: Final = 60.0
#: Pause after a failed password, to slow guessing [s].
_FAIL_DELAY_S: Final = 0.2
#: Failed logins of one account within :data:`LOCKOUT_WINDOW_S` that lock it.
LOCKOUT_FAILURES: Final = 5
#: The window of failed logins counted, and how long a locked account stays locked [s].
LOCKOUT_WINDOW_S: Final = 15 * 60.0

log = logging.getLogger("phactory.app.accounts")

TokenKind = Literal["api", "session"]
#: How each kind of secret starts.
_PREFIXES: Final[dict[str, str]] = {"api": "phy_", "session": "phs_"}


def _aware(moment: datetime) -> datetime:
    """``moment`` as an aware datetime (SQLite gives naive UTC back)."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class UserInfo:
    """An account, without its password hash."""

    name: str
    role: Role
    active: bool
    created_at: datetime
    created_by: str
    updated_at: datetime | None
    preferences: dict[str, Any]


@dataclass(frozen=True, slots=True)
class TokenInfo:
    """An API token or session, without its secret."""

    id: uuid.UUID
    kind: TokenKind
    user_name: str
    label: str
    created_at: datetime
    created_by: str
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None


def _user(row: UserRow) -> UserInfo:
    return UserInfo(
        name=row.name,
        role=cast(Role, row.role),
        active=row.active,
        created_at=row.created_at,
        created_by=row.created_by,
        updated_at=row.updated_at,
        preferences=dict(row.preferences or {}),
    )


def _token(row: TokenRow) -> TokenInfo:
    return TokenInfo(
        id=row.id,
        kind=cast(TokenKind, row.kind),
        user_name=row.user_name,
        label=row.label,
        created_at=row.created_at,
        created_by=row.created_by,
        expires_at=row.expires_at,
        last_used_at=row.last_used_at,
        revoked_at=row.revoked_at,
    )


def check_name(name: str) -> str:
    """Return ``name`` if it is a valid user name, else raise :class:`Invalid`."""
    if not _NAME.match(name or ""):
        raise Invalid(
            "a user name is 1 to 100 letters, digits and . _ @ -, starting with a letter "
            f"or digit; got {name!r}",
            [{"path": "name", "message": "invalid user name"}],
        )
    return name


def check_password(password: str) -> str:
    """Return ``password`` if it is long enough, else raise :class:`Invalid`."""
    if len(password or "") < MIN_PASSWORD_LENGTH:
        raise Invalid(
            f"a password needs at least {MIN_PASSWORD_LENGTH} characters",
            [{"path": "password", "message": f"shorter than {MIN_PASSWORD_LENGTH} characters"}],
        )
    return password


def check_role(role: str) -> Role:
    """Return ``role`` if known, else raise :class:`Invalid`."""
    for known in ROLES:
        if role == known:
            return known
    raise Invalid(
        f"unknown role {role!r}; expected one of {', '.join(ROLES)}",
        [{"path": "role", "message": f"expected one of {', '.join(ROLES)}"}],
    )


class AccountService:
    """Accounts, authentication, tokens and sessions.

    Parameters
    ----------
    db
        The app tables.
    changes
        Where account changes are logged.
    secret
        Server secret for token digests.
    session_hours
        Lifetime of a browser session.
    """

    def __init__(
        self, db: AppDatabase, changes: ChangeLog, secret: str, session_hours: float = 12.0
    ) -> None:
        self._db = db
        self._changes = changes
        self._secret = secret
        self._session_hours = session_hours
        self._lock = threading.Lock()
        self._cache: dict[str, tuple[float, Principal, uuid.UUID]] = {}
        self._touched: dict[uuid.UUID, float] = {}
        # Failed logins per account name (times [s, monotonic]), and lock ends; kept in
        # memory: a restart forgives, which an attacker cannot cause from outside.
        self._failures: dict[str, list[float]] = {}
        self._locked: dict[str, float] = {}

    # -- users -------------------------------------------------------------------------

    def count_users(self) -> int:
        """How many accounts exist (active or not)."""
        with self._db.session() as s:
            return int(s.scalar(select(func.count()).select_from(UserRow)) or 0)

    def create_user(
        self, actor: Principal, name: str, role: str, password: str | None = None
    ) -> tuple[UserInfo, str | None]:
        """Create an account (admins only).

        Returns
        -------
        (UserInfo, str or None)
            The account, and the password if one was generated (shown once).
        """
        require(actor, "admin", "creating users")
        check_name(name)
        checked_role = check_role(role)
        generated = None
        if password is None:
            password = generated = new_password()
        check_password(password)
        digest = hash_password(password)
        with self._db.session(write=True) as s:
            if s.get(UserRow, name) is not None:
                raise Conflict(f"user {name} exists")
            row = UserRow(
                name=name,
                role=checked_role,
                password_hash=digest,
                active=True,
                preferences={},
                created_at=now(),
                created_by=actor.name,
                updated_at=None,
            )
            s.add(row)
            s.flush()
            info = _user(row)
            self._changes.record(
                actor.name,
                "user.create",
                "user",
                name,
                f"created user {name} ({checked_role})",
                session=s,
            )
        return info, generated

    def get_user(self, name: str) -> UserInfo:
        """One account; :class:`Missing` if there is none."""
        with self._db.session() as s:
            row = s.get(UserRow, name)
            if row is None:
                raise Missing(f"user {name} not found")
            return _user(row)

    def list_users(self, actor: Principal) -> list[UserInfo]:
        """Every account, by name (admins only)."""
        require(actor, "admin", "listing users")
        with self._db.session() as s:
            return [_user(r) for r in s.scalars(select(UserRow).order_by(UserRow.name))]

    def update_user(
        self,
        actor: Principal,
        name: str,
        *,
        role: str | None = None,
        active: bool | None = None,
        password: str | None = None,
    ) -> UserInfo:
        """Change an account's role, active flag or password.

        Admins may change anything; others only their own password. The last active
        admin cannot be demoted or deactivated.
        """
        own_password_only = actor.name == name and role is None and active is None
        if not own_password_only:
            require(actor, "admin", "changing users")
        checked_role = check_role(role) if role is not None else None
        digest = hash_password(check_password(password)) if password is not None else None
        changed: list[str] = []
        with self._db.session(write=True) as s:
            row = s.get(UserRow, name, with_for_update=True)
            if row is None:
                raise Missing(f"user {name} not found")
            losing_admin = (
                row.role == "admin"
                and row.active
                and ((checked_role is not None and checked_role != "admin") or active is False)
            )
            if losing_admin:
                admins = s.scalar(
                    select(func.count())
                    .select_from(UserRow)
                    .where(UserRow.role == "admin", UserRow.active.is_(True))
                )
                if int(admins or 0) <= 1:
                    raise Conflict(f"{name} is the last active admin; make another admin first")
            if checked_role is not None and checked_role != row.role:
                changed.append(f"role {row.role} -> {checked_role}")
                row.role = checked_role
            if active is not None and active != row.active:
                changed.append("activated" if active else "deactivated")
                row.active = active
            if digest is not None:
                changed.append("password changed")
                row.password_hash = digest
            if changed:
                row.updated_at = now()
                self._changes.record(
                    actor.name,
                    "user.update",
                    "user",
                    name,
                    f"user {name}: {', '.join(changed)}",
                    session=s,
                )
            info = _user(row)
        if changed:
            self._forget_user(name)
            if digest is not None:  # a new password ends a lockout
                with self._lock:
                    self._locked.pop(name, None)
                    self._failures.pop(name, None)
        return info

    def set_preferences(self, actor: Principal, values: dict[str, Any]) -> UserInfo:
        """Merge ``values`` into the actor's own preferences (selected site, run settings)."""
        with self._db.session(write=True) as s:
            row = s.get(UserRow, actor.name, with_for_update=True)
            if row is None:
                raise Missing(f"user {actor.name} not found")
            row.preferences = {**(row.preferences or {}), **values}
            return _user(row)

    def ensure_admin(self, password: str | None = None) -> str | None:
        """Create ``admin`` when there are no accounts yet.

        Returns
        -------
        str or None
            The generated password (to print once), or ``None`` if an account existed
            or ``password`` was given.
        """
        if self.count_users() > 0:
            return None
        try:
            _, generated = self.create_user(SYSTEM, "admin", "admin", password)
        except Conflict:  # another process created it in between
            return None
        return generated

    # -- authentication ----------------------------------------------------------------

    def authenticate(self, name: str, password: str) -> Principal:
        """The principal for a name and password.

        After :data:`LOCKOUT_FAILURES` failed attempts on one name within
        :data:`LOCKOUT_WINDOW_S`, the name is locked for that long (even the right
        password is refused), which is logged and recorded in the change log.

        Raises
        ------
        LockedOut
            If the name is locked.
        NotAuthenticated
            If the name or password is wrong or the account inactive.
        """
        self._check_lock(name, time.monotonic())
        with self._db.session() as s:
            row = s.get(UserRow, name) if name else None
            stored = row.password_hash if row is not None else None
            active = row is not None and row.active
            role = row.role if row is not None else "viewer"
        if stored is None or not verify_password(stored, password) or not active:
            time.sleep(_FAIL_DELAY_S)
            self._failed(name, time.monotonic())
            raise NotAuthenticated("wrong user name or password, or the account is inactive")
        with self._lock:
            self._failures.pop(name, None)
        return Principal(name, cast(Role, role), via="password")

    def _check_lock(self, name: str, t: float) -> None:
        with self._lock:
            until = self._locked.get(name)
            if until is not None and until <= t:
                del self._locked[name]
                until = None
        if until is not None:
            minutes = max(1, math.ceil((until - t) / 60.0))
            raise LockedOut(
                f"too many failed logins for {name}: try again in {minutes} minute(s), "
                "or ask an administrator to set a new password",
                until - t,
            )

    def _failed(self, name: str, t: float) -> None:
        with self._lock:
            if len(self._failures) > 10_000:  # a flood of made-up names: forget the oldest
                self._failures.clear()
            recent = [x for x in self._failures.get(name, []) if t - x < LOCKOUT_WINDOW_S]
            recent.append(t)
            self._failures[name] = recent
            locking = len(recent) >= LOCKOUT_FAILURES
            if locking:
                self._locked[name] = t + LOCKOUT_WINDOW_S
                del self._failures[name]
        if locking:
            log.warning(
                "login locked for %r for %.0f min after %d failed attempts",
                name,
                LOCKOUT_WINDOW_S / 60.0,
                LOCKOUT_FAILURES,
            )
            self._changes.record(
                SYSTEM.name,
                "user.lockout",
                "user",
                name[:200],
                f"logins for {name} locked for {LOCKOUT_WINDOW_S / 60.0:.0f} min after "
                f"{LOCKOUT_FAILURES} failed attempts",
            )

    def create_token(
        self,
        actor: Principal,
        user_name: str,
        label: str = "",
        *,
        kind: TokenKind = "api",
        hours: float | None = None,
    ) -> tuple[TokenInfo, str]:
        """Issue a token for ``user_name`` (admins for anyone, others for themselves).

        Returns
        -------
        (TokenInfo, str)
            The token's record and its secret, which is shown only now.
        """
        if actor.name != user_name:
            require(actor, "admin", "creating tokens for other users")
        secret = new_token(_PREFIXES[kind])
        created = now()
        with self._db.session(write=True) as s:
            user = s.get(UserRow, user_name)
            if user is None:
                raise Missing(f"user {user_name} not found")
            if not user.active:
                raise Forbidden(f"user {user_name} is inactive")
            row = TokenRow(
                id=uuid.uuid4(),
                kind=kind,
                user_name=user_name,
                digest=token_digest(self._secret, secret),
                label=label[:200],
                created_at=created,
                created_by=actor.name,
                expires_at=created + timedelta(hours=hours) if hours else None,
                last_used_at=None,
                revoked_at=None,
            )
            s.add(row)
            s.flush()
            info = _token(row)
            if kind == "api":
                self._changes.record(
                    actor.name,
                    "token.create",
                    "token",
                    str(info.id),
                    f"API token {label or info.id} for {user_name}",
                    session=s,
                )
            else:
                self._changes.record(
                    user_name, "user.login", "user", user_name, f"{user_name} logged in", session=s
                )
        return info, secret

    def login(self, name: str, password: str) -> tuple[Principal, str]:
        """Check a password and open a browser session; returns the session secret."""
        principal = self.authenticate(name, password)
        _, secret = self.create_token(
            principal, name, "browser session", kind="session", hours=self._session_hours
        )
        return Principal(principal.name, principal.role, via="session"), secret

    def resolve(self, secret: str, kind: TokenKind | None = None) -> Principal | None:
        """The principal a token or session secret stands for, or ``None``."""
        if not secret or len(secret) > 200:
            return None
        if kind is not None and not secret.startswith(_PREFIXES[kind]):
            return None
        digest = token_digest(self._secret, secret)
        t = time.monotonic()
        hit = self._cached(digest, t)
        if hit is not None:
            self._touch(hit[2], t)
            return hit[1]
        with self._db.session() as s:
            found = s.execute(
                select(TokenRow, UserRow)
                .join(UserRow, UserRow.name == TokenRow.user_name)
                .where(TokenRow.digest == digest)
            ).first()
            if found is None:
                return None
            token, user = found
            moment = now()
            if (
                token.revoked_at is not None
                or (token.expires_at is not None and token.expires_at <= moment)
                or not user.active
            ):
                return None
            via: Literal["token", "session"] = "session" if token.kind == "session" else "token"
            principal = Principal(user.name, cast(Role, user.role), via=via)
            token_id, expires = token.id, token.expires_at
        until = t + _CACHE_S
        if expires is not None:  # never trust a token past its expiry
            until = min(until, t + (_aware(expires) - moment).total_seconds())
        with self._lock:
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[digest] = (until, principal, token_id)
        self._touch(token_id, t)
        return principal

    def cached_principal(self, secret: str, kind: TokenKind) -> Principal | None:
        """The principal of ``secret`` if it was verified in the last few seconds, else
        ``None``; no database access, so that it can run on the event loop.

        Revoking a token, ending a session and changing or deactivating a user remove
        their entries at once; :meth:`resolve` checks the database again otherwise.
        """
        if not secret or len(secret) > 200 or not secret.startswith(_PREFIXES[kind]):
            return None
        hit = self._cached(token_digest(self._secret, secret), time.monotonic())
        if hit is None or hit[1].via != ("session" if kind == "session" else "token"):
            return None
        return hit[1]

    def _cached(self, digest: str, t: float) -> tuple[float, Principal, uuid.UUID] | None:
        with self._lock:
            hit = self._cache.get(digest)
        return hit if hit is not None and hit[0] > t else None

    def _touch(self, token_id: uuid.UUID, t: float) -> None:
        with self._lock:
            last = self._touched.get(token_id, -_TOUCH_S)
            if t - last < _TOUCH_S:
                return
            self._touched[token_id] = t
        with self._db.session(write=True, quiet=True) as s:
            row = s.get(TokenRow, token_id)
            if row is not None:
                row.last_used_at = now()

    def _forget_user(self, name: str) -> None:
        with self._lock:
            for key in [k for k, v in self._cache.items() if v[1].name == name]:
                del self._cache[key]

    def logout(self, secret: str) -> None:
        """End the browser session ``secret`` (nothing happens if it is unknown)."""
        digest = token_digest(self._secret, secret)
        with self._db.session(write=True) as s:
            row = s.scalar(select(TokenRow).where(TokenRow.digest == digest))
            if row is not None and row.revoked_at is None:
                row.revoked_at = now()
        with self._lock:
            self._cache.pop(digest, None)

    def list_tokens(self, actor: Principal, user_name: str | None = None) -> list[TokenInfo]:
        """API tokens of ``user_name`` (default the actor; others' for admins only)."""
        who = user_name or actor.name
        if who != actor.name:
            require(actor, "admin", "listing other users' tokens")
        stmt = (
            select(TokenRow)
            .where(TokenRow.user_name == who, TokenRow.kind == "api")
            .order_by(TokenRow.created_at)
        )
        with self._db.session() as s:
            return [_token(r) for r in s.scalars(stmt)]

    def revoke_token(self, actor: Principal, token_id: uuid.UUID | str) -> TokenInfo:
        """Revoke an API token (its owner or an admin)."""
        try:
            key = token_id if isinstance(token_id, uuid.UUID) else uuid.UUID(str(token_id))
        except ValueError:
            raise Missing(f"token {token_id} not found") from None
        with self._db.session(write=True) as s:
            row = s.get(TokenRow, key, with_for_update=True)
            if row is None or row.kind != "api":
                raise Missing(f"token {token_id} not found")
            if row.user_name != actor.name:
                require(actor, "admin", "revoking other users' tokens")
            if row.revoked_at is None:
                row.revoked_at = now()
            info = _token(row)
            self._changes.record(
                actor.name,
                "token.revoke",
                "token",
                str(key),
                f"revoked token of {info.user_name}",
                session=s,
            )
        with self._lock:
            self._cache = {k: v for k, v in self._cache.items() if v[2] != key}
        return info
