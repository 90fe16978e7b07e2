"""The electronic batch record as read back: batch, steps, entries, signatures, lots.

Immutable snapshots returned by :meth:`phactory.records.RecordService.batch_record`, shown
by the CLI and exported by :mod:`phactory.records.export` (21 CFR 11.10(b): accurate and
complete copies in human-readable and electronic form; EU GMP Annex 11 §8).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from phactory.records.audit import AuditEntry
from phactory.records.deviations import Deviation
from phactory.records.genealogy import TraceEdge
from phactory.records.signatures import Signature

__all__ = ["BatchInfo", "BatchRecord", "LotInfo", "StepInfo"]


@dataclass(frozen=True, slots=True)
class BatchInfo:
    """A batch: what it makes, from which recipe, its ISA-88 state and its disposition."""

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
    """A lot known to the record."""

    lot_id: str
    material: str
    quantity: float
    unit: str
    status: str
    expiry: str | None
    patient: str | None
    batch_id: str | None


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
        """The batch's identity and status as ``(label, text)``, as every printed copy heads it."""
        b = self.batch
        return [
            ("Product", b.product),
            ("Master recipe", f"{b.recipe_id} version {b.recipe_version}"),
            ("Site", b.site_id),
            ("Order", b.order_id or "-"),
            ("Patient", b.patient or "-"),
            ("ISA-88 state", b.state),
            ("Disposition", b.status),
            ("Created", f"{b.created_at.isoformat()} by {b.created_by}"),
        ]
