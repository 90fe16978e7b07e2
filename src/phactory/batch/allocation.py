"""Unit allocation when a unit procedure starts (ISA-88 dynamic allocation).

A batch does not reserve its units when it is made: any number of batches of a product
may exist. When the first phase of a unit procedure is due, the procedure asks for a
unit of its equipment class (ANSI/ISA-88.00.01-2010 §5.4.3, allocation and arbitration)
and waits, visibly, until one is free; it gives the unit back when its last phase
completes, and a batch that ends gives back every unit it holds.

Arbitration is first come, first served: a free unit goes to the procedure that has
waited longest among the batches ready to take it (Running); a batch on hold does not
keep others waiting. Within a batch a unit its earlier procedures did not use is
preferred (material moves on to the next vessel), else any free one. Decisions are made
under the audit chain lock that every write transaction holds, so two engines never
grant the same unit.
"""

from __future__ import annotations

from collections.abc import Sequence

from phactory.batch.context import EngineContext
from phactory.batch.control_recipe import ControlUnitProcedure
from phactory.batch.states import State
from phactory.records import SYSTEM_USER, Allocation, RecordTx, RecordView

__all__ = ["UnitAllocation"]

#: Batch states in which a waiting unit procedure can take a unit.
_READY = frozenset({State.RUNNING.value, State.PAUSING.value})


class UnitAllocation:
    """Requests, grants and releases of units.

    Parameters
    ----------
    ctx
        The engine's shared context.
    """

    def __init__(self, ctx: EngineContext) -> None:
        self.ctx = ctx

    def acquire(self, tx: RecordTx, batch_id: str, up: ControlUnitProcedure) -> str | None:
        """The unit of a unit procedure that is due: the one it holds, or one granted now
        (the request is recorded first); ``None`` while it waits for one."""
        mine = next(
            (
                a
                for a in tx.allocations(batch_id=batch_id, current=True)
                if a.unit_procedure == up.id
            ),
            None,
        )
        if mine is not None and mine.unit is not None:
            return mine.unit
        live = tx.allocations(equipment_class=up.equipment_class, current=True)
        held = {a.unit for a in live if a.unit is not None}
        free = [u for u in up.candidates if u not in held]
        if mine is None:
            mine = tx.request_unit(batch_id, up.id, up.equipment_class, user_id=SYSTEM_USER)
            live.append(mine)
        if not free:
            return None
        ahead = [
            a
            for a in live
            if a.waiting and a.id != mine.id and self._first(a, mine) and self._ready(tx, a)
        ]
        if len(ahead) >= len(free):
            return None  # those waiting longer take the free units first
        used = {a.unit for a in tx.allocations(batch_id=batch_id) if a.unit is not None}
        unit = next((u for u in free if u not in used), free[0])
        steps = [ph.path for op in up.operations for ph in op.phases]
        tx.grant_unit(mine, unit, steps, user_id=SYSTEM_USER)
        return unit

    @staticmethod
    def _first(a: Allocation, b: Allocation) -> bool:
        """Whether request ``a`` came before ``b``."""
        return (a.requested_at, a.id) < (b.requested_at, b.id)

    @staticmethod
    def _ready(view: RecordView, a: Allocation) -> bool:
        info = view.batch(a.batch_id)
        return info.ended_at is None and info.state in _READY

    def release(self, tx: RecordTx, batch_id: str, unit_procedure: str | None, reason: str) -> None:
        """Give back the unit of one unit procedure (``None``: of every procedure of the
        batch, and withdraw its requests)."""
        for a in tx.allocations(batch_id=batch_id, current=True):
            if unit_procedure is None or a.unit_procedure == unit_procedure:
                tx.release_unit(a, user_id=SYSTEM_USER, reason=reason)

    def waiting_text(self, view: RecordView, batch_id: str) -> str | None:
        """What a unit procedure of the batch waits for, for people, or ``None``."""
        waiting = [a for a in view.allocations(batch_id=batch_id, current=True) if a.waiting]
        if not waiting:
            return None
        a = waiting[0]
        return (
            f"unit procedure {a.unit_procedure} waits for a unit of class {a.equipment_class}"
            + _holders(view.allocations(equipment_class=a.equipment_class, current=True))
        )


def _holders(live: Sequence[Allocation]) -> str:
    held = [a for a in live if a.held]
    if not held:
        return ""
    parts = [
        f"{a.unit} held by batch {a.batch_id} ({a.unit_procedure}) since "
        f"{a.allocated_at:%Y-%m-%d %H:%M} UTC"
        if a.allocated_at is not None
        else f"{a.unit} held by batch {a.batch_id} ({a.unit_procedure})"
        for a in held
    ]
    return ": " + "; ".join(parts)
