"""One test per 21 CFR Part 11 / EU GMP Annex 11 requirement, named after its clause.

Each runs on SQLite and on PostgreSQL (``world`` fixture).
"""

from __future__ import annotations

import itertools
import math
import xml.etree.ElementTree as ET

import pytest
from ebr_world import FILL, World, completed_batch, perform_fill, started_batch, tiny_site
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from phactory.batch import InvalidCommand
from phactory.records import (
    AccountLocked,
    AuthenticationFailed,
    PermissionDenied,
    Refused,
    UserSession,
    batch_record_batchml,
    batch_record_html,
)
from phactory.records.audit import AuditWriter

B2MML = "{http://www.mesa.org/xml/B2MML}"


def _tamper(world: World, sql: str, **params: object) -> None:
    """Change audit rows behind the application's back, with the guards out of the way."""
    engine = world.records.access.engine
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("ALTER TABLE ebr_audit DISABLE TRIGGER USER"))
            conn.execute(text(sql), params)
            conn.execute(text("ALTER TABLE ebr_audit ENABLE TRIGGER USER"))
        else:
            conn.execute(text("DROP TRIGGER ebr_audit_no_update"))
            conn.execute(text(sql), params)


def test_11_10_a_validation_altered_record_is_detected(world: World) -> None:
    _, batch_id = completed_batch(world)
    assert world.records.audit.verify().ok
    seq = world.records.audit.entries(batch_id)[5].seq
    _tamper(world, "UPDATE ebr_audit SET new_value = '99.0' WHERE seq = :s", s=seq)
    report = world.records.audit.verify()
    assert not report.ok
    assert report.first_bad == seq
    assert "altered" in report.describe()


def test_11_10_b_copies_in_human_readable_and_electronic_form(world: World) -> None:
    _, batch_id = completed_batch(world)
    record = world.records.batches.record(batch_id)
    page = batch_record_html(record)
    assert f"Electronic batch record {batch_id}" in page
    for entry in record.entries:
        assert f"<td>{entry.seq}</td>" in page
    root = ET.fromstring(batch_record_batchml(record))
    assert root.tag == f"{B2MML}BatchProductionRecord"
    assert root.findtext(f"{B2MML}BatchID") == batch_id
    events = root.findall(f"{B2MML}Events/{B2MML}Event")
    assert len(events) == len(record.entries)
    assert [e.findtext(f"{B2MML}Hash") for e in events] == [e.hash for e in record.entries]


def test_11_10_c_database_refuses_update_and_delete_of_audit_rows(world: World) -> None:
    completed_batch(world)
    engine = world.records.access.engine
    statements = [
        "UPDATE ebr_audit SET reason = 'rewritten' WHERE seq = 3",
        "DELETE FROM ebr_audit WHERE seq = 3",
        "UPDATE ebr_signatures SET meaning = 'approved'",
        "DELETE FROM ebr_signatures",
        "DELETE FROM ebr_lot_links",
        "DELETE FROM ebr_users WHERE user_id = 'op1'",
    ]
    if engine.dialect.name == "postgresql":
        statements.append("TRUNCATE ebr_audit")
    for statement in statements:
        with pytest.raises(DBAPIError, match="refused"), engine.begin() as conn:
            conn.execute(text(statement))
    assert world.records.audit.verify().ok


def test_11_10_d_access_limited_to_authorised_individuals(world: World) -> None:
    records = world.records
    with pytest.raises(AuthenticationFailed):
        records.accounts.login("op1", "not the password")
    with pytest.raises(AuthenticationFailed):
        records.accounts.login("nobody", "whatever-123")
    records.accounts.deactivate_user(world["admin"], "op2", "left the company")
    with pytest.raises(AuthenticationFailed, match="deactivated"):
        records.accounts.login("op2", world.password("op2"))
    forged = UserSession("qp", "qp", "Pat Qualified-Person", ())
    with pytest.raises(AuthenticationFailed, match="not a session of this service"):
        records.signing.comment(forged, "forged", batch_id=None)
    promoted = world.login("op1")
    promoted.role = "admin"  # changing the object grants nothing: the role is the account's
    with pytest.raises(PermissionDenied):
        records.accounts.create_user(promoted, "x9", "X", "operator", "password-x9")
    session = world.login("op1")
    records.access.session_timeout_s = 0.0
    with pytest.raises(AuthenticationFailed, match="timed out"):
        records.signing.comment(session, "too late", batch_id=None)


