"""Reading batches: the batch, its steps, its units, why it is held, the whole record."""

from __future__ import annotations

from phactory.records.access import AccessControl
from phactory.records.record import Allocation, BatchInfo, BatchRecord, StepInfo

__all__ = ["BatchRecords"]


class BatchRecords:
    """The batches of the record, read (the batch engine writes them).

    Parameters
    ----------
    access
        The record service's access control.
    """

    def __init__(self, access: AccessControl) -> None:
        self.access = access

    def get(self, batch_id: str) -> BatchInfo:
        """One batch.

        Raises
        ------
        UnknownRecord
            If there is no such batch.
        """
        with self.access.reading() as view:
            return view.batch(batch_id)

    def find(self, site_id: str | None = None) -> list[BatchInfo]:
        """Every batch (of one site), newest first."""
        with self.access.reading() as view:
            return view.batches(site_id)

    def steps(self, batch_id: str) -> list[StepInfo]:
        """The steps of a batch in execution order."""
        with self.access.reading() as view:
            return view.steps(batch_id)

    def allocations(self, batch_id: str) -> list[Allocation]:
        """The units the batch's unit procedures asked for, hold and gave back."""
        with self.access.reading() as view:
            return view.allocations(batch_id=batch_id)

    def hold_reason(self, batch_id: str) -> str | None:
        """Why the batch is Holding or Held (the reason recorded with the change that put
        it on hold), or ``None`` if it is not on hold."""
        with self.access.reading() as view:
            return view.hold_reason(batch_id)

    def record(self, batch_id: str) -> BatchRecord:
        """The complete electronic batch record of one batch, read in one transaction."""
        with self.access.reading() as view:
            return BatchRecord(
                batch=view.batch(batch_id),
                steps=view.steps(batch_id),
                entries=view.entries(batch_id),
                signatures=view.signatures(batch_id=batch_id),
                deviations=view.deviations(batch_id),
                materials=view.materials(batch_id),
            )
