"""The review of batch records: deviations, comments, corrections, review, release, exports.

Part of the application's :class:`~phactory.app.services.batches.BatchService`
(``batches.reviews``). QA reviews by exception (:mod:`phactory.records.review`): the
system checks limits, sequence, signatures and the audit chain, and lists only what
needs a person's judgement. Every step of the disposition is an electronic signature;
a second person at the same workstation signs with user id and password
(:func:`~phactory.app.services.batch_people.signer`).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from phactory.app.errors import Invalid, Missing
from phactory.app.services.batch_people import signer
from phactory.model.ids import require_id

if TYPE_CHECKING:
    from phactory.records import (
        AuditEntry,
        BatchRecord,
        ChainReport,
        Deviation,
        RecordService,
        ReviewItem,
        Signature,
        UserSession,
    )
    from phactory.records.review import DispositionState

__all__ = ["BatchReviews", "Correctable", "ReviewView", "needed_text", "record_text"]


@dataclass(frozen=True)
class ReviewView:
    """What QA and the QP look at: the record, its exceptions and the disposition.

    Attributes
    ----------
    exceptions
        Review by exception: only what needs a person's judgement.
    chain
        The check of the whole audit chain.
    disposition
        Where the record truly stands (a review signature that no longer holds says so),
        and what blocks the review and the release.
    """

    record: BatchRecord
    exceptions: list[ReviewItem]
    chain: ChainReport
    disposition: DispositionState

    @property
    def exception_counts(self) -> Counter[str]:
        """Exceptions per category."""
        return Counter(x.category for x in self.exceptions)


@dataclass(frozen=True)
class Correctable:
    """A value entered on a step that QA may correct: the latest of its item."""

    step: str
    item: str
    value: Any
    unit: str


def record_text(value: str | None, what: str) -> str:
    """Free text for the record, stripped, within the record's limits
    (:func:`phactory.records.free_text`: at most ``TEXT_MAX`` characters, no NUL)."""
    from phactory.records import free_text

    return free_text((value or "").strip(), what)


def needed_text(value: str | None, what: str, missing: str) -> str:
    """:func:`record_text` that may not be empty: refused with ``missing`` before anyone
    signs (the record would refuse it too, after the signer's login)."""
    text = record_text(value, what)
    if not text:
        raise Invalid(missing)
    return text


class BatchReviews:
    """Deviations, comments, corrections, the review and disposition, and the exports.

    Parameters
    ----------
    records
        The record service.
    kick
        Lets the server's runner act on a batch after a change (a closed deviation may
        unblock a step).
    """

    def __init__(self, records: RecordService, kick: Callable[[str], None]) -> None:
        self.records = records
        self.kick = kick

    def deviations(
        self, batch_id: str | None = None, *, open_only: bool = False
    ) -> list[Deviation]:
        """Deviations of one batch (or all), by id."""
        return self.records.deviations.find(batch_id, open_only=open_only)

    def raise_deviation(
        self, who: UserSession, batch_id: str, description: str, step: str | None = None
    ) -> Deviation:
        """Raise a deviation on a batch (and step) by hand."""
        batch_id = require_id(batch_id, "batch id")
        self.records.batches.get(batch_id)
        dev = self.records.deviations.raise_deviation(
            who,
            batch_id=batch_id,
            step=step or None,
            description=record_text(description, "description"),
        )
        self.kick(batch_id)
        return dev

    def advance_deviation(
        self,
        who: UserSession,
        batch_id: str,
        deviation_id: str,
        note: str,
        user_id: str,
        password: str,
    ) -> Deviation:
        """Move a deviation one step along its signed workflow (open → ... → closed)."""
        deviation_id = require_id(deviation_id, "deviation id")
        dev = self.records.deviations.get(deviation_id)
        if dev.batch_id != batch_id:
            raise Missing(f"deviation {deviation_id} is not of batch {batch_id}")
        with signer(self.records, who, user_id, password) as (session, uid):
            moved = self.records.deviations.advance(
                session, deviation_id, record_text(note, "note"), password=password, user_id=uid
            )
        self.kick(batch_id)
        return moved

    def comment(self, who: UserSession, batch_id: str, text: str) -> AuditEntry:
        """Add a comment to the batch record (listed as an exception for the review)."""
        batch_id = require_id(batch_id, "batch id")
        self.records.batches.get(batch_id)
        return self.records.signing.comment(who, record_text(text, "comment"), batch_id=batch_id)

    def correctable(self, record: BatchRecord) -> list[Correctable]:
        """The values entered on the batch's steps, latest of each, that QA may correct."""
        latest: dict[tuple[str, str], Correctable] = {}
        prefix = f"step:{record.batch.batch_id}/"
        for e in record.entries:
            if e.kind in ("entry", "correction") and e.subject.startswith(prefix):
                key = (e.subject, e.field)
                unit = str(e.details.get("unit") or "") or (
                    latest[key].unit if key in latest else ""
                )
                latest[key] = Correctable(e.subject.removeprefix(prefix), e.field, e.new, unit)
        return list(latest.values())

    def correct(
        self, who: UserSession, batch_id: str, step: str, item: str, new: float, reason: str
    ) -> AuditEntry:
        """Correct a value entered on a step: a new entry with old and new value and reason.

        The step's signatures no longer hold afterwards: they must be given again.
        """
        batch_id = require_id(batch_id, "batch id")
        if not math.isfinite(new):
            raise Invalid(f"{item[:100]}: enter a finite number")
        record = self.records.batches.record(batch_id)
        if not any(c.step == step and c.item == item for c in self.correctable(record)):
            raise Missing(f"no value {item[:100]!r} was entered on step {step[:200]} of {batch_id}")
        entry = self.records.signing.correct(
            who,
            batch_id=batch_id,
            subject=f"step:{batch_id}/{step}",
            field=item,
            new=float(new),
            reason=record_text(reason, "reason"),
        )
        self.kick(batch_id)
        return entry

    # -- review and disposition ----------------------------------------------------------------

    def view(self, batch_id: str) -> ReviewView:
        """The record, its exceptions, the audit chain and the disposition as it stands."""
        batch_id = require_id(batch_id, "batch id")
        record = self.records.batches.record(batch_id)
        return ReviewView(
            record=record,
            exceptions=self.records.disposition.exceptions(batch_id),
            chain=self.records.audit.verify(),
            disposition=self.records.disposition.state(batch_id),
        )

    def disposition(self, batch_id: str) -> DispositionState:
        """Where the batch record stands: the true disposition, what blocks what."""
        return self.records.disposition.state(require_id(batch_id, "batch id"))

    def review(
        self, who: UserSession, batch_id: str, user_id: str, password: str, note: str = ""
    ) -> Signature:
        """QA signs the review of a finished batch record (meaning *reviewed*)."""
        batch_id = require_id(batch_id, "batch id")
        with signer(self.records, who, user_id, password) as (session, uid):
            return self.records.disposition.review(
                session,
                batch_id,
                password=password,
                user_id=uid,
                note=record_text(note, "note") or "reviewed by exception",
            )

    def release(self, who: UserSession, batch_id: str, user_id: str, password: str) -> Signature:
        """The Qualified Person certifies the batch (meaning *released*)."""
        batch_id = require_id(batch_id, "batch id")
        with signer(self.records, who, user_id, password) as (session, uid):
            return self.records.disposition.release(
                session, batch_id, password=password, user_id=uid
            )

    def reject(
        self, who: UserSession, batch_id: str, reason: str, user_id: str, password: str
    ) -> Signature:
        """The Qualified Person rejects the batch, with a reason (its lots with it)."""
        batch_id = require_id(batch_id, "batch id")
        why = needed_text(reason, "reason", "a rejection needs a reason")
        with signer(self.records, who, user_id, password) as (session, uid):
            return self.records.disposition.reject(
                session, batch_id, why, password=password, user_id=uid
            )

    def signatures(self, batch_id: str) -> list[Signature]:
        """Every signature of the batch, checked against the record as it is now."""
        return self.records.signing.signatures(batch_id=require_id(batch_id, "batch id"))

    def verify_audit(self, progress: Callable[[int], None] | None = None) -> ChainReport:
        """Check the whole hash chain of the audit trail."""
        return self.records.audit.verify(progress)

    # -- exports ---------------------------------------------------------------------------------

    def record(self, batch_id: str) -> BatchRecord:
        """The complete electronic batch record of one batch."""
        return self.records.batches.record(require_id(batch_id, "batch id"))

    def export_html(self, batch_id: str) -> str:
        """The batch record as a self-contained HTML page (every user string escaped)."""
        from phactory.records import batch_record_html

        return batch_record_html(self.record(batch_id))

    def export_pdf(self, batch_id: str) -> bytes:
        """The batch record as a PDF document."""
        from phactory.records import batch_record_pdf

        return batch_record_pdf(self.record(batch_id))

    def export_batchml(self, batch_id: str) -> str:
        """The batch production record as BatchML (B2MML) XML."""
        from phactory.records import batch_record_batchml

        return batch_record_batchml(self.record(batch_id))
