"""Materials in a batch: lots a step may use, automatic charging (FEFO), produced lots.

Every lot consumed or produced is a genealogy edge and an audit entry
(:meth:`phactory.records.RecordService.consume_in`, ``produce_in``).
"""

from __future__ import annotations

from datetime import date
from typing import Final, cast

from sqlalchemy import Table, select

from phactory.batch.control_recipe import (
    ControlPhase,
)
from phactory.batch.state_recording import StateRecording
from phactory.records.audit import read_entries
from phactory.records.genealogy import chain_of_identity_problem
from phactory.records.record import LotInfo
from phactory.records.schema import LotRow
from phactory.records.service import RecordTx
from phactory.records.users import SYSTEM_USER

__all__ = ["MaterialHandling"]

_LOTS: Final = cast(Table, LotRow.__table__)


class MaterialHandling(StateRecording):
    """Lots and material movements of batch steps."""

    def available_lots(self, batch_id: str, material: str) -> list[LotInfo]:
        """Lots a step of the batch may use: released, in date, first expiring first,
        of the material, with quantity left, and of the batch's patient if patient-specific."""
        patient = self.records.batch(batch_id).patient
        today = date.today().isoformat()
        return [
            lot
            for lot in self.records.lots(material)
            if lot.status == "released"
            and lot.quantity > 0
            and (lot.expiry is None or lot.expiry >= today)
            and chain_of_identity_problem(patient, lot.patient, None) is None
        ]

    def _charge_automatic(self, tx: RecordTx, batch_id: str, phase: ControlPhase) -> str | None:
        """Charge the inputs of an automatic phase from released lots (FEFO)."""
        picks = []
        for req in phase.inputs:
            need = req.quantity
            for lot in self.available_lots(batch_id, req.material):
                take = min(need, lot.quantity) if lot.unit == req.unit else need
                picks.append((lot, take, req.unit))
                need -= take
                if need <= req.quantity * 1e-9:
                    break
            if need > req.quantity * 1e-9:
                return (
                    f"not enough released {req.material} for {phase.path}: "
                    f"{need:g} {req.unit} short"
                )
        for lot, take, unit in picks:
            self.records.consume_in(
                tx,
                user_id=SYSTEM_USER,
                batch_id=batch_id,
                step=phase.path,
                lot=lot,
                quantity=take,
                unit=unit,
                data={"automatic": True},
            )
        return None

    def _produce_outputs(
        self, tx: RecordTx, batch_id: str, phase: ControlPhase, user_id: str
    ) -> None:
        done = {
            e.field
            for e in read_entries(tx.conn, subject=f"step:{batch_id}/{phase.path}")
            if e.kind == "material.produced"
        }
        patient = self.control_recipe(batch_id).patient
        for out in phase.outputs:
            if out.material in done:
                continue
            base = f"{batch_id}-{out.material}"[:90]
            lot_id, n = base, 1
            while tx.conn.execute(select(_LOTS.c.lot_id).where(_LOTS.c.lot_id == lot_id)).first():
                n += 1
                lot_id = f"{base}-{n}"
            self.records.produce_in(
                tx,
                user_id=user_id,
                batch_id=batch_id,
                step=phase.path,
                lot_id=lot_id,
                material=out.material,
                quantity=out.quantity,
                unit=out.unit,
                patient=patient,
            )