def test_11_10_e_audit_trail_records_old_and_new_value(world: World) -> None:
    engine, batch_id = started_batch(world)
    perform_fill(engine, world, batch_id, temperature=20.0)
    subject = f"step:{batch_id}/{FILL}"
    world.records.signing.correct(
        world["sup"],
        batch_id=batch_id,
        subject=subject,
        field="temperature",
        new=21.5,
        reason="transcription error: thermometer read 21.5",
    )
    entries = world.records.audit.entries(subject=subject)
    original = next(e for e in entries if e.kind == "entry" and e.field == "temperature")
    change = next(e for e in entries if e.kind == "correction")
    assert original.new == 20.0  # the original is kept
    assert (change.old, change.new) == (20.0, 21.5)
    assert change.user_id == "sup"
    assert change.reason.startswith("transcription error")
    assert change.time >= original.time
    assert world.records.audit.verify().ok


def test_11_10_e_reason_is_mandatory_for_every_change(world: World) -> None:
    engine, batch_id = started_batch(world)
    perform_fill(engine, world, batch_id)
    with pytest.raises(Refused, match="reason"):
        world.records.signing.correct(
            world["sup"],
            batch_id=batch_id,
            subject=f"step:{batch_id}/{FILL}",
            field="temperature",
            new=21.0,
            reason="  ",
        )
    with world.records.access.engine.begin() as conn:
        writer = AuditWriter(conn)
        with pytest.raises(Refused, match="reason"):
            writer.append(user_id="sup", kind="x", subject="s", field="f", old=1, new=2)


def test_11_10_f_sequence_of_steps_and_commands_enforced(world: World) -> None:
    engine, batch_id = started_batch(world)
    with pytest.raises(InvalidCommand, match="Running: command Restart refused"):
        engine.lifecycle.command(world["sup"], batch_id, "Restart")
    refused = [e for e in world.records.audit.entries(batch_id) if e.kind == "command.refused"]
    assert refused and refused[-1].new == "Restart" and refused[-1].user_id == "sup"
    with pytest.raises(Refused, match="not done"):
        engine.signing.sign_step(
            world["op1"], batch_id, FILL, "performed", password=world.password("op1"), user_id="op1"
        )
    engine.manual.check_equipment(world["op1"], batch_id, FILL, "T1")
    engine.manual.scan_material(world["op1"], batch_id, FILL, "W-001")
    engine.manual.enter(world["op1"], batch_id, FILL, "temperature", 20.0)
    with pytest.raises(Refused, match="performed before it is verified"):
        engine.signing.sign_step(
            world["op2"], batch_id, FILL, "verified", password=world.password("op2"), user_id="op2"
        )
    with pytest.raises(Refused, match="automatic"):
        engine.manual.enter(world["op1"], batch_id, "mix/main/stir", "temperature", 1.0)


def test_11_10_g_authority_checks_follow_the_role_matrix(world: World) -> None:
    _, batch_id = completed_batch(world)
    records = world.records
    with pytest.raises(PermissionDenied, match="op1 \\(operator\\) may not release"):
        records.disposition.release(
            world["op1"], batch_id, password=world.password("op1"), user_id="op1"
        )
    with pytest.raises(PermissionDenied):
        records.disposition.review(
            world["qp"], batch_id, password=world.password("qp"), user_id="qp"
        )
    with pytest.raises(PermissionDenied):
        records.accounts.create_user(world["sup"], "x1", "X", "operator", "password-x1")
    denied = [e for e in records.audit.entries(batch_id) if e.kind == "security.denied"]
    assert {e.user_id for e in denied} == {"op1", "qp"}


