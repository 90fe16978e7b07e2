"""Credentials shared by Phactory's two account systems: password policy, hashing, lockout.

The web workspace (:mod:`phactory.app.services.accounts`) and the electronic batch record
(:mod:`phactory.records`) keep their own accounts, for different people and rules, but
check passwords, store them and slow down guessing with the objects of this module:

* :class:`PasswordPolicy`: what a new password must be. Following NIST SP 800-63B §5.1.1.2
  (memorised secrets): a minimum length, no composition rules, refused if it is the user
  name or a commonly used password (:data:`COMMON_PASSWORDS`, a small deny list).
* :class:`PasswordHasher` and its implementations: Argon2id (RFC 9106, argon2-cffi) by
  default, scrypt (RFC 7914, standard library) where argon2-cffi is missing; the stored
  text names its algorithm and parameters, and verification is constant time.
* :class:`LockoutPolicy` and :class:`Attempts`: failed attempts counted per key, locking
  the key after ``max_failures`` for a time that doubles with every further failure
  (exponential back-off, capped), or until an administrator unlocks it. The policy is
  pure arithmetic on an :class:`Attempts` value, so each account system keeps the state
  where it wants: :class:`Lockout` over a :class:`LockoutStore` (in memory by
  :class:`MemoryLockoutStore`; the web workspace stores it in its database so that the
  command line can unlock), or columns of its own user table (the batch record).

The web workspace counts failures per *account and client address*, so that someone who
guesses a password from one address slows down only themselves there and cannot lock
the account's owner out elsewhere. The batch record locks the account itself after three
failures until an administrator unlocks it (21 CFR 11.300(d)):
``LockoutPolicy(max_failures=3, lock_s=None)``.

This module imports nothing of Phactory but :mod:`phactory.errors`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import math
import secrets
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import Final, Protocol

from phactory.errors import InvalidError

__all__ = [
    "COMMON_PASSWORDS",
    "MIN_PASSWORD_LENGTH",
    "Argon2Hasher",
    "Attempts",
    "Lockout",
    "LockoutPolicy",
    "LockoutStore",
    "MemoryLockoutStore",
    "PasswordHasher",
    "PasswordPolicy",
    "ScryptHasher",
    "WeakPassword",
    "default_hasher",
]

#: Shortest password accepted by the default policy (NIST SP 800-63B: at least 8).
MIN_PASSWORD_LENGTH: Final = 8
#: Longest password accepted: hashing a megabyte of password is a denial of service.
MAX_PASSWORD_LENGTH: Final = 1000

#: Passwords refused whatever their length: the most common ones in published breach
#: corpora that are 8 characters or longer, and the obvious ones for this product.
#: Compared case-insensitively.
COMMON_PASSWORDS: Final = frozenset(
    {
        "password",
        "password1",
        "password12",
        "password123",
        "password!",
        "passw0rd",
        "p@ssw0rd",
        "p@ssword",
        "12345678",
        "123456789",
        "1234567890",
        "12345678910",
        "0123456789",
        "87654321",
        "11111111",
        "00000000",
        "88888888",
        "123123123",
        "qwertyui",
        "qwertyuiop",
        "qwerty123",
        "qwerty12",
        "1q2w3e4r",
        "1q2w3e4r5t",
        "1qaz2wsx",
        "zaq12wsx",
        "asdfghjkl",
        "asdfasdf",
        "iloveyou",
        "iloveyou1",
        "sunshine",
        "princess",
        "football",
        "baseball",
        "superman",
        "starwars",
        "whatever",
        "trustno1",
        "welcome1",
        "welcome123",
        "letmein1",
        "letmein123",
        "changeme",
        "changeme1",
        "changeme123",
        "administrator",
        "admin123",
        "admin1234",
        "adminadmin",
        "rootroot",
        "secret123",
        "computer",
        "internet",
        "abcd1234",
        "abc12345",
        "aa123456",
        "default1",
        "phactory",
        "phactory1",
        "phactory123",
        "operator",
        "operator1",
        "supervisor",
    }
)


class WeakPassword(InvalidError):
    """A new password the policy refuses; the message says why (never the password)."""


@dataclass(frozen=True, slots=True)
class PasswordPolicy:
    """What a new password must be (NIST SP 800-63B §5.1.1.2).

    Parameters
    ----------
    min_length, max_length
        Bounds of the length [characters].
    deny
        Passwords refused whatever else, compared case-insensitively.
    """

    min_length: int = MIN_PASSWORD_LENGTH
    max_length: int = MAX_PASSWORD_LENGTH
    deny: frozenset[str] = COMMON_PASSWORDS

    def problem(self, password: str, user_name: str = "") -> str | None:
        """Why ``password`` is refused for ``user_name``, or ``None`` if it is accepted."""
        if len(password) < self.min_length:
            return f"a password needs at least {self.min_length} characters"
        if len(password) > self.max_length:
            return f"a password has at most {self.max_length} characters"
        folded = password.strip().casefold()
        if user_name and folded == user_name.strip().casefold():
            return "the password must differ from the user name"
        if folded in self.deny:
            return "this password is too common: choose another one"
        if len(set(folded)) == 1:
            return "a password of one repeated character is too easy to guess"
        return None

    def check(self, password: str, user_name: str = "") -> str:
        """Return ``password`` if the policy accepts it.

        Raises
        ------
        WeakPassword
            Saying why it is refused.
        """
        reason = self.problem(password, user_name)
        if reason is not None:
            raise WeakPassword(reason)
        return password


# -- hashing ---------------------------------------------------------------------------


class PasswordHasher(Protocol):
    """Hashes and checks passwords; the stored text names its algorithm."""

    def hash(self, password: str) -> str:
        """The storable hash of ``password``."""
        ...

    def verify(self, stored: str, password: str) -> bool:
        """Whether ``password`` matches ``stored`` (constant time); never raises."""
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


# -- lockout ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Attempts:
    """What is known of the failed attempts on one key.

    Attributes
    ----------
    failures
        Failed attempts counted (since the last success, unlock or forgetting).
    last_failure
        When the last one happened [s, the clock of the :class:`Lockout`]; ``None`` if none.
    locked_until
        Until when the key is refused [s]; ``math.inf`` until an administrator unlocks
        it; ``None`` if it is not locked.
    """

    failures: int = 0
    last_failure: float | None = None
    locked_until: float | None = None

    def remaining(self, now: float) -> float:
        """Seconds the key stays locked after ``now`` (``0.0`` free, ``inf`` until unlocked)."""
        if self.locked_until is None or self.locked_until <= now:
            return 0.0
        return self.locked_until - now


@dataclass(frozen=True, slots=True)
class LockoutPolicy:
    """When failed attempts lock a key, and for how long.

    The ``max_failures``-th failure locks the key for ``lock_s``; every further failure
    (once the lock has run out, the next attempt may fail again) locks it for twice as
    long as the one before, up to ``max_lock_s``. A success or an unlock forgets the
    failures; so does ``forget_s`` without a failure.

    Parameters
    ----------
    max_failures
        Failures that lock the key (>= 1).
    lock_s
        First lock [s]; ``None`` locks until an administrator unlocks.
    max_lock_s
        Longest lock [s] of the back-off.
    forget_s
        Quiet time after which failures are forgotten [s]; ``None`` never.

    Examples
    --------
    The web workspace: five failures lock for 30 s, then 1, 2, 4... min, at most 15 min.

    >>> web = LockoutPolicy(max_failures=5, lock_s=30.0, max_lock_s=900.0)
    >>> [web.lock_for(n) for n in (4, 5, 6, 7, 20)]
    [0.0, 30.0, 60.0, 120.0, 900.0]

    The batch record: three failures lock until an administrator unlocks.

    >>> LockoutPolicy(max_failures=3, lock_s=None).lock_for(3)
    inf
    """

    max_failures: int = 5
    lock_s: float | None = 30.0
    max_lock_s: float = 15 * 60.0
    forget_s: float | None = 24 * 3600.0

    def __post_init__(self) -> None:
        if self.max_failures < 1:
            raise ValueError(f"max_failures must be at least 1, got {self.max_failures}")
        if self.lock_s is not None and not 0 < self.lock_s <= self.max_lock_s:
            raise ValueError(f"lock_s must be in (0, max_lock_s], got {self.lock_s}")

    def lock_for(self, failures: int) -> float:
        """How long ``failures`` counted failures lock a key [s]: ``0.0``, or ``inf``."""
        if failures < self.max_failures:
            return 0.0
        if self.lock_s is None:
            return math.inf
        doublings = min(failures - self.max_failures, 64)
        return min(self.lock_s * 2.0**doublings, self.max_lock_s)

    def fresh(self, attempts: Attempts, now: float) -> Attempts:
        """``attempts`` with failures forgotten after :attr:`forget_s` without one
        (a key locked until unlock is never forgotten)."""
        quiet = (
            self.forget_s is not None
            and attempts.last_failure is not None
            and now - attempts.last_failure > self.forget_s
            and attempts.remaining(now) == 0.0
            and attempts.locked_until != math.inf
        )
        return Attempts() if quiet else attempts

    def after_failure(self, attempts: Attempts, now: float) -> Attempts:
        """The state after one more failed attempt at ``now``."""
        before = self.fresh(attempts, now)
        failures = before.failures + 1
        lock = self.lock_for(failures)
        until = before.locked_until
        if lock > 0.0:
            until = math.inf if math.isinf(lock) else now + lock
        return replace(before, failures=failures, last_failure=now, locked_until=until)


class LockoutStore(Protocol):
    """Where a :class:`Lockout` keeps its :class:`Attempts`, one per key."""

    def get(self, key: str) -> Attempts:
        """The attempts of ``key`` (``Attempts()`` if none are kept)."""
        ...

    def update(self, key: str, change: Callable[[Attempts], Attempts]) -> Attempts:
        """Replace the attempts of ``key`` by ``change(attempts)`` atomically; return them."""
        ...

    def delete(self, keys: Iterable[str]) -> int:
        """Forget ``keys``; return how many were kept."""
        ...


class MemoryLockoutStore:
    """A :class:`LockoutStore` in memory, bounded (a flood of keys forgets the oldest).

    Parameters
    ----------
    max_keys
        Most keys kept.
    """

    def __init__(self, max_keys: int = 100_000) -> None:
        self._items: dict[str, Attempts] = {}
        self._lock = threading.Lock()
        self._max_keys = max_keys

    def get(self, key: str) -> Attempts:
        """The attempts of ``key``."""
        with self._lock:
            return self._items.get(key, Attempts())

    def update(self, key: str, change: Callable[[Attempts], Attempts]) -> Attempts:
        """Replace the attempts of ``key`` by ``change(attempts)``."""
        with self._lock:
            new = change(self._items.pop(key, Attempts()))
            if new != Attempts():
                if len(self._items) >= self._max_keys:  # dicts keep insertion order
                    del self._items[next(iter(self._items))]
                self._items[key] = new
            return new

    def delete(self, keys: Iterable[str]) -> int:
        """Forget ``keys``."""
        with self._lock:
            return sum(self._items.pop(k, None) is not None for k in list(keys))


class Lockout:
    """A :class:`LockoutPolicy` applied to keys kept in a :class:`LockoutStore`.

    Parameters
    ----------
    policy
        When to lock and for how long.
    store
        Where the attempts are kept; default in memory.
    clock
        Current time [s]; default :func:`time.time` (wall clock, so that a store in a
        database is read alike by every process).

    Examples
    --------
    >>> guard = Lockout(LockoutPolicy(max_failures=2, lock_s=60.0), clock=lambda: 0.0)
    >>> guard.failed("ada|10.0.0.1").remaining(0.0)
    0.0
    >>> guard.failed("ada|10.0.0.1").remaining(0.0)
    60.0
    >>> guard.remaining("ada|10.0.0.1"), guard.remaining("ada|10.0.0.2")
    (60.0, 0.0)
    """

    def __init__(
        self,
        policy: LockoutPolicy,
        store: LockoutStore | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.policy = policy
        self.store: LockoutStore = store if store is not None else MemoryLockoutStore()
        self._clock = clock

    def remaining(self, key: str) -> float:
        """Seconds ``key`` stays locked (``0.0`` if it may try now, ``inf`` until unlocked)."""
        now = self._clock()
        return self.policy.fresh(self.store.get(key), now).remaining(now)

    def failed(self, key: str) -> Attempts:
        """Count a failed attempt on ``key``; the new state says whether it is now locked."""
        now = self._clock()
        return self.store.update(key, lambda a: self.policy.after_failure(a, now))

    def succeeded(self, key: str) -> None:
        """Forget the failures of ``key`` after a successful attempt."""
        self.store.delete([key])

    def unlock(self, keys: Iterable[str]) -> int:
        """Forget the failures and locks of ``keys``; return how many there were."""
        return self.store.delete(keys)
