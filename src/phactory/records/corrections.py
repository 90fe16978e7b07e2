"""Comments and GMP corrections: a change is a new audit entry with old and new value and
the reason; nothing is overwritten (21 CFR 11.10(e); EU GMP Annex 11 §9). A correction
invalidates the signatures over the record until they are re-signed.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, select

from phactory.records.access import UserSession
from phactory.records.audit import (
    AuditEntry,
    read_entries,
)
from phactory.records.errors import (
    Refused,
)
from phactory.records.roles import Action
from phactory.records.rows import TABLES as _T
from phactory.records.signing import Signing

__all__ = ["Corrections"]


class Corrections(Signing):
    """Comments and corrections of recorded values."""

    def comment(
        self,
        session: UserSession,
        text: str,
        *,
        batch_id: str | None = None,
        subject: str | None = None,
    ) -> AuditEntry:
        """Add a comment to a batch record (or to another record by ``subject``)."""
        if not text.strip():
            raise Refused("a comment needs text")
        subject = subject or (f"batch:{batch_id}" if batch_id else f"user:{session.user_id}")
        self.authorize(session, Action.RECORD_COMMENT, subject=subject, batch_id=batch_id)
        with self.transaction() as tx:
            self._refuse_if_disposed(tx.conn, batch_id)
            return tx.append(
                user_id=session.user_id,
                kind="comment",
                subject=subject,
                new=text,
                batch_id=batch_id,
            )

    def latest_value(self, conn: Connection, subject: str, field_name: str) -> Any:
        """The newest recorded value of a data item, or ``None`` if there is none."""
        entries = [
            e
            for e in read_entries(conn, subject=subject)
            if e.field == field_name and e.kind in ("entry", "value", "correction")
        ]
        return entries[-1].new if entries else None

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
        self.authorize(session, Action.RECORD_CORRECT, subject=subject, batch_id=batch_id)
        if not reason.strip():
            raise Refused("a correction needs a reason")
        with self.transaction() as tx:
            self._refuse_if_disposed(tx.conn, batch_id)
            old = self.latest_value(tx.conn, subject, field)
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

    def _refuse_if_disposed(self, conn: Connection, batch_id: str | None) -> None:
        if batch_id is None:
            return
        status = conn.execute(
            select(_T["batches"].c.status).where(_T["batches"].c.batch_id == batch_id)
        ).scalar()
        if status in ("reviewed", "released", "rejected"):
            raise Refused(f"batch {batch_id} is {status}: its record can no longer change")
