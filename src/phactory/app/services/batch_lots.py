"""Lots and batch-record accounts, for the application's BatchService.

Lots (``batches.lots``): a lot is received into quarantine with its material and unit
checked against the site, an expiry (a date, or a shelf life from today) and, for a
patient-specific lot such as an apheresis, its patient (chain of identity); QA releases
or rejects it with a reason and an electronic signature. A batch step only uses lots that
are released and in date (:meth:`phactory.batch.materials.MaterialHandling.available_lots`).

Accounts (``batches.accounts``): the batch-record accounts of people lock after repeated
failed logins or signings (21 CFR 11.300(d)); an administrator of the batch record
unlocks them or sets a new password, with a reason, in the audit trail.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import date, timedelta
from typing import TYPE_CHECKING, Literal

from phactory.app.errors import Invalid, Missing
from phactory.app.services.batch_people import signer
from phactory.app.services.batch_review import needed_text
from phactory.model.ids import require_id

if TYPE_CHECKING:
    from phactory.model import Site
    from phactory.records import Genealogy, LotInfo, RecordService, User, UserSession

__all__ = ["LotDesk", "RecordAccounts", "resolve_site"]


def resolve_site(sites: Callable[[str], Site] | None, site: Site | str) -> Site:
    """``site``, or the site of that id found by ``sites``.

    Raises
    ------
    Missing
        If an id is given and there is no site store.
    """
    if not isinstance(site, str):
        return site
    if sites is None:
        raise Missing(f"site {site}: no site store in this service")
    return sites(require_id(site, "site id"))


class LotDesk:
    """Receipt, disposition and lists of lots.

    Parameters
    ----------
    records
        The record service.
    sites
        Finds a site by id (to check a received lot's material).
    """

    def __init__(self, records: RecordService, sites: Callable[[str], Site] | None) -> None:
        self.records = records
        self._sites = sites

    def find(
        self,
        *,
        material: str | None = None,
        status: str | None = None,
        patient: str | None = None,
        batch_id: str | None = None,
    ) -> list[LotInfo]:
        """Lots known to the record, first expiring first, with optional filters (an
        unknown status is refused by the record)."""
        return self.records.lots.find(
            material=material, status=status, patient=patient, batch_id=batch_id
        )

    def get(self, lot_id: str) -> LotInfo:
        """One lot (:class:`~phactory.records.UnknownRecord` if unknown)."""
        return self.records.lots.get(require_id(lot_id, "lot id"))

    def receive(
        self,
        who: UserSession,
        site: Site | str,
        lot_id: str,
        material: str,
        quantity: float,
        unit: str | None = None,
        *,
        expiry: date | None = None,
        shelf_life_d: float | None = None,
        supplier: str | None = None,
        supplier_lot: str | None = None,
        patient: str | None = None,
    ) -> LotInfo:
        """Receive a lot into quarantine, its material and unit checked against the site.

        Parameters
        ----------
        unit
            Of ``quantity``; default the material's unit. Stored in the material's unit.
        expiry, shelf_life_d
            The expiry date, or the shelf life from today [d] (not both).
        patient
            For a patient-specific lot (an apheresis): its patient (chain of identity).
        """
        from phactory.model.quantity import QuantityError, convert

        found = resolve_site(self._sites, site)
        lot_id = require_id(lot_id, "lot id")
        mat = found.materials.get(require_id(material, "material id"))
        if mat is None:
            raise Invalid(f"material {material} is not a material of site {found.id}")
        if unit and unit != mat.unit:
            try:
                quantity = convert(quantity, unit, mat.unit)
            except QuantityError as exc:
                raise Invalid(
                    f"lot {lot_id}: {exc} (material {mat.id} is counted in {mat.unit})"
                ) from None
        if expiry is not None and shelf_life_d is not None:
            raise Invalid("give an expiry date or a shelf life, not both")
        today = self.records.access.now().date()  # the record's clock, as its own checks
        if shelf_life_d is not None:
            if not math.isfinite(shelf_life_d) or shelf_life_d <= 0:
                raise Invalid("the shelf life must be a positive number of days")
            expiry = today + timedelta(days=shelf_life_d)
        # The record refuses a quantity that is not positive and an expired lot. The site
        # file's own lots become known to it with the first receipt (or the first batch)
        # of the site, in the receipt's transaction, so that lists show them next to the
        # lots received and a refused receipt writes nothing.
        return self.records.lots.receive(
            who,
            lot_id,
            mat.id,
            float(quantity),
            mat.unit,
            expiry=expiry,
            supplier=supplier or None,
            supplier_lot=supplier_lot or None,
            patient=require_id(patient, "patient id") if patient else None,
            site=found,
        )

    def trace(self, lot_id: str, direction: str = "forward") -> Genealogy:
        """Where a lot went (``forward``) or what went into it (``backward``)."""
        if direction not in ("forward", "backward"):
            raise Invalid(f"trace forward or backward, not {direction[:20]!r}")
        way: Literal["forward", "backward"] = "forward" if direction == "forward" else "backward"
        return self.records.lots.trace(require_id(lot_id, "lot id"), way)

    def release(
        self, who: UserSession, lot_id: str, reason: str, user_id: str, password: str
    ) -> LotInfo:
        """QA releases a lot from quarantine, with a reason and a signature."""
        return self._dispose(who, lot_id, "released", reason, user_id, password)

    def reject(
        self, who: UserSession, lot_id: str, reason: str, user_id: str, password: str
    ) -> LotInfo:
        """QA rejects a lot, with a reason and a signature."""
        return self._dispose(who, lot_id, "rejected", reason, user_id, password)

    def _dispose(
        self, who: UserSession, lot_id: str, status: str, reason: str, user_id: str, password: str
    ) -> LotInfo:
        lot = self.get(lot_id)
        what = "release" if status == "released" else "rejection"
        why = needed_text(reason, "reason", f"lot {lot.lot_id}: a lot {what} needs a reason")
        dispose = self.records.lots.release if status == "released" else self.records.lots.reject
        with signer(self.records, who, user_id, password) as (session, uid):
            dispose(session, lot.lot_id, why, password=password, user_id=uid)
        return self.get(lot.lot_id)


class RecordAccounts:
    """The batch-record accounts of people, for administrators."""

    def __init__(self, records: RecordService) -> None:
        self.records = records

    def create(
        self,
        who: UserSession,
        user_id: str,
        full_name: str,
        role: str,
        password: str,
        *,
        skills: tuple[str, ...] = (),
    ) -> User:
        """Create an account (an administrator); a user id is never reused."""
        return self.records.accounts.create_user(
            who, require_id(user_id, "user id"), full_name, role, password, skills=skills
        )

    def users(self) -> list[User]:
        """The batch-record accounts of people (never their passwords)."""
        return [u for u in self.records.accounts.users() if u.role != "system"]

    def unlock(self, who: UserSession, user_id: str, reason: str) -> User:
        """Unlock a locked account and reset its failures (an administrator, audited)."""
        why = needed_text(reason, "reason", "unlocking an account needs a reason")
        return self.records.accounts.unlock_user(who, require_id(user_id, "user id"), why)

    def reset_password(
        self, who: UserSession, user_id: str, new_password: str, reason: str
    ) -> User:
        """Set a new password for an account (an administrator, audited)."""
        why = needed_text(reason, "reason", "a password reset needs a reason")
        return self.records.accounts.reset_password(
            who, require_id(user_id, "user id"), new_password, why
        )
