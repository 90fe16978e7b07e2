"""Deviations: raised automatically or by people, worked through a signed workflow.

An out-of-limit value, a hold-time breach, a failed check, an aborted phase or a chain
of identity mismatch raises a deviation linked to its batch step. Its workflow is

    open -> investigation -> capa -> closed

and every step forward is an electronic signature by a person whose role allows it
(:data:`WORKFLOW`), on its own record ``deviation:<id>/<status>`` so that later steps do
not invalidate earlier signatures (EU GMP Annex 11 §13 incident management; 21 CFR
211.192 investigation of discrepancies). A batch with a deviation that is not closed
cannot be released (:mod:`phactory.records.review`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Final, Literal, get_args

from phactory.records.roles import Action

__all__ = [
    "DEVIATION_KINDS",
    "STATUSES",
    "WORKFLOW",
    "Deviation",
    "DeviationKind",
    "DeviationStatus",
    "WorkflowStep",
]

DeviationKind = Literal[
    "out_of_limit",
    "hold_time",
    "failed_check",
    "aborted_phase",
    "chain_of_identity",
    "material",
    "other",
]
#: Kinds of deviation.
DEVIATION_KINDS: Final[tuple[str, ...]] = get_args(DeviationKind)

DeviationStatus = Literal["open", "investigation", "capa", "closed"]
#: Statuses in workflow order.
STATUSES: Final[tuple[str, ...]] = get_args(DeviationStatus)


@dataclass(frozen=True, slots=True)
class WorkflowStep:
    """One step of the deviation workflow: where it goes, who may take it, how it is signed."""

    to_status: str
    action: Action
    meaning: str
    note_label: str


#: From each status, the one step forward.
WORKFLOW: Final[dict[str, WorkflowStep]] = {
    "open": WorkflowStep("investigation", Action.DEVIATION_INVESTIGATE, "reviewed", "scope"),
    "investigation": WorkflowStep("capa", Action.DEVIATION_CAPA, "approved", "root cause"),
    "capa": WorkflowStep("closed", Action.DEVIATION_CLOSE, "approved", "CAPA and closure"),
}


@dataclass(frozen=True, slots=True)
class Deviation:
    """A deviation as the service shows it.

    Attributes
    ----------
    deviation_id
        ``DEV-000001`` ...
    batch_id, step
        The batch and step (``unit_procedure/operation/phase``) it is linked to.
    kind, severity
        What it is (:data:`DEVIATION_KINDS`) and ``minor``/``major``/``critical``.
    status
        Where it is in the workflow.
    cause
        What raised it automatically (e.g. ``material:feed-media``), if anything: the
        engine raises one deviation per batch, step and cause.
    """

    deviation_id: str
    batch_id: str | None
    step: str | None
    kind: str
    severity: str
    description: str
    status: str
    raised_at: datetime
    raised_by: str
    cause: str | None = None

    @property
    def is_open(self) -> bool:
        """Whether it is not closed yet."""
        return self.status != "closed"
