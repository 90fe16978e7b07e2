"""Accounts and passwords: the two components of an electronic signature.

A signature is executed with two distinct components, the user id and a password
(21 CFR 11.200(a)(1)). Passwords are stored only as Argon2id hashes (argon2-cffi), or
scrypt hashes (:func:`hashlib.scrypt`) where argon2-cffi is not installed; both verify
in constant time. An account is locked after :data:`DEFAULT_MAX_FAILURES` consecutive
failed attempts and the lockout is written to the audit trail, which is how it is
reported to the security function (21 CFR 11.300(d); EU GMP Annex 11 §12.1). User ids
are never deleted and so never reused (21 CFR 11.100(a), 11.300(a)).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Final, Protocol

from phactory.records.errors import Refused

__all__ = [
    "DEFAULT_MAX_FAILURES",
    "MIN_PASSWORD_LENGTH",
    "SYSTEM_USER",
    "Argon2Hasher",
    "PasswordHasher",
    "ScryptHasher",
    "User",
    "check_new_password",
    "check_user_id",
    "default_hasher",
]

#: Consecutive failed logins or signings after which an account is locked.
DEFAULT_MAX_FAILURES: Final = 3
#: Shortest password accepted.
MIN_PASSWORD_LENGTH: Final = 8
#: The account the batch engine records its own (automatic) entries under; it cannot log in.
SYSTEM_USER: Final = "SYSTEM"

_USER_ID: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@\-]{0,99}$")


class PasswordHasher(Protocol):
    """Hashes and checks passwords; the stored text names its algorithm."""

    def hash(self, password: str) -> str:
        """The storable hash of ``password``."""
        ...

    def verify(self, stored: str, password: str) -> bool:
        """Whether ``password`` matches ``stored`` (constant time)."""
        ...


class ScryptHasher:
    """scrypt (RFC 7914) from the standard library, ``scrypt$n$r$p$salt$hash``.

    Parameters
    ----------
    n, r, p
        Cost parameters; the defaults (2**14, 8, 1) use 16 MiB and ~50 ms.
    """

    def __init__(self, n: int = 2**14, r: int = 8, p: int = 1) -> None:
        self.n, self.r, self.p = n, r, p

    def hash(self, password: str) -> str:
        """The storable hash of ``password``."""
        salt = secrets.token_bytes(16)
        key = hashlib.scrypt(
            password.encode(), salt=salt, n=self.n, r=self.r, p=self.p, maxmem=2**26
        )
        b64 = base64.b64encode
        return f"scrypt${self.n}${self.r}${self.p}${b64(salt).decode()}${b64(key).decode()}"

    def verify(self, stored: str, password: str) -> bool:
        """Whether ``password`` matches ``stored``."""
        try:
            _, n, r, p, salt, key = stored.split("$")
            expected = base64.b64decode(key)
            got = hashlib.scrypt(
                password.encode(),
                salt=base64.b64decode(salt),
                n=int(n),
                r=int(r),
                p=int(p),
                maxmem=2**26,
                dklen=len(expected),
            )
        except (ValueError, TypeError):
            return False
        return hmac.compare_digest(got, expected)


class Argon2Hasher:
    """Argon2id (RFC 9106) via argon2-cffi; checks scrypt hashes too.

    Parameters
    ----------
    time_cost, memory_cost, parallelism
        Argon2 cost parameters (memory in KiB); defaults are argon2-cffi's (RFC 9106
        low-memory profile). Tests may lower them.
    """

    def __init__(
        self, time_cost: int | None = None, memory_cost: int | None = None, parallelism: int = 1
    ) -> None:
        from argon2 import PasswordHasher as _Argon2

        defaults = _Argon2()
        self._impl = _Argon2(
            time_cost=defaults.time_cost if time_cost is None else time_cost,
            memory_cost=defaults.memory_cost if memory_cost is None else memory_cost,
            parallelism=parallelism,
        )

    def hash(self, password: str) -> str:
        """The storable hash of ``password``."""
        return self._impl.hash(password)

    def verify(self, stored: str, password: str) -> bool:
        """Whether ``password`` matches ``stored``."""
        if stored.startswith("scrypt$"):
            return ScryptHasher().verify(stored, password)
        from argon2.exceptions import InvalidHashError, VerificationError

        try:
            return bool(self._impl.verify(stored, password))
        except (VerificationError, InvalidHashError):
            return False


def default_hasher(*, fast: bool = False) -> PasswordHasher:
    """Argon2id if argon2-cffi is installed, else scrypt.

    Parameters
    ----------
    fast
        Cheap parameters, for tests only.
    """
    try:
        import argon2  # noqa: F401
    except ImportError:  # pragma: no cover - depends on the installation
        return ScryptHasher(n=2**10) if fast else ScryptHasher()
    return Argon2Hasher(time_cost=1, memory_cost=1024) if fast else Argon2Hasher()


def check_user_id(user_id: str) -> None:
    """Refuse user ids that are not 1-100 letters, digits, ``_ . @ -``."""
    if not _USER_ID.match(user_id):
        raise Refused(
            f"invalid user id {user_id!r}: use 1-100 letters, digits, '_', '.', '@' or '-'"
        )


def check_new_password(password: str, user_id: str) -> None:
    """Refuse passwords shorter than :data:`MIN_PASSWORD_LENGTH` or equal to the user id."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise Refused(f"a password needs at least {MIN_PASSWORD_LENGTH} characters")
    if password.strip().lower() == user_id.lower():
        raise Refused("the password must differ from the user id")


@dataclass(frozen=True, slots=True)
class User:
    """An account as the service shows it (never with its password hash).

    Attributes
    ----------
    user_id
        Unique, never reused.
    full_name
        The printed name shown with every signature (21 CFR 11.50(a)(1)).
    role
        ``operator``, ``supervisor``, ``qa``, ``qp``, ``admin`` (or ``system``).
    skills
        Qualifications (site skill ids) for manual steps (21 CFR 11.10(i)).
    active, locked, failed_attempts
        Account state.
    created_at
        When the account was created.
    """

    user_id: str
    full_name: str
    role: str
    skills: tuple[str, ...]
    active: bool
    locked: bool
    failed_attempts: int
    created_at: datetime
