"""Password hashes (Argon2id) and token digests (HMAC-SHA256 with the server secret).

Passwords are stored only as Argon2id hashes (argon2-cffi, RFC 9106 low-memory
parameters), made by the hasher the batch record uses too (:mod:`phactory.credentials`);
new passwords are checked by the shared :class:`~phactory.credentials.PasswordPolicy`
(:data:`PASSWORD_POLICY`). API tokens and session ids are random 256-bit secrets shown once; the
database keeps their HMAC-SHA256 under the server secret, so a copy of the database alone
neither reveals nor verifies them.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from functools import lru_cache
from typing import Final

from phactory.credentials import (
    MIN_PASSWORD_LENGTH,
    PasswordHasher,
    PasswordPolicy,
    default_hasher,
)

__all__ = [
    "MIN_PASSWORD_LENGTH",
    "PASSWORD_POLICY",
    "TOKEN_PREFIX",
    "hash_password",
    "new_password",
    "new_token",
    "token_digest",
    "verify_password",
]

#: What a new password of a workspace account must be (length, not the user name, not a
#: common password).
PASSWORD_POLICY: Final = PasswordPolicy(min_length=MIN_PASSWORD_LENGTH)
#: Every API token starts with this, so that leaked tokens are easy to search for.
TOKEN_PREFIX: Final = "phy_"


@lru_cache(maxsize=1)
def _hasher() -> PasswordHasher:
    return default_hasher()


def hash_password(password: str) -> str:
    """The Argon2id hash of ``password`` (the text names algorithm and parameters)."""
    return _hasher().hash(password)


def verify_password(stored: str, password: str) -> bool:
    """Whether ``password`` matches ``stored``; constant time, never raises."""
    return _hasher().verify(stored, password)


def new_password() -> str:
    """A random password of 20 URL-safe characters (about 120 bits)."""
    return secrets.token_urlsafe(15)


def new_token(prefix: str = TOKEN_PREFIX) -> str:
    """A random secret of 256 bits, with a recognisable prefix."""
    return prefix + secrets.token_urlsafe(32)


def token_digest(secret_key: str, token: str) -> str:
    """What the database keeps of ``token``: hex HMAC-SHA256 under ``secret_key``."""
    return hmac.new(secret_key.encode(), token.encode(), hashlib.sha256).hexdigest()
