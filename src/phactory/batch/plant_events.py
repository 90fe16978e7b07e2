"""The batch record read as the live plant's events: batches, procedures, phases and the
equipment states of the units they hold.

The electronic batch record is the source of truth of live execution: every batch,
phase and equipment-allocation change is an audit entry, numbered (``seq``) and stamped
in the record's transaction. :class:`RecordEventFeed` tails that trail and turns each
entry into :class:`~phactory.events.PlantEvent` records, numbered by the audit entry
(``seq``, two events of one entry as ``2 * seq`` and ``2 * seq + 1``), so that a feed
restarted from an earlier position repeats events that readers keep once
(:class:`~phactory.events.live.LiveEventLog`, the historian). Nothing is written by the
engine for this: whatever runs batches (the CLI, the web server, commissioning) is
followed by reading its record.

Equipment states follow the twin's time model (:mod:`phactory.twin.engine`, ISO 22400-2),
so that the same KPIs mean the same thing for both:

=====================================  ==================  ===========================
record entry                           unit state          twin's counterpart
=====================================  ==================  ===========================
unit allocated to a unit procedure     waiting_upstream    claimed, waiting to start
phase Running (automatic or manual)    producing, or       a phase runs
                                       cleaning (CIP/SIP)
phase Held / Holding / Aborting        down                repair
phase Complete, Paused, Stopped        waiting_upstream    claimed between phases
unit released                          idle                released after its procedure
=====================================  ==================  ===========================

Point events: ``batch.created`` -> ``batch_released``; the batch Running for the first
time -> ``batch_started``; Complete -> ``batch_completed`` (value: the batch size, in the
recipe's unit); Stopped or Aborted -> ``batch_scrapped``; a phase Running for the first
time -> ``phase_started`` (and ``procedure_started`` for the first phase of its unit
procedure); Complete -> ``phase_completed`` (``procedure_completed`` for the last), with
the phase's planned duration [h] as value, as the twin gives its sampled duration.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Final

from phactory.batch.control_recipe import ControlPhase, ControlRecipe
from phactory.batch.states import State
from phactory.events.plant_event import PlantEvent
from phactory.model.procedural import is_cleaning_phase
from phactory.records import AuditEntry, RecordService

__all__ = ["FeedBatch", "RecordEventFeed", "unit_state_of_phase"]

#: Audit kinds the feed reads.
KINDS: Final[tuple[str, ...]] = ("batch.created", "batch.state", "phase.state", "equipment")
_DOWN = frozenset({State.HELD, State.HOLDING, State.ABORTING, State.ABORTED})
_SCRAPPED = frozenset({State.STOPPED, State.ABORTED})


def unit_state_of_phase(phase: ControlPhase, state: State) -> str:
    """The ISO 22400 state of the unit of ``phase`` while the phase is in ``state``."""
    if state in (State.RUNNING, State.RESTARTING):
        return "cleaning" if is_cleaning_phase(phase.phase) else "producing"
    if state in _DOWN:
        return "down"
    return "waiting_upstream"


@dataclass(frozen=True, slots=True)
class _Made:
    """What one audit entry says happened, before its batch context and numbering."""

    kind: str
    unit: str = ""
    state: str = ""
    procedure: str = ""
    phase: str = ""
    value: float | None = None
    detail: str = ""


@dataclass(frozen=True, slots=True)
class FeedBatch:
    """What the feed keeps of a batch: its control recipe, order and product."""

    recipe: ControlRecipe
    order: str
    product: str


class RecordEventFeed:
    """Plant events from a batch record's audit trail.

    Parameters
    ----------
    records
        The record service of the batches to follow.
    source
        The events' ``source`` (the same for every reader of one record, so that events
        from two feeds of it are recognised as the same).
    """

    def __init__(self, records: RecordService, *, source: str = "batch-record") -> None:
        self.records = records
        self.source = source
        self._batches: dict[str, FeedBatch] = {}
        #: (batch, unit procedure) -> the unit allocated to it, from the trail.
        self._units: dict[tuple[str, str], str] = {}

    def read(self, after_seq: int = 0) -> tuple[list[PlantEvent], int]:
        """Events of every audit entry after ``after_seq``; and the last seq read (the
        position to continue from)."""
        with self.records.access.reading() as view:
            entries = view.entries(kinds=KINDS, after_seq=after_seq)
        events: list[PlantEvent] = []
        last = after_seq
        for entry in entries:
            last = max(last, entry.seq)
            events.extend(self._translate(entry))
        return events, last

    def _batch(self, batch_id: str) -> FeedBatch:
        cached = self._batches.get(batch_id)
        if cached is None:
            info = self.records.batches.get(batch_id)
            recipe = ControlRecipe.model_validate(info.control_recipe)
            cached = FeedBatch(recipe, info.order_id or "", info.product)
            self._batches[batch_id] = cached
        return cached

    def _translate(self, entry: AuditEntry) -> list[PlantEvent]:
        batch_id = entry.batch_id or ""
        if not batch_id:
            return []
        b = self._batch(batch_id)
        made: list[_Made] = []
        if entry.kind == "batch.created":
            made.append(_Made("batch_released"))
        elif entry.kind == "batch.state":
            made.extend(self._batch_state(b, entry))
        elif entry.kind == "phase.state":
            made.extend(self._phase_state(batch_id, b, entry))
        elif entry.kind == "equipment":
            made.extend(self._equipment(batch_id, entry))
        # An entry makes at most two events (a unit's state and a phase event): numbered
        # 2 * seq and 2 * seq + 1, so a re-read numbers them alike.
        return [
            PlantEvent(
                t=entry.time,
                kind=m.kind,
                unit=m.unit,
                state=m.state,
                batch=batch_id,
                order=b.order,
                product=b.product,
                procedure=m.procedure,
                phase=m.phase,
                value=m.value,
                detail=m.detail,
                source=self.source,
                seq=2 * entry.seq + i,
            )
            for i, m in enumerate(made)
        ]

    @staticmethod
    def _batch_state(b: FeedBatch, entry: AuditEntry) -> list[_Made]:
        old, new = State(entry.old), State(entry.new)
        if old is State.IDLE and new is State.RUNNING:
            return [_Made("batch_started")]
        if new is State.COMPLETE:
            return [_Made("batch_completed", value=b.recipe.batch_size)]
        if new in _SCRAPPED:
            return [_Made("batch_scrapped", value=0.0, detail=entry.reason)]
        return []

    def _unit(self, batch_id: str, unit_procedure: str) -> str:
        unit = self._units.get((batch_id, unit_procedure))
        if unit is None:  # allocated before this feed's first entry
            with self.records.access.reading() as view:
                for a in view.allocations(batch_id=batch_id):
                    if a.unit_procedure == unit_procedure and a.unit:
                        unit = a.unit
            if unit is None:
                return ""
            self._units[(batch_id, unit_procedure)] = unit
        return unit

    def _phase_state(self, batch_id: str, b: FeedBatch, entry: AuditEntry) -> list[_Made]:
        step = entry.subject.split("/", 1)[1] if "/" in entry.subject else ""
        try:
            phase = b.recipe.phase(step)
        except (KeyError, ValueError):
            return []
        up = b.recipe.unit_procedure(phase.unit_procedure)
        old, new = State(entry.old), State(entry.new)
        unit = self._unit(batch_id, phase.unit_procedure)
        where = _Made("", unit=unit, procedure=phase.unit_procedure, phase=phase.phase)
        made: list[_Made] = []
        if unit:
            made.append(replace(where, kind="state", state=unit_state_of_phase(phase, new)))
        paths = [ph.path for op in up.operations for ph in op.phases]
        if old is State.IDLE and new is State.RUNNING:
            kind = "procedure_started" if phase.path == paths[0] else "phase_started"
            made.append(replace(where, kind=kind, value=phase.duration_h))
        elif new is State.COMPLETE:
            kind = "procedure_completed" if phase.path == paths[-1] else "phase_completed"
            made.append(replace(where, kind=kind, value=phase.duration_h))
        return made

    def _equipment(self, batch_id: str, entry: AuditEntry) -> list[_Made]:
        new = entry.new if isinstance(entry.new, dict) else {}
        unit = str(new.get("unit") or "")
        if not unit:
            return []
        procedure = str(new.get("unit_procedure") or "")
        if entry.field == "allocated":
            self._units[(batch_id, procedure)] = unit
            return [_Made("state", unit=unit, state="waiting_upstream", procedure=procedure)]
        if entry.field == "released":
            return [_Made("state", unit=unit, state="idle", procedure=procedure)]
        return []
