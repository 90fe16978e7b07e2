"""Limits and hold times: out-of-limit values and hold-time breaches raise deviations.

A value outside its limits raises an alarm and (once per parameter and step) a
deviation, critical if the parameter is; a hold time between unit procedures longer than
the recipe allows raises a deviation (once per link), and on ``scrap`` holds the batch.
A step blocked by an open deviation takes no entries until it is closed.
"""

from __future__ import annotations

import math
from typing import Literal

from phactory.batch.context import EngineContext
from phactory.batch.control_recipe import ControlPhase
from phactory.batch.time_scale import recipe_hours
from phactory.records import SYSTEM_USER, RecordTx, StepInfo

__all__ = ["LimitChecks"]


class LimitChecks:
    """Limit and hold-time checks of a batch, and the deviations they raise.

    Parameters
    ----------
    ctx
        The engine's shared context.
    """

    def __init__(self, ctx: EngineContext) -> None:
        self.ctx = ctx

    def out_of_limit(
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
        """Record the alarm of a value outside its limits; raise its deviation once."""
        tx.append(
            user_id=SYSTEM_USER,
            kind="alarm",
            subject=f"step:{batch_id}/{phase.path}",
            field=name,
            new=f"{value:g} {unit} outside [{low}, {high}]",
            batch_id=batch_id,
        )
        tx.raise_deviation(
            user_id=SYSTEM_USER,
            batch_id=batch_id,
            step=phase.path,
            kind="out_of_limit",
            description=f"{name} {value:g} {unit} outside [{low}, {high}]",
            severity="critical" if critical else "major",
            cause=f"out_of_limit:{name}",
        )

    def hold_time_check(
        self, tx: RecordTx, batch_id: str, phase: ControlPhase
    ) -> Literal["wait", "hold"] | None:
        """Hold-time links of a unit procedure at its start.

        Returns
        -------
        ``"wait"`` while a minimum lag runs, ``"hold"`` if a maximum lag with
        ``on_breach: scrap`` was breached now (its deviation raised), else ``None``.
        Lags are measured at the batch's time scale (its own, else the engine's); with an
        infinite time scale every lag counts as met.
        """
        recipe = self.ctx.stored_recipe(batch_id)
        up = recipe.unit_procedure(phase.unit_procedure)
        scale = self.ctx.time_scale_of(batch_id, tx)
        if phase.path != up.operations[0].phases[0].path or math.isinf(scale):
            return None
        steps = {s.step: s for s in tx.steps(batch_id)}
        now = tx.now()
        result: Literal["wait", "hold"] | None = None
        for link in up.after:
            pred = recipe.unit_procedure(link.procedure)
            ends = [
                end
                for op in pred.operations
                for ph in op.phases
                if (end := steps[ph.path].ended_at) is not None
            ]
            if not ends:
                continue
            lag_h = recipe_hours((now - max(ends)).total_seconds(), scale)
            if lag_h < link.min_lag_h:
                return "wait"
            if link.max_lag_h is None or lag_h <= link.max_lag_h:
                continue
            cause = f"hold_time:{link.procedure}"
            if tx.deviation_for(batch_id, phase.path, cause) is not None:
                continue  # raised (and acted on) already
            tx.raise_deviation(
                user_id=SYSTEM_USER,
                batch_id=batch_id,
                step=phase.path,
                kind="hold_time",
                description=f"hold time after {link.procedure} was {lag_h:.3g} h, limit "
                f"{link.max_lag_h:g} h",
                severity="critical" if link.on_breach == "scrap" else "major",
                cause=cause,
            )
            if link.on_breach == "scrap":
                result = "hold"
        return result

    def blocking_deviation(self, batch_id: str, step: StepInfo) -> str | None:
        """The open deviation that blocks a step, if any."""
        if step.blocked_by is None:
            return None
        dev = self.ctx.records.deviations.get(step.blocked_by)
        return dev.deviation_id if dev.is_open else None
