"""The simulated operator: performs manual phases as people would.

For demonstrations, tests and virtual commissioning: it acts on a batch's work
instructions (:mod:`phactory.batch.instructions`) through the same parts of the engine
people use (manual steps, materials, signing), under the real accounts it is given.
"""

from __future__ import annotations

from collections.abc import Mapping

from phactory.batch.manual_steps import ManualSteps
from phactory.batch.materials import MaterialHandling
from phactory.batch.signing import StepSigning
from phactory.records import UserSession

__all__ = ["SimulatedOperator"]


class SimulatedOperator:
    """Performs manual phases as people would: check, scan, enter, sign.

    For demonstrations, tests and virtual commissioning only: the entries are made
    under the real accounts given, and each is marked ``simulated`` in its details.

    Parameters
    ----------
    performer, performer_password
        The session and password of the person performing the steps.
    verifier, verifier_password
        The same for the second person verifying critical steps.
    values
        Values to enter by parameter name or step path/name; default the setpoint.
    """

    def __init__(
        self,
        performer: UserSession,
        performer_password: str,
        verifier: UserSession | None = None,
        verifier_password: str | None = None,
        *,
        values: Mapping[str, float] | None = None,
    ) -> None:
        self.performer = performer
        self.performer_password = performer_password
        self.verifier = verifier
        self.verifier_password = verifier_password
        self.values = dict(values or {})

    def act(
        self,
        batch_id: str,
        step: str,
        *,
        manual: ManualSteps,
        materials: MaterialHandling,
        signing: StepSigning,
    ) -> None:
        """Do what is missing on ``step``, as far as the accounts allow, through the
        engine's parts people use (``engine.manual``, ``engine.materials``,
        ``engine.signing``)."""
        status = manual.work_instruction(batch_id, step)
        wi = status.instruction
        if status.check_passed is not True:
            manual.check_equipment(self.performer, batch_id, step, wi.check.unit, simulated=True)
        for scan in wi.scans:
            need = scan.quantity - status.charged.get(scan.material, 0.0)
            if need <= scan.quantity * 1e-9:
                continue
            for lot in materials.available_lots(batch_id, scan.material):
                manual.scan_material(
                    self.performer,
                    batch_id,
                    step,
                    lot.lot_id,
                    patient=lot.patient,
                    simulated=True,
                )
                status = manual.work_instruction(batch_id, step)
                if status.charged.get(scan.material, 0.0) >= scan.quantity * (1 - 1e-9):
                    break
        for entry in wi.entries:
            if entry.item in status.values:
                continue
            value = self.values.get(f"{step}/{entry.item}", self.values.get(entry.item))
            if value is None:
                value = entry.setpoint
            if value is None:
                lo, hi = entry.low, entry.high
                value = (lo + hi) / 2 if lo is not None and hi is not None else (lo or hi or 0.0)
            manual.enter(self.performer, batch_id, step, entry.item, value, simulated=True)
        status = manual.work_instruction(batch_id, step)
        if not status.work_done:
            return
        if status.performer is None:
            signing.sign_step(
                self.performer,
                batch_id,
                step,
                "performed",
                password=self.performer_password,
                user_id=None if self.performer.signed else self.performer.user_id,
            )
        if wi.needs_verifier and status.verifier is None and self.verifier is not None:
            assert self.verifier_password is not None
            signing.sign_step(
                self.verifier,
                batch_id,
                step,
                "verified",
                password=self.verifier_password,
                user_id=None if self.verifier.signed else self.verifier.user_id,
            )
