"""The credentials shared by the workspace and the batch record: policy, hashing, lockout."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from phactory.credentials import (
    COMMON_PASSWORDS,
    Argon2Hasher,
    Attempts,
    Lockout,
    LockoutPolicy,
    MemoryLockoutStore,
    PasswordPolicy,
    ScryptHasher,
    WeakPassword,
    default_hasher,
)
from phactory.errors import InvalidError

WEB = LockoutPolicy(max_failures=5, lock_s=30.0, max_lock_s=900.0, forget_s=86_400.0)
RECORDS = LockoutPolicy(max_failures=3, lock_s=None)


class Clock:
    def __init__(self) -> None:
        self.t = 1_000.0

    def __call__(self) -> float:
        return self.t


# -- password policy ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("password", "user", "why"),
    [
        ("short", "ada", "at least 8"),
        ("Ada.Lovelace", "ada.lovelace", "differ from the user name"),
        (" ada.lovelace ", "Ada.Lovelace", "differ from the user name"),
        ("Password123", "ada", "too common"),
        ("QWERTYUIOP", "ada", "too common"),
        ("zzzzzzzzzzzz", "ada", "repeated"),
        ("x" * 1001, "ada", "at most 1000"),
    ],
)
def test_the_policy_refuses_weak_passwords_saying_why(password: str, user: str, why: str) -> None:
    policy = PasswordPolicy()
    assert why in (policy.problem(password, user) or "")
    with pytest.raises(WeakPassword) as refused:
        policy.check(password, user)
    assert isinstance(refused.value, InvalidError)
    assert password.strip() not in str(refused.value)  # never shows the password


def test_the_policy_accepts_reasonable_passwords() -> None:
    policy = PasswordPolicy()
    for password in ("correct-horse-1", "admin-password-1", "Tr0ub4dor&3", "ünïcödé-pässwörd"):
        assert policy.check(password, "admin") == password


def test_the_deny_list_is_long_enough_passwords_only() -> None:
    assert all(len(p) >= 8 for p in COMMON_PASSWORDS)
    assert all(p == p.casefold() for p in COMMON_PASSWORDS)


# -- hashing ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "hasher",
    [Argon2Hasher(time_cost=1, memory_cost=1024), ScryptHasher(n=2**10)],
    ids=["argon2id", "scrypt"],
)
def test_hashes_verify_only_their_password(hasher: Argon2Hasher | ScryptHasher) -> None:
    stored = hasher.hash("s3cret-pass")
    assert "s3cret-pass" not in stored
    assert hasher.verify(stored, "s3cret-pass")
    assert not hasher.verify(stored, "s3cret-pasS")
    assert not hasher.verify("garbage", "s3cret-pass")
    assert hasher.hash("s3cret-pass") != stored  # salted


def test_argon2_also_verifies_older_scrypt_hashes() -> None:
    stored = ScryptHasher(n=2**10).hash("legacy-pass-1")
    assert Argon2Hasher(time_cost=1, memory_cost=1024).verify(stored, "legacy-pass-1")
    assert default_hasher(fast=True).verify(stored, "legacy-pass-1")


def test_records_uses_the_shared_hasher_and_lockout() -> None:
    from phactory import credentials
    from phactory.records import users

    for name in ("PasswordHasher", "default_hasher"):
        assert getattr(users, name) is getattr(credentials, name)
    assert users.LOCKOUT.lock_for(users.DEFAULT_MAX_FAILURES) == math.inf


def test_records_passwords_follow_the_shared_policy() -> None:
    from phactory.records.errors import Refused
    from phactory.records.users import check_new_password

    check_new_password("op1-pass-long", "op1")
    for weak in ("op1", "password1", "short"):
        with pytest.raises(Refused):
            check_new_password(weak, "op1")


# -- lockout -----------------------------------------------------------------------------


@given(st.integers(min_value=0, max_value=200), st.integers(min_value=0, max_value=200))
def test_the_lock_never_shrinks_with_more_failures(a: int, b: int) -> None:
    low, high = sorted((a, b))
    assert WEB.lock_for(low) <= WEB.lock_for(high) <= WEB.max_lock_s
    assert (WEB.lock_for(low) == 0.0) == (low < WEB.max_failures)
    assert RECORDS.lock_for(high) in (0.0, math.inf)


def test_web_back_off_doubles_up_to_the_cap() -> None:
    assert [WEB.lock_for(n) for n in range(4, 12)] == [
        0.0, 30.0, 60.0, 120.0, 240.0, 480.0, 900.0, 900.0,
    ]  # fmt: skip


def test_keys_lock_independently() -> None:
    clock = Clock()
    guard = Lockout(WEB, clock=clock)
    for _ in range(5):
        guard.failed("admin|203.0.113.9")
    assert guard.remaining("admin|203.0.113.9") == 30.0
    assert guard.remaining("admin|10.0.0.2") == 0.0
    clock.t += 31.0
    assert guard.remaining("admin|203.0.113.9") == 0.0
    assert guard.failed("admin|203.0.113.9").remaining(clock.t) == 60.0
    guard.succeeded("admin|203.0.113.9")
    assert guard.store.get("admin|203.0.113.9") == Attempts()


def test_failures_are_forgotten_after_a_quiet_time_but_not_a_lock_until_unlock() -> None:
    clock = Clock()
    web = Lockout(WEB, clock=clock)
    records = Lockout(RECORDS, clock=clock)
    for _ in range(4):
        web.failed("k")
    for _ in range(3):
        records.failed("k")
    assert records.remaining("k") == math.inf
    clock.t += 2 * 86_400.0
    assert web.failed("k").failures == 1  # the four old failures were forgotten
    assert records.remaining("k") == math.inf  # only an administrator ends this one
    assert records.unlock(["k"]) == 1
    assert records.remaining("k") == 0.0


def test_the_records_policy_is_three_strikes_until_unlocked() -> None:
    """How the batch record's accounts use the module with their own parameters: the
    state lives in their user table, the policy does the arithmetic."""
    state = Attempts()
    for expected in (0.0, 0.0, math.inf):
        state = RECORDS.after_failure(state, now=0.0)
        assert state.remaining(0.0) == expected
    assert state.failures == 3 and state.remaining(1e12) == math.inf


@settings(max_examples=50)
@given(st.lists(st.sampled_from(["a", "b", "c", "d"]), max_size=60))
def test_the_memory_store_is_bounded_and_counts_every_failure(keys: list[str]) -> None:
    store = MemoryLockoutStore(max_keys=3)
    guard = Lockout(
        LockoutPolicy(max_failures=100, lock_s=1.0, max_lock_s=1.0), store, clock=Clock()
    )
    for key in keys:
        guard.failed(key)
    kept = [k for k in "abcd" if store.get(k) != Attempts()]
    assert len(kept) <= 3
    for key in kept:  # a kept key counted every failure since it was (re)inserted
        assert 1 <= store.get(key).failures <= keys.count(key)


def test_a_policy_with_nonsense_parameters_is_refused() -> None:
    with pytest.raises(ValueError, match="max_failures"):
        LockoutPolicy(max_failures=0)
    with pytest.raises(ValueError, match="lock_s"):
        LockoutPolicy(lock_s=2000.0, max_lock_s=900.0)
