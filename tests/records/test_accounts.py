"""Accounts (issue 12 item 4): unlock and password reset by an administrator, audited; a
reset forces a new password; a changed password ends sessions; the audit trail records
the account that acted as well as the signer. On SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from ebr_world import FILL, World, started_batch
from sqlalchemy import text

from phactory.records import (
    AccountLocked,
    AuthenticationFailed,
    PasswordChangeRequired,
    PermissionDenied,
    Refused,
)


def _lock(world: World, user_id: str) -> None:
    for _ in range(world.records.accounts.max_failures):
        with pytest.raises(AuthenticationFailed):
            world.records.accounts.login(user_id, "not-the-password")


def test_an_administrator_unlocks_an_account_audited(world: World) -> None:
    accounts = world.records.accounts
    _lock(world, "op1")
    assert accounts.user("op1").locked
    with pytest.raises(PermissionDenied):
        accounts.unlock_user(world["sup"], "op1", "I know him")
    with pytest.raises(Refused, match="needs a reason"):
        accounts.unlock_user(world["admin"], "op1", " ")
    accounts.unlock_user(world["admin"], "op1", "identity confirmed by phone")
    user = accounts.user("op1")
    assert (user.locked, user.failed_attempts) == (False, 0)
    changes = [
        (e.field, e.old, e.new, e.user_id, e.reason)
        for e in world.records.audit.entries(subject="user:op1")
        if e.kind == "user.changed"
    ]
    assert ("locked", True, False, "admin", "identity confirmed by phone") in changes
    assert ("failed_attempts", 3, 0, "admin", "identity confirmed by phone") in changes
    assert world.login("op1").user_id == "op1"


def test_a_password_reset_is_audited_and_forces_a_new_password(world: World) -> None:
    accounts = world.records.accounts
    old_session = world.login("op1")
    _lock(world, "op1")
    accounts.reset_password(world["admin"], "op1", "temporary-123", "forgotten password")
    assert accounts.user("op1").must_change_password and not accounts.user("op1").locked
    with pytest.raises(AuthenticationFailed, match="ended"):
        world.records.signing.comment(old_session, "still here?", batch_id=None)
    with pytest.raises(PasswordChangeRequired, match="choose a new one"):
        accounts.login("op1", "temporary-123")
    with pytest.raises(Refused, match="differ from the current"):
        accounts.change_password("op1", "temporary-123", "temporary-123")
    accounts.change_password("op1", "temporary-123", "my-own-secret-1")
    with pytest.raises(AuthenticationFailed):
        accounts.login("op1", "temporary-123")
    assert accounts.login("op1", "my-own-secret-1").user_id == "op1"
    trail = [
        (e.field, e.new, e.user_id)
        for e in world.records.audit.entries(subject="user:op1")
        if e.kind == "user.changed"
    ]
    assert ("password", "(reset)", "admin") in trail
    assert ("must_change_password", True, "admin") in trail
    assert ("password", "(changed by the user)", "op1") in trail
    assert all("temporary-123" not in (e.new_value or "") for e in world.records.audit.entries())


def test_a_password_change_ends_the_sessions_of_other_processes(world: World) -> None:
    from phactory.records import RecordService, default_hasher

    elsewhere = RecordService(world.url, hasher=default_hasher(fast=True))
    try:
        session = elsewhere.accounts.login("op2", world.password("op2"))
        world.records.accounts.change_password("op2", world.password("op2"), "op2-new-pass-9")
        with pytest.raises(AuthenticationFailed, match="password of op2 was changed"):
            elsewhere.signing.comment(session, "from the other server", batch_id=None)
    finally:
        elsewhere.close()


def test_the_acting_account_is_recorded_and_hashed_with_every_entry(world: World) -> None:
    records = world.records
    engine, batch_id = started_batch(world)
    web_op1 = records.accounts.login("op1", world.password("op1"), acting_account="web:olive")
    web_op2 = records.accounts.login("op2", world.password("op2"), acting_account="web:olive")
    engine.manual.check_equipment(web_op1, batch_id, FILL, "T1")
    engine.manual.scan_material(web_op1, batch_id, FILL, "W-001")
    engine.manual.enter(web_op1, batch_id, FILL, "temperature", 20.0)
    engine.signing.sign_step(
        web_op1, batch_id, FILL, "performed", password=world.password("op1"), user_id="op1"
    )
    engine.signing.sign_step(
        web_op2, batch_id, FILL, "verified", password=world.password("op2"), user_id="op2"
    )
    entries = records.audit.entries(subject=f"step:{batch_id}/{FILL}")
    by_people = [e for e in entries if e.user_id in ("op1", "op2")]
    assert {e.kind for e in by_people} >= {"check", "material.consumed", "entry", "signature"}
    assert {(e.user_id, e.acting_account) for e in by_people} == {
        ("op1", "web:olive"),
        ("op2", "web:olive"),
    }
    automatic = [e for e in entries if e.user_id == "SYSTEM"]
    assert automatic and all(e.acting_account is None for e in automatic)
    assert all(e.hash_version == 2 for e in entries)
    assert records.audit.verify().ok
    entry = next(e for e in by_people if e.kind == "entry")
    engine_db = records.access.engine
    with engine_db.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("ALTER TABLE ebr_audit DISABLE TRIGGER USER"))
        else:
            conn.execute(text("DROP TRIGGER ebr_audit_no_update"))
        conn.execute(
            text("UPDATE ebr_audit SET acting_account = 'web:mallory' WHERE seq = :s"),
            {"s": entry.seq},
        )
        if conn.dialect.name == "postgresql":
            conn.execute(text("ALTER TABLE ebr_audit ENABLE TRIGGER USER"))
    report = records.audit.verify()
    assert (report.ok, report.first_bad) == (False, entry.seq)


def test_an_acting_account_too_long_is_refused(world: World) -> None:
    with pytest.raises(Refused, match="acting_account is longer than 100"):
        world.records.accounts.login("op1", world.password("op1"), acting_account="w" * 101)


def test_a_locked_account_cannot_sign_until_unlocked(world: World) -> None:
    engine, batch_id = started_batch(world)
    op1 = world["op1"]
    engine.manual.check_equipment(op1, batch_id, FILL, "T1")
    engine.manual.scan_material(op1, batch_id, FILL, "W-001")
    engine.manual.enter(op1, batch_id, FILL, "temperature", 20.0)
    for _ in range(world.records.accounts.max_failures - 1):
        with pytest.raises(AuthenticationFailed):
            engine.signing.sign_step(op1, batch_id, FILL, "performed", password="x", user_id="op1")
    with pytest.raises(AccountLocked):
        engine.signing.sign_step(op1, batch_id, FILL, "performed", password="x", user_id="op1")
    with pytest.raises(AccountLocked):
        world.login("op1")
    world.records.accounts.unlock_user(world["admin"], "op1", "trained on signing")
    world.sessions.pop("op1")
    for who, meaning in (("op1", "performed"), ("op2", "verified")):
        engine.signing.sign_step(
            world[who], batch_id, FILL, meaning, password=world.password(who), user_id=who
        )
    assert engine.runner.run(batch_id, timeout_s=30).batch.state == "Complete"
