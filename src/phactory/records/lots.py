"""Lots and material movements: receipt, QA disposition, consumption and production by
batch steps (the genealogy edges), and tracing.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any

from sqlalchemy import insert, select, update

from phactory.records.access import RecordTx, UserSession
from phactory.records.audit import (
    AuditEntry,
)
from phactory.records.deviation_workflow import DeviationWorkflow
from phactory.records.errors import (
    Refused,
    UnknownRecord,
)
from phactory.records.genealogy import Direction, Genealogy, trace
from phactory.records.record import LotInfo
from phactory.records.roles import Action
from phactory.records.rows import LOT_STATUSES as _LOT_STATUSES
from phactory.records.rows import TABLES as _T
from phactory.records.rows import lot_info as _lot
from phactory.records.users import (
    SYSTEM_USER,
    check_user_id,
)

if TYPE_CHECKING:
    from phactory.model import Site

__all__ = ["LotKeeping"]


class LotKeeping(DeviationWorkflow):
    """Lots, their status and their movements through batches."""

    def register_site_lots(self, site: Site) -> list[str]:
        """Make the lots of a site file known to the record (those not known yet).

        Returns
        -------
        list of str
            The lot ids added.
        """
        lots = _T["lots"]
        added = []
        with self.transaction() as tx:
            known: set[Any] = set(tx.conn.execute(select(lots.c.lot_id)).scalars())
            for lot in site.lots.values():
                if lot.id in known:
                    continue
                unit = lot.quantity.unit or site.materials[lot.material].unit
                self._insert_lot(
                    tx,
                    SYSTEM_USER,
                    LotInfo(
                        lot.id,
                        lot.material,
                        lot.quantity.value,
                        unit,
                        lot.status,
                        lot.expiry.isoformat() if lot.expiry else None,
                        None,
                        None,
                    ),
                    reason=f"from site {site.id}",
                )
                added.append(lot.id)
        return added

    def _insert_lot(self, tx: RecordTx, user_id: str, lot: LotInfo, *, reason: str) -> None:
        tx.conn.execute(
            insert(_T["lots"]).values(
                lot_id=lot.lot_id,
                material=lot.material,
                quantity=lot.quantity,
                unit=lot.unit,
                status=lot.status,
                expiry=lot.expiry,
                patient=lot.patient,
                batch_id=lot.batch_id,
            )
        )
        tx.append(
            user_id=user_id,
            kind="lot.registered",
            subject=f"lot:{lot.lot_id}",
            new={
                "material": lot.material,
                "quantity": lot.quantity,
                "unit": lot.unit,
                "status": lot.status,
                "expiry": lot.expiry,
                "patient": lot.patient,
            },
            reason=reason,
            batch_id=lot.batch_id,
        )

    def receive_lot(
        self,
        session: UserSession,
        lot_id: str,
        material: str,
        quantity: float,
        unit: str,
        *,
        patient: str | None = None,
        expiry: date | None = None,
    ) -> LotInfo:
        """Receive a lot into quarantine (e.g. a patient's apheresis with its patient id)."""
        self.authorize(session, Action.LOT_RECEIVE, subject=f"lot:{lot_id}")
        check_user_id(lot_id)  # the same character rules as ids
        if quantity <= 0:
            raise Refused("a lot needs a positive quantity")
        with self.transaction() as tx:
            if tx.conn.execute(
                select(_T["lots"].c.lot_id).where(_T["lots"].c.lot_id == lot_id)
            ).first():
                raise Refused(f"lot {lot_id} exists already")
            self._insert_lot(
                tx,
                session.user_id,
                LotInfo(
                    lot_id,
                    material,
                    float(quantity),
                    unit,
                    "quarantine",
                    expiry.isoformat() if expiry else None,
                    patient,
                    None,
                ),
                reason="received",
            )
        return self.lot(lot_id)

    def set_lot_status(
        self, session: UserSession, lot_id: str, status: str, reason: str
    ) -> LotInfo:
        """QA disposition of a lot (quarantine, released, rejected)."""
        self.authorize(session, Action.LOT_DISPOSITION, subject=f"lot:{lot_id}")
        if status not in _LOT_STATUSES:
            raise Refused(f"unknown lot status {status!r}")
        with self.transaction() as tx:
            self.lot_status_in(tx, session.user_id, lot_id, status, reason)
        return self.lot(lot_id)

    def lot_status_in(
        self,
        tx: RecordTx,
        user_id: str,
        lot_id: str,
        status: str,
        reason: str,
        batch_id: str | None = None,
    ) -> None:
        """Change a lot's status inside a transaction, audited."""
        lots = _T["lots"]
        old = tx.conn.execute(select(lots.c.status).where(lots.c.lot_id == lot_id)).scalar()
        if old is None:
            raise UnknownRecord(f"lot {lot_id} not found")
        if old == status:
            return
        tx.conn.execute(update(lots).where(lots.c.lot_id == lot_id).values(status=status))
        tx.append(
            user_id=user_id,
            kind="lot.status",
            subject=f"lot:{lot_id}",
            field="status",
            old=old,
            new=status,
            reason=reason,
            batch_id=batch_id,
        )

    def lot(self, lot_id: str) -> LotInfo:
        """A lot.

        Raises
        ------
        UnknownRecord
            If the lot is not known to the record.
        """
        with self.reading() as conn:
            row = conn.execute(select(_T["lots"]).where(_T["lots"].c.lot_id == lot_id)).first()
        if row is None:
            raise UnknownRecord(f"lot {lot_id} not found")
        return _lot(row)

    def lots(self, material: str | None = None) -> list[LotInfo]:
        """Lots, by expiry then id (first expiring first), optionally of one material."""
        lots = _T["lots"]
        stmt = select(lots).order_by(lots.c.expiry.is_(None), lots.c.expiry, lots.c.lot_id)
        if material is not None:
            stmt = stmt.where(lots.c.material == material)
        with self.reading() as conn:
            return [_lot(r) for r in conn.execute(stmt)]

    def consume_in(
        self,
        tx: RecordTx,
        *,
        user_id: str,
        batch_id: str,
        step: str,
        lot: LotInfo,
        quantity: float,
        unit: str,
        data: dict[str, Any] | None = None,
    ) -> AuditEntry:
        """Record a lot consumed by a batch step: genealogy edge, lot quantity, audit."""
        subject = f"step:{batch_id}/{step}"
        entry = tx.append(
            user_id=user_id,
            kind="material.consumed",
            subject=subject,
            field=lot.material,
            new={"lot": lot.lot_id, "quantity": quantity, "unit": unit},
            data=data or {},
            batch_id=batch_id,
        )
        _link(tx, entry, step, lot.lot_id, lot.material, quantity, unit, "consumed")
        lots = _T["lots"]
        current = tx.conn.execute(
            select(lots.c.quantity).where(lots.c.lot_id == lot.lot_id)
        ).scalar()
        if current is not None and unit == lot.unit:
            left = max(0.0, float(current) - quantity)
            tx.conn.execute(update(lots).where(lots.c.lot_id == lot.lot_id).values(quantity=left))
            tx.append(
                user_id=user_id,
                kind="lot.quantity",
                subject=f"lot:{lot.lot_id}",
                field="quantity",
                old=float(current),
                new=left,
                reason=f"consumed by batch {batch_id} step {step}",
                batch_id=batch_id,
            )
        return entry

    def produce_in(
        self,
        tx: RecordTx,
        *,
        user_id: str,
        batch_id: str,
        step: str,
        lot_id: str,
        material: str,
        quantity: float,
        unit: str,
        patient: str | None,
    ) -> AuditEntry:
        """Record a lot produced by a batch step: new lot (quarantine), genealogy edge."""
        self._insert_lot(
            tx,
            user_id,
            LotInfo(lot_id, material, quantity, unit, "quarantine", None, patient, batch_id),
            reason=f"produced by batch {batch_id} step {step}",
        )
        entry = tx.append(
            user_id=user_id,
            kind="material.produced",
            subject=f"step:{batch_id}/{step}",
            field=material,
            new={"lot": lot_id, "quantity": quantity, "unit": unit},
            batch_id=batch_id,
        )
        _link(tx, entry, step, lot_id, material, quantity, unit, "produced")
        return entry

    def trace(self, lot_id: str, direction: Direction = "forward") -> Genealogy:
        """The genealogy of a lot, forward or backward (see :func:`genealogy.trace`)."""
        with self.reading() as conn:
            known = conn.execute(
                select(_T["lots"].c.lot_id).where(_T["lots"].c.lot_id == lot_id)
            ).first()
            if known is None:
                raise UnknownRecord(f"lot {lot_id} not found")
            return trace(conn, lot_id, direction)


def _link(
    tx: RecordTx,
    entry: AuditEntry,
    step: str,
    lot_id: str,
    material: str,
    quantity: float,
    unit: str,
    direction: str,
) -> None:
    """The genealogy edge of a lot consumed or produced by a batch step, tied to its entry."""
    tx.flush()  # the entry's row must exist before the edge that refers to its seq
    tx.conn.execute(
        insert(_T["links"]).values(
            batch_id=entry.batch_id,
            step=step,
            lot_id=lot_id,
            material=material,
            quantity=quantity,
            unit=unit,
            direction=direction,
            audit_seq=entry.seq,
        )
    )