def test_11_10_h_device_checks_of_unit_and_lot(world: World) -> None:
    engine, batch_id = started_batch(world)
    assert engine.manual.check_equipment(world["op1"], batch_id, FILL, "T2") is False
    with pytest.raises(Refused, match="not known"):
        engine.manual.scan_material(world["op1"], batch_id, FILL, "NO-SUCH-LOT")
    with pytest.raises(Refused, match="quarantine, not released"):
        engine.manual.scan_material(world["op1"], batch_id, FILL, "W-Q01")
    devs = world.records.deviations.find(batch_id)
    assert [(d.kind, d.step) for d in devs] == [("failed_check", FILL)]
    assert "scanned unit T2, allocated T1" in devs[0].description
    refused = [e for e in world.records.audit.entries(batch_id) if e.kind == "scan.refused"]
    assert len(refused) == 2


def test_11_10_i_only_qualified_people_perform_steps(world: World) -> None:
    engine, batch_id = started_batch(world)
    world.records.accounts.create_user(
        world["admin"], "op3", "Una Trained", "operator", "op3-pass-1"
    )
    untrained = world.records.accounts.login("op3", "op3-pass-1")
    with pytest.raises(Refused, match="not qualified"):
        engine.manual.check_equipment(untrained, batch_id, FILL, "T1")


def test_11_50_signature_manifestation_shows_name_time_and_meaning(world: World) -> None:
    _, batch_id = completed_batch(world)
    record = world.records.batches.record(batch_id)
    page = batch_record_html(record)
    assert len(record.signatures) == 2
    for sig in record.signatures:
        assert sig.printed_name in ("Olive Operator", "Otto Operator")
        when = sig.signed_at.replace("T", " ")[:19]
        assert f"<b>{sig.printed_name}</b> ({sig.user_id})" in page
        assert when in page
        assert f"meaning: <b>{sig.meaning}</b>" in page
        assert (
            sig.manifestation() == f"{sig.printed_name} ({sig.user_id}), {sig.meaning}, {when} UTC"
        )
    assert {s.meaning for s in record.signatures} == {"performed", "verified"}


def test_11_70_signature_linking_edit_after_signing_invalidates(world: World) -> None:
    engine, batch_id = started_batch(world)
    perform_fill(engine, world, batch_id, verify=False)
    assert all(s.valid for s in world.records.signing.signatures(batch_id=batch_id))
    world.records.signing.correct(
        world["sup"],
        batch_id=batch_id,
        subject=f"step:{batch_id}/{FILL}",
        field="temperature",
        new=22.0,
        reason="re-read the probe",
    )
    sig = world.records.signing.signatures(batch_id=batch_id)[0]
    assert not sig.valid and "changed after it was signed" in (sig.problem or "")
    assert "signature performed" in engine.manual.work_instruction(batch_id, FILL).missing


def test_11_70_signature_linking_copy_onto_another_record_fails(world: World) -> None:
    engine, batch_id = started_batch(world)
    perform_fill(engine, world, batch_id)
    engine_db = world.records.access.engine
    with engine_db.begin() as conn:  # copy the performer's signature onto another step
        conn.execute(
            text(
                "INSERT INTO ebr_signatures (batch_id, record_type, record_id, user_id, "
                "printed_name, meaning, signed_at, content_hash, signature_hash, audit_seq) "
                "SELECT batch_id, record_type, :other, user_id, printed_name, meaning, "
                "signed_at, content_hash, signature_hash, audit_seq FROM ebr_signatures "
                "WHERE meaning = 'performed'"
            ),
            {"other": f"{batch_id}/mix/main/stir"},
        )
    copied = world.records.signing.signatures(
        record_type="step", record_id=f"{batch_id}/mix/main/stir"
    )
    assert len(copied) == 1 and not copied[0].valid
    assert "altered or copied" in (copied[0].problem or "")


