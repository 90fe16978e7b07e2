"""Limits and hold times: out-of-limit values and hold-time breaches raise deviations.

A value outside its limits raises an alarm and (once per parameter and step) a
deviation, critical if the parameter is; a hold time between unit procedures longer than
the recipe allows raises a deviation, and on ``scrap`` holds the batch. A step blocked by
an open deviation takes no entries until it is closed.
"""

from __future__ import annotations

from typing import Final, cast

from sqlalchemy import Table, select

from phactory.batch.control_recipe import (
    ControlPhase,
)
from phactory.batch.materials import MaterialHandling
from phactory.records.record import StepInfo
from phactory.records.schema import DeviationRow
from phactory.records.service import RecordTx
from phactory.records.users import SYSTEM_USER

__all__ = ["LimitChecks"]

_DEVS: Final = cast(Table, DeviationRow.__table__)


class LimitChecks(MaterialHandling):
    """Limit and hold-time checks of a batch, and the deviations they raise."""

    def _out_of_limit(
        self,
        tx: RecordTx,
        batch_id: str,
        phase: ControlPhase,
        name: str,
        value: float,
        unit: str,
        low: float | None,
        high: float | None,
        critical: bool,
    ) -> None:
        tx.append(
            user_id=SYSTEM_USER,
            kind="alarm",
            subject=f"step:{batch_id}/{phase.path}",
            field=name,
            new=f"{value:g} {unit} outside [{low}, {high}]",
            batch_id=batch_id,
        )
        self._raise_once(
            tx,
            batch_id,
            phase.path,
            "out_of_limit",
            f"{name} {value:g} {unit} outside [{low}, {high}]",
            "critical" if critical else "major",
            same=f"{name} ",
        )

    def _raise_once(
        self,
        tx: RecordTx,
        batch_id: str,
        step: str,
        kind: str,
        description: str,
        severity: str,
        *,
        same: str = "",
    ) -> bool:
        """Raise a deviation unless the step already has one of ``kind`` (whose
        description starts with ``same``); return whether one was raised."""
        exists = tx.conn.execute(
            select(_DEVS.c.deviation_id).where(
                _DEVS.c.batch_id == batch_id,
                _DEVS.c.step == step,
                _DEVS.c.kind == kind,
                _DEVS.c.description.startswith(same),
            )
        ).first()
        if exists is not None:
            return False
        self.records.raise_in(
            tx,
            user_id=SYSTEM_USER,
            batch_id=batch_id,
            step=step,
            kind=kind,
            description=description,
            severity=severity,
        )
        return True

    def _hold_time_check(self, tx: RecordTx, batch_id: str, phase: ControlPhase) -> str | None:
        """Hold-time links of a unit procedure at its start; ``"wait"`` if a min lag runs."""
        recipe = self.control_recipe(batch_id)
        up = recipe.unit_procedure(phase.unit_procedure)
        first = up.operations[0].phases[0].path
        if phase.path != first:
            return None
        steps = {s.step: s for s in self._step_rows(tx, batch_id)}
        now = self.records.now()
        result = None
        for link in up.after:
            pred = recipe.unit_procedure(link.procedure)
            ends = [
                steps[ph.path].ended_at
                for op in pred.operations
                for ph in op.phases
                if steps[ph.path].ended_at is not None
            ]
            if not ends:
                continue
            lag_h = (now - max(ends)).total_seconds() / 3600.0
            lag_h = lag_h / self.time_scale if self.time_scale > 0 else 0.0
            if lag_h < link.min_lag_h:
                return "wait"
            if link.max_lag_h is not None and lag_h > link.max_lag_h:
                raised = self._raise_once(
                    tx,
                    batch_id,
                    phase.path,
                    "hold_time",
                    f"hold time after {link.procedure} was {lag_h:.3g} h, limit "
                    f"{link.max_lag_h:g} h",
                    "critical" if link.on_breach == "scrap" else "major",
                )
                if raised and link.on_breach == "scrap":
                    result = "hold"
        return result

    def _blocking_deviation(self, batch_id: str, step: StepInfo) -> str | None:
        if step.blocked_by is None:
            return None
        dev = self.records.deviation(step.blocked_by)
        return dev.deviation_id if dev.is_open else None
