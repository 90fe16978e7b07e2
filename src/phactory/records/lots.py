"""Lots: receipt into quarantine, QA disposition (signed), the rules for using a lot in a
batch, and tracing.

A lot is received into quarantine with its quantity, unit, expiry and the supplier's lot
number; QA releases or rejects it with a signature and a reason (EU GMP Part I §5.31,
§5.35; 21 CFR 211.84); an expired lot can be neither released nor used. Lots a batch
produces are in-process material of that batch (usable by its later steps) and in
quarantine for everyone else until the batch's disposition releases or rejects them.
Every movement is a genealogy edge (:mod:`phactory.records.genealogy`).
"""

from __future__ import annotations

import math
from datetime import date
from typing import TYPE_CHECKING

from phactory.records.access import AccessControl
from phactory.records.accounts import Accounts
from phactory.records.errors import Refused, UnknownRecord
from phactory.records.genealogy import Direction, Genealogy, chain_of_identity_problem, trace
from phactory.records.inputs import (
    LABEL_MAX,
    NAME_MAX,
    optional_text,
    require_record_id,
    required_text,
)
from phactory.records.record import LotInfo
from phactory.records.roles import Action
from phactory.records.rows import LOT_STATUSES
from phactory.records.session import UserSession
from phactory.records.signatures import Signature
from phactory.records.users import SYSTEM_USER

if TYPE_CHECKING:
    from phactory.model import Site
    from phactory.records.tx import RecordTx

__all__ = ["LOT_STATUSES", "Lots", "lot_problem"]

#: Longest unit of measure of a lot [characters] (the record's column).
_UNIT_MAX = 40


def lot_problem(
    lot: LotInfo,
    *,
    batch_id: str,
    batch_patient: str | None,
    today: date,
    scanned_patient: str | None = None,
) -> str | None:
    """Why a batch may not use a lot, or ``None`` if it may.

    A lot is usable when it is released, or is in-process material the same batch made
    (in quarantine until the batch's disposition); when it is in date; and when it keeps
    the chain of identity of a patient-specific batch
    (:func:`~phactory.records.genealogy.chain_of_identity_problem`).
    """
    coi = chain_of_identity_problem(batch_patient, lot.patient, scanned_patient)
    if coi:
        return f"chain of identity: {coi}"
    own = lot.batch_id == batch_id and lot.status == "quarantine"
    if lot.status != "released" and not own:
        return f"lot {lot.lot_id} is {lot.status}, not released"
    if lot.expired(today):
        return f"lot {lot.lot_id} expired on {lot.expiry}"
    return None


def _register_site_lots(tx: RecordTx, site: Site) -> list[str]:
    """Insert the lots of ``site``'s file that ``tx`` does not know yet; their ids."""
    added = []
    for lot in site.lots.values():
        if tx.lot_exists(lot.id):
            continue
        unit = lot.quantity.unit or site.materials[lot.material].unit
        tx.insert_lot(
            LotInfo(
                lot.id,
                lot.material,
                lot.quantity.value,
                unit,
                lot.status,
                lot.expiry.isoformat() if lot.expiry else None,
                # A patient's starting material keeps its patient (chain of identity,
                # e.g. the apheresis lots of an autologous plan).
                lot.patient,
                None,
            ),
            user_id=SYSTEM_USER,
            reason=f"from site {site.id}",
        )
        added.append(lot.id)
    return added


