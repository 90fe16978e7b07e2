"""Signing manual steps: *performed*, *verified*, and re-signing after a correction.

The performer signs a step when its work is done; on critical steps a second person
verifies (EU GMP Annex 11 §6). A GMP correction of a signed step invalidates its
signatures (they are bound to the content hash, 21 CFR 11.70); the step then needs a
re-signature (:meth:`StepSigning.resign_step`) before QA can review and the QP release.
"""

from __future__ import annotations

from phactory.batch.context import EngineContext
from phactory.batch.manual_steps import ManualSteps
from phactory.batch.materials import MaterialHandling
from phactory.records import Action, Refused, Signature, UserSession
from phactory.records.signatures import unsigned_kinds

__all__ = ["StepSigning"]


class StepSigning:
    """Signatures of manual steps.

    Parameters
    ----------
    ctx
        The engine's shared context.
    manual
        The manual steps (their state, work instruction and who may act on them).
    materials
        Records the lots a step produces when its performer signs.
    """

    def __init__(
        self, ctx: EngineContext, manual: ManualSteps, materials: MaterialHandling
    ) -> None:
        self.ctx = ctx
        self.manual = manual
        self.materials = materials

    def sign_step(
        self,
        session: UserSession,
        batch_id: str,
        step: str,
        meaning: str,
        *,
        password: str,
        user_id: str | None = None,
    ) -> None:
        """Sign a manual step as its performer (*performed*) or verifier (*verified*).

        The performer signs when every entry, scan and check is done; the lots the step
        produces are recorded then, inside the signed content. On a critical step a
        second person, not the performer, verifies.
        """
        if meaning not in ("performed", "verified"):
            raise Refused("a step is signed as 'performed' or 'verified'")
        action = Action.SIGN_PERFORMED if meaning == "performed" else Action.SIGN_VERIFIED
        phase = self.manual.check_step(
            session, batch_id, step, action, skill_check=meaning == "performed"
        )
        status = self.manual.work_instruction(batch_id, step)
        if not status.work_done:
            raise Refused(f"step {step} is not done: {', '.join(status.missing)}")
        if meaning == "verified":
            if status.performer is None:
                raise Refused(f"step {step} must be signed as performed before it is verified")
            if status.performer == session.user_id:
                raise Refused("the verifier must be a different person from the performer")
        self.ctx.records.accounts.authenticate_signature(session, password, user_id)
        with self.ctx.transaction(session) as tx:
            if meaning == "performed":
                self.materials.produce_outputs(tx, batch_id, phase, session.user_id)
            tx.sign(
                session,
                record_type="step",
                record_id=f"{batch_id}/{step}",
                meaning=meaning,
                batch_id=batch_id,
            )

    def resign_step(
        self,
        session: UserSession,
        batch_id: str,
        step: str,
        meaning: str,
        *,
        password: str,
        user_id: str | None = None,
    ) -> Signature:
        """Sign a manual step again after a correction invalidated its signature.

        A GMP correction of a signed step (:meth:`phactory.records.Signing.correct`) leaves its
        signatures invalidated: the record shows "signature invalidated, re-signature
        required" and the review and release are refused. The re-signature binds the
        signer to the corrected content (a new content hash, 21 CFR 11.70), with the
        usual components (11.200(a)(1)) and role matrix; its audit entry names the
        signature it replaces and the corrections that invalidated it.

        * *performed*: only the person who signed the step as performed, qualified for
          it, re-signs (nobody else can attest to work they did not do);
        * *verified* (critical steps): after the performer has re-signed, a second person,
          neither the performer nor anyone who made a correction since the invalidated
          signature, verifies the corrected record.

        Returns
        -------
        Signature
            The re-signature.

        Raises
        ------
        Refused
            If the step has no invalidated signature of this meaning, the batch record is
            reviewed or released, or the signer may not sign it.
        """
        if meaning not in ("performed", "verified"):
            raise Refused("a step is re-signed as 'performed' or 'verified'")
        action = Action.SIGN_PERFORMED if meaning == "performed" else Action.SIGN_VERIFIED
        subject = f"step:{batch_id}/{step}"
        self.ctx.records.access.authorize(session, action, subject=subject, batch_id=batch_id)
        phase = self.ctx.phase(batch_id, step)
        if phase.kind != "manual":
            raise Refused(f"step {step} is automatic: it carries no signatures")
        info = self.ctx.records.batches.get(batch_id)
        if info.status != "in_progress":
            raise Refused(f"batch {batch_id} is {info.status}: its record can no longer change")
        record_id = f"{batch_id}/{step}"
        old = self._invalidated(batch_id, step, meaning)
        status = self.manual.work_instruction(batch_id, step)
        if not status.work_done:
            raise Refused(f"step {step} is not done: {', '.join(status.missing)}")
        corrections = [
            e
            for e in self.ctx.records.audit.entries(batch_id, subject=subject)
            if e.seq > old.audit_seq and e.kind not in unsigned_kinds("step")
        ]
        if meaning == "performed":
            if session.user_id != old.user_id:
                raise Refused(
                    f"only the performer, {old.printed_name} ({old.user_id}), re-signs step "
                    f"{step} as performed"
                )
            if phase.skills and not set(phase.skills) & set(session.skills):
                raise Refused(
                    f"{session.user_id} is not qualified for step {step}: needs one of "
                    f"{', '.join(phase.skills)} (21 CFR 11.10(i))"
                )
        else:
            if status.performer is None:
                raise Refused(
                    f"step {step} must be re-signed as performed before it is verified again"
                )
            if status.performer == session.user_id:
                raise Refused("the verifier must be a different person from the performer")
            if session.user_id in {e.user_id for e in corrections}:
                raise Refused(
                    "the verifier must be a different person from whoever corrected the step"
                )
        self.ctx.records.accounts.authenticate_signature(session, password, user_id)
        with self.ctx.transaction(session) as tx:
            # Under the chain lock: someone may have re-signed since the checks above.
            if old.id not in {
                s.id
                for s in tx.signatures(record_type="step", record_id=record_id)
                if s.needs_resignature and s.meaning == meaning
            }:
                raise Refused(f"step {step} was re-signed ({meaning}) meanwhile")
            return tx.sign(
                session,
                record_type="step",
                record_id=record_id,
                meaning=meaning,
                batch_id=batch_id,
                data={
                    "resignature": True,
                    "supersedes": old.id,
                    "superseded_signature_hash": old.signature_hash,
                    "corrections": [e.seq for e in corrections],
                },
            )

    def _invalidated(self, batch_id: str, step: str, meaning: str) -> Signature:
        """The newest signature of ``meaning`` on the step that awaits its re-signature."""
        sigs = self.ctx.records.signing.signatures(
            record_type="step", record_id=f"{batch_id}/{step}"
        )
        pending = [s for s in sigs if s.meaning == meaning and s.needs_resignature]
        if pending:
            return pending[-1]
        if any(s.meaning == meaning and s.valid for s in sigs):
            raise Refused(f"the {meaning} signature of step {step} holds: nothing to re-sign")
        raise Refused(f"step {step} has no invalidated {meaning} signature to re-sign")
