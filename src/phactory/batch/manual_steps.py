"""Manual steps: the electronic work instructions people execute in a batch.

Entries with limits, material scans (with the chain of identity of autologous
batches) and equipment checks, each recorded with who and when; see
:mod:`phactory.batch.instructions` for the instructions themselves.
"""

from __future__ import annotations

from typing import Any

from phactory.batch.context import EngineContext
from phactory.batch.control_recipe import ControlPhase
from phactory.batch.instructions import InstructionStatus, evaluate, work_instruction
from phactory.batch.limits import LimitChecks
from phactory.batch.materials import MaterialHandling
from phactory.batch.states import State
from phactory.records import (
    LABEL_MAX,
    SYSTEM_USER,
    Action,
    LotInfo,
    Refused,
    UnknownRecord,
    UserSession,
    free_text,
    lot_problem,
    optional_text,
)

__all__ = ["ManualSteps"]


class ManualSteps:
    """Entries, scans and checks of manual steps.

    Parameters
    ----------
    ctx
        The engine's shared context.
    limits
        Raises the deviations of out-of-limit entries; knows what blocks a step.
    materials
        Charges and lists lots.
    """

    def __init__(
        self, ctx: EngineContext, limits: LimitChecks, materials: MaterialHandling
    ) -> None:
        self.ctx = ctx
        self.limits = limits
        self.materials = materials

    def work_instruction(self, batch_id: str, step: str) -> InstructionStatus:
        """The work instruction of a manual step and what is still missing."""
        with self.ctx.records.access.reading() as view:
            phase = self.ctx.phase(batch_id, step, view)
            if phase.kind != "manual":
                raise Refused(f"step {step} is automatic: it has no work instruction")
            entries = view.entries(subject=f"step:{batch_id}/{step}")
            sigs = view.signatures(record_type="step", record_id=f"{batch_id}/{step}")
        return evaluate(work_instruction(phase), entries, sigs)

    def check_step(
        self,
        session: UserSession,
        batch_id: str,
        step: str,
        action: Action,
        *,
        skill_check: bool = True,
    ) -> ControlPhase:
        """Authorise ``action`` on a manual step that is running and not blocked, by a
        person qualified for it; the phase (with its unit)."""
        self.ctx.records.access.authorize(
            session, action, subject=f"step:{batch_id}/{step}", batch_id=batch_id
        )
        with self.ctx.records.access.reading() as view:
            phase = self.ctx.phase(batch_id, step, view)
            if phase.kind != "manual":
                raise Refused(f"step {step} is automatic: entries are made by the equipment")
            info = view.batch(batch_id)
            current = view.step(batch_id, step)
        if info.status != "in_progress":
            raise Refused(f"batch {batch_id} is {info.status}")
        if current.state != State.RUNNING:
            raise Refused(f"step {step} is {current.state}, not Running: nothing can be entered")
        blocked = self.limits.blocking_deviation(batch_id, current)
        if blocked:
            raise Refused(f"step {step} is blocked until deviation {blocked} is closed")
        if skill_check and phase.skills and not set(phase.skills) & set(session.skills):
            raise Refused(
                f"{session.user_id} is not qualified for step {step}: needs one of "
                f"{', '.join(phase.skills)} (21 CFR 11.10(i))"
            )
        return phase

    def enter(
        self,
        session: UserSession,
        batch_id: str,
        step: str,
        item: str,
        value: float,
        *,
        reason: str = "",
        simulated: bool = False,
    ) -> None:
        """Enter a value of a manual step; out of limits it raises a deviation.

        Entering an item again is a change: it needs a reason and is listed in the
        review as a repeated entry.
        """
        free_text(reason, "reason")
        phase = self.check_step(session, batch_id, step, Action.RECORD_ENTRY)
        entry = work_instruction(phase).entry(item)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise Refused(f"{item} takes a number ({entry.unit or 'dimensionless'})")
        value = float(value)
        param = phase.parameter(item)
        bad = not param.in_limits(value)
        subject = f"step:{batch_id}/{step}"
        with self.ctx.transaction(session) as tx:
            old = tx.latest_value(subject, item)
            kwargs: dict[str, Any] = {}
            if old is not None:
                if not reason.strip():
                    raise Refused(f"{item} was entered already ({old}): give a reason to change it")
                kwargs = {"old": old, "reason": reason}
            tx.append(
                user_id=session.user_id,
                kind="entry",
                subject=subject,
                field=item,
                new=value,
                data={
                    "unit": entry.unit,
                    "low": entry.low,
                    "high": entry.high,
                    "setpoint": entry.setpoint,
                    "out_of_limit": bad,
                    "simulated": simulated,
                },
                batch_id=batch_id,
                **kwargs,
            )
            if bad:
                self.limits.out_of_limit(
                    tx,
                    batch_id,
                    phase,
                    item,
                    value,
                    entry.unit,
                    entry.low,
                    entry.high,
                    entry.critical,
                )

    def scan_material(
        self,
        session: UserSession,
        batch_id: str,
        step: str,
        lot_id: str,
        *,
        quantity: float | None = None,
        patient: str | None = None,
        simulated: bool = False,
    ) -> None:
        """Scan a lot and charge it to a manual step.

        The lot must exist, be released, be in date and be of a material the step
        needs. For a patient-specific batch, the lot's patient and the patient read on
        the label must be the batch's: a mismatch blocks the step and raises a
        deviation (chain of identity).

        Raises
        ------
        Refused
            If the scan fails a check (the refusal is recorded on the step).
        """
        # What was scanned is recorded even when it is wrong, but within the record's limits.
        free_text(lot_id, "scanned lot id", LABEL_MAX)
        optional_text(patient, "patient id read on the label", LABEL_MAX)
        phase = self.check_step(session, batch_id, step, Action.RECORD_ENTRY)
        subject = f"step:{batch_id}/{step}"
        problem: str | None = None
        coi = False
        lot: LotInfo | None = None
        req = None
        with self.ctx.records.access.reading() as view:
            try:
                lot = view.lot(lot_id)
            except UnknownRecord:
                problem = f"lot {lot_id} is not known"
            batch_patient = view.batch(batch_id).patient
        if lot is not None:
            req = next((r for r in phase.inputs if r.material == lot.material), None)
            problem = lot_problem(
                lot,
                batch_id=batch_id,
                batch_patient=batch_patient,
                today=self.ctx.now_date(),
                scanned_patient=patient,
            )
            coi = problem is not None and problem.startswith("chain of identity")
            if not coi and req is None:
                needs = ", ".join(r.material for r in phase.inputs) or "no material"
                problem = f"lot {lot_id} is {lot.material}; step {step} needs {needs}"
        with self.ctx.transaction(session) as tx:
            if problem is not None:
                tx.append(
                    user_id=session.user_id,
                    kind="scan.refused",
                    subject=subject,
                    field=lot.material if lot else "lot",
                    new=lot_id,
                    data={"why": problem, "patient_label": patient, "simulated": simulated},
                    batch_id=batch_id,
                )
                if coi:
                    why = problem.removeprefix("chain of identity: ")
                    dev = tx.raise_deviation(
                        user_id=session.user_id,
                        batch_id=batch_id,
                        step=step,
                        kind="chain_of_identity",
                        description=f"scan of {lot_id}: {why}",
                        severity="critical",
                    )
                    tx.block_step(batch_id, step, dev.deviation_id)
                    tx.append(
                        user_id=SYSTEM_USER,
                        kind="alarm",
                        subject=subject,
                        field="chain_of_identity",
                        new=f"step blocked by {dev.deviation_id}",
                        batch_id=batch_id,
                    )
            else:
                assert lot is not None and req is not None
                charged = sum(
                    float(e.new.get("quantity", 0.0))
                    for e in tx.entries(subject=subject, kinds=["material.consumed"])
                    if e.field == req.material and isinstance(e.new, dict)
                )
                need = max(0.0, req.quantity - charged)
                take = (
                    quantity
                    if quantity is not None
                    else (min(need, lot.quantity) if lot.unit == req.unit else need)
                )
                if take <= 0:
                    problem = f"{req.material} is charged in full already"
                    tx.append(
                        user_id=session.user_id,
                        kind="scan.refused",
                        subject=subject,
                        field=req.material,
                        new=lot_id,
                        data={"why": problem},
                        batch_id=batch_id,
                    )
                else:
                    tx.consume_lot(
                        user_id=session.user_id,
                        batch_id=batch_id,
                        step=step,
                        lot=lot,
                        quantity=take,
                        unit=req.unit,
                        data={"patient_label": patient, "simulated": simulated},
                    )
        if problem is not None:
            raise Refused(problem)

    def check_equipment(
        self,
        session: UserSession,
        batch_id: str,
        step: str,
        unit_scanned: str,
        *,
        clean: bool = True,
        note: str = "",
        simulated: bool = False,
    ) -> bool:
        """Record the equipment check of a manual step; a failed check raises a deviation.

        Returns
        -------
        bool
            Whether the check passed (the scanned unit is the allocated one, and clean).
        """
        free_text(unit_scanned, "scanned unit", LABEL_MAX)
        free_text(note, "note")
        phase = self.check_step(session, batch_id, step, Action.RECORD_ENTRY)
        passed = unit_scanned == phase.unit and clean
        subject = f"step:{batch_id}/{step}"
        with self.ctx.transaction(session) as tx:
            tx.append(
                user_id=session.user_id,
                kind="check",
                subject=subject,
                field="equipment",
                new={"unit_scanned": unit_scanned, "clean": clean, "note": note},
                data={"passed": passed, "expected_unit": phase.unit, "simulated": simulated},
                batch_id=batch_id,
            )
            if not passed:
                why = (
                    f"scanned unit {unit_scanned}, allocated {phase.unit}"
                    if unit_scanned != phase.unit
                    else f"unit {phase.unit} not confirmed clean"
                )
                tx.raise_deviation(
                    user_id=session.user_id,
                    batch_id=batch_id,
                    step=step,
                    kind="failed_check",
                    description=f"equipment check failed: {why}",
                )
        return passed
