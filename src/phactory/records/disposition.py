"""The disposition of a batch record: review by exception (QA), release or rejection (QP).

QA signs the review of a finished batch record (meaning *reviewed*); the Qualified
Person certifies the batch with a signature (meaning *released*), releasing the lots it
made, or rejects it. What the release changes (the batch's disposition and the status of
its lots) is not part of what the review signed, so the review signature stays valid
(:func:`phactory.records.signatures.unsigned_kinds`); :meth:`Disposition.state` gives the
disposition as it truly stands (EU GMP Annex 11 §15, Annex 16 §1.7).
"""

from __future__ import annotations

from phactory.records.access import AccessControl
from phactory.records.accounts import Accounts
from phactory.records.errors import Refused
from phactory.records.inputs import required_text
from phactory.records.review import (
    DispositionState,
    ReviewItem,
    disposition_state,
    release_blockers,
    review_blockers,
    review_exceptions,
)
from phactory.records.roles import Action
from phactory.records.session import UserSession
from phactory.records.signatures import Signature
from phactory.records.tx import RecordTx

__all__ = ["Disposition"]


class Disposition:
    """Review, release and rejection of batch records.

    Parameters
    ----------
    access
        The record service's access control.
    accounts
        Checks the components of each signing.
    """

    def __init__(self, access: AccessControl, accounts: Accounts) -> None:
        self.access = access
        self.accounts = accounts

    def exceptions(self, batch_id: str) -> list[ReviewItem]:
        """The exceptions QA reviews for a batch (review by exception)."""
        with self.access.reading() as view:
            return review_exceptions(
                view.entries(batch_id),
                view.deviations(batch_id),
                view.signatures(batch_id=batch_id),
            )

    def state(self, batch_id: str) -> DispositionState:
        """Where the batch record stands, signatures checked: what the page shows.

        Raises
        ------
        UnknownRecord
            If there is no such batch.
        """
        with self.access.reading() as view:
            info = view.batch(batch_id)
            return disposition_state(
                batch_id,
                info.state,
                info.status,
                view.deviations(batch_id),
                view.signatures(batch_id=batch_id),
            )

    def review(
        self,
        session: UserSession,
        batch_id: str,
        *,
        password: str,
        user_id: str | None = None,
        note: str = "reviewed by exception",
    ) -> Signature:
        """QA signs the review of a finished batch record (meaning *reviewed*)."""
        self.access.authorize(
            session, Action.REVIEW, subject=f"batch:{batch_id}", batch_id=batch_id
        )
        required_text(note, "review note", "a review needs a note")
        with self.access.reading() as view:
            info = view.batch(batch_id)
            problems = review_blockers(info.state, info.status, view.signatures(batch_id=batch_id))
        if problems:
            raise Refused(f"batch {batch_id} cannot be reviewed: {'; '.join(problems)}")
        self.accounts.authenticate_signature(session, password, user_id)
        with self.access.transaction(acting_account=session.acting_account) as tx:
            self._unchanged(tx, batch_id, info.status)
            sig = tx.sign(
                session,
                record_type="batch",
                record_id=batch_id,
                meaning="reviewed",
                batch_id=batch_id,
            )
            tx.set_batch_status(
                batch_id, info.status, "reviewed", reason=note, user_id=session.user_id
            )
        return sig

    def release(
        self,
        session: UserSession,
        batch_id: str,
        *,
        password: str,
        user_id: str | None = None,
    ) -> Signature:
        """The QP certifies the batch with a signature (meaning *released*).

        The lots the batch produced (and did not use up) are released with it, inside the
        content the release signs and outside what the review signed.

        Raises
        ------
        Refused
            If the batch did not complete, is not reviewed, has an open deviation or an
            invalid signature (EU GMP Annex 11 §15).
        """
        self.access.authorize(
            session, Action.RELEASE, subject=f"batch:{batch_id}", batch_id=batch_id
        )
        with self.access.reading() as view:
            info = view.batch(batch_id)
            problems = release_blockers(
                info.state,
                info.status,
                view.deviations(batch_id),
                view.signatures(batch_id=batch_id),
            )
        if problems:
            raise Refused(f"batch {batch_id} cannot be released: {'; '.join(problems)}")
        self.accounts.authenticate_signature(session, password, user_id)
        with self.access.transaction(acting_account=session.acting_account) as tx:
            self._unchanged(tx, batch_id, info.status)
            self._dispose_lots(tx, session, batch_id, "released", f"batch {batch_id} released")
            sig = tx.sign(
                session,
                record_type="batch",
                record_id=batch_id,
                meaning="released",
                batch_id=batch_id,
            )
            tx.set_batch_status(
                batch_id, info.status, "released", reason="QP release", user_id=session.user_id
            )
        return sig

    def reject(
        self,
        session: UserSession,
        batch_id: str,
        reason: str,
        *,
        password: str,
        user_id: str | None = None,
    ) -> Signature:
        """The QP rejects the batch (signed, meaning *approved* of the rejection)."""
        self.access.authorize(
            session, Action.RELEASE, subject=f"batch:{batch_id}", batch_id=batch_id
        )
        required_text(reason, "reason", "a rejection needs a reason")
        with self.access.reading() as view:
            info = view.batch(batch_id)
        if info.status in ("released", "rejected"):
            raise Refused(f"batch {batch_id} is already {info.status}")
        self.accounts.authenticate_signature(session, password, user_id)
        with self.access.transaction(acting_account=session.acting_account) as tx:
            self._unchanged(tx, batch_id, info.status)
            self._dispose_lots(tx, session, batch_id, "rejected", reason)
            tx.set_batch_status(
                batch_id, info.status, "rejected", reason=reason, user_id=session.user_id
            )
            return tx.sign(
                session,
                record_type="batch",
                record_id=batch_id,
                meaning="approved",
                batch_id=batch_id,
            )

    @staticmethod
    def _unchanged(tx: RecordTx, batch_id: str, status: str) -> None:
        """Under the chain lock: refuse if someone disposed of the batch meanwhile."""
        now = tx.batch(batch_id, lock=True).status
        if now != status:
            raise Refused(f"batch {batch_id} became {now} meanwhile")

    @staticmethod
    def _dispose_lots(
        tx: RecordTx, session: UserSession, batch_id: str, status: str, reason: str
    ) -> None:
        """Release or reject the lots the batch made and did not use up."""
        for lot in tx.lots(batch_id=batch_id):
            if lot.status == "consumed":
                continue
            tx.set_lot_status(
                lot.lot_id,
                status,
                user_id=session.user_id,
                reason=reason,
                batch_id=batch_id,
                kind="lot.disposition",
            )
