"""Materials in a batch: lots a step may use, automatic charging (FEFO), produced lots.

Every lot consumed or produced is a genealogy edge and an audit entry
(:meth:`phactory.records.RecordTx.consume_lot`, ``produce_lot``). A lot a step produces
(harvested fluid, a drug substance) is in-process material of its batch: the later steps
of the same batch use it (it stays in quarantine for every other batch until the batch's
disposition), so that material flows from step to step as it does in the plant.
"""

from __future__ import annotations

from phactory.batch.context import EngineContext
from phactory.batch.control_recipe import ControlPhase
from phactory.records import LotInfo, RecordTx, RecordView, lot_problem

__all__ = ["MaterialHandling"]

#: Relative tolerance when comparing quantities (floating-point sums of charges).
_TOL = 1e-9


class MaterialHandling:
    """Lots and material movements of batch steps.

    Parameters
    ----------
    ctx
        The engine's shared context.
    """

    def __init__(self, ctx: EngineContext) -> None:
        self.ctx = ctx

    def available_lots(
        self, batch_id: str, material: str, view: RecordView | None = None
    ) -> list[LotInfo]:
        """Lots a step of the batch may use, first expiring first: released (or made by
        this batch), in date, with quantity left, and of the batch's patient if
        patient-specific (:func:`phactory.records.lot_problem`)."""
        if view is None:
            with self.ctx.records.access.reading() as fresh:
                return self.available_lots(batch_id, material, fresh)
        patient = view.batch(batch_id).patient
        today = self.ctx.now_date()
        return [
            lot
            for lot in view.lots(material)
            if lot.quantity > 0
            and lot_problem(lot, batch_id=batch_id, batch_patient=patient, today=today) is None
        ]

    def charge_automatic(
        self, tx: RecordTx, batch_id: str, phase: ControlPhase, user_id: str
    ) -> list[tuple[str, str]]:
        """Charge the inputs of an automatic phase from usable lots (FEFO).

        Returns
        -------
        list of (material, problem)
            The inputs that could not be charged in full, and why; nothing is charged
            then.
        """
        picks: list[tuple[LotInfo, float, str]] = []
        short: list[tuple[str, str]] = []
        for req in phase.inputs:
            need = req.quantity
            for lot in self.available_lots(batch_id, req.material, tx):
                take = min(need, lot.quantity) if lot.unit == req.unit else need
                picks.append((lot, take, req.unit))
                need -= take
                if need <= req.quantity * _TOL:
                    break
            if need > req.quantity * _TOL:
                short.append(
                    (
                        req.material,
                        f"not enough released {req.material} for {phase.path}: "
                        f"{need:,.6g} {req.unit} short",
                    )
                )
        if short:
            return short
        for lot, take, unit in picks:
            tx.consume_lot(
                user_id=user_id,
                batch_id=batch_id,
                step=phase.path,
                lot=lot,
                quantity=take,
                unit=unit,
                data={"automatic": True},
            )
        return []

    def produce_outputs(
        self, tx: RecordTx, batch_id: str, phase: ControlPhase, user_id: str
    ) -> list[LotInfo]:
        """Record the lots a phase produced (once: a phase recorded after a restart
        does not produce them again)."""
        done = {
            e.field
            for e in tx.entries(
                subject=f"step:{batch_id}/{phase.path}", kinds=["material.produced"]
            )
        }
        patient = self.ctx.stored_recipe(batch_id).patient
        return [
            tx.produce_lot(
                user_id=user_id,
                batch_id=batch_id,
                step=phase.path,
                material=out.material,
                quantity=out.quantity,
                unit=out.unit,
                patient=patient,
            )
            for out in phase.outputs
            if out.material not in done
        ]
