"""Signatures read back checked, re-signatures pending, comments and GMP corrections.

Signatures are executed in a transaction (:meth:`phactory.records.RecordTx.sign`), after
the signer's components are checked (:meth:`phactory.records.Accounts.authenticate_signature`);
see :mod:`phactory.records.signatures` for the manifestation, the hashes that bind a
signature to its record, and the re-signature of a record after a correction.

A GMP correction is a new entry with old and new value and the reason; nothing is
overwritten (21 CFR 11.10(e); EU GMP Annex 11 §9). A correction invalidates the
signatures over the record until they are re-signed (21 CFR 11.70).
"""

from __future__ import annotations

from typing import Any

from phactory.records.access import AccessControl
from phactory.records.audit import AuditEntry
from phactory.records.errors import Refused
from phactory.records.inputs import required_text
from phactory.records.roles import Action
from phactory.records.session import UserSession
from phactory.records.signatures import Signature
from phactory.records.view import RecordView

__all__ = ["DISPOSED", "Signing", "refuse_if_disposed"]

#: Dispositions after which a batch record can no longer change.
DISPOSED = ("reviewed", "released", "rejected")


def refuse_if_disposed(view: RecordView, batch_id: str | None) -> None:
    """Refuse a change of a batch record that is reviewed, released or rejected."""
    if batch_id is None or not view.batch_exists(batch_id):
        return
    status = view.batch(batch_id).status
    if status in DISPOSED:
        raise Refused(f"batch {batch_id} is {status}: its record can no longer change")


class Signing:
    """Signatures as they stand, and the changes that invalidate them.

    Parameters
    ----------
    access
        The record service's access control.
    """

    def __init__(self, access: AccessControl) -> None:
        self.access = access

    def signatures(
        self,
        *,
        batch_id: str | None = None,
        record_type: str | None = None,
        record_id: str | None = None,
    ) -> list[Signature]:
        """Signatures, each verified against its record as it is now (21 CFR 11.70)."""
        with self.access.reading() as view:
            return view.signatures(batch_id=batch_id, record_type=record_type, record_id=record_id)

    def pending_resignatures(
        self,
        batch_id: str,
        *,
        record_type: str | None = None,
        record_id: str | None = None,
    ) -> list[Signature]:
        """Signatures invalidated by a correction and not yet re-signed (oldest first).

        The record shows each as "signature invalidated, re-signature required"; the
        review and the release are refused while any is left.
        """
        return [
            s
            for s in self.signatures(
                batch_id=batch_id, record_type=record_type, record_id=record_id
            )
            if s.needs_resignature
        ]

    def comment(
        self,
        session: UserSession,
        text: str,
        *,
        batch_id: str | None = None,
        subject: str | None = None,
    ) -> AuditEntry:
        """Add a comment to a batch record (or to another record by ``subject``)."""
        required_text(text, "comment", "a comment needs text")
        subject = subject or (f"batch:{batch_id}" if batch_id else f"user:{session.user_id}")
        self.access.authorize(session, Action.RECORD_COMMENT, subject=subject, batch_id=batch_id)
        with self.access.transaction(acting_account=session.acting_account) as tx:
            refuse_if_disposed(tx, batch_id)
            return tx.append(
                user_id=session.user_id,
                kind="comment",
                subject=subject,
                new=text,
                batch_id=batch_id,
            )

    def correct(
        self,
        session: UserSession,
        *,
        batch_id: str,
        subject: str,
        field: str,
        new: Any,
        reason: str,
    ) -> AuditEntry:
        """Correct a recorded value: a new entry with old and new value and the reason.

        Nothing is overwritten: the original stays in the trail (21 CFR 11.10(e)).
        Signatures over the record no longer verify afterwards and must be re-applied.

        Raises
        ------
        Refused
            If there is no value to correct, the reason is empty, or the batch is
            already reviewed or released.
        """
        self.access.authorize(session, Action.RECORD_CORRECT, subject=subject, batch_id=batch_id)
        required_text(reason, "reason", "a correction needs a reason")
        with self.access.transaction(acting_account=session.acting_account) as tx:
            refuse_if_disposed(tx, batch_id)
            old = tx.latest_value(subject, field)
            if old is None:
                raise Refused(f"nothing recorded for {subject} {field} to correct")
            return tx.append(
                user_id=session.user_id,
                kind="correction",
                subject=subject,
                field=field,
                old=old,
                new=new,
                reason=reason,
                batch_id=batch_id,
                data={"override": True},
            )
