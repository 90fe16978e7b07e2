"""Remaining useful life live: a RUL model predicting from a unit's tags in the historian.

A :class:`phactory.monitor.rul.RulModel` learns from run-to-failure histories whose time
column counts from the start of each unit's life (cycles or hours). Live, the unit's life
starts at ``life_start`` (its installation or last overhaul: the deployment says when),
and its history is its tags read on a grid of ``every`` (step means, last-value hold:
:func:`phactory.live.monitoring.read_grid`), with time in ``time_unit_h`` hours per model
time unit since ``life_start``. Each scan (at most once per grid step) predicts at the
last complete row from the last ``history`` rows (at least the model's feature window)
and writes the prediction back as tags ``rul``, ``rul_lower`` and ``rul_upper`` below
``<tag prefix>rul/<name>/`` (source ``rul:<name>``), so that its trend is a historian
query like any other.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from phactory.errors import InvalidError
from phactory.historian.times import from_us, to_us
from phactory.live.grid import Grid, TagMap, unit_prefix

if TYPE_CHECKING:
    from phactory.historian import Historian
    from phactory.monitor.rul import RulPrediction

__all__ = ["RulPredictor", "RulScan", "rul_tags"]


def rul_tags(tag_prefix: str, name: str) -> dict[str, str]:
    """The tags of a RUL model's predictions: ``rul``, ``rul_lower``, ``rul_upper``."""
    base = f"{unit_prefix(tag_prefix)}rul/{name}/"
    return {k: base + k for k in ("rul", "rul_lower", "rul_upper")}


@dataclass(frozen=True, slots=True)
class RulScan:
    """One scan: the prediction at the last complete row (``None``: too little data),
    and when that row was."""

    prediction: RulPrediction | None
    at: dt.datetime | None
    rows: int = 0
    stale: int = 0
    transitions: tuple[Any, ...] = ()


class RulPredictor:
    """A fitted RUL model predicting a unit's remaining life from the historian (see the
    module docstring).

    Parameters
    ----------
    model
        A fitted :class:`phactory.monitor.rul.RulModel`.
    historian
        Where the history is read and the predictions written.
    name, unit
        The predictor, and the unit (its id in the predictions).
    tags
        The tag of each model variable (``model.variables_``).
    life_start
        Start of the unit's life (aware).
    every
        Grid step; one prediction per step at most.
    time_unit_h
        Hours per time unit of the model (1 for hours; a cycle's length for cycles).
    history
        Rows read for a prediction (default: twice the model's window, at least 10).
    """

    def __init__(
        self,
        model: Any,
        historian: Historian,
        *,
        name: str,
        unit: str,
        tags: TagMap,
        life_start: dt.datetime,
        every: dt.timedelta = dt.timedelta(minutes=10),
        time_unit_h: float = 1.0,
        history: int | None = None,
        hold: dt.timedelta | None = None,
    ) -> None:
        if tags.variables != tuple(getattr(model, "variables_", ())):
            raise InvalidError(f"RUL model {name!r}: the tag map is not of its variables")
        if life_start.tzinfo is None:
            raise InvalidError(f"RUL model {name!r}: the start of life has no time zone")
        if not (math.isfinite(time_unit_h) and time_unit_h > 0):
            raise InvalidError(f"RUL model {name!r}: time_unit_h must be a positive number")
        self.model, self.historian = model, historian
        self.name, self.unit, self.tags = name, unit or name, tags
        self.life_start = life_start
        self.grid = Grid.of(every, dt.timedelta(0), hold, f"RUL model {name!r}")
        self.time_unit_us = time_unit_h * 3.6e9
        window = int(getattr(model, "window", 30))
        self.history = history or max(10, 2 * window)
        self.outputs = rul_tags(tags.prefix, name)
        self.last_us: int | None = None
        self.latest: RulScan = RulScan(None, None)
        tags.check(historian)

    def scan(self, now: dt.datetime) -> RulScan:
        """Predict at the last closed grid step (once per step) and publish it."""
        import pandas as pd

        from phactory.historian import Sample
        from phactory.monitor.table import Table

        end = self.grid.closed_end(now)
        if self.last_us is not None and end <= self.last_us:
            return self.latest
        life_us = to_us(self.life_start, "start of life")
        first = max(self.grid.floor(life_us), end - self.history * self.grid.every_us)
        times, values = self.grid.read(self.historian, self.tags.tags, first, end)
        keep = ~np.isnan(values).any(axis=1)
        times, values = times[keep], values[keep]
        self.last_us = end
        if len(times) < 2:
            self.latest = RulScan(None, None, 0, int((~keep).sum()))
            return self.latest
        t = (times - life_us) / self.time_unit_us
        table = Table(
            f"historian ({self.name})", self.tags.variables, values,
            extra={"unit": pd.Series([self.unit] * len(t)), "time": pd.Series(t)},
        )  # fmt: skip
        [prediction] = self.model.predict(table, "unit", "time")
        at_us = int(times[-1])
        source = f"rul:{self.name}"[:200]
        self.historian.ingest(
            Sample(self.outputs[k], at_us, float(v), seq=max(0, at_us), source=source)
            for k, v in (("rul", prediction.rul), ("rul_lower", prediction.lower),
                         ("rul_upper", prediction.upper))
            if math.isfinite(v)
        )  # fmt: skip
        at = from_us(at_us)
        self.latest = RulScan(prediction, at, len(times), int((~keep).sum()))
        return self.latest
