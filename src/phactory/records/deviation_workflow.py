"""The deviation workflow: raised (by people or by the engine), then open -> investigation
-> CAPA -> closed, each step signed (EU GMP Annex 11 §13; 21 CFR 211.192).

The engine raises its deviations in its own transactions
(:meth:`phactory.records.RecordTx.raise_deviation`, one per batch, step and cause).
"""

from __future__ import annotations

from typing import Final

from phactory.records.access import AccessControl
from phactory.records.accounts import Accounts
from phactory.records.deviations import DEVIATION_KINDS, WORKFLOW, Deviation
from phactory.records.errors import Refused
from phactory.records.inputs import free_text, required_text
from phactory.records.roles import Action
from phactory.records.session import UserSession

__all__ = ["SEVERITIES", "Deviations"]

#: Severities of a deviation, least first.
SEVERITIES: Final = ("minor", "major", "critical")
#: Longest step path [characters] (the record's column).
_STEP_MAX: Final = 300


class Deviations:
    """Deviations: raised, investigated, CAPA, closed; each step signed.

    Parameters
    ----------
    access
        The record service's access control.
    accounts
        Checks the components of each signing.
    """

    def __init__(self, access: AccessControl, accounts: Accounts) -> None:
        self.access = access
        self.accounts = accounts

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
        self.access.authorize(session, Action.DEVIATION_RAISE, batch_id=batch_id)
        required_text(
            description, "description of the deviation", "a deviation needs a description"
        )
        if kind not in DEVIATION_KINDS:
            raise Refused(
                f"unknown deviation kind {kind!r}: use one of {', '.join(DEVIATION_KINDS)}"
            )
        if severity not in SEVERITIES:
            raise Refused(f"unknown severity {severity!r}: use one of {', '.join(SEVERITIES)}")
        if step is not None:
            free_text(step, "step of the deviation", _STEP_MAX)
        with self.access.transaction(acting_account=session.acting_account) as tx:
            return tx.raise_deviation(
                user_id=session.user_id,
                batch_id=batch_id,
                step=step,
                kind=kind,
                description=description,
                severity=severity,
            )

    def advance(
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
            Signature components (:meth:`Accounts.authenticate_signature`).
        """
        current = self.get(deviation_id)
        step = WORKFLOW.get(current.status)
        if step is None:
            raise Refused(f"deviation {deviation_id} is closed")
        self.access.authorize(
            session, step.action, subject=f"deviation:{deviation_id}", batch_id=current.batch_id
        )
        required_text(
            note, step.note_label, f"moving to {step.to_status} needs the {step.note_label}"
        )
        self.accounts.authenticate_signature(session, password, user_id)
        with self.access.transaction(acting_account=session.acting_account) as tx:
            record_id = tx.set_deviation_status(
                current, step.to_status, user_id=session.user_id, note=note
            )
            tx.sign(
                session,
                record_type="deviation",
                record_id=record_id,
                meaning=step.meaning,
                batch_id=current.batch_id,
            )
        return self.get(deviation_id)

    def get(self, deviation_id: str) -> Deviation:
        """One deviation.

        Raises
        ------
        UnknownRecord
            If there is no such deviation.
        """
        with self.access.reading() as view:
            return view.deviation(deviation_id)

    def find(self, batch_id: str | None = None, *, open_only: bool = False) -> list[Deviation]:
        """Deviations, oldest first, of one batch or all (``open_only``: not closed)."""
        with self.access.reading() as view:
            return view.deviations(batch_id, open_only=open_only)
