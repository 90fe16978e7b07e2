"""The event log: what the plant (simulated or real) did, as pandas DataFrames.

The twin writes it, live execution writes it, and everything downstream (KPIs, batch
records, monitoring, reports, the web UI) reads only this. Times are hours from the
run's epoch (``epoch`` is kept for conversion to aware datetimes at the edges).

Tables
------
timeline
    One row per interval a unit spends in one state: ``unit, state, start_h, end_h,
    batch, order, product, procedure, phase``. Per unit the rows tile ``[0, horizon_h]``
    without gaps or overlaps (checked by :meth:`EventLog.check`).
events
    Point events: ``t_h, kind, unit, batch, order, product, procedure, phase, value,
    detail``. Kinds include ``batch_released, batch_started, batch_completed,
    batch_scrapped, procedure_started, procedure_completed, phase_started,
    phase_completed, failure, repair, deviation, maintenance_started``.
batches
    One row per batch: ``batch, order, product, recipe, patient, release_h, start_h,
    end_h, due_h, status`` with status ``completed | scrapped | in_progress | not_started``
    and ``quantity`` (good output in the recipe's batch-size unit, 0 when scrapped).
labour
    One row per assignment of people: ``team, skill, count, start_h, end_h, batch,
    unit, phase``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from phactory.events.states import STATES

__all__ = [
    "BATCH_COLUMNS",
    "EVENT_COLUMNS",
    "LABOUR_COLUMNS",
    "TIMELINE_COLUMNS",
    "EventLog",
    "EventLogError",
]

TIMELINE_COLUMNS = [
    "unit",
    "state",
    "start_h",
    "end_h",
    "batch",
    "order",
    "product",
    "procedure",
    "phase",
]
EVENT_COLUMNS = [
    "t_h",
    "kind",
    "unit",
    "batch",
    "order",
    "product",
    "procedure",
    "phase",
    "value",
    "detail",
]
BATCH_COLUMNS = [
    "batch",
    "order",
    "product",
    "recipe",
    "patient",
    "release_h",
    "start_h",
    "end_h",
    "due_h",
    "status",
    "quantity",
]
LABOUR_COLUMNS = ["team", "skill", "count", "start_h", "end_h", "batch", "unit", "phase"]


class EventLogError(ValueError):
    """An event log breaks its contract (e.g. a unit's timeline has a gap)."""


def _frame(rows: pd.DataFrame | list[dict[str, object]] | None, columns: list[str]) -> pd.DataFrame:
    df = pd.DataFrame(rows if rows is not None else [], columns=columns)
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise EventLogError(f"missing columns {missing}")
    return df


@dataclass
class EventLog:
    """An event log of one run (one replication) over ``[0, horizon_h]``.

    Parameters
    ----------
    horizon_h
        Length of the run [h].
    units
        Every unit in the run, so that units that never worked still appear.
    epoch
        The aware datetime of hour 0.
    """

    horizon_h: float
    units: list[str]
    timeline: pd.DataFrame = field(default_factory=lambda: _frame(None, TIMELINE_COLUMNS))
    events: pd.DataFrame = field(default_factory=lambda: _frame(None, EVENT_COLUMNS))
    batches: pd.DataFrame = field(default_factory=lambda: _frame(None, BATCH_COLUMNS))
    labour: pd.DataFrame = field(default_factory=lambda: _frame(None, LABOUR_COLUMNS))
    epoch: dt.datetime | None = None
    site_id: str = ""
    seed: int | None = None

    def __post_init__(self) -> None:
        self.timeline = _frame(self.timeline, TIMELINE_COLUMNS)
        self.events = _frame(self.events, EVENT_COLUMNS)
        self.batches = _frame(self.batches, BATCH_COLUMNS)
        self.labour = _frame(self.labour, LABOUR_COLUMNS)

    def check(self, tol: float = 1e-6) -> None:
        """Raise :class:`EventLogError` unless every unit's timeline tiles the horizon."""
        tl = self.timeline
        bad_states = set(tl["state"]) - set(STATES)
        if bad_states:
            raise EventLogError(f"unknown states {sorted(bad_states)}")
        for unit in self.units:
            rows = tl[tl["unit"] == unit].sort_values("start_h")
            if rows.empty:
                raise EventLogError(f"unit {unit!r} has no timeline")
            start = rows["start_h"].to_numpy(dtype=float)
            end = rows["end_h"].to_numpy(dtype=float)
            if abs(start[0]) > tol or abs(end[-1] - self.horizon_h) > tol:
                raise EventLogError(
                    f"unit {unit!r} timeline covers [{start[0]}, {end[-1]}], "
                    f"not [0, {self.horizon_h}]"
                )
            if np.any(end < start - tol):
                raise EventLogError(f"unit {unit!r} has an interval that ends before it starts")
            gaps = np.abs(start[1:] - end[:-1])
            if gaps.size and gaps.max() > tol:
                i = int(gaps.argmax())
                raise EventLogError(
                    f"unit {unit!r} timeline has a gap or overlap at t={end[i]:.4f} h"
                )

    def state_hours(self) -> pd.DataFrame:
        """Hours per unit (rows) and state (columns); every row sums to the horizon."""
        tl = self.timeline.assign(hours=self.timeline["end_h"] - self.timeline["start_h"])
        table = tl.pivot_table(index="unit", columns="state", values="hours", aggfunc="sum")
        return table.reindex(index=self.units, columns=list(STATES)).fillna(0.0)

    def to_csv(self, events: str | Path | None = None, timeline: str | Path | None = None) -> None:
        """Write the events and/or the timeline as CSV files."""
        if events is not None:
            self.events.to_csv(events, index=False)
        if timeline is not None:
            self.timeline.to_csv(timeline, index=False)