def test_11_100_a_user_ids_are_unique_and_never_reused(world: World) -> None:
    records = world.records
    with pytest.raises(Refused, match="never reused"):
        records.accounts.create_user(world["admin"], "op1", "Other Olive", "operator", "password-9")
    records.accounts.deactivate_user(world["admin"], "op2", "left")
    with pytest.raises(Refused, match="never reused"):
        records.accounts.create_user(world["admin"], "OP2", "New Otto", "operator", "password-9")
    with pytest.raises(DBAPIError, match="refused"), records.access.engine.begin() as conn:
        conn.execute(text("DELETE FROM ebr_users WHERE user_id = 'op2'"))


def test_11_200_a_1_two_components_first_signing_needs_both(world: World) -> None:
    engine, batch_id = started_batch(world)
    op1 = world.login("op1")
    engine.manual.check_equipment(op1, batch_id, FILL, "T1")
    engine.manual.scan_material(op1, batch_id, FILL, "W-001")
    engine.manual.enter(op1, batch_id, FILL, "temperature", 20.0)
    with pytest.raises(AuthenticationFailed, match="both components"):
        engine.signing.sign_step(op1, batch_id, FILL, "performed", password=world.password("op1"))
    with pytest.raises(AuthenticationFailed, match="does not match"):
        engine.signing.sign_step(
            op1, batch_id, FILL, "performed", password=world.password("op1"), user_id="op2"
        )
    engine.signing.sign_step(
        op1, batch_id, FILL, "performed", password=world.password("op1"), user_id="op1"
    )
    assert op1.signed
    world.records.signing.comment(op1, "second signing of the session follows", batch_id=batch_id)
    other = world.login("op2")
    other.signed = True  # a later signing of a session: password only
    engine.signing.sign_step(other, batch_id, FILL, "verified", password=world.password("op2"))
    with pytest.raises(AuthenticationFailed):
        world.records.accounts.authenticate_signature(world["qa"], "wrong", "qa")


def test_11_300_d_lockout_after_repeated_failures_is_reported(world: World) -> None:
    records = world.records
    for _ in range(records.accounts.max_failures - 1):
        with pytest.raises(AuthenticationFailed):
            records.accounts.login("op1", "guess-123")
    with pytest.raises(AccountLocked, match="locked after 3 failed attempts"):
        records.accounts.login("op1", "guess-123")
    with pytest.raises(AccountLocked):
        records.accounts.login("op1", world.password("op1"))  # even the right password
    assert records.accounts.user("op1").locked
    lockout = [e for e in records.audit.entries(subject="user:op1") if e.kind == "security.lockout"]
    assert len(lockout) == 1 and (lockout[0].old, lockout[0].new) == (False, True)
    records.accounts.unlock_user(world["admin"], "op1", "identity confirmed by phone")
    assert world.login("op1").user_id == "op1"


def test_annex11_5_built_in_checks_flag_out_of_limit_entries(world: World) -> None:
    engine, batch_id = started_batch(world)
    with pytest.raises(Refused, match="takes a number"):
        engine.manual.enter(world["op1"], batch_id, FILL, "temperature", "warm")  # type: ignore[arg-type]
    perform_fill(engine, world, batch_id, temperature=31.0)
    entry = next(e for e in world.records.audit.entries(batch_id) if e.kind == "entry")
    assert entry.details["out_of_limit"] is True
    devs = world.records.deviations.find(batch_id)
    assert [(d.kind, d.step, d.severity) for d in devs] == [("out_of_limit", FILL, "critical")]


