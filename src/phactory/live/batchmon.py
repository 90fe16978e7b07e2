"""Batch evolution monitoring live: the batch running on a unit scored as it evolves
against a batch model's time-varying limits (SIMCA-online's "batch control charts").

Which batch: the one the batch record says runs on the unit
(:func:`phactory.live.deviations.running_step`); its start is the earliest start of its
steps on the unit (the unit procedure's start). Its trajectory so far is read from the
historian on a grid of ``every`` (:func:`phactory.live.monitoring.read_grid`: step means,
last-value hold), as hours since that start (the time axis of
:class:`phactory.monitor.batch.Batch`), and scored whole by
:meth:`phactory.monitor.batch.BatchModel.score` as a running batch: every row at its own
maturity against the limits there. Rows are re-scored each scan (the alignment of a
running batch may move its earlier rows' progress a little as it goes on), but alarms
are taken from the rows after the cursor only, so each row raises or clears once; the
rule is the model's (its persistence), cleared after ``clear_after`` rows without it, as
for continuous monitors (:class:`phactory.live.monitoring.LiveMonitor`). The state
remembers the batch: a new batch on the unit starts from its own beginning.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from phactory.errors import InvalidError
from phactory.historian.times import to_us
from phactory.live.grid import Grid, TagMap
from phactory.live.monitoring import (
    AlarmTransition,
    MonitorState,
    advance,
    clear_transition,
    raise_transition,
    row_stats,
)

if TYPE_CHECKING:
    from phactory.historian import Historian
    from phactory.monitor.batch import BatchScores
    from phactory.records import RecordService

__all__ = ["BatchMonitor", "BatchScan", "batch_start"]


def batch_start(records: RecordService, batch_id: str, unit: str) -> dt.datetime | None:
    """When ``batch_id`` started on ``unit``: the earliest start of its steps there."""
    with records.access.reading() as view:
        starts = [s.started_at for s in view.steps(batch_id) if s.unit == unit and s.started_at]
    return min(starts) if starts else None


@dataclass(frozen=True, slots=True)
class BatchScan:
    """One scan: the running batch (``None``: none on the unit), its scores so far, the
    time of each scored row [µs] and the alarm transitions of the new rows."""

    batch_id: str | None
    scores: BatchScores | None
    times: np.ndarray
    transitions: tuple[AlarmTransition, ...]
    stale: int = 0

    @property
    def rows(self) -> int:
        """Rows scored this scan."""
        return 0 if self.scores is None else len(self.times)


class BatchMonitor:
    """A batch model scoring the batch running on a unit (see the module docstring).

    Parameters
    ----------
    model
        A fitted :class:`phactory.monitor.batch.BatchModel`.
    historian, records
        Where the trajectory and the running batch are read.
    name, unit, site
        The monitor, and where it watches.
    tags
        The tag of each model variable.
    every, settle, hold, clear_after, state
        As :class:`phactory.live.monitoring.LiveMonitor` (``state.batch`` the batch it
        was on).
    """

    def __init__(
        self,
        model: Any,
        historian: Historian,
        records: RecordService,
        *,
        name: str,
        unit: str,
        site: str | None = None,
        tags: TagMap,
        every: dt.timedelta = dt.timedelta(minutes=1),
        settle: dt.timedelta = dt.timedelta(seconds=1),
        hold: dt.timedelta | None = None,
        clear_after: int = 3,
        state: MonitorState | None = None,
    ) -> None:
        if tags.variables != tuple(getattr(model, "variables_", ())):
            raise InvalidError(f"batch monitor {name!r}: the tag map is not of its variables")
        if not unit:
            raise InvalidError(f"batch monitor {name!r}: name the unit whose batches it watches")
        self.model, self.historian, self.records = model, historian, records
        self.name, self.unit, self.site = name, unit, site
        self.tags = tags
        self.grid = Grid.of(every, settle, hold, f"batch monitor {name!r}")
        self.clear_after = clear_after
        self.state = state or MonitorState()
        self.batch: str | None = None
        tags.check(historian)

    def running(self) -> tuple[str, dt.datetime] | None:
        """The batch running on the unit and its start there, if any."""
        from phactory.live.deviations import running_step

        where = running_step(self.records, self.unit, self.site)
        if where is None:
            return None
        start = batch_start(self.records, where.batch_id, self.unit)
        return None if start is None else (where.batch_id, start)

    def scan(self, now: dt.datetime) -> BatchScan:
        """Score the running batch up to the last closed step (see the module docstring)."""
        from phactory.monitor.batch import Batch

        found = self.running()
        empty = np.empty(0, dtype="int64")
        if found is None:
            return BatchScan(None, None, empty, ())
        batch_id, start = found
        first = -self.grid.floor(-to_us(start, "batch start"))  # the first whole step
        end = self.grid.closed_end(now)
        if batch_id != self.batch:
            self.batch = batch_id
            cursor = self.state.cursor_us
            if cursor is None or cursor < first:  # a new batch: from its beginning
                self.state = MonitorState(cursor_us=first)
        if end <= first:
            return BatchScan(batch_id, None, empty, ())
        times, values = self.grid.read(self.historian, self.tags.tags, first, end)
        complete = ~np.isnan(values).any(axis=1)
        times, values = times[complete], values[complete]
        if len(times) < 2:
            return BatchScan(batch_id, None, empty, ())
        hours = (times - times[0]) / 3.6e9
        batch = Batch(batch_id, hours, values, self.tags.variables)
        scores = self.model.score(batch, complete=False)
        cursor = self.state.cursor_us or first
        transitions: list[AlarmTransition] = []
        fired = np.asarray(scores.alarm, dtype=bool)
        for i in np.flatnonzero(times >= cursor).tolist():
            self._step(int(times[i]), scores, i, bool(fired[i]), transitions)
        self.state = replace(self.state, cursor_us=max(cursor, end))
        return BatchScan(batch_id, scores, times, tuple(transitions), int((~complete).sum()))

    def _step(
        self, t_us: int, s: BatchScores, i: int, fired: bool, transitions: list[AlarmTransition]
    ) -> None:
        """Advance the alarm of row ``i`` (its limits are those at its maturity)."""
        before = self.state
        self.state, change = advance(before, fired, t_us, self.clear_after)
        if change is None:
            return
        stats = row_stats(s.t2[i], s.spe[i], s.t2_limit[i], s.spe_limit[i])
        if change == "raised":
            exceeds = (stats[0] > stats[2], stats[1] > stats[3])
            transitions.append(
                raise_transition(
                    self.name, self.tags, t_us, stats, exceeds, s.contributions[i], s.top(i, 3)
                )
            )
        else:
            transitions.append(clear_transition(self.name, t_us, stats, before.raised_us))
