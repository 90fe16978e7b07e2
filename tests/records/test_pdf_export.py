"""The batch record as PDF: a valid PDF showing every signature's manifestation
(21 CFR 11.10(b), 11.50; EU GMP Annex 11 §8.1, §8.2), read back with pypdf."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from pathlib import Path

import pytest
from ebr_world import FILL, World, completed_batch

from phactory.records import batch_record_pdf

pypdf = pytest.importorskip("pypdf", reason="pypdf (a dev dependency) is not installed")


def _text(data: bytes) -> str:
    reader = pypdf.PdfReader(io.BytesIO(data))
    return "\n".join(page.extract_text() for page in reader.pages)


def test_11_10_b_pdf_copy_shows_every_signature_manifestation(sqlite_world: World) -> None:
    world = sqlite_world
    engine, batch_id = completed_batch(world)
    world.records.signing.correct(
        world["sup"],
        batch_id=batch_id,
        subject=f"step:{batch_id}/{FILL}",
        field="temperature",
        new=21.5,
        reason="transcription error",
    )
    engine.signing.resign_step(
        world["op1"], batch_id, FILL, "performed", password=world.password("op1")
    )
    record = world.records.batches.record(batch_id)
    data = batch_record_pdf(record, printed_at=datetime(2027, 1, 4, 8, 0, tzinfo=UTC))
    assert data.startswith(b"%PDF-") and data.rstrip().endswith(b"%%EOF")
    reader = pypdf.PdfReader(io.BytesIO(data))
    assert len(reader.pages) >= 2 and reader.metadata.title == f"Electronic batch record {batch_id}"
    text = " ".join(_text(data).split())
    assert f"Electronic batch record {batch_id}" in text
    assert "Printed: 2027-01-04 08:00:00 UTC" in text
    assert len(record.signatures) == 3
    for sig in record.signatures:
        when = sig.signed_at.replace("T", " ")[:19]
        manifestation = (
            f"Signed by {sig.printed_name} ({sig.user_id}) - {when} UTC - meaning: {sig.meaning}"
        )
        assert manifestation in text
    assert "INVALID: the record changed after it was signed" in text
    assert "signature invalidated, re-signature required" in text  # the verifier's
    assert "signature invalidated, re-signed" in text  # the performer's
    assert "re-signature after a correction" in text
    assert "transcription error" in text  # the correction and its reason


def _batch_mentioning(world: World, full_name: str) -> str:
    """A completed batch whose record holds ``full_name`` (in a supervisor's comment)."""
    _engine, batch_id = completed_batch(world)
    world.records.signing.comment(world["sup"], f"checked with {full_name}", batch_id=batch_id)
    return batch_id


NAME = "Łukasz Dvořák"


@pytest.mark.skipif(
    __import__("phactory.records.pdf_export", fromlist=["unicode_font"]).unicode_font() is None,
    reason="no Unicode TrueType font here (Debian: fonts-dejavu-core; or PHACTORY_PDF_FONT)",
)
def test_11_50_a_1_printed_names_outside_latin_1_print_exactly(sqlite_world: World) -> None:
    batch_id = _batch_mentioning(sqlite_world, NAME)
    text = _text(batch_record_pdf(sqlite_world.records.batches.record(batch_id)))
    assert f"checked with {NAME}" in " ".join(text.split())
    assert "?ukasz" not in text


def test_11_50_a_1_a_name_the_core_font_cannot_print_is_refused_not_mangled(
    sqlite_world: World, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from phactory.records import PdfFontError

    monkeypatch.setenv("PHACTORY_PDF_FONT", str(tmp_path / "no-such-font.ttf"))
    batch_id = _batch_mentioning(sqlite_world, NAME)
    with pytest.raises(PdfFontError, match="fonts-dejavu-core"):
        batch_record_pdf(sqlite_world.records.batches.record(batch_id))
    # A Latin-1 record still prints with the core font.
    _engine, plain = completed_batch(sqlite_world)
    assert batch_record_pdf(sqlite_world.records.batches.record(plain)).startswith(b"%PDF-")


def test_a_long_comment_prints_in_full_and_the_acting_account_shows(sqlite_world: World) -> None:
    """A text longer than a page fits in a table row failed the export before."""
    world = sqlite_world
    _, batch_id = completed_batch(world)
    web_sup = world.records.accounts.login("sup", world.password("sup"), acting_account="web:sam")
    words = " ".join(f"observation-{i:04d}" for i in range(280))  # 4,759 of 5,000 characters
    world.records.signing.comment(web_sup, words, batch_id=batch_id)
    record = world.records.batches.record(batch_id)
    text = " ".join(_text(batch_record_pdf(record)).split())
    assert "observation-0000" in text and "observation-0279" in text
    assert "in full below the table" in text
    assert "web:sam" in text
    from phactory.records import batch_record_html

    assert "<td>sup via web:sam</td>" in batch_record_html(record)