def test_annex11_6_critical_data_verified_by_a_second_person(world: World) -> None:
    engine, batch_id = started_batch(world)
    perform_fill(engine, world, batch_id, verify=False)
    with pytest.raises(Refused, match="different person"):
        engine.signing.sign_step(
            world["op1"], batch_id, FILL, "verified", password=world.password("op1")
        )
    assert engine.manual.work_instruction(batch_id, FILL).missing == ["signature verified"]
    assert engine.runner.run(batch_id).waiting_for is not None
    engine.signing.sign_step(
        world["op2"], batch_id, FILL, "verified", password=world.password("op2"), user_id="op2"
    )
    assert engine.runner.run(batch_id, timeout_s=30).batch.state == "Complete"


def test_annex11_8_2_printout_shows_changes_and_broken_signatures(world: World) -> None:
    engine, batch_id = started_batch(world)
    perform_fill(engine, world, batch_id)
    world.records.signing.correct(
        world["sup"],
        batch_id=batch_id,
        subject=f"step:{batch_id}/{FILL}",
        field="temperature",
        new=19.0,
        reason="probe recalibrated",
    )
    page = batch_record_html(world.records.batches.record(batch_id))
    assert "probe recalibrated" in page and "<td>20.0</td><td>19.0</td>" in page
    assert "<b>INVALID: the record changed after it was signed: sign it again</b>" in page


def test_annex11_9_audit_trail_of_gmp_changes_is_complete_and_chained(world: World) -> None:
    _, batch_id = completed_batch(world)
    entries = world.records.audit.entries(batch_id)
    kinds = {e.kind for e in entries}
    assert {
        "batch.created",
        "batch.state",
        "phase.state",
        "equipment",
        "entry",
        "material.consumed",
        "value",
        "check",
        "signature",
    } <= kinds
    for e in entries:
        assert e.user_id and e.ts
        if e.old_value is not None:
            assert e.reason.strip(), e
    all_entries = world.records.audit.entries()
    assert [e.seq for e in all_entries] == list(range(1, len(all_entries) + 1))
    assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(all_entries))
    assert world.records.audit.verify().entries == len(all_entries)


def test_annex11_12_security_admin_cannot_edit_records(world: World) -> None:
    engine, batch_id = started_batch(world)
    admin = world["admin"]
    subject = f"step:{batch_id}/{FILL}"
    with pytest.raises(PermissionDenied):
        engine.manual.enter(admin, batch_id, FILL, "temperature", 20.0)
    with pytest.raises(PermissionDenied):
        world.records.signing.correct(
            admin,
            batch_id=batch_id,
            subject=subject,
            field="temperature",
            new=1.0,
            reason="admin edit",
        )
    with pytest.raises(PermissionDenied):
        world.records.signing.comment(admin, "note", batch_id=batch_id)
    with pytest.raises(PermissionDenied):
        engine.lifecycle.command(admin, batch_id, "Hold")
    assert not hasattr(world.records, "update_audit") and not hasattr(world.records, "delete")


def test_annex11_13_deviations_follow_a_signed_workflow(world: World) -> None:
    engine, batch_id = started_batch(world)
    perform_fill(engine, world, batch_id, temperature=30.0)
    dev = world.records.deviations.find(batch_id)[0]
    qa, sup = world["qa"], world["sup"]
    with pytest.raises(PermissionDenied):
        world.records.deviations.advance(
            world["op1"], dev.deviation_id, "look", password=world.password("op1"), user_id="op1"
        )
    world.records.deviations.advance(
        sup, dev.deviation_id, "probe and heater", password=world.password("sup"), user_id="sup"
    )
    with pytest.raises(PermissionDenied):
        world.records.deviations.advance(
            sup, dev.deviation_id, "root cause", password=world.password("sup")
        )
    world.records.deviations.advance(
        qa, dev.deviation_id, "heater relay stuck", password=world.password("qa"), user_id="qa"
    )
    closed = world.records.deviations.advance(
        qa, dev.deviation_id, "relay replaced; PM added", password=world.password("qa")
    )
    assert closed.status == "closed"
    sigs = [
        s
        for s in world.records.signing.signatures(batch_id=batch_id)
        if s.record_type == "deviation"
    ]
    assert [(s.record_id.split("/")[1], s.meaning, s.valid) for s in sigs] == [
        ("investigation", "reviewed", True),
        ("capa", "approved", True),
        ("closed", "approved", True),
    ]


