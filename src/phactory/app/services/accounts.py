"""Local accounts, passwords, API tokens and browser sessions.

Accounts are never deleted, only deactivated, so a name is never reused and the change
log always names a real account. Tokens and sessions are random secrets shown once; the
database keeps their HMAC digest (:mod:`phactory.app.security`).

Passwords follow the shared policy of :mod:`phactory.credentials` (length, not the user
name, not a common password). Failed logins lock the pair (account, client address)
with exponential back-off (:mod:`phactory.app.services.logins`), so that nobody can lock
an account's owner out from another address; an administrator ends every lock of an
account with :meth:`AccountService.unlock` (recorded in the change log). Changing a
password revokes every token and session of the account. The first ``admin``'s password
was set for it (printed on the console, or ``PHACTORY_ADMIN_PASSWORD``): it must be
changed before anything else (:attr:`UserInfo.must_change_password`).
"""

from __future__ import annotations

import logging
import math
import re
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final, Literal, cast

from sqlalchemy import CursorResult, func, select, update

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
    PASSWORD_POLICY,
    hash_password,
    new_password,
    new_token,
    token_digest,
    verify_password,
)
from phactory.app.services.changes import ChangeLog
from phactory.app.services.db import AppDatabase, now
from phactory.app.services.logins import (
    LOGIN_LOCKOUT,
    DatabaseLockoutStore,
    LockInfo,
    login_key,
)
from phactory.credentials import Lockout

__all__ = ["SYSTEM", "AccountService", "LockInfo", "TokenInfo", "UserInfo"]

#: The principal of changes the server makes by itself (first admin, example sites).
SYSTEM: Final = Principal("system", "admin", via="system")

_NAME: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@\-]{0,99}$")
#: How long a resolved token is trusted without asking the database again [s].
_CACHE_S: Final = 5.0
#: ``last_used_at`` is written at most this often per token [s].
_TOUCH_S: Final = 60.0
#: Pause after a failed password, to slow guessing [s].
_FAIL_DELAY_S: Final = 0.2
#: Failed logins of one account from one client address that lock that pair.
LOCKOUT_FAILURES: Final = LOGIN_LOCKOUT.max_failures

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
    must_change_password: bool = False


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
        must_change_password=bool(row.must_change_password),
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


