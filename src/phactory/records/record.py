"""The electronic batch record as read back: batch, steps, entries, signatures, lots.

Immutable snapshots returned by :meth:`phactory.records.RecordService.batch_record`, shown
by the CLI and exported by :mod:`phactory.records.export` (21 CFR 11.10(b): accurate and
complete copies in human-readable and electronic form; EU GMP Annex 11 §8).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from phactory.records.audit import AuditEntry
from phactory.records.deviations import Deviation
from phactory.records.genealogy import TraceEdge
from phactory.records.review import disposition_text
from phactory.records.signatures import Signature

__all__ = ["Allocation", "BatchInfo", "BatchRecord", "LotInfo", "StepInfo"]


@dataclass(frozen=True, slots=True)
class BatchInfo:
    """A batch: what it makes, from which recipe, its ISA-88 state and its disposition.

    ``runner`` and ``heartbeat`` are the lease of the engine running it (``host:pid:...``
    and when it was last seen), if any. ``time_scale`` is the recipe time per wall-clock
    time chosen for the batch when it was created (``math.inf``: instant), or ``None``
    to run at the time scale of the engine running it (:mod:`phactory.batch.time_scale`).
    """

    batch_id: str
    site_id: str
    recipe_id: str
    recipe_version: str
    product: str
    order_id: str | None
    patient: str | None
    state: str
    status: str
    created_at: datetime
    created_by: str
    control_recipe: dict[str, Any]
    ended_at: datetime | None = None
    runner: str | None = None
    heartbeat: datetime | None = None
    time_scale: float | None = None


@dataclass(frozen=True, slots=True)
class StepInfo:
    """A step (phase) of a batch: state, unit, progress and what blocks it."""

    batch_id: str
    step: str
    position: int
    kind: str
    unit: str
    state: str
    elapsed_h: float
    started_at: datetime | None
    ended_at: datetime | None
    blocked_by: str | None


@dataclass(frozen=True, slots=True)
class LotInfo:
    """A lot known to the record.

    Attributes
    ----------
    status
        ``quarantine``, ``released``, ``rejected`` or ``consumed``.
    expiry
        ISO date (``YYYY-MM-DD``), or ``None``.
    batch_id
        The batch that produced it, for lots made here.
    supplier, supplier_lot
        For received lots: who supplied it and their lot number.
    received_at, received_by
        When and by whom it was received (``None`` for lots from a site file or made here).
    """

    lot_id: str
    material: str
    quantity: float
    unit: str
    status: str
    expiry: str | None
    patient: str | None
    batch_id: str | None
    supplier: str | None = None
    supplier_lot: str | None = None
    received_at: datetime | None = None
    received_by: str | None = None

    def expired(self, today: date) -> bool:
        """Whether the lot's expiry date has passed on ``today``."""
        return self.expiry is not None and self.expiry < today.isoformat()


@dataclass(frozen=True, slots=True)
class Allocation:
    """A unit procedure's claim on a unit of its class (ISA-88 dynamic allocation).

    Attributes
    ----------
    unit
        The unit granted, or ``None`` while the unit procedure waits for one.
    requested_at, allocated_at, released_at
        When the unit procedure asked for a unit, got one, and gave it back.
    """

    id: int
    batch_id: str
    unit_procedure: str
    equipment_class: str
    unit: str | None
    requested_at: datetime
    allocated_at: datetime | None
    released_at: datetime | None

    @property
    def held(self) -> bool:
        """Whether the unit procedure holds a unit now."""
        return self.unit is not None and self.released_at is None

    @property
    def waiting(self) -> bool:
        """Whether the unit procedure waits for a unit."""
        return self.unit is None and self.released_at is None


@dataclass(frozen=True)
class BatchRecord:
    """Everything recorded about one batch.

    Attributes
    ----------
    batch
        The batch.
    steps
        Its steps in execution order.
    entries
        Its audit entries in chain order (state changes, values, entries, materials,
        equipment, alarms, comments, signatures, deviations).
    signatures
        Its signatures, each checked against the record as it is now.
    deviations
        Its deviations.
    materials
        Lots consumed and produced.
    """

    batch: BatchInfo
    steps: list[StepInfo] = field(default_factory=list)
    entries: list[AuditEntry] = field(default_factory=list)
    signatures: list[Signature] = field(default_factory=list)
    deviations: list[Deviation] = field(default_factory=list)
    materials: list[TraceEdge] = field(default_factory=list)

    def header(self) -> list[tuple[str, str]]:
        """The batch's identity and status as ``(label, text)``, as every printed copy heads it.

        The disposition is the true one: a release whose QA review signature no longer
        holds reads "released, not reviewed by QA".
        """
        b = self.batch
        return [
            ("Product", b.product),
            ("Master recipe", f"{b.recipe_id} version {b.recipe_version}"),
            ("Site", b.site_id),
            ("Order", b.order_id or "-"),
            ("Patient", b.patient or "-"),
            ("ISA-88 state", b.state),
            ("Disposition", disposition_text(b.status, self.signatures)),
            ("Created", f"{b.created_at.isoformat()} by {b.created_by}"),
        ]