def test_annex11_14_signatures_permanently_linked_with_date_and_time(world: World) -> None:
    _, batch_id = completed_batch(world)
    for sig in world.records.signing.signatures(batch_id=batch_id):
        entry = next(e for e in world.records.audit.entries(batch_id) if e.seq == sig.audit_seq)
        assert entry.kind == "signature" and entry.new["signature_hash"] == sig.signature_hash
        assert entry.new["signed_at"] == sig.signed_at and sig.signed_at.endswith("Z")
        assert sig.valid


def test_annex11_15_batch_release_only_by_qp_with_signature(world: World) -> None:
    engine, batch_id = started_batch(world)
    perform_fill(engine, world, batch_id, temperature=30.0)  # raises a deviation
    engine.runner.run(batch_id, timeout_s=30)
    records = world.records
    with pytest.raises(Refused, match="not reviewed"):
        records.disposition.release(
            world["qp"], batch_id, password=world.password("qp"), user_id="qp"
        )
    records.disposition.review(world["qa"], batch_id, password=world.password("qa"), user_id="qa")
    with pytest.raises(Refused, match="open deviations: DEV-000001"):
        records.disposition.release(
            world["qp"], batch_id, password=world.password("qp"), user_id="qp"
        )
    dev = records.deviations.find(batch_id)[0].deviation_id
    for who, note in (("sup", "scope"), ("qa", "cause"), ("qa", "fixed")):
        s = world[who]
        records.deviations.advance(
            s, dev, note, password=world.password(who), user_id=None if s.signed else who
        )
    sig = records.disposition.release(
        world["qp"], batch_id, password=world.password("qp"), user_id="qp"
    )
    assert (sig.meaning, sig.user_id, sig.printed_name) == (
        "released",
        "qp",
        "Pat Qualified-Person",
    )
    assert records.batches.get(batch_id).status == "released"
    with pytest.raises(Refused, match="released"):
        records.signing.comment(world["sup"], "after release", batch_id=batch_id)
    assert all(s.valid for s in records.signing.signatures(batch_id=batch_id))


def test_annex11_16_business_continuity_engine_restart_holds_the_phase(world: World) -> None:
    from phactory.batch import BatchEngine, SimulatedUnit

    records = world.records
    slow = BatchEngine(records, driver=SimulatedUnit(time_scale=1.0), tick_s=0.001)
    info = slow.lifecycle.create_batch(world["sup"], tiny_site(), "r1")
    slow.lifecycle.command(world["sup"], info.batch_id, "Start")
    slow.runner.run(info.batch_id)
    perform_fill(slow, world, info.batch_id)
    slow.runner.run(info.batch_id, timeout_s=0.3)  # leaves 'stir' in flight, as a crash would
    other = BatchEngine(records, time_scale=math.inf, tick_s=0.001)
    status = other.runner.run(info.batch_id)
    assert status.batch.state == "Held"
    assert next(s for s in status.steps if s.step == "mix/main/stir").state == "Held"
    other.lifecycle.command(world["sup"], info.batch_id, "Restart", "resume after interruption")
    assert other.runner.run(info.batch_id, timeout_s=30).batch.state == "Complete"
    assert records.audit.verify().ok


def test_site_lots_are_registered_once(world: World) -> None:
    site = tiny_site()
    assert world.records.lots.register_site_lots(site) == ["W-001", "W-Q01"]
    assert world.records.lots.register_site_lots(site) == []