def check_password(password: str, name: str = "") -> str:
    """Return ``password`` if the password policy accepts it for user ``name``, else
    raise :class:`Invalid` saying why (never showing the password)."""
    reason = PASSWORD_POLICY.problem(password or "", name)
    if reason is not None:
        raise Invalid(reason, [{"path": "password", "message": reason}])
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
    clock
        Seconds since the epoch, for the login lockout (tests move it).
    """

    def __init__(
        self,
        db: AppDatabase,
        changes: ChangeLog,
        secret: str,
        session_hours: float = 12.0,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._db = db
        self._changes = changes
        self._secret = secret
        self._session_hours = session_hours
        self._lock = threading.Lock()
        self._cache: dict[str, tuple[float, Principal, uuid.UUID]] = {}
        self._touched: dict[uuid.UUID, float] = {}
        # Failed logins per (account, client address), in the database so that every
        # server process and ``phactory user unlock`` see the same locks.
        self._logins = DatabaseLockoutStore(db, LOGIN_LOCKOUT, clock)
        self._guard = Lockout(LOGIN_LOCKOUT, self._logins, clock)

    # -- users -------------------------------------------------------------------------

    def count_users(self) -> int:
        """How many accounts exist (active or not)."""
        with self._db.session() as s:
            return int(s.scalar(select(func.count()).select_from(UserRow)) or 0)

    def create_user(
        self,
        actor: Principal,
        name: str,
        role: str,
        password: str | None = None,
        *,
        must_change_password: bool = False,
    ) -> tuple[UserInfo, str | None]:
        """Create an account (admins only).

        ``must_change_password`` makes its user change the password before anything else.

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
        check_password(password, name)
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
                must_change_password=must_change_password,
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
        current_password: str | None = None,
        client: str | None = None,
    ) -> UserInfo:
        """Change an account's role, active flag or password.

        Admins may change anything; others only their own password. The last active
        admin cannot be demoted or deactivated. Changing one's own password needs the
        current one (so that a stolen token or an unattended browser cannot take the
        account over); a wrong one counts as a failed login from ``client``. A new
        password revokes every API token and browser session of the account, ends its
        login locks, and (set by its user) ends :attr:`UserInfo.must_change_password`.
        """
        own = actor.name == name
        own_password_only = own and role is None and active is None
        if not own_password_only:
            require(actor, "admin", "changing users")
        checked_role = check_role(role) if role is not None else None
        digest = None
        if password is not None:
            check_password(password, name)
            if own:
                self._check_current(name, current_password, client)
            digest = hash_password(password)
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
                if own:
                    row.must_change_password = False
                ended = s.execute(
                    update(TokenRow)
                    .where(TokenRow.user_name == name, TokenRow.revoked_at.is_(None))
                    .values(revoked_at=now())
                )
                revoked = int(cast(CursorResult[Any], ended).rowcount or 0)
                if revoked:
                    changed.append(f"{revoked} token(s) and session(s) revoked")
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
            if digest is not None:  # a new password ends its lockouts
                self._guard.unlock(self._logins.keys_of(name))
        return info

    def require_password_change(
        self, actor: Principal, name: str, required: bool = True
    ) -> UserInfo:
        """Make ``name`` change its password before anything else, or not (admins)."""
        require(actor, "admin", "requiring password changes")
        with self._db.session(write=True) as s:
            row = s.get(UserRow, name, with_for_update=True)
            if row is None:
                raise Missing(f"user {name} not found")
            if bool(row.must_change_password) != required:
                row.must_change_password = required
                row.updated_at = now()
                self._changes.record(
                    actor.name,
                    "user.update",
                    "user",
                    name,
                    f"user {name}: "
                    + ("must change the password" if required else "password change no longer due"),
                    session=s,
                )
            info = _user(row)
        self._forget_user(name)
        return info

    def _check_current(self, name: str, current: str | None, client: str | None) -> None:
        """Refuse (403) an own password change without the right current password."""
        key = login_key(name, client)
        self._refuse_if_locked(name, key)
        with self._db.session() as s:
            row = s.get(UserRow, name)
            stored = row.password_hash if row is not None else None
        if stored is None or not current or not verify_password(stored, current):
            time.sleep(_FAIL_DELAY_S)
            self._failed(name, key, client)
            raise Forbidden("give your current password to set a new one (it did not match)")
        self._guard.succeeded(key)

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
            _, generated = self.create_user(
                SYSTEM, "admin", "admin", password, must_change_password=True
            )
        except Conflict:  # another process created it in between
            return None
        return generated

    # -- authentication ----------------------------------------------------------------

    def authenticate(self, name: str, password: str, client: str | None = None) -> Principal:
        """The principal for a name and password, tried from ``client`` (an address).

        After :data:`LOCKOUT_FAILURES` failed attempts on one name from one client
        address, that pair is locked for 30 s, and for twice as long after each further
        failure (at most 15 min; :data:`~phactory.app.services.logins.LOGIN_LOCKOUT`):
        even the right password is refused there, while the same name still logs in from
        other addresses. Each lock is logged and recorded in the change log. Names that
        exist and names that do not are treated alike.

        Raises
        ------
        LockedOut
            If the name is locked for this client.
        NotAuthenticated
            If the name or password is wrong or the account inactive.
        """
        if not _NAME.match(name or ""):  # cannot be an account: nothing to count
            time.sleep(_FAIL_DELAY_S)
            raise NotAuthenticated("wrong user name or password, or the account is inactive")
        key = login_key(name, client)
        self._refuse_if_locked(name, key)
        with self._db.session() as s:
            row = s.get(UserRow, name)
            stored = row.password_hash if row is not None else None
            active = row is not None and row.active
            role = row.role if row is not None else "viewer"
            must_change = bool(row.must_change_password) if row is not None else False
        if stored is None or not verify_password(stored, password) or not active:
            time.sleep(_FAIL_DELAY_S)
            self._failed(name, key, client)
            raise NotAuthenticated("wrong user name or password, or the account is inactive")
        self._guard.succeeded(key)
        return Principal(name, cast(Role, role), via="password", must_change_password=must_change)

    def _refuse_if_locked(self, name: str, key: str) -> None:
        remaining = self._guard.remaining(key)
        if remaining > 0:
            wait = (
                f"{math.ceil(remaining)} second(s)"
                if remaining < 120
                else f"{math.ceil(remaining / 60.0)} minute(s)"
            )
            raise LockedOut(
                f"too many failed logins for {name} from this address: try again in {wait}, "
                "or ask an administrator to unlock it",
                remaining,
            )

    def _failed(self, name: str, key: str, client: str | None) -> None:
        state = self._guard.failed(key)
        locked_s = state.remaining(state.last_failure or 0.0)
        if locked_s <= 0:
            return
        log.warning(
            "login locked for %r from %s for %.0f s after %d failed attempts",
            name,
            client or "an unknown address",
            locked_s,
            state.failures,
        )
        self._changes.record(
            SYSTEM.name,
            "user.lockout",
            "user",
            name,
            f"logins for {name} from {client or 'an unknown address'} locked for "
            f"{locked_s:.0f} s after {state.failures} failed attempts",
            detail={"client": client, "failures": state.failures, "locked_s": locked_s},
        )

    def unlock(self, actor: Principal, name: str) -> int:
        """End every login lock of ``name`` (admins); returns how many pairs were locked
        or counting failures. Recorded in the change log."""
        require(actor, "admin", "unlocking accounts")
        self.get_user(name)
        locked = self._logins.locks(name)
        ended = self._guard.unlock(self._logins.keys_of(name))
        addresses = ", ".join(sorted({lock.client for lock in locked})) or "none locked"
        self._changes.record(
            actor.name,
            "user.unlock",
            "user",
            name,
            f"ended the login locks of {name} ({addresses})",
            detail={"clients": sorted({lock.client for lock in locked}), "entries": ended},
        )
        return ended

    def locks(self, actor: Principal, name: str | None = None) -> list[LockInfo]:
        """The (account, client address) pairs locked now (admins)."""
        require(actor, "admin", "listing login locks")
        return self._logins.locks(name)

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

    def login(self, name: str, password: str, client: str | None = None) -> tuple[Principal, str]:
        """Check a password and open a browser session; returns the session secret."""
        principal = self.authenticate(name, password, client)
        _, secret = self.create_token(
            principal, name, "browser session", kind="session", hours=self._session_hours
        )
        return Principal(
            principal.name,
            principal.role,
            via="session",
            must_change_password=principal.must_change_password,
        ), secret

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
            principal = Principal(
                user.name,
                cast(Role, user.role),
                via=via,
                must_change_password=bool(user.must_change_password),
            )
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
        if hit[1].must_change_password:  # the routes refuse it: let them answer
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
