"""Review by exception, and the rules for the batch disposition.

QA does not read every line of an electronic batch record: the system proves the
routine part (limits, sequence, signatures, the audit chain) and lists only the
exceptions (:func:`review_exceptions`): deviations, out-of-limit values, manual overrides
and corrections, repeated entries, failed checks, alarms, comments, signatures that
no longer hold and the re-signatures that replaced them after a correction. QA then
signs the review (meaning *reviewed*) and the Qualified Person
certifies the batch with a signature (meaning *released*); a batch with a deviation that
is not closed, an invalid signature (unless a valid re-signature replaced it after a
correction) or that did not complete cannot be released (EU GMP Annex 11 §15, Annex 16
§1.7; 21 CFR 211.192), and QA does not sign the review of a record whose re-signatures
are still outstanding.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final, Literal

from phactory.records.audit import AuditEntry
from phactory.records.deviations import Deviation
from phactory.records.signatures import Signature

__all__ = [
    "EXCEPTION_CATEGORIES",
    "Disposition",
    "DispositionState",
    "ReviewItem",
    "disposition_state",
    "disposition_text",
    "release_blockers",
    "review_blockers",
    "review_exceptions",
    "signature_blockers",
]

Disposition = Literal["in_progress", "reviewed", "released", "rejected"]

#: Categories of exception, in the order the review lists them.
EXCEPTION_CATEGORIES: Final = (
    "deviation",
    "out_of_limit",
    "override",
    "repeated_entry",
    "failed_check",
    "alarm",
    "comment",
    "invalid_signature",
    "resignature",
)


@dataclass(frozen=True, slots=True)
class ReviewItem:
    """One exception for the reviewer.

    Attributes
    ----------
    category
        One of :data:`EXCEPTION_CATEGORIES`.
    subject
        The record concerned (``step:B1/mix/main/fill``, ``deviation:DEV-000001`` ...).
    text
        What happened, for people.
    seq
        The audit entry (``None`` for deviations and signatures, listed by id).
    ts, user_id
        When and by whom.
    """

    category: str
    subject: str
    text: str
    seq: int | None
    ts: str
    user_id: str


def review_exceptions(
    entries: Sequence[AuditEntry],
    deviations: Sequence[Deviation],
    signatures: Sequence[Signature],
) -> list[ReviewItem]:
    """The exceptions of one batch record, by category then time.

    Parameters
    ----------
    entries
        The batch's audit entries, in chain order.
    deviations
        The batch's deviations.
    signatures
        The batch's signatures, checked.
    """
    items: list[ReviewItem] = []
    for d in deviations:
        items.append(
            ReviewItem(
                "deviation",
                f"deviation:{d.deviation_id}",
                f"{d.deviation_id} [{d.status}] {d.kind} ({d.severity}) at {d.step or '-'}: "
                f"{d.description}",
                None,
                d.raised_at.isoformat(),
                d.raised_by,
            )
        )
    entry_counts = Counter((e.subject, e.field) for e in entries if e.kind == "entry")
    for e in entries:
        details = e.details
        if details.get("out_of_limit"):
            items.append(
                ReviewItem(
                    "out_of_limit",
                    e.subject,
                    f"{e.field} = {e.new_text} {details.get('unit', '')} outside "
                    f"[{details.get('low')}, {details.get('high')}]",
                    e.seq,
                    e.ts,
                    e.user_id,
                )
            )
        if e.kind in ("correction", "override") or details.get("override"):
            items.append(
                ReviewItem(
                    "override",
                    e.subject,
                    f"{e.field}: {e.old_text} -> {e.new_text} (reason: {e.reason})",
                    e.seq,
                    e.ts,
                    e.user_id,
                )
            )
        if e.kind == "entry" and e.old_value is not None and entry_counts[(e.subject, e.field)] > 1:
            items.append(
                ReviewItem(
                    "repeated_entry",
                    e.subject,
                    f"{e.field} entered again: {e.old_text} -> {e.new_text} (reason: {e.reason})",
                    e.seq,
                    e.ts,
                    e.user_id,
                )
            )
        if e.kind == "check" and details.get("passed") is False:
            items.append(
                ReviewItem(
                    "failed_check",
                    e.subject,
                    f"{e.field} failed: {e.new_text}",
                    e.seq,
                    e.ts,
                    e.user_id,
                )
            )
        if e.kind == "alarm":
            items.append(
                ReviewItem("alarm", e.subject, f"{e.field}: {e.new_text}", e.seq, e.ts, e.user_id)
            )
        if e.kind == "comment":
            items.append(ReviewItem("comment", e.subject, str(e.new), e.seq, e.ts, e.user_id))
    by_id = {s.id: s for s in signatures}
    for s in signatures:
        if not s.valid:
            if s.superseded_by is not None and s.superseded_by in by_id:
                fate = (
                    "invalidated by a correction; re-signed by "
                    f"{by_id[s.superseded_by].manifestation()}"
                )
            elif s.content_changed:
                fate = "invalidated by a correction; re-signature required"
            else:
                fate = str(s.problem)
            items.append(
                ReviewItem(
                    "invalid_signature",
                    f"{s.record_type}:{s.record_id}",
                    f"{s.manifestation()}: {fate}",
                    s.audit_seq,
                    s.signed_at,
                    s.user_id,
                )
            )
        elif s.resigns is not None:
            old = by_id.get(s.resigns)
            items.append(
                ReviewItem(
                    "resignature",
                    f"{s.record_type}:{s.record_id}",
                    f"{s.manifestation()}: re-signed after a correction"
                    + (f", replacing {old.manifestation()}" if old is not None else ""),
                    s.audit_seq,
                    s.signed_at,
                    s.user_id,
                )
            )
    order = {c: i for i, c in enumerate(EXCEPTION_CATEGORIES)}
    return sorted(items, key=lambda i: (order[i.category], i.ts))


def signature_blockers(signatures: Sequence[Signature]) -> list[str]:
    """Signatures that stand in the way of a disposition, for people.

    A signature invalidated by a correction blocks until a valid re-signature replaces
    it; a signature that fails its seal (altered or copied) blocks for good.
    """
    problems = []
    pending = [s.manifestation() for s in signatures if s.needs_resignature]
    if pending:
        problems.append(f"signature invalidated, re-signature required: {'; '.join(pending)}")
    broken = [s.manifestation() for s in signatures if not s.valid and not s.content_changed]
    if broken:
        problems.append(f"invalid signatures: {'; '.join(broken)}")
    return problems


def review_blockers(
    state: str, disposition: str, signatures: Sequence[Signature] = ()
) -> list[str]:
    """Why QA cannot sign the review of a batch in this state, if anything."""
    problems = []
    if state not in ("Complete", "Stopped", "Aborted"):
        problems.append(f"the batch is {state}, not finished")
    if disposition != "in_progress":
        problems.append(f"the batch record is already {disposition}")
    return problems + signature_blockers(signatures)


def release_blockers(
    state: str,
    disposition: str,
    deviations: Sequence[Deviation],
    signatures: Sequence[Signature],
) -> list[str]:
    """Why the QP cannot release the batch, if anything (an empty list: it can be)."""
    problems = []
    if state != "Complete":
        problems.append(f"the batch is {state}, not Complete")
    if disposition != "reviewed":
        problems.append(f"the batch record is {disposition}, not reviewed by QA")
    still_open = [d.deviation_id for d in deviations if d.is_open]
    if still_open:
        problems.append(f"open deviations: {', '.join(still_open)}")
    return problems + signature_blockers(signatures)


def _latest(signatures: Sequence[Signature], meaning: str) -> Signature | None:
    """The newest signature of ``meaning`` on the batch record itself."""
    mine = [s for s in signatures if s.record_type == "batch" and s.meaning == meaning]
    return mine[-1] if mine else None


def disposition_text(status: str, signatures: Sequence[Signature]) -> str:
    """The disposition of a batch record as it truly stands, for people.

    The stored status (``in_progress``, ``reviewed``, ``released``, ``rejected``) says what
    was done; the signatures say whether it still holds. A record reviewed or released
    whose QA review signature no longer verifies reads "released, not reviewed by QA
    (the review signature no longer holds)"; a release whose own signature no longer
    verifies says so as well.

    Parameters
    ----------
    status
        The stored disposition.
    signatures
        The batch's signatures, checked (:func:`phactory.records.signatures.signatures_for`).
    """
    if status not in ("reviewed", "released"):
        return status
    text = status
    review = _latest(signatures, "reviewed")
    if review is None:
        text += ", not reviewed by QA"
    elif not review.valid:
        text += ", not reviewed by QA (the review signature no longer holds)"
    if status == "released":
        release = _latest(signatures, "released")
        if release is None or not release.valid:
            text += ", the release signature does not hold"
    return text


@dataclass(frozen=True)
class DispositionState:
    """Where a batch record stands between execution and release, read from the record.

    Attributes
    ----------
    batch_id, state, status
        The batch, its ISA-88 state and its stored disposition.
    text
        :func:`disposition_text`: the disposition as it truly stands.
    review, release, rejection
        The newest QA review, QP release and QP rejection signatures (checked), if any.
    review_blockers, release_blockers
        Why QA cannot review, or the QP cannot release, now (empty: they can).
    """

    batch_id: str
    state: str
    status: str
    text: str
    review: Signature | None = None
    release: Signature | None = None
    rejection: Signature | None = None
    review_blockers: list[str] = field(default_factory=list)
    release_blockers: list[str] = field(default_factory=list)

    @property
    def can_review(self) -> bool:
        """Whether QA can sign the review now."""
        return not self.review_blockers

    @property
    def can_release(self) -> bool:
        """Whether the QP can release now."""
        return not self.release_blockers

    @property
    def can_reject(self) -> bool:
        """Whether the QP can still reject the batch."""
        return self.status not in ("released", "rejected")


def disposition_state(
    batch_id: str,
    state: str,
    status: str,
    deviations: Sequence[Deviation],
    signatures: Sequence[Signature],
) -> DispositionState:
    """The :class:`DispositionState` of a batch from its record."""
    return DispositionState(
        batch_id=batch_id,
        state=state,
        status=status,
        text=disposition_text(status, signatures),
        review=_latest(signatures, "reviewed"),
        release=_latest(signatures, "released"),
        rejection=_latest(signatures, "approved") if status == "rejected" else None,
        review_blockers=review_blockers(state, status, signatures),
        release_blockers=release_blockers(state, status, deviations, signatures),
    )
