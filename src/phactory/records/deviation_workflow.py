"""The deviation workflow: raised (by people or by the engine), then open -> investigation
-> CAPA -> closed, each step signed (EU GMP Annex 11 §13; 21 CFR 211.192).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, insert, select, update

from phactory.records.access import RecordTx, UserSession
from phactory.records.corrections import Corrections
from phactory.records.deviations import WORKFLOW, Deviation
from phactory.records.errors import (
    Refused,
    UnknownRecord,
)
from phactory.records.roles import Action
from phactory.records.rows import TABLES as _T
from phactory.records.rows import deviation_info as _deviation

__all__ = ["DeviationWorkflow"]


class DeviationWorkflow(Corrections):
    """Deviations: raised, investigated, CAPA, closed; each step signed."""

    def raise_in(
        self,
        tx: RecordTx,
        *,
        user_id: str,
        batch_id: str | None,
        step: str | None,
        kind: str,
        description: str,
        severity: str = "major",
    ) -> Deviation:
        """Raise a deviation inside a transaction (the engine's automatic deviations)."""
        devs = _T["deviations"]
        n = tx.conn.execute(select(func.count()).select_from(devs)).scalar_one() + 1
        deviation_id = f"DEV-{n:06d}"
        raised_at = self.now()
        tx.conn.execute(
            insert(devs).values(
                deviation_id=deviation_id,
                batch_id=batch_id,
                step=step,
                kind=kind,
                severity=severity,
                description=description,
                status="open",
                raised_at=raised_at,
                raised_by=user_id,
            )
        )
        tx.append(
            user_id=user_id,
            kind="deviation.raised",
            subject=f"deviation:{deviation_id}",
            field="status",
            new="open",
            data={"kind": kind, "severity": severity, "step": step, "description": description},
            batch_id=batch_id,
        )
        return Deviation(
            deviation_id, batch_id, step, kind, severity, description, "open", raised_at, user_id
        )

    def raise_deviation(
        self,
        session: UserSession,
        *,
        batch_id: str | None,
        description: str,
        step: str | None = None,
        kind: str = "other",
        severity: str = "major",
    ) -> Deviation:
        """Raise a deviation by hand (e.g. an observation during a step)."""
        self.authorize(session, Action.DEVIATION_RAISE, batch_id=batch_id)
        if not description.strip():
            raise Refused("a deviation needs a description")
        with self.transaction() as tx:
            return self.raise_in(
                tx,
                user_id=session.user_id,
                batch_id=batch_id,
                step=step,
                kind=kind,
                description=description,
                severity=severity,
            )

    def advance_deviation(
        self,
        session: UserSession,
        deviation_id: str,
        note: str,
        *,
        password: str,
        user_id: str | None = None,
    ) -> Deviation:
        """Move a deviation one step along open -> investigation -> capa -> closed, signed.

        Parameters
        ----------
        note
            The investigation scope, the root cause, or the CAPA and closure rationale
            (mandatory): the reason of the status change.
        password, user_id
            Signature components (:meth:`authenticate_signature`).
        """
        current = self.deviation(deviation_id)
        step = WORKFLOW.get(current.status)
        if step is None:
            raise Refused(f"deviation {deviation_id} is closed")
        self.authorize(
            session, step.action, subject=f"deviation:{deviation_id}", batch_id=current.batch_id
        )
        if not note.strip():
            raise Refused(f"moving to {step.to_status} needs the {step.note_label}")
        self.authenticate_signature(session, password, user_id)
        devs = _T["deviations"]
        with self.transaction() as tx:
            status: Any = tx.conn.execute(
                select(devs.c.status).where(devs.c.deviation_id == deviation_id)
            ).scalar_one()
            if status != current.status:
                raise Refused(f"deviation {deviation_id} changed meanwhile (now {status})")
            tx.conn.execute(
                update(devs)
                .where(devs.c.deviation_id == deviation_id)
                .values(status=step.to_status)
            )
            record_id = f"{deviation_id}/{step.to_status}"
            tx.append(
                user_id=session.user_id,
                kind="deviation.status",
                subject=f"deviation:{record_id}",
                field="status",
                old=current.status,
                new=step.to_status,
                reason=note,
                batch_id=current.batch_id,
            )
            self.sign_in(
                tx,
                session,
                record_type="deviation",
                record_id=record_id,
                meaning=step.meaning,
                batch_id=current.batch_id,
            )
        return self.deviation(deviation_id)

    def deviation(self, deviation_id: str) -> Deviation:
        """One deviation.

        Raises
        ------
        UnknownRecord
            If there is no such deviation.
        """
        devs = _T["deviations"]
        with self.reading() as conn:
            row = conn.execute(select(devs).where(devs.c.deviation_id == deviation_id)).first()
        if row is None:
            raise UnknownRecord(f"deviation {deviation_id} not found")
        return _deviation(row)

    def deviations(
        self, batch_id: str | None = None, *, open_only: bool = False
    ) -> list[Deviation]:
        """Deviations, oldest first, of one batch or all."""
        devs = _T["deviations"]
        stmt = select(devs).order_by(devs.c.deviation_id)
        if batch_id is not None:
            stmt = stmt.where(devs.c.batch_id == batch_id)
        if open_only:
            stmt = stmt.where(devs.c.status != "closed")
        with self.reading() as conn:
            return [_deviation(r) for r in conn.execute(stmt)]
