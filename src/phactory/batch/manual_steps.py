"""Manual steps: the electronic work instructions people execute in a batch.

Entries with limits, material scans (with the chain of identity of autologous
batches) and equipment checks, each recorded with who and when; see
:mod:`phactory.batch.instructions` for the instructions themselves.
"""

from __future__ import annotations

from datetime import date
from typing import Any, Final, cast

from sqlalchemy import Table, update

from phactory.batch.control_recipe import (
    ControlPhase,
)
from phactory.batch.instructions import (
    InstructionStatus,
    evaluate,
    work_instruction,
)
from phactory.batch.limits import LimitChecks
from phactory.batch.states import State
from phactory.records.audit import read_entries
from phactory.records.errors import Refused, UnknownRecord
from phactory.records.genealogy import chain_of_identity_problem
from phactory.records.record import LotInfo
from phactory.records.roles import Action
from phactory.records.schema import StepRow
from phactory.records.service import UserSession
from phactory.records.signatures import signatures_for
from phactory.records.users import SYSTEM_USER

__all__ = ["ManualSteps"]

_STEPS: Final = cast(Table, StepRow.__table__)


class ManualSteps(LimitChecks):
    """Entries, scans and checks of manual steps."""

    def work_instruction(self, batch_id: str, step: str) -> InstructionStatus:
        """The work instruction of a manual step and what is still missing."""
        phase = self.control_recipe(batch_id).phase(step)
        if phase.kind != "manual":
            raise Refused(f"step {step} is automatic: it has no work instruction")
        subject = f"step:{batch_id}/{step}"
        with self.records.reading() as conn:
            entries = read_entries(conn, subject=subject)
            sigs = signatures_for(conn, record_type="step", record_id=f"{batch_id}/{step}")
        return evaluate(work_instruction(phase), entries, sigs)

    def _manual_step(
        self,
        session: UserSession,
        batch_id: str,
        step: str,
        action: Action,
        *,
        skill_check: bool = True,
    ) -> ControlPhase:
        self.records.authorize(
            session, action, subject=f"step:{batch_id}/{step}", batch_id=batch_id
        )
        phase = self.control_recipe(batch_id).phase(step)
        if phase.kind != "manual":
            raise Refused(f"step {step} is automatic: entries are made by the equipment")
        info = self.records.batch(batch_id)
        if info.status != "in_progress":
            raise Refused(f"batch {batch_id} is {info.status}")
        current = next(s for s in self.records.steps(batch_id) if s.step == step)
        if current.state != State.RUNNING:
            raise Refused(f"step {step} is {current.state}, not Running: nothing can be entered")
        blocked = self._blocking_deviation(batch_id, current)
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
        phase = self._manual_step(session, batch_id, step, Action.RECORD_ENTRY)
        entry = work_instruction(phase).entry(item)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise Refused(f"{item} takes a number ({entry.unit or 'dimensionless'})")
        value = float(value)
        param = phase.parameter(item)
        bad = not param.in_limits(value)
        subject = f"step:{batch_id}/{step}"
        with self.records.transaction() as tx:
            old = self.records.latest_value(tx.conn, subject, item)
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
                self._out_of_limit(
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
        phase = self._manual_step(session, batch_id, step, Action.RECORD_ENTRY)
        subject = f"step:{batch_id}/{step}"
        problem: str | None = None
        coi: str | None = None
        lot: LotInfo | None = None
        try:
            lot = self.records.lot(lot_id)
        except UnknownRecord:
            problem = f"lot {lot_id} is not known"
        req = None
        if lot is not None:
            req = next((r for r in phase.inputs if r.material == lot.material), None)
            coi = chain_of_identity_problem(
                self.records.batch(batch_id).patient, lot.patient, patient
            )
            if coi:
                problem = f"chain of identity: {coi}"
            elif req is None:
                needs = ", ".join(r.material for r in phase.inputs) or "no material"
                problem = f"lot {lot_id} is {lot.material}; step {step} needs {needs}"
            elif lot.status != "released":
                problem = f"lot {lot_id} is {lot.status}, not released"
            elif lot.expiry is not None and lot.expiry < date.today().isoformat():
                problem = f"lot {lot_id} expired on {lot.expiry}"
        with self.records.transaction() as tx:
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
                    dev = self.records.raise_in(
                        tx,
                        user_id=session.user_id,
                        batch_id=batch_id,
                        step=step,
                        kind="chain_of_identity",
                        description=f"scan of {lot_id}: {coi}",
                        severity="critical",
                    )
                    tx.conn.execute(
                        update(_STEPS)
                        .where(_STEPS.c.batch_id == batch_id, _STEPS.c.step == step)
                        .values(blocked_by=dev.deviation_id)
                    )
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
                    for e in read_entries(tx.conn, subject=subject)
                    if e.kind == "material.consumed"
                    and e.field == req.material
                    and isinstance(e.new, dict)
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
                    self.records.consume_in(
                        tx,
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
        phase = self._manual_step(session, batch_id, step, Action.RECORD_ENTRY)
        passed = unit_scanned == phase.unit and clean
        subject = f"step:{batch_id}/{step}"
        with self.records.transaction() as tx:
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
                self.records.raise_in(
                    tx,
                    user_id=session.user_id,
                    batch_id=batch_id,
                    step=step,
                    kind="failed_check",
                    description=f"equipment check failed: {why}",
                )
        return passed
