"""Accounts and passwords: the two components of an electronic signature.

A signature is executed with two distinct components, the user id and a password
(21 CFR 11.200(a)(1)). Passwords follow the shared policy and are stored only as hashes
of the shared hashers (:mod:`phactory.credentials`: Argon2id, or scrypt where argon2-cffi
is not installed), verified in constant time. An account is locked after
:data:`DEFAULT_MAX_FAILURES` consecutive failed attempts until an administrator unlocks
it (:data:`LOCKOUT`) and the lockout is written to the audit trail, which is how it is
reported to the security function (21 CFR 11.300(d); EU GMP Annex 11 §12.1). User ids
are never deleted and so never reused (21 CFR 11.100(a), 11.300(a)).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from phactory.credentials import (
    MIN_PASSWORD_LENGTH,
    LockoutPolicy,
    PasswordHasher,
    PasswordPolicy,
    default_hasher,
)
from phactory.records.errors import Refused

__all__ = [
    "DEFAULT_MAX_FAILURES",
    "LOCKOUT",
    "MIN_PASSWORD_LENGTH",
    "PASSWORD_POLICY",
    "SYSTEM_USER",
    "PasswordHasher",
    "User",
    "check_new_password",
    "check_user_id",
    "default_hasher",
    "lockout_policy",
]

#: Consecutive failed logins or signings after which an account is locked.
DEFAULT_MAX_FAILURES: Final = 3
#: What a new password must be (the shared policy, :class:`phactory.credentials.PasswordPolicy`).
PASSWORD_POLICY: Final = PasswordPolicy()
#: The account that the batch engine records its own (automatic) entries under; it cannot
#: log in.
SYSTEM_USER: Final = "SYSTEM"

_USER_ID: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@\-]{0,99}$")


def lockout_policy(max_failures: int = DEFAULT_MAX_FAILURES) -> LockoutPolicy:
    """The records' lockout: ``max_failures`` failures lock until an administrator unlocks."""
    return LockoutPolicy(max_failures=max_failures, lock_s=None)


#: The records' lockout policy: three failures lock the account until unlocked.
LOCKOUT: Final = lockout_policy()


def check_user_id(user_id: str) -> None:
    """Refuse user ids that are not 1-100 letters, digits, ``_ . @ -``."""
    if not _USER_ID.match(user_id):
        raise Refused(
            f"invalid user id {user_id!r}: use 1-100 letters, digits, '_', '.', '@' or '-'"
        )


def check_new_password(password: str, user_id: str) -> None:
    """Refuse a password the shared policy refuses (too short or long, the user id, too
    common), saying why."""
    problem = PASSWORD_POLICY.problem(password, user_id)
    if problem is not None:
        raise Refused(problem)


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
    must_change_password
        An administrator reset the password: the user chooses a new one at next login.
    """

    user_id: str
    full_name: str
    role: str
    skills: tuple[str, ...]
    active: bool
    locked: bool
    failed_attempts: int
    created_at: datetime
    must_change_password: bool = False