class Lots:
    """Lots, their QA disposition and their genealogy.

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

    def register_site_lots(self, site: Site) -> list[str]:
        """Make the lots of a site file known to the record (those not known yet).

        Returns
        -------
        list of str
            The lot ids added.
        """
        with self.access.transaction() as tx:
            return _register_site_lots(tx, site)

    def receive(
        self,
        session: UserSession,
        lot_id: str,
        material: str,
        quantity: float,
        unit: str,
        *,
        expiry: date | None = None,
        supplier: str | None = None,
        supplier_lot: str | None = None,
        patient: str | None = None,
        site: Site | None = None,
    ) -> LotInfo:
        """Receive a lot into quarantine (operators, supervisors), audited.

        Parameters
        ----------
        lot_id
            The lot's id here (an id: letters, digits, ``_ . -``, at most 100
            characters; never reused).
        material, quantity, unit
            What (a material id) and how much (the caller checks the material against
            its site); the unit at most 40 characters.
        expiry
            Its expiry date; a lot expired on the record's clock is refused.
        supplier, supplier_lot
            Who supplied it (at most 200 characters) and their lot number (at most 100).
        patient
            For a patient's starting material (apheresis): the patient id, checked at
            every scan (chain of identity).
        site
            The site the lot is received for: its file's lots not known yet are
            registered first (:meth:`register_site_lots`), in the same transaction, so
            that a refused receipt writes nothing and a lot id of the file is taken.

        Raises
        ------
        Refused
            On a lot id taken or not an id, a material or patient not an id, a text too
            long, a quantity not a positive finite number, a lot expired.
        """
        lot_id = require_record_id(lot_id, "lot id")
        self.access.authorize(session, Action.LOT_RECEIVE, subject=f"lot:{lot_id}")
        material = require_record_id(material, f"material of lot {lot_id}")
        required_text(unit, f"unit of lot {lot_id}", f"lot {lot_id}: give its unit", _UNIT_MAX)
        supplier = optional_text(supplier, f"supplier of lot {lot_id}", NAME_MAX)
        supplier_lot = optional_text(supplier_lot, f"supplier lot of lot {lot_id}", LABEL_MAX)
        if patient is not None:
            patient = require_record_id(patient, f"patient of lot {lot_id}")
        if not (math.isfinite(quantity) and quantity > 0):
            raise Refused(f"lot {lot_id}: a lot needs a positive quantity, got {quantity}")
        today = self.access.now().date()
        if expiry is not None and expiry < today:
            raise Refused(f"lot {lot_id} expired on {expiry.isoformat()}: not received")
        with self.access.transaction(acting_account=session.acting_account) as tx:
            if site is not None:
                _register_site_lots(tx, site)
            tx.insert_lot(
                LotInfo(
                    lot_id,
                    material,
                    float(quantity),
                    unit,
                    "quarantine",
                    expiry.isoformat() if expiry else None,
                    patient,
                    None,
                    supplier=supplier,
                    supplier_lot=supplier_lot,
                    received_at=tx.now(),
                    received_by=session.user_id,
                ),
                user_id=session.user_id,
                reason="received",
            )
        return self.get(lot_id)

    def release(
        self,
        session: UserSession,
        lot_id: str,
        reason: str,
        *,
        password: str,
        user_id: str | None = None,
    ) -> Signature:
        """QA releases a lot in quarantine, with a signature (meaning *released*).

        Raises
        ------
        Refused
            If the lot is not in quarantine, is expired, or the reason is empty.
        """
        return self._dispose(session, lot_id, "released", reason, password, user_id)

    def reject(
        self,
        session: UserSession,
        lot_id: str,
        reason: str,
        *,
        password: str,
        user_id: str | None = None,
    ) -> Signature:
        """QA rejects a lot, with a signature (meaning *approved* of the rejection)."""
        return self._dispose(session, lot_id, "rejected", reason, password, user_id)

    def quarantine(self, session: UserSession, lot_id: str, reason: str) -> LotInfo:
        """QA puts a lot back into quarantine (e.g. for an investigation), audited."""
        self.access.authorize(session, Action.LOT_DISPOSITION, subject=f"lot:{lot_id}")
        required_text(reason, "reason", f"putting lot {lot_id} into quarantine needs a reason")
        with self.access.transaction(acting_account=session.acting_account) as tx:
            tx.set_lot_status(lot_id, "quarantine", user_id=session.user_id, reason=reason)
        return self.get(lot_id)

    def _dispose(
        self,
        session: UserSession,
        lot_id: str,
        status: str,
        reason: str,
        password: str,
        user_id: str | None,
    ) -> Signature:
        self.access.authorize(session, Action.LOT_DISPOSITION, subject=f"lot:{lot_id}")
        required_text(reason, "reason", f"the {status} status of lot {lot_id} needs a reason")
        lot = self.get(lot_id)
        if lot.batch_id is not None:
            raise Refused(
                f"lot {lot_id} was made by batch {lot.batch_id}: the batch's disposition "
                "releases or rejects it"
            )
        if lot.status == status:
            raise Refused(f"lot {lot_id} is {status} already")
        if status == "released":
            if lot.status != "quarantine":
                raise Refused(f"lot {lot_id} is {lot.status}: only a lot in quarantine is released")
            if lot.expired(self.access.now().date()):
                raise Refused(f"lot {lot_id} expired on {lot.expiry}: it cannot be released")
        self.accounts.authenticate_signature(session, password, user_id)
        with self.access.transaction(acting_account=session.acting_account) as tx:
            tx.set_lot_status(lot_id, status, user_id=session.user_id, reason=reason)
            return tx.sign(
                session,
                record_type="lot",
                record_id=lot_id,
                meaning="released" if status == "released" else "approved",
            )

    def get(self, lot_id: str) -> LotInfo:
        """A lot.

        Raises
        ------
        UnknownRecord
            If the lot is not known to the record.
        """
        with self.access.reading() as view:
            return view.lot(lot_id)

    def find(
        self,
        material: str | None = None,
        *,
        status: str | None = None,
        patient: str | None = None,
        batch_id: str | None = None,
    ) -> list[LotInfo]:
        """Lots, first expiring first, of a material, status, patient or producing batch.

        Raises
        ------
        Refused
            On an unknown status.
        """
        if status is not None and status not in LOT_STATUSES:
            raise Refused(
                f"unknown lot status {status[:40]!r}: use one of {', '.join(LOT_STATUSES)}"
            )
        with self.access.reading() as view:
            return view.lots(material, status=status, patient=patient, batch_id=batch_id)

    def trace(self, lot_id: str, direction: Direction = "forward") -> Genealogy:
        """The genealogy of a lot, forward or backward (see :func:`genealogy.trace`).

        Raises
        ------
        UnknownRecord
            If the lot is not known.
        Refused
            If ``direction`` is neither ``forward`` nor ``backward``.
        """
        if direction not in ("forward", "backward"):
            raise Refused(f"direction must be 'forward' or 'backward', got {direction!r}")
        with self.access.reading() as view:
            if not view.lot_exists(lot_id):
                raise UnknownRecord(f"lot {lot_id} not found")
            return trace(view.conn, lot_id, direction)
