"""The write API of the record: one transaction, its audit writer, and what it may change.

Everything that changes the electronic batch record goes through a :class:`RecordTx`
(from :meth:`phactory.records.AccessControl.transaction`): each method changes the
current state (batches, steps, deviations, lots, allocations, signatures) and writes
the change to the hash-chained audit trail in the same transaction, with old and new
value and the reason (21 CFR 11.10(e)). The batch engine writes only through it and
never sees the record tables.

Every audit entry appended in the transaction records the transaction's
``acting_account`` (the application account that acted, see
:mod:`phactory.records.audit`) unless the call names another.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import Connection, func, insert, select, update

from phactory.records.audit import AuditEntry, AuditWriter, format_ts
from phactory.records.deviations import Deviation
from phactory.records.errors import Refused, UnknownRecord
from phactory.records.record import Allocation, LotInfo
from phactory.records.rows import TABLES as _T
from phactory.records.session import UserSession
from phactory.records.signatures import (
    MEANINGS,
    Signature,
    content_hash,
    record_content,
    signature_hash,
)
from phactory.records.view import RecordView

__all__ = ["NewStep", "RecordTx"]


class NewStep(NamedTuple):
    """A step of a new batch: its path, ``automatic`` or ``manual``, and its unit (``""``
    until its unit procedure is allocated one)."""

    step: str
    kind: str
    unit: str = ""


class RecordTx(RecordView):
    """One write transaction: its connection, the audit writer bound to it, the write API.

    Parameters
    ----------
    conn
        A connection in a write transaction.
    audit
        The audit writer of the transaction (it holds the chain lock).
    clock
        The record service's clock (aware UTC).
    acting_account
        Recorded with every entry appended (see :mod:`phactory.records.audit`).
    """

    def __init__(
        self,
        conn: Connection,
        audit: AuditWriter,
        clock: Callable[[], datetime],
        acting_account: str | None = None,
    ) -> None:
        super().__init__(conn)
        self.audit = audit
        self._clock = clock
        self.acting_account = acting_account

    def now(self) -> datetime:
        """The record service's current time (aware UTC)."""
        return self._clock()

    def append(self, **kwargs: Any) -> AuditEntry:
        """Append an audit entry (see :meth:`AuditWriter.append`), with the transaction's
        acting account unless ``acting_account`` is given."""
        kwargs.setdefault("acting_account", self.acting_account)
        return self.audit.append(**kwargs)

    def flush(self) -> None:
        """Insert buffered audit entries, before reading the trail in this transaction."""
        self.audit.flush()

    # -- batches and steps ---------------------------------------------------------------

    def insert_batch(
        self,
        batch_id: str,
        *,
        site_id: str,
        recipe_id: str,
        recipe_version: str,
        product: str,
        order_id: str | None,
        patient: str | None,
        state: str,
        control_recipe: dict[str, Any],
        steps: Sequence[NewStep],
        user_id: str,
        summary: dict[str, Any],
        time_scale: float | None = None,
    ) -> None:
        """Record a new batch (disposition ``in_progress``), its steps (Idle) and the
        entry ``batch.created`` with ``summary`` and the control recipe.

        ``time_scale`` (recipe time / wall-clock time, ``math.inf`` allowed) is kept with
        the batch; the caller puts it in ``summary`` as JSON can hold it.

        Raises
        ------
        Refused
            If the batch id exists already.
        """
        if self.batch_exists(batch_id):
            raise Refused(f"batch {batch_id} exists already")
        self.conn.execute(
            insert(_T["batches"]).values(
                batch_id=batch_id,
                site_id=site_id,
                recipe_id=recipe_id,
                recipe_version=recipe_version,
                product=product,
                order_id=order_id,
                patient=patient,
                state=state,
                status="in_progress",
                control_recipe=control_recipe,
                created_at=self.now(),
                created_by=user_id,
                time_scale=time_scale,
            )
        )
        if steps:
            self.conn.execute(
                insert(_T["steps"]),
                [
                    {
                        "batch_id": batch_id,
                        "step": s.step,
                        "position": i,
                        "kind": s.kind,
                        "unit": s.unit,
                        "state": state,
                        "elapsed_h": 0.0,
                    }
                    for i, s in enumerate(steps)
                ],
            )
        self.append(
            user_id=user_id,
            kind="batch.created",
            subject=f"batch:{batch_id}",
            new=summary,
            data={"control_recipe": control_recipe},
            batch_id=batch_id,
        )

    def set_batch_state(
        self, batch_id: str, old: str, new: str, *, reason: str, user_id: str, ended: bool = False
    ) -> None:
        """Change a batch's ISA-88 state (``ended``: it has finished), audited."""
        stamps = {"ended_at": self.now()} if ended else {}
        self._change_batch(batch_id, "state", old, new, "batch.state", reason, user_id, stamps)

    def set_batch_status(
        self, batch_id: str, old: str, new: str, *, reason: str, user_id: str
    ) -> None:
        """Change a batch record's disposition (reviewed, released, rejected), audited."""
        self._change_batch(batch_id, "status", old, new, "batch.disposition", reason, user_id)

    def _change_batch(
        self,
        batch_id: str,
        column: str,
        old: str,
        new: str,
        kind: str,
        reason: str,
        user_id: str,
        stamps: dict[str, Any] | None = None,
    ) -> None:
        """Set a column of a batch (and ``stamps``, times), audited as ``kind``."""
        self._update_batch(batch_id, **{column: new, **(stamps or {})})
        self.append(
            user_id=user_id,
            kind=kind,
            subject=f"batch:{batch_id}",
            field=column,
            old=old,
            new=new,
            reason=reason,
            batch_id=batch_id,
        )

    def set_step_state(
        self,
        batch_id: str,
        step: str,
        old: str,
        new: str,
        *,
        reason: str,
        user_id: str,
        started: bool = False,
        ended: bool = False,
    ) -> None:
        """Change a step's ISA-88 state (``started``/``ended``: stamp when), audited."""
        values: dict[str, Any] = {"state": new}
        if started:
            values["started_at"] = self.now()
        if ended:
            values["ended_at"] = self.now()
        self._update_steps(batch_id, [step], **values)
        self.append(
            user_id=user_id,
            kind="phase.state",
            subject=f"step:{batch_id}/{step}",
            field="state",
            old=old,
            new=new,
            reason=reason,
            batch_id=batch_id,
        )

    def set_step_progress(self, batch_id: str, step: str, elapsed_h: float) -> None:
        """The recipe time a step has run [h] (recorded with its samples)."""
        self._update_steps(batch_id, [step], elapsed_h=float(elapsed_h))

    def block_step(self, batch_id: str, step: str, deviation_id: str) -> None:
        """Block a step until the deviation is closed (no entries are taken)."""
        self._update_steps(batch_id, [step], blocked_by=deviation_id)

    def _update_batch(self, batch_id: str, **values: Any) -> None:
        b = _T["batches"]
        self.conn.execute(update(b).where(b.c.batch_id == batch_id).values(**values))

    def _update_steps(self, batch_id: str, steps: Sequence[str], **values: Any) -> None:
        s = _T["steps"]
        self.conn.execute(
            update(s).where(s.c.batch_id == batch_id, s.c.step.in_(steps)).values(**values)
        )

    # -- the runner's lease --------------------------------------------------------------

    def take_lease(self, batch_id: str, runner: str) -> None:
        """Record ``runner`` (``host:pid:...``) as the batch's runner, with a heartbeat."""
        self._update_batch(batch_id, runner=runner, heartbeat=self.now())

    def beat(self, batch_id: str) -> None:
        """The runner's heartbeat."""
        self._update_batch(batch_id, heartbeat=self.now())

    def release_lease(self, batch_id: str, runner: str) -> None:
        """Give the lease up, if ``runner`` holds it."""
        b = _T["batches"]
        self.conn.execute(
            update(b).where(b.c.batch_id == batch_id, b.c.runner == runner).values(runner=None)
        )

    # -- deviations ----------------------------------------------------------------------

    def raise_deviation(
        self,
        *,
        user_id: str,
        batch_id: str | None,
        step: str | None,
        kind: str,
        description: str,
        severity: str = "major",
        cause: str | None = None,
    ) -> Deviation:
        """Raise a deviation (open), audited; with a ``cause``, at most one per batch, step
        and cause: if that cause raised one already, it is returned and nothing is written.
        """
        if cause is not None:
            existing = self.deviation_for(batch_id, step, cause)
            if existing is not None:
                return existing
        devs = _T["deviations"]
        deviation_id = f"DEV-{self._deviation_count() + 1:06d}"
        raised_at = self.now()
        self.conn.execute(
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
                cause=cause,
            )
        )
        data: dict[str, Any] = {
            "kind": kind,
            "severity": severity,
            "step": step,
            "description": description,
        }
        if cause is not None:
            data["cause"] = cause
        self.append(
            user_id=user_id,
            kind="deviation.raised",
            subject=f"deviation:{deviation_id}",
            field="status",
            new="open",
            data=data,
            batch_id=batch_id,
        )
        return Deviation(
            deviation_id,
            batch_id,
            step,
            kind,
            severity,
            description,
            "open",
            raised_at,
            user_id,
            cause,
        )

    def _deviation_count(self) -> int:
        return int(
            self.conn.execute(select(func.count()).select_from(_T["deviations"])).scalar_one()
        )

    def set_deviation_status(
        self, deviation: Deviation, new: str, *, user_id: str, note: str
    ) -> str:
        """Move a deviation to ``new`` (the record ``deviation:<id>/<new>`` it is signed on).

        Raises
        ------
        Refused
            If someone moved it meanwhile.
        """
        devs = _T["deviations"]
        status: Any = self.conn.execute(
            select(devs.c.status).where(devs.c.deviation_id == deviation.deviation_id)
        ).scalar_one()
        if status != deviation.status:
            raise Refused(f"deviation {deviation.deviation_id} changed meanwhile (now {status})")
        self.conn.execute(
            update(devs).where(devs.c.deviation_id == deviation.deviation_id).values(status=new)
        )
        record_id = f"{deviation.deviation_id}/{new}"
        self.append(
            user_id=user_id,
            kind="deviation.status",
            subject=f"deviation:{record_id}",
            field="status",
            old=deviation.status,
            new=new,
            reason=note,
            batch_id=deviation.batch_id,
        )
        return record_id

    # -- lots ----------------------------------------------------------------------------

    def insert_lot(self, lot: LotInfo, *, user_id: str, reason: str) -> None:
        """Make a lot known to the record (``lot.registered``).

        Raises
        ------
        Refused
            If the lot id exists already.
        """
        if self.lot_exists(lot.lot_id):
            raise Refused(f"lot {lot.lot_id} exists already")
        self.conn.execute(
            insert(_T["lots"]).values(
                lot_id=lot.lot_id,
                material=lot.material,
                quantity=lot.quantity,
                unit=lot.unit,
                status=lot.status,
                expiry=lot.expiry,
                patient=lot.patient,
                batch_id=lot.batch_id,
                supplier=lot.supplier,
                supplier_lot=lot.supplier_lot,
                received_at=lot.received_at,
                received_by=lot.received_by,
            )
        )
        new: dict[str, Any] = {
            "material": lot.material,
            "quantity": lot.quantity,
            "unit": lot.unit,
            "status": lot.status,
            "expiry": lot.expiry,
            "patient": lot.patient,
        }
        if lot.supplier is not None or lot.supplier_lot is not None:
            new |= {"supplier": lot.supplier, "supplier_lot": lot.supplier_lot}
        self.append(
            user_id=user_id,
            kind="lot.registered",
            subject=f"lot:{lot.lot_id}",
            new=new,
            reason=reason,
            batch_id=lot.batch_id,
        )

    def set_lot_status(
        self,
        lot_id: str,
        status: str,
        *,
        user_id: str,
        reason: str,
        batch_id: str | None = None,
        kind: str = "lot.status",
    ) -> bool:
        """Change a lot's status, audited (``kind`` ``lot.disposition`` when a batch's
        disposition releases or rejects the lots it made); whether it changed.

        Raises
        ------
        UnknownRecord
            If the lot is not known.
        """
        lots = _T["lots"]
        old = self.conn.execute(select(lots.c.status).where(lots.c.lot_id == lot_id)).scalar()
        if old is None:
            raise UnknownRecord(f"lot {lot_id} not found")
        if old == status:
            return False
        self.conn.execute(update(lots).where(lots.c.lot_id == lot_id).values(status=status))
        self.append(
            user_id=user_id,
            kind=kind,
            subject=f"lot:{lot_id}",
            field="status",
            old=old,
            new=status,
            reason=reason,
            batch_id=batch_id,
        )
        return True

    def consume_lot(
        self,
        *,
        user_id: str,
        batch_id: str,
        step: str,
        lot: LotInfo,
        quantity: float,
        unit: str,
        data: dict[str, Any] | None = None,
    ) -> AuditEntry:
        """Record a lot consumed by a batch step: genealogy edge, quantity left, audit.

        A lot the batch made itself (in-process material) that is used up becomes
        ``consumed``.
        """
        entry = self.append(
            user_id=user_id,
            kind="material.consumed",
            subject=f"step:{batch_id}/{step}",
            field=lot.material,
            new={"lot": lot.lot_id, "quantity": quantity, "unit": unit},
            data=data or {},
            batch_id=batch_id,
        )
        self._link(entry, step, lot.lot_id, lot.material, quantity, unit, "consumed")
        lots = _T["lots"]
        current = self.conn.execute(
            select(lots.c.quantity).where(lots.c.lot_id == lot.lot_id)
        ).scalar()
        if current is not None and unit == lot.unit:
            left = max(0.0, float(current) - quantity)
            self.conn.execute(update(lots).where(lots.c.lot_id == lot.lot_id).values(quantity=left))
            self.append(
                user_id=user_id,
                kind="lot.quantity",
                subject=f"lot:{lot.lot_id}",
                field="quantity",
                old=float(current),
                new=left,
                reason=f"consumed by batch {batch_id} step {step}",
                batch_id=batch_id,
            )
            if left <= 0.0 and lot.batch_id == batch_id:
                self.set_lot_status(
                    lot.lot_id,
                    "consumed",
                    user_id=user_id,
                    reason=f"in-process material used up by step {step}",
                    batch_id=batch_id,
                )
        return entry

    def produce_lot(
        self,
        *,
        user_id: str,
        batch_id: str,
        step: str,
        material: str,
        quantity: float,
        unit: str,
        patient: str | None,
    ) -> LotInfo:
        """Record a lot produced by a batch step: a new lot ``<batch>-<material>`` in
        quarantine (in-process material of the batch until its disposition), and its
        genealogy edge."""
        base = f"{batch_id}-{material}"[:90]
        lot_id, n = base, 1
        while self.lot_exists(lot_id):
            n += 1
            lot_id = f"{base}-{n}"
        lot = LotInfo(lot_id, material, quantity, unit, "quarantine", None, patient, batch_id)
        self.insert_lot(lot, user_id=user_id, reason=f"produced by batch {batch_id} step {step}")
        entry = self.append(
            user_id=user_id,
            kind="material.produced",
            subject=f"step:{batch_id}/{step}",
            field=material,
            new={"lot": lot_id, "quantity": quantity, "unit": unit},
            batch_id=batch_id,
        )
        self._link(entry, step, lot_id, material, quantity, unit, "produced")
        return lot

    def _link(
        self,
        entry: AuditEntry,
        step: str,
        lot_id: str,
        material: str,
        quantity: float,
        unit: str,
        direction: str,
    ) -> None:
        """The genealogy edge of a lot consumed or produced by a step, tied to its entry."""
        self.flush()  # the entry's row must exist before the edge that refers to its seq
        self.conn.execute(
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

    # -- signatures ----------------------------------------------------------------------

    def sign(
        self,
        session: UserSession,
        *,
        record_type: str,
        record_id: str,
        meaning: str,
        batch_id: str | None = None,
        data: dict[str, Any] | None = None,
    ) -> Signature:
        """Execute a signature, after :meth:`Accounts.authenticate_signature`.

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
        self.flush()
        chash = content_hash(
            record_type, record_id, record_content(self.conn, record_type, record_id, meaning)
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
        entry = self.append(
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
            acting_account=session.acting_account,
        )
        self.flush()
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
        result = self.conn.execute(insert(_T["signatures"]).values(**row))
        session.signed = True
        pk = result.inserted_primary_key
        return Signature(id=int(pk[0]) if pk else 0, **row, valid=True)

    # -- unit allocations ----------------------------------------------------------------

    def request_unit(
        self, batch_id: str, unit_procedure: str, equipment_class: str, *, user_id: str
    ) -> Allocation:
        """A unit procedure asks for a unit of its class (it then waits in line); the
        current request if it has one."""
        for a in self.allocations(batch_id=batch_id, current=True):
            if a.unit_procedure == unit_procedure:
                return a
        now = self.now()
        result = self.conn.execute(
            insert(_T["allocations"]).values(
                batch_id=batch_id,
                unit_procedure=unit_procedure,
                equipment_class=equipment_class,
                requested_at=now,
            )
        )
        self.append(
            user_id=user_id,
            kind="equipment",
            subject=f"batch:{batch_id}",
            field="requested",
            new={"unit_procedure": unit_procedure, "equipment_class": equipment_class},
            batch_id=batch_id,
        )
        pk = result.inserted_primary_key
        return Allocation(
            int(pk[0]) if pk else 0,
            batch_id,
            unit_procedure,
            equipment_class,
            None,
            now,
            None,
            None,
        )

    def grant_unit(
        self, allocation: Allocation, unit: str, steps: Sequence[str], *, user_id: str
    ) -> Allocation:
        """Give a waiting unit procedure its unit; the steps of the procedure run on it."""
        a = _T["allocations"]
        now = self.now()
        self.conn.execute(
            update(a).where(a.c.id == allocation.id).values(unit=unit, allocated_at=now)
        )
        if steps:
            self._update_steps(allocation.batch_id, steps, unit=unit)
        waited = (now - allocation.requested_at).total_seconds()
        self.append(
            user_id=user_id,
            kind="equipment",
            subject=f"batch:{allocation.batch_id}",
            field="allocated",
            new={"unit_procedure": allocation.unit_procedure, "unit": unit},
            data={"equipment_class": allocation.equipment_class, "waited_s": round(waited, 3)},
            batch_id=allocation.batch_id,
        )
        return replace(allocation, unit=unit, allocated_at=now)

    def release_unit(self, allocation: Allocation, *, user_id: str, reason: str) -> None:
        """A unit procedure gives its unit back (or stops waiting for one)."""
        a = _T["allocations"]
        self.conn.execute(update(a).where(a.c.id == allocation.id).values(released_at=self.now()))
        self.append(
            user_id=user_id,
            kind="equipment",
            subject=f"batch:{allocation.batch_id}",
            field="released" if allocation.unit is not None else "withdrawn",
            new={"unit_procedure": allocation.unit_procedure, "unit": allocation.unit},
            reason=reason,
            batch_id=allocation.batch_id,
        )
