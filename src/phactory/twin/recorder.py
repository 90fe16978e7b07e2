"""Collects what happens during a run and turns it into an :class:`EventLog` once.

Rows are appended to plain lists of flat tuples while the simulation runs (a pandas row
append costs a hundred times more) and the four DataFrames are built once at the end
with :meth:`pandas.DataFrame.from_records`. A row's batch context ``(batch, order,
product, procedure, phase)`` is kept as one shared tuple by the simulation and spliced
into the row when it is written.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any, Final

import pandas as pd

from phactory.events import (
    BATCH_COLUMNS,
    EVENT_COLUMNS,
    LABOUR_COLUMNS,
    TIMELINE_COLUMNS,
    EventLog,
)

__all__ = ["NO_CTX", "Ctx", "Recorder"]

#: ``(batch, order, product, procedure, phase)``; any part may be None.
Ctx = tuple[str | None, str | None, str | None, str | None, str | None]
NO_CTX: Final[Ctx] = (None, None, None, None, None)
NAN: Final[float] = math.nan


class Recorder:
    """Rows of the event log of one run, kept as flat tuples until :meth:`event_log`."""

    __slots__ = ("batches", "events", "labour", "timelines")

    def __init__(self) -> None:
        #: per unit, rows in :data:`phactory.events.TIMELINE_COLUMNS` order; a unit's rows
        #: are appended in time order, so concatenating them needs no sort
        self.timelines: list[list[tuple[Any, ...]]] = []
        #: rows in :data:`phactory.events.EVENT_COLUMNS` order
        self.events: list[tuple[Any, ...]] = []
        #: rows in :data:`phactory.events.LABOUR_COLUMNS` order
        self.labour: list[tuple[Any, ...]] = []
        #: rows in :data:`phactory.events.BATCH_COLUMNS` order
        self.batches: list[tuple[Any, ...]] = []

    def timeline(self) -> list[tuple[Any, ...]]:
        """A new list for one unit's timeline rows."""
        rows: list[tuple[Any, ...]] = []
        self.timelines.append(rows)
        return rows

    def event(
        self,
        t: float,
        kind: str,
        unit: str | None,
        ctx: Ctx,
        value: float = NAN,
        detail: str | None = None,
    ) -> None:
        """Record a point event at ``t`` [h]."""
        self.events.append((t, kind, unit, *ctx, value, detail))

    def event_log(
        self,
        horizon_h: float,
        units: list[str],
        epoch: dt.datetime,
        site_id: str,
        seed: int | None,
    ) -> EventLog:
        """Build the DataFrames (once) and wrap them in an :class:`EventLog`."""
        timeline = [row for rows in self.timelines for row in rows]
        return EventLog(
            horizon_h=horizon_h,
            units=list(units),
            timeline=_frame(timeline, TIMELINE_COLUMNS, ("start_h", "end_h")),
            events=_frame(self.events, EVENT_COLUMNS, ("t_h", "value")),
            batches=_frame(
                self.batches, BATCH_COLUMNS, ("release_h", "start_h", "end_h", "due_h", "quantity")
            ),
            labour=_frame(self.labour, LABOUR_COLUMNS, ("start_h", "end_h")),
            epoch=epoch,
            site_id=site_id,
            seed=seed,
        )


def _frame(
    rows: list[tuple[Any, ...]], columns: list[str], floats: tuple[str, ...]
) -> pd.DataFrame:
    df = pd.DataFrame.from_records(rows, columns=columns, nrows=len(rows))
    # An empty table still gets float columns where times and values go.
    for c in floats:
        if df[c].dtype != "float64":
            df[c] = df[c].astype("float64")
    return df
