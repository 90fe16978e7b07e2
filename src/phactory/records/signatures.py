"""Electronic signatures: manifestation and linking to the signed record.

A signature shows the signer's printed name, the date and time (UTC) and its meaning
(performed, verified, reviewed, approved, released) wherever the record is shown
(21 CFR 11.50; EU GMP Annex 11 §14(c)). It is bound to the record by the SHA-256 of the
record's content at signing time (:func:`content_hash`) and sealed by a hash over all
its own fields (:func:`signature_hash`), so that

* changing the record after signing invalidates the signature (the content hash no
  longer matches: the record must be signed again), and
* a signature copied onto another record, or altered, fails verification, because the
  record type and id are part of both hashes (21 CFR 11.70; Annex 11 §14(a)).

The content of a record is the chain hashes of its audit entries, in chain order (less
the kinds of :func:`unsigned_kinds`): every value, entry, correction and comment of the
record, with who made it and when. What follows from a disposition is not part of what
the QA review signs: the QP's release (or rejection) of the batch and of the lots it made
(entries ``batch.disposition`` and ``lot.disposition``) leaves the review signature valid,
while the release signature covers the lots it released. Both hashes are
:func:`phactory.jsonio.canonical_hash` of a JSON object (the same bytes as ever).

Re-signature after a correction
-------------------------------
A GMP correction of a signed record leaves the original signature where it is, but
*invalidated* (its content hash no longer matches): the record shows "signature
invalidated, re-signature required" until someone entitled signs it again with the same
meaning, bound to the new content hash. That later signature *supersedes* the
invalidated one (:attr:`Signature.superseded_by`, :attr:`Signature.resigns`): both stay
in the record and in the review by exception. Only a signature whose seal is intact can
be superseded; a signature altered or copied by hand stays invalid for good.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from itertools import pairwise
from typing import Any, Final, Literal, cast, get_args

from sqlalchemy import Connection, Table, select

from phactory.jsonio import canonical_hash
from phactory.records.schema import AuditRow, SignatureRow

__all__ = [
    "CONTENT_CHANGED",
    "MEANINGS",
    "SEAL_BROKEN",
    "UNSIGNED_KINDS",
    "Meaning",
    "Signature",
    "content_hash",
    "link_resignatures",
    "record_content",
    "signature_hash",
    "signatures_for",
    "unsigned_kinds",
]

#: The problem of a signature whose record changed after signing (it can be re-signed).
CONTENT_CHANGED: Final = "the record changed after it was signed: sign it again"
#: The problem of a signature whose own fields no longer match its seal.
SEAL_BROKEN: Final = "signature fields do not match its seal (altered or copied)"

Meaning = Literal["performed", "verified", "reviewed", "approved", "released"]
#: The meanings a signature can carry (21 CFR 11.50(a)(3)).
MEANINGS: Final[tuple[str, ...]] = get_args(Meaning)
#: Audit entry kinds that are never part of the content a signature signs.
UNSIGNED_KINDS: Final = frozenset({"signature", "security.denied", "command.refused"})


def unsigned_kinds(record_type: str, meaning: str | None = None) -> frozenset[str]:
    """Entry kinds left out of a record's signed content.

    Signatures, refusals, and entries that follow from signing: the state changes of a
    step (a step is signed, then completes), the disposition of a batch (it is reviewed,
    then released), the workflow of its deviations (signed records of their own), the
    quantity left in a lot (a lot is released, then used); and for the QA review of a
    batch (meaning ``reviewed``) the release or rejection of the lots the batch made,
    which the QP's disposition signs after the review.
    """
    if record_type == "step":
        return UNSIGNED_KINDS | {"phase.state"}
    if record_type == "batch":
        # Deviations are records of their own, with their own signed workflow.
        kinds = UNSIGNED_KINDS | {"batch.disposition", "deviation.status"}
        return kinds | {"lot.disposition"} if meaning == "reviewed" else kinds
    if record_type == "lot":
        return UNSIGNED_KINDS | {"lot.quantity"}
    return UNSIGNED_KINDS


_AUDIT: Final = cast(Table, AuditRow.__table__)
_SIGS: Final = cast(Table, SignatureRow.__table__)


def record_content(
    connection: Connection, record_type: str, record_id: str, meaning: str | None = None
) -> list[str]:
    """Chain hashes of the audit entries that make up a record's content, in order.

    ``record_type`` ``"batch"`` covers every entry of the batch; any other type covers
    the entries whose subject is ``"{record_type}:{record_id}"``; less the kinds
    :func:`unsigned_kinds` leaves out for a signature of ``meaning``.
    """
    stmt = select(_AUDIT.c.hash).order_by(_AUDIT.c.seq)
    if record_type == "batch":
        stmt = stmt.where(_AUDIT.c.batch_id == record_id)
    else:
        stmt = stmt.where(_AUDIT.c.subject == f"{record_type}:{record_id}")
    stmt = stmt.where(_AUDIT.c.kind.not_in(sorted(unsigned_kinds(record_type, meaning))))
    hashes: list[Any] = list(connection.execute(stmt).scalars())
    return [str(h) for h in hashes]


def content_hash(record_type: str, record_id: str, entry_hashes: Sequence[str]) -> str:
    """SHA-256 of a record's identity and content (canonical JSON)."""
    return canonical_hash(
        {"record_type": record_type, "record_id": record_id, "entries": list(entry_hashes)}
    )


