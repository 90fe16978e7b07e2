"""Reading the record: batches, steps, entries, signatures, deviations, lots, allocations.

:class:`RecordView` is the read side of a record transaction
(:class:`phactory.records.RecordTx`) and what a read connection of the record service
offers; the parts of :class:`phactory.records.RecordService` read through it. The
tables themselves stay private to :mod:`phactory.records`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, select

from phactory.records.audit import AuditEntry, read_entries
from phactory.records.deviations import Deviation
from phactory.records.errors import UnknownRecord
from phactory.records.genealogy import TraceEdge
from phactory.records.record import Allocation, BatchInfo, LotInfo, StepInfo
from phactory.records.rows import TABLES as _T
from phactory.records.rows import (
    allocation_info,
    batch_info,
    deviation_info,
    lot_info,
    step_info,
)
from phactory.records.signatures import Signature, signatures_for

__all__ = ["HOLD_STATES", "RecordView"]

#: Batch states in which a batch is on hold (ISA-88 Holding and Held).
HOLD_STATES = ("Holding", "Held")
#: Entry kinds of recorded values of a data item, whose newest is its current value.
_VALUE_KINDS = ("entry", "value", "correction")


class RecordView:
    """Reads of the record on one connection.

    Parameters
    ----------
    conn
        A connection (in a write transaction for :class:`RecordTx`).
    """

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    # -- batches and steps ---------------------------------------------------------------

    def batch(self, batch_id: str, *, lock: bool = False) -> BatchInfo:
        """One batch; ``lock``: lock its row until the transaction ends (PostgreSQL).

        Raises
        ------
        UnknownRecord
            If there is no such batch.
        """
        b = _T["batches"]
        stmt = select(b).where(b.c.batch_id == batch_id)
        if lock and self.conn.dialect.name == "postgresql":
            stmt = stmt.with_for_update()
        row = self.conn.execute(stmt).first()
        if row is None:
            raise UnknownRecord(f"batch {batch_id} not found")
        return batch_info(row)

    def batches(self, site_id: str | None = None) -> list[BatchInfo]:
        """Every batch (of one site), newest first."""
        b = _T["batches"]
        stmt = select(b).order_by(b.c.created_at.desc(), b.c.batch_id)
        if site_id is not None:
            stmt = stmt.where(b.c.site_id == site_id)
        return [batch_info(r) for r in self.conn.execute(stmt)]

    def batch_ids(self, prefix: str) -> list[str]:
        """Ids of the batches whose id starts with ``prefix`` (case-sensitive)."""
        b = _T["batches"]
        stmt = select(b.c.batch_id).where(b.c.batch_id.startswith(prefix, autoescape=True))
        # SQLite's LIKE ignores case: filter again.
        return [str(r[0]) for r in self.conn.execute(stmt) if str(r[0]).startswith(prefix)]

    def batch_exists(self, batch_id: str) -> bool:
        """Whether the batch exists."""
        b = _T["batches"]
        return (
            self.conn.execute(select(b.c.batch_id).where(b.c.batch_id == batch_id)).first()
            is not None
        )

    def steps(self, batch_id: str) -> list[StepInfo]:
        """The steps of a batch in execution order."""
        s = _T["steps"]
        rows = self.conn.execute(select(s).where(s.c.batch_id == batch_id).order_by(s.c.position))
        return [step_info(r) for r in rows]

    def step(self, batch_id: str, step: str) -> StepInfo:
        """One step of a batch.

        Raises
        ------
        UnknownRecord
            If the batch has no such step.
        """
        s = _T["steps"]
        row = self.conn.execute(select(s).where(s.c.batch_id == batch_id, s.c.step == step)).first()
        if row is None:
            raise UnknownRecord(f"batch {batch_id} has no step {step}")
        return step_info(row)

    def hold_reason(self, batch_id: str) -> str | None:
        """Why the batch is on hold (the reason of the change that put it on hold), or
        ``None`` if it is not."""
        entries = read_entries(self.conn, subject=f"batch:{batch_id}", kinds=["batch.state"])
        if not entries or entries[-1].new not in HOLD_STATES:
            return None
        for e in reversed(entries):
            if e.new in HOLD_STATES and e.old not in HOLD_STATES:
                return e.reason or None
        return None

    # -- the audit trail and signatures --------------------------------------------------

    def entries(
        self,
        batch_id: str | None = None,
        *,
        subject: str | None = None,
        kinds: Sequence[str] | None = None,
        after_seq: int | None = None,
    ) -> list[AuditEntry]:
        """Audit entries in chain order, of one batch, subject and/or some kinds."""
        return read_entries(
            self.conn, batch_id=batch_id, subject=subject, kinds=kinds, after_seq=after_seq
        )

    def latest_value(self, subject: str, field: str) -> Any:
        """The newest recorded value of a data item, or ``None`` if there is none."""
        values = [e for e in self.entries(subject=subject, kinds=_VALUE_KINDS) if e.field == field]
        return values[-1].new if values else None

    def signatures(
        self,
        *,
        batch_id: str | None = None,
        record_type: str | None = None,
        record_id: str | None = None,
    ) -> list[Signature]:
        """Signatures (oldest first), each verified against its record as it is now."""
        return signatures_for(
            self.conn, batch_id=batch_id, record_type=record_type, record_id=record_id
        )

    # -- deviations ----------------------------------------------------------------------

    def deviation(self, deviation_id: str) -> Deviation:
        """One deviation.

        Raises
        ------
        UnknownRecord
            If there is no such deviation.
        """
        d = _T["deviations"]
        row = self.conn.execute(select(d).where(d.c.deviation_id == deviation_id)).first()
        if row is None:
            raise UnknownRecord(f"deviation {deviation_id} not found")
        return deviation_info(row)

    def deviations(
        self, batch_id: str | None = None, *, open_only: bool = False
    ) -> list[Deviation]:
        """Deviations, oldest first, of one batch or all."""
        d = _T["deviations"]
        stmt = select(d).order_by(d.c.deviation_id)
        if batch_id is not None:
            stmt = stmt.where(d.c.batch_id == batch_id)
        if open_only:
            stmt = stmt.where(d.c.status != "closed")
        return [deviation_info(r) for r in self.conn.execute(stmt)]

    def deviation_for(self, batch_id: str | None, step: str | None, cause: str) -> Deviation | None:
        """The deviation a cause raised on a batch step, if any (one per cause)."""
        d = _T["deviations"]
        row = self.conn.execute(
            select(d)
            .where(d.c.batch_id == batch_id, d.c.step == step, d.c.cause == cause)
            .order_by(d.c.deviation_id)
        ).first()
        return None if row is None else deviation_info(row)

    # -- lots and genealogy --------------------------------------------------------------

    def lot(self, lot_id: str) -> LotInfo:
        """A lot.

        Raises
        ------
        UnknownRecord
            If the lot is not known to the record.
        """
        lots = _T["lots"]
        row = self.conn.execute(select(lots).where(lots.c.lot_id == lot_id)).first()
        if row is None:
            raise UnknownRecord(f"lot {lot_id} not found")
        return lot_info(row)

    def lot_exists(self, lot_id: str) -> bool:
        """Whether the lot is known to the record."""
        lots = _T["lots"]
        return (
            self.conn.execute(select(lots.c.lot_id).where(lots.c.lot_id == lot_id)).first()
            is not None
        )

    def lots(
        self,
        material: str | None = None,
        *,
        status: str | None = None,
        patient: str | None = None,
        batch_id: str | None = None,
    ) -> list[LotInfo]:
        """Lots, first expiring first (then by id), filtered by what is given.

        ``batch_id`` selects the lots a batch produced.
        """
        lots = _T["lots"]
        stmt = select(lots).order_by(lots.c.expiry.is_(None), lots.c.expiry, lots.c.lot_id)
        for column, value in (
            (lots.c.material, material),
            (lots.c.status, status),
            (lots.c.patient, patient),
            (lots.c.batch_id, batch_id),
        ):
            if value is not None:
                stmt = stmt.where(column == value)
        return [lot_info(r) for r in self.conn.execute(stmt)]

    def materials(self, batch_id: str) -> list[TraceEdge]:
        """The lots a batch consumed and produced, in the order recorded."""
        links = _T["links"]
        return [
            TraceEdge(r.lot_id, r.material, r.batch_id, r.step, r.quantity, r.unit, r.direction)
            for r in self.conn.execute(
                select(links).where(links.c.batch_id == batch_id).order_by(links.c.id)
            )
        ]

    # -- unit allocations ----------------------------------------------------------------

    def allocations(
        self,
        *,
        batch_id: str | None = None,
        equipment_class: str | None = None,
        current: bool = False,
    ) -> list[Allocation]:
        """Unit allocations in the order requested; ``current``: not released yet
        (held, or waiting for a unit)."""
        a = _T["allocations"]
        stmt = select(a).order_by(a.c.requested_at, a.c.id)
        if batch_id is not None:
            stmt = stmt.where(a.c.batch_id == batch_id)
        if equipment_class is not None:
            stmt = stmt.where(a.c.equipment_class == equipment_class)
        if current:
            stmt = stmt.where(a.c.released_at.is_(None))
        return [allocation_info(r) for r in self.conn.execute(stmt)]
