"""Executing electronic signatures and reading them back, checked (21 CFR 11.50, 11.70).

See :mod:`phactory.records.signatures` for the manifestation, the hashes that bind a
signature to its record, and the re-signature of a record after a correction.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import insert

from phactory.records.access import RecordTx, UserSession
from phactory.records.accounts import Accounts
from phactory.records.audit import (
    format_ts,
)
from phactory.records.errors import (
    Refused,
)
from phactory.records.rows import TABLES as _T
from phactory.records.signatures import (
    MEANINGS,
    Signature,
    content_hash,
    record_content,
    signature_hash,
    signatures_for,
)

__all__ = ["Signing"]


class Signing(Accounts):
    """Signatures: executed in a transaction, read back verified."""

    def sign_in(
        self,
        tx: RecordTx,
        session: UserSession,
        *,
        record_type: str,
        record_id: str,
        meaning: str,
        batch_id: str | None = None,
        data: dict[str, Any] | None = None,
    ) -> Signature:
        """Execute a signature inside a transaction, after :meth:`authenticate_signature`.

        The signature binds the printed name, the time, the meaning and the content hash
        of the record as it is in this transaction (21 CFR 11.50, 11.70).

        Parameters
        ----------
        data
            Details for the audit entry of the signing (e.g. which invalidated
            signature a re-signature replaces and the corrections that invalidated it).
        """
        if meaning not in MEANINGS:
            raise Refused(f"unknown signature meaning {meaning!r}: use one of {MEANINGS}")
        tx.flush()
        chash = content_hash(
            record_type, record_id, record_content(tx.conn, record_type, record_id)
        )
        signed_at = format_ts(self.now())
        seal = signature_hash(
            record_type=record_type,
            record_id=record_id,
            batch_id=batch_id,
            user_id=session.user_id,
            printed_name=session.full_name,
            meaning=meaning,
            signed_at=signed_at,
            content_hash=chash,
        )
        entry = tx.append(
            user_id=session.user_id,
            kind="signature",
            subject=f"{record_type}:{record_id}",
            field=meaning,
            new={
                "printed_name": session.full_name,
                "meaning": meaning,
                "signed_at": signed_at,
                "content_hash": chash,
                "signature_hash": seal,
            },
            data=data,
            batch_id=batch_id,
        )
        tx.flush()
        row: dict[str, Any] = {
            "batch_id": batch_id,
            "record_type": record_type,
            "record_id": record_id,
            "user_id": session.user_id,
            "printed_name": session.full_name,
            "meaning": meaning,
            "signed_at": signed_at,
            "content_hash": chash,
            "signature_hash": seal,
            "audit_seq": entry.seq,
        }
        result = tx.conn.execute(insert(_T["signatures"]).values(**row))
        session.signed = True
        pk = result.inserted_primary_key
        return Signature(id=int(pk[0]) if pk else 0, **row, valid=True)

    def signatures(
        self,
        *,
        batch_id: str | None = None,
        record_type: str | None = None,
        record_id: str | None = None,
    ) -> list[Signature]:
        """Signatures, each verified against its record as it is now (21 CFR 11.70)."""
        with self.reading() as conn:
            return signatures_for(
                conn, batch_id=batch_id, record_type=record_type, record_id=record_id
            )

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