def signature_hash(
    *,
    record_type: str,
    record_id: str,
    batch_id: str | None,
    user_id: str,
    printed_name: str,
    meaning: str,
    signed_at: str,
    content_hash: str,
) -> str:
    """SHA-256 sealing every field of a signature to the content hash it signs."""
    return canonical_hash(
        {
            "record_type": record_type,
            "record_id": record_id,
            "batch_id": batch_id,
            "user_id": user_id,
            "printed_name": printed_name,
            "meaning": meaning,
            "signed_at": signed_at,
            "content_hash": content_hash,
        }
    )


@dataclass(frozen=True, slots=True)
class Signature:
    """A signature with its manifestation and whether it still holds.

    Attributes
    ----------
    printed_name, signed_at, meaning
        The manifestation (21 CFR 11.50(a)); ``signed_at`` is UTC.
    valid
        Whether the signature verifies against the record as it is now.
    problem
        Why not, if it does not.
    superseded_by
        For a signature invalidated by a change of its record: the id of the valid
        re-signature (same record, same meaning) that took its place, else ``None``.
    resigns
        For a re-signature: the id of the invalidated signature it replaces.
    """

    id: int
    batch_id: str | None
    record_type: str
    record_id: str
    user_id: str
    printed_name: str
    meaning: str
    signed_at: str
    content_hash: str
    signature_hash: str
    audit_seq: int
    valid: bool
    problem: str | None = None
    superseded_by: int | None = None
    resigns: int | None = None

    @property
    def content_changed(self) -> bool:
        """Whether it is invalid only because its record changed afterwards."""
        return not self.valid and self.problem == CONTENT_CHANGED

    @property
    def needs_resignature(self) -> bool:
        """Invalidated by a change of its record and not yet re-signed."""
        return self.content_changed and self.superseded_by is None

    @property
    def status(self) -> str:
        """For people: ``valid``, ``re-signature``, ``signature invalidated, re-signed``,
        ``signature invalidated, re-signature required`` or ``invalid``."""
        if self.valid:
            return "valid" if self.resigns is None else "re-signature"
        if self.content_changed:
            if self.superseded_by is None:
                return "signature invalidated, re-signature required"
            return "signature invalidated, re-signed"
        return "invalid"

    @property
    def notice(self) -> str | None:
        """What a reader must be told about this signature, or ``None`` if it is valid.

        The one wording used wherever a signature is shown (HTML, PDF, web pages): a
        signature invalidated by a correction and since replaced says so, instead of
        asking for a re-signature that has been given.
        """
        if self.valid:
            return None
        if self.content_changed and self.superseded_by is not None:
            return "INVALID: the record changed after it was signed; re-signed since"
        return f"INVALID: {self.problem}"

    def manifestation(self) -> str:
        """``Jane Doe (jdoe), performed, 2027-01-04 08:00:00 UTC``."""
        when = self.signed_at.replace("T", " ")[:19] + " UTC"
        return f"{self.printed_name} ({self.user_id}), {self.meaning}, {when}"


def _check(connection: Connection, row: Any) -> tuple[bool, str | None]:
    sealed = signature_hash(
        record_type=row.record_type,
        record_id=row.record_id,
        batch_id=row.batch_id,
        user_id=row.user_id,
        printed_name=row.printed_name,
        meaning=row.meaning,
        signed_at=row.signed_at,
        content_hash=row.content_hash,
    )
    if sealed != row.signature_hash:
        return False, SEAL_BROKEN
    now = content_hash(
        row.record_type,
        row.record_id,
        record_content(connection, row.record_type, row.record_id, row.meaning),
    )
    if now != row.content_hash:
        return False, CONTENT_CHANGED
    return True, None


def link_resignatures(signatures: Sequence[Signature]) -> list[Signature]:
    """Link each signature invalidated by a change to the signature that replaced it.

    Per record and meaning, each signature with an intact seal that was invalidated by a
    change of its record is superseded by the next one signed after it (itself valid,
    or invalidated in turn by a later correction). Signatures whose seal is broken take
    no part: they are never superseded and supersede nothing.
    """
    out = list(signatures)
    index = {s.id: i for i, s in enumerate(out)}
    series: dict[tuple[str, str, str], list[Signature]] = {}
    for sig in sorted(out, key=lambda s: s.id):
        if sig.valid or sig.content_changed:
            series.setdefault((sig.record_type, sig.record_id, sig.meaning), []).append(sig)
    for chain in series.values():
        for old, new in pairwise(chain):
            if not old.content_changed:
                continue
            out[index[old.id]] = replace(out[index[old.id]], superseded_by=new.id)
            out[index[new.id]] = replace(out[index[new.id]], resigns=old.id)
    return out


def signatures_for(
    connection: Connection,
    *,
    batch_id: str | None = None,
    record_type: str | None = None,
    record_id: str | None = None,
) -> list[Signature]:
    """Signatures (oldest first), each checked against its record as it is now."""
    stmt = select(_SIGS).order_by(_SIGS.c.id)
    if batch_id is not None:
        stmt = stmt.where(_SIGS.c.batch_id == batch_id)
    if record_type is not None:
        stmt = stmt.where(_SIGS.c.record_type == record_type)
    if record_id is not None:
        stmt = stmt.where(_SIGS.c.record_id == record_id)
    out = []
    for row in connection.execute(stmt):
        valid, problem = _check(connection, row)
        out.append(
            Signature(
                id=row.id,
                batch_id=row.batch_id,
                record_type=row.record_type,
                record_id=row.record_id,
                user_id=row.user_id,
                printed_name=row.printed_name,
                meaning=row.meaning,
                signed_at=row.signed_at,
                content_hash=row.content_hash,
                signature_hash=row.signature_hash,
                audit_seq=row.audit_seq,
                valid=valid,
                problem=problem,
            )
        )
    return link_resignatures(out)
