"""Re-signature after a GMP correction (21 CFR 11.70, 11.200(a)(1), 11.10(e); EU GMP
Annex 11 §9, §14, §15), on SQLite and PostgreSQL (``world`` fixture).

A correction of a completed, signed step invalidates its signatures (they are bound to
the content hash). The step then shows "signature invalidated, re-signature required";
the performer and, on the critical step, a different verifier sign again, bound to the
new content hash; the review lists the correction and the re-signatures; review and
release are refused until then, and allowed after.
"""

from __future__ import annotations

import pytest
from ebr_world import FILL, World, completed_batch

from phactory.records import (
    AuthenticationFailed,
    PermissionDenied,
    Refused,
    batch_record_html,
)
from phactory.records.signatures import content_hash, record_content

SUBJECT_FMT = "step:{}/" + FILL


def _correct(world: World, batch_id: str, new: float = 21.5, who: str = "sup") -> None:
    world.records.signing.correct(
        world[who],
        batch_id=batch_id,
        subject=SUBJECT_FMT.format(batch_id),
        field="temperature",
        new=new,
        reason="transcription error, see logbook p. 12",
    )


def _resign(world: World, engine: object, batch_id: str, who: str, meaning: str) -> object:
    session = world[who]
    return engine.signing.resign_step(  # type: ignore[attr-defined]
        session,
        batch_id,
        FILL,
        meaning,
        password=world.password(who),
        user_id=None if session.signed else who,
    )


def test_11_70_signature_manifest_rebound_after_correction(world: World) -> None:
    engine, batch_id = completed_batch(world)
    records = world.records
    _correct(world, batch_id)
    pending = records.signing.pending_resignatures(batch_id)
    assert [(s.user_id, s.meaning) for s in pending] == [("op1", "performed"), ("op2", "verified")]
    assert all(s.status == "signature invalidated, re-signature required" for s in pending)
    assert "re-signature after a correction" in (engine.runner.status(batch_id).waiting_for or "")

    performed = _resign(world, engine, batch_id, "op1", "performed")
    verified = _resign(world, engine, batch_id, "op2", "verified")
    assert records.signing.pending_resignatures(batch_id) == []
    record_id = f"{batch_id}/{FILL}"
    with records.access.engine.connect() as conn:
        now = content_hash("step", record_id, record_content(conn, "step", record_id))
    sigs = records.signing.signatures(record_type="step", record_id=f"{batch_id}/{FILL}")
    old_p, old_v, new_p, new_v = sigs
    assert (new_p.id, new_v.id) == (performed.id, verified.id)  # type: ignore[attr-defined]
    # The re-signatures are bound to the corrected content; the originals stay, invalidated.
    assert new_p.valid and new_v.valid and new_p.content_hash == new_v.content_hash == now
    assert old_p.content_hash != now and not old_p.valid and not old_v.valid
    assert (old_p.superseded_by, old_v.superseded_by) == (new_p.id, new_v.id)
    assert (new_p.resigns, new_v.resigns) == (old_p.id, old_v.id)
    assert old_p.status == "signature invalidated, re-signed" and new_p.status == "re-signature"
    assert new_p.manifestation().startswith("Olive Operator (op1), performed, ")
    assert engine.runner.status(batch_id).waiting_for is None
    assert records.audit.verify().ok


def test_11_10_e_resignature_is_in_the_audit_trail(world: World) -> None:
    engine, batch_id = completed_batch(world)
    _correct(world, batch_id)
    correction = next(e for e in world.records.audit.entries(batch_id) if e.kind == "correction")
    _resign(world, engine, batch_id, "op1", "performed")
    sig = world.records.signing.signatures(batch_id=batch_id)
    entry = world.records.audit.entries(batch_id)[-1]
    assert (entry.kind, entry.user_id, entry.field) == ("signature", "op1", "performed")
    assert entry.details == {
        "resignature": True,
        "supersedes": sig[0].id,
        "superseded_signature_hash": sig[0].signature_hash,
        "corrections": [correction.seq],
    }
    assert entry.new["content_hash"] == sig[-1].content_hash


def test_11_200_a_1_resignature_needs_the_components_and_the_right_person(
    world: World,
) -> None:
    engine, batch_id = completed_batch(world)
    with pytest.raises(Refused, match="holds: nothing to re-sign"):
        _resign(world, engine, batch_id, "op1", "performed")
    _correct(world, batch_id)
    fresh = world.login("op1")  # a new session: the first signing needs both components
    with pytest.raises(AuthenticationFailed, match="both components"):
        engine.signing.resign_step(
            fresh, batch_id, FILL, "performed", password=world.password("op1")
        )
    with pytest.raises(AuthenticationFailed):
        engine.signing.resign_step(
            fresh, batch_id, FILL, "performed", password="wrong", user_id="op1"
        )
    with pytest.raises(Refused, match="only the performer, Olive Operator"):
        _resign(world, engine, batch_id, "op2", "performed")
    with pytest.raises(Refused, match="re-signed as performed before it is verified"):
        _resign(world, engine, batch_id, "op2", "verified")
    with pytest.raises(PermissionDenied, match=r"qp \(qp\) may not sign\.verified"):
        _resign(world, engine, batch_id, "qp", "verified")
    engine.signing.resign_step(
        fresh, batch_id, FILL, "performed", password=world.password("op1"), user_id="op1"
    )
    with pytest.raises(Refused, match="different person from the performer"):
        _resign(world, engine, batch_id, "op1", "verified")
    with pytest.raises(Refused, match="different person from whoever corrected"):
        _resign(world, engine, batch_id, "sup", "verified")
    _resign(world, engine, batch_id, "qa", "verified")  # QA may verify; did not correct
    assert world.records.signing.pending_resignatures(batch_id) == []


