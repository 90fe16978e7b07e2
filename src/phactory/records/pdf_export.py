"""The batch record as PDF, for people: every signature's manifestation next to what it signs.

The same content as :func:`phactory.records.export.batch_record_html` (21 CFR 11.10(b)
accurate and complete copies in human-readable form; 11.50 manifestation of signatures;
EU GMP Annex 11 §8.1 clear printed copies, §8.2 changes indicated), laid out with fpdf2
(pure Python). Signatures that no longer hold are marked, and so are re-signatures after
a correction.

Text is set in DejaVu Sans (``PHACTORY_PDF_FONT`` names another TrueType file, its bold
face next to it as ``*-Bold.ttf``), found where Debian installs it, so names such as
``Łukasz Dvořák`` print as written. Without such a font the PDF core font (Latin-1) is
used, and a record holding text it cannot set is refused rather than printed with ``?``
in place of letters: a signer's printed name must be exact (21 CFR 11.50(a)(1)).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

from fpdf import FPDF
from fpdf.enums import XPos, YPos

from phactory.errors import UnavailableError
from phactory.records.audit import AuditEntry
from phactory.records.errors import RecordError
from phactory.records.record import BatchRecord
from phactory.records.signatures import Signature

__all__ = ["PdfFontError", "batch_record_pdf", "unicode_font"]

_CORE_FONT: Final = "Helvetica"
#: Where Debian (fonts-dejavu-core) puts DejaVu Sans.
_DEJAVU: Final = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")


class PdfFontError(RecordError, UnavailableError):
    """The record holds text that no font installed here can print exactly (the PDF
    cannot be made on this machine; the HTML export can)."""


def unicode_font() -> tuple[Path, Path] | None:
    """The regular and bold TrueType files to set text in, or ``None`` (core font only)."""
    named = os.environ.get("PHACTORY_PDF_FONT")
    regular = Path(named) if named else _DEJAVU
    if not regular.is_file():
        return None
    bold = regular.with_name(f"{regular.stem}-Bold{regular.suffix}")
    return regular, bold if bold.is_file() else regular


#: Column widths of the entry tables [mm] (A4 landscape, 277 mm between the margins).
_ENTRY_COLS: Final = (
    ("#", 12),
    ("time (UTC)", 44),
    ("user", 22),
    ("what", 30),
    ("item", 34),
    ("old", 40),
    ("new", 45),
    ("reason", 50),
)


#: Longest text set in a cell of an entry table; a table row cannot span pages.
_CELL_CHARS: Final = 500


def _manifestation(sig: Signature) -> str:
    when = sig.signed_at.replace("T", " ")[:19]
    text = f"Signed by {sig.printed_name} ({sig.user_id}) - {when} UTC - meaning: {sig.meaning}"
    if sig.notice is not None:
        text += f" - {sig.notice}"
        if sig.content_changed:
            text += f" ({sig.status})"
    elif sig.resigns is not None:
        text += " - re-signature after a correction"
    return text


class _Record(FPDF):
    def __init__(self, title: str) -> None:
        super().__init__(orientation="L", unit="mm", format="A4")
        self.record_title = title
        self.set_auto_page_break(auto=True, margin=14)
        self.set_title(title)
        self.set_creator("Phactory")
        files = unicode_font()
        self.unicode = files is not None
        if files is not None:
            self.add_font("body", "", str(files[0]))
            self.add_font("body", "B", str(files[1]))
            self.body_font = "body"
        else:
            self.body_font = _CORE_FONT

    def t(self, value: object) -> str:
        """``value`` as text this document's font sets exactly (see the module docstring).

        Raises
        ------
        PdfFontError
            With the core font only, for text outside Latin-1.
        """
        text = "" if value is None else str(value)
        if not self.unicode:
            try:
                text.encode("latin-1")
            except UnicodeEncodeError:
                raise PdfFontError(
                    f"the record holds text the PDF core font cannot print ({text!r}); "
                    "install a Unicode TrueType font (Debian: fonts-dejavu-core) or set "
                    "PHACTORY_PDF_FONT to one; the HTML export prints it as written"
                ) from None
        return text

    def footer(self) -> None:
        self.set_y(-10)
        self.set_font(self.body_font, size=7)
        self.set_text_color(90)
        self.cell(0, 5, self.t(f"{self.record_title} - page {self.page_no()}/{{nb}}"), align="C")
        self.set_text_color(0)

    def heading(self, text: str, size: float = 13) -> None:
        self.ln(2)
        self.set_font(self.body_font, "B", size)
        self.multi_cell(0, size * 0.5, self.t(text), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.set_font(self.body_font, size=9)

    def line_text(self, text: str, *, bold: bool = False, colour: int = 0) -> None:
        self.set_font(self.body_font, "B" if bold else "", 9)
        self.set_text_color(colour, 0, 0)
        self.multi_cell(0, 4.5, self.t(text), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.set_text_color(0)
        self.set_font(self.body_font, size=9)

    def signature(self, sig: Signature) -> None:
        self.line_text(_manifestation(sig), bold=True, colour=0 if sig.valid else 170)

    def entries(self, rows: Sequence[AuditEntry]) -> None:
        """A table of entries; a text too long for a table row (a row cannot span pages)
        is cut in the table and printed in full after it."""
        overflow: list[tuple[int, str, str]] = []
        self.set_font(self.body_font, size=7.5)
        with self.table(
            col_widths=tuple(w for _, w in _ENTRY_COLS),
            text_align="LEFT",
            line_height=3.6,
            first_row_as_headings=True,
        ) as table:
            head = table.row()
            for name, _ in _ENTRY_COLS:
                head.cell(name)
            for e in rows:
                row = table.row()
                for (name, _), value in zip(
                    _ENTRY_COLS,
                    (e.seq, e.ts, e.who, e.kind, e.field, e.old_text, e.new_text, e.reason),
                    strict=True,
                ):
                    text = self.t(value)
                    if len(text) > _CELL_CHARS:
                        overflow.append((e.seq, name, text))
                        text = f"{text[:_CELL_CHARS]}... (in full below the table)"
                    row.cell(text)
        self.set_font(self.body_font, size=9)
        for seq, name, text in overflow:
            self.line_text(f"Entry {seq}, {name} in full: {text}")


def batch_record_pdf(record: BatchRecord, *, printed_at: datetime | None = None) -> bytes:
    """The batch record as a PDF document.

    Parameters
    ----------
    record
        The record (:meth:`phactory.records.RecordService.batch_record`).
    printed_at
        Time printed on the first page (aware); default now.

    Returns
    -------
    bytes
        The PDF file.
    """
    b = record.batch
    title = f"Electronic batch record {b.batch_id}"
    pdf = _Record(title)
    pdf.add_page()
    pdf.set_font(pdf.body_font, "B", 16)
    pdf.cell(0, 9, pdf.t(title), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font(pdf.body_font, size=9)
    printed = (printed_at or datetime.now(UTC)).astimezone(UTC)
    for key, value in (
        *record.header(),
        ("Audit entries", str(len(record.entries))),
        ("Printed", f"{printed:%Y-%m-%d %H:%M:%S} UTC"),
    ):
        pdf.line_text(f"{key}: {value}")
    sigs_by_record: dict[str, list[Signature]] = {}
    for sig in record.signatures:
        sigs_by_record.setdefault(f"{sig.record_type}:{sig.record_id}", []).append(sig)

    pdf.heading("Batch signatures")
    batch_sigs = sigs_by_record.get(f"batch:{b.batch_id}", [])
    for sig in batch_sigs:
        pdf.signature(sig)
    if not batch_sigs:
        pdf.line_text("None yet.")

    pdf.heading("Steps")
    for step in record.steps:
        subject = f"step:{b.batch_id}/{step.step}"
        pdf.heading(step.step, size=11)
        pdf.line_text(
            f"{step.kind} phase on unit {step.unit}; state {step.state}; started "
            f"{step.started_at or '-'}; ended {step.ended_at or '-'}"
        )
        rows = [e for e in record.entries if e.subject == subject and e.kind != "signature"]
        if rows:
            pdf.entries(rows)
        for sig in sigs_by_record.get(subject, []):
            pdf.signature(sig)

    pdf.heading("Materials")
    if not record.materials:
        pdf.line_text("None.")
    for m in record.materials:
        pdf.line_text(
            f"{m.step}: {m.direction} lot {m.lot_id}, {m.material}, {m.quantity:g} {m.unit}"
        )

    pdf.heading("Deviations")
    if not record.deviations:
        pdf.line_text("None.")
    for d in record.deviations:
        pdf.line_text(f"{d.deviation_id} ({d.status})", bold=True)
        pdf.line_text(f"{d.kind}, {d.severity}, step {d.step or '-'}: {d.description}")
        for key, sigs in sigs_by_record.items():
            if key.startswith(f"deviation:{d.deviation_id}/"):
                pdf.line_text(f"{key.split('/')[-1]}:")
                for sig in sigs:
                    pdf.signature(sig)

    pdf.heading("Audit trail")
    pdf.line_text(
        f"{len(record.entries)} entries of this batch, in chain order; each holds the hash of "
        "the previous entry (verify with 'phactory audit verify')."
    )
    pdf.entries(record.entries)
    return bytes(pdf.output())
