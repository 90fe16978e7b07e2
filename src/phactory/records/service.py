"""The record service: the one layer that writes GMP records, enforcing the rules.

Every public method checks the caller's session and role (:mod:`phactory.records.roles`),
runs in one transaction, and writes what it changes to the hash-chained audit trail in
that transaction, with the old and new value and the reason (21 CFR 11.10(d), (e), (g);
EU GMP Annex 11 §9, §12). Signatures need the user id and password for the first signing
of a session and the password for later ones (21 CFR 11.200(a)(1)); repeated failures
lock the account (11.300(d)).

>>> from phactory.records import RecordService
>>> records = RecordService("sqlite://")                             # doctest: +SKIP
>>> records.bootstrap_admin("admin", "Ada Admin", "correct horse")   # doctest: +SKIP
>>> admin = records.login("admin", "correct horse")                  # doctest: +SKIP

The service is assembled from parts named after what they do: access control
(:mod:`~phactory.records.access`), accounts (:mod:`~phactory.records.accounts`),
signing (:mod:`~phactory.records.signing`), corrections
(:mod:`~phactory.records.corrections`), the deviation workflow
(:mod:`~phactory.records.deviation_workflow`) and lots (:mod:`~phactory.records.lots`);
this module adds the batch record, its review and release.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from typing import Any

from sqlalchemy import select, update

from phactory.records.access import DEFAULT_SESSION_TIMEOUT_S, RecordTx, UserSession
from phactory.records.audit import (
    AuditEntry,
    ChainReport,
    read_entries,
    verify_chain,
)
from phactory.records.errors import (
    Refused,
    UnknownRecord,
)
from phactory.records.genealogy import TraceEdge
from phactory.records.lots import LotKeeping
from phactory.records.record import BatchInfo, BatchRecord, StepInfo
from phactory.records.review import (
    ReviewItem,
    release_blockers,
    review_blockers,
    review_exceptions,
)
from phactory.records.roles import Action
from phactory.records.rows import TABLES as _T
from phactory.records.rows import batch_info as _batch
from phactory.records.rows import step_info as _step
from phactory.records.signatures import (
    Signature,
    signatures_for,
)

__all__ = ["DEFAULT_SESSION_TIMEOUT_S", "RecordService", "RecordTx", "UserSession"]


class RecordService(LotKeeping):
    """Electronic batch records, audit trail, users, signatures, deviations and lots.

    Parameters
    ----------
    store
        A :class:`phactory.store.Store`, or a database URL, or ``None`` for the store's
        default (``PHACTORY_DATABASE_URL`` or the SQLite file in the data folder).
        The record tables are created or upgraded on opening.
    hasher
        Password hasher; default Argon2id (:func:`phactory.records.users.default_hasher`).
    max_failures
        Consecutive failed logins or signings that lock an account.
    session_timeout_s
        Idle time that ends a session [s].
    clock
        Current time (aware), for tests; default the system clock in UTC.
    group_commit
        Route every write transaction through the group-commit writer
        (:mod:`phactory.records.group_commit`): concurrent users, batches and engines
        share durable commits instead of paying one disk flush each. For servers with
        many writers; a single writer gains nothing.
    """

    def batch(self, batch_id: str) -> BatchInfo:
        """One batch.

        Raises
        ------
        UnknownRecord
            If there is no such batch.
        """
        with self.reading() as conn:
            row = conn.execute(
                select(_T["batches"]).where(_T["batches"].c.batch_id == batch_id)
            ).first()
        if row is None:
            raise UnknownRecord(f"batch {batch_id} not found")
        return _batch(row)

    def batches(self) -> list[BatchInfo]:
        """Every batch, newest first."""
        b = _T["batches"]
        with self.reading() as conn:
            rows = conn.execute(select(b).order_by(b.c.created_at.desc(), b.c.batch_id)).all()
        return [_batch(r) for r in rows]

    def steps(self, batch_id: str) -> list[StepInfo]:
        """The steps of a batch in execution order."""
        s = _T["steps"]
        with self.reading() as conn:
            rows = conn.execute(
                select(s).where(s.c.batch_id == batch_id).order_by(s.c.position)
            ).all()
        return [_step(r) for r in rows]

    def entries(
        self, batch_id: str | None = None, *, subject: str | None = None
    ) -> list[AuditEntry]:
        """Audit entries in chain order, of one batch and/or one subject."""
        with self.reading() as conn:
            return read_entries(conn, batch_id=batch_id, subject=subject)

    def batch_record(self, batch_id: str) -> BatchRecord:
        """The complete electronic batch record of one batch."""
        info = self.batch(batch_id)
        links = _T["links"]
        with self.reading() as conn:
            entries = read_entries(conn, batch_id=batch_id)
            sigs = signatures_for(conn, batch_id=batch_id)
            mats = [
                TraceEdge(r.lot_id, r.material, r.batch_id, r.step, r.quantity, r.unit, r.direction)
                for r in conn.execute(
                    select(links).where(links.c.batch_id == batch_id).order_by(links.c.id)
                )
            ]
        return BatchRecord(
            batch=info,
            steps=self.steps(batch_id),
            entries=entries,
            signatures=sigs,
            deviations=self.deviations(batch_id),
            materials=mats,
        )

    def review_exceptions(self, batch_id: str) -> list[ReviewItem]:
        """The exceptions QA reviews for a batch (review by exception)."""
        record = self.batch_record(batch_id)
        return review_exceptions(record.entries, record.deviations, record.signatures)

    def _disposition_in(
        self, tx: RecordTx, session: UserSession, batch_id: str, old: str, new: str, reason: str
    ) -> None:
        tx.conn.execute(
            update(_T["batches"]).where(_T["batches"].c.batch_id == batch_id).values(status=new)
        )
        tx.append(
            user_id=session.user_id,
            kind="batch.disposition",
            subject=f"batch:{batch_id}",
            field="status",
            old=old,
            new=new,
            reason=reason,
            batch_id=batch_id,
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
        self.authorize(session, Action.REVIEW, subject=f"batch:{batch_id}", batch_id=batch_id)
        info = self.batch(batch_id)
        problems = review_blockers(info.state, info.status, self.signatures(batch_id=batch_id))
        if problems:
            raise Refused(f"batch {batch_id} cannot be reviewed: {'; '.join(problems)}")
        self.authenticate_signature(session, password, user_id)
        with self.transaction() as tx:
            sig = self.sign_in(
                tx,
                session,
                record_type="batch",
                record_id=batch_id,
                meaning="reviewed",
                batch_id=batch_id,
            )
            self._disposition_in(tx, session, batch_id, info.status, "reviewed", note)
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

        The lots the batch produced are released with it, inside the signed content.

        Raises
        ------
        Refused
            If the batch did not complete, is not reviewed, has an open deviation or an
            invalid signature (EU GMP Annex 11 §15).
        """
        self.authorize(session, Action.RELEASE, subject=f"batch:{batch_id}", batch_id=batch_id)
        info = self.batch(batch_id)
        problems = release_blockers(
            info.state, info.status, self.deviations(batch_id), self.signatures(batch_id=batch_id)
        )
        if problems:
            raise Refused(f"batch {batch_id} cannot be released: {'; '.join(problems)}")
        self.authenticate_signature(session, password, user_id)
        lots = _T["lots"]
        with self.transaction() as tx:
            produced: list[Any] = list(
                tx.conn.execute(
                    select(lots.c.lot_id).where(lots.c.batch_id == batch_id).order_by(lots.c.lot_id)
                )
                .scalars()
                .all()
            )
            for lot_id in produced:
                self.lot_status_in(
                    tx,
                    session.user_id,
                    lot_id,
                    "released",
                    f"batch {batch_id} released",
                    batch_id=batch_id,
                )
            sig = self.sign_in(
                tx,
                session,
                record_type="batch",
                record_id=batch_id,
                meaning="released",
                batch_id=batch_id,
            )
            self._disposition_in(tx, session, batch_id, info.status, "released", "QP release")
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
        self.authorize(session, Action.RELEASE, subject=f"batch:{batch_id}", batch_id=batch_id)
        if not reason.strip():
            raise Refused("a rejection needs a reason")
        info = self.batch(batch_id)
        if info.status in ("released", "rejected"):
            raise Refused(f"batch {batch_id} is already {info.status}")
        self.authenticate_signature(session, password, user_id)
        lots = _T["lots"]
        with self.transaction() as tx:
            lot_id: Any
            for lot_id in (
                tx.conn.execute(select(lots.c.lot_id).where(lots.c.batch_id == batch_id))
                .scalars()
                .all()
            ):
                self.lot_status_in(tx, session.user_id, lot_id, "rejected", reason, batch_id)
            self._disposition_in(tx, session, batch_id, info.status, "rejected", reason)
            return self.sign_in(
                tx,
                session,
                record_type="batch",
                record_id=batch_id,
                meaning="approved",
                batch_id=batch_id,
            )

    def verify_audit(self, progress: Callable[[int], None] | None = None) -> ChainReport:
        """Verify the whole audit chain; the report names the first bad entry."""
        return verify_chain(self.engine, progress=progress)


def runner_identity() -> str:
    """``host:pid`` of this process, as recorded in an engine lease."""
    return f"{socket.gethostname()}:{os.getpid()}"