def test_annex11_15_release_refused_until_resigned(world: World) -> None:
    engine, batch_id = completed_batch(world)
    records = world.records
    _correct(world, batch_id, who="qa")
    with pytest.raises(Refused, match="re-signature required: Olive Operator"):
        records.disposition.review(
            world["qa"], batch_id, password=world.password("qa"), user_id="qa"
        )
    with pytest.raises(Refused, match="re-signature required"):
        records.disposition.release(
            world["qp"], batch_id, password=world.password("qp"), user_id="qp"
        )
    _resign(world, engine, batch_id, "op1", "performed")
    with pytest.raises(Refused, match="re-signature required: Otto Operator"):
        records.disposition.review(
            world["qa"], batch_id, password=world.password("qa"), user_id="qa"
        )
    _resign(world, engine, batch_id, "op2", "verified")
    records.disposition.review(world["qa"], batch_id, password=world.password("qa"), user_id="qa")
    with pytest.raises(Refused, match="reviewed: its record can no longer change"):
        _correct(world, batch_id, new=22.0)
    sig = records.disposition.release(
        world["qp"], batch_id, password=world.password("qp"), user_id="qp"
    )
    assert sig.valid and records.batches.get(batch_id).status == "released"


def test_annex11_9_review_lists_the_correction_and_the_resignatures(world: World) -> None:
    engine, batch_id = completed_batch(world)
    _correct(world, batch_id)
    items = world.records.disposition.exceptions(batch_id)
    pending = [i for i in items if i.category == "invalid_signature"]
    assert len(pending) == 2 and all("re-signature required" in i.text for i in pending)
    _resign(world, engine, batch_id, "op1", "performed")
    _resign(world, engine, batch_id, "op2", "verified")
    items = world.records.disposition.exceptions(batch_id)
    by_cat: dict[str, list[str]] = {}
    for i in items:
        by_cat.setdefault(i.category, []).append(i.text)
    assert any("temperature: 20.0 -> 21.5" in t for t in by_cat["override"])
    assert len(by_cat["invalid_signature"]) == 2
    assert all(
        "invalidated by a correction; re-signed by" in t for t in by_cat["invalid_signature"]
    )
    assert len(by_cat["resignature"]) == 2
    assert all("re-signed after a correction, replacing" in t for t in by_cat["resignature"])
    page = batch_record_html(world.records.batches.record(batch_id))
    assert "signature invalidated, re-signed" in page and "re-signature</b> after" in page
    # Replaced signatures no longer ask for a signature that has been given.
    assert "re-signed since" in page and "sign it again" not in page


def test_11_70_a_second_correction_needs_a_second_resignature(world: World) -> None:
    engine, batch_id = completed_batch(world)
    _correct(world, batch_id, new=21.5)
    _resign(world, engine, batch_id, "op1", "performed")
    _resign(world, engine, batch_id, "op2", "verified")
    _correct(world, batch_id, new=21.0)
    pending = world.records.signing.pending_resignatures(batch_id)
    assert [s.meaning for s in pending] == ["performed", "verified"]
    _resign(world, engine, batch_id, "op1", "performed")
    _resign(world, engine, batch_id, "op2", "verified")
    sigs = world.records.signing.signatures(batch_id=batch_id)
    assert [s.valid for s in sigs] == [False, False, False, False, True, True]
    assert [s.superseded_by for s in sigs] == [
        sigs[2].id,
        sigs[3].id,
        sigs[4].id,
        sigs[5].id,
        None,
        None,
    ]
    assert [s.resigns for s in sigs] == [None, None, sigs[0].id, sigs[1].id, sigs[2].id, sigs[3].id]


def test_11_70_a_copied_signature_cannot_be_superseded(world: World) -> None:
    from sqlalchemy import text

    engine, batch_id = completed_batch(world)
    with world.records.access.engine.begin() as conn:  # a forged row: its seal does not match
        conn.execute(
            text(
                "INSERT INTO ebr_signatures (batch_id, record_type, record_id, user_id, "
                "printed_name, meaning, signed_at, content_hash, signature_hash, audit_seq) "
                "SELECT batch_id, record_type, record_id, user_id, 'Mallory', meaning, "
                "signed_at, content_hash, signature_hash, audit_seq FROM ebr_signatures "
                "WHERE meaning = 'performed'"
            )
        )
    sigs = world.records.signing.signatures(batch_id=batch_id)
    forged = sigs[-1]
    assert not forged.valid and forged.status == "invalid" and forged.superseded_by is None
    assert world.records.signing.pending_resignatures(batch_id) == []
    with pytest.raises(Refused, match="holds: nothing to re-sign"):
        _resign(world, engine, batch_id, "op1", "performed")
    with pytest.raises(Refused, match="invalid signatures: Mallory"):
        world.records.disposition.review(
            world["qa"], batch_id, password=world.password("qa"), user_id="qa"
        )
