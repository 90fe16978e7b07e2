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
import math
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Final

import numpy as np

from phactory.errors import InvalidError
from phactory.live.alarms import Contribution
from phactory.live.monitoring import AlarmTransition, MonitorState, TagMap, read_grid

if TYPE_CHECKING:
    from phactory.historian import Historian
    from phactory.monitor.batch import BatchScores
    from phactory.records import RecordService

__all__ = ["BatchMonitor", "BatchScan", "batch_start"]

_US: Final = dt.timedelta(microseconds=1)
_EPOCH: Final = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


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


def _f(x: Any) -> float:
    v = float(x)
    return v if math.isfinite(v) else math.nan


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
        self.every_us = every // _US
        self.settle_us = max(0, settle // _US)
        hold_us = 10 * self.every_us if hold is None else hold // _US
        self.hold_rows = max(0, hold_us // self.every_us)
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
        first = -(-((start - _EPOCH) // _US) // self.every_us) * self.every_us
        end = ((((now - _EPOCH) // _US) - self.settle_us) // self.every_us) * self.every_us
        if batch_id != self.batch:
            self.batch = batch_id
            cursor = self.state.cursor_us
            if cursor is None or cursor < first:  # a new batch: from its beginning
                self.state = MonitorState(cursor_us=first)
        if end <= first:
            return BatchScan(batch_id, None, empty, ())
        times, values = read_grid(
            self.historian, self.tags.tags, first, end, self.every_us, self.hold_rows
        )
        complete = ~np.isnan(values).any(axis=1)
        times, values = times[complete], values[complete]
        if len(times) < 2:
            return BatchScan(batch_id, None, empty, ())
        hours = (times - times[0]) / 3.6e9
        batch = Batch(batch_id, hours, values, self.tags.variables)
        scores = self.model.score(batch, complete=False)
        cursor = self.state.cursor_us or first
        transitions: list[AlarmTransition] = []
        for i in np.flatnonzero(times >= cursor):
            self._step(int(times[i]), scores, int(i), transitions)
        self.state = replace(self.state, cursor_us=max(cursor, end))
        return BatchScan(batch_id, scores, times, tuple(transitions), int((~complete).sum()))

    def _step(self, t_us: int, s: BatchScores, i: int, transitions: list[AlarmTransition]) -> None:
        state = self.state
        when = _EPOCH + dt.timedelta(microseconds=t_us)
        stats = (_f(s.t2[i]), _f(s.spe[i]), _f(s.t2_limit[i]), _f(s.spe_limit[i]))
        if bool(s.alarm[i]):
            if not state.active:
                t2x, spex = stats[0] > stats[2], stats[1] > stats[3]
                statistic = {(True, True): "t2+spe", (True, False): "t2",
                             (False, True): "spe"}.get((t2x, spex), "persistence")  # fmt: skip
                row = np.asarray(s.contributions[i], dtype=float)
                top = tuple(Contribution(v, self.tags.tag_of(v), _f(c)) for v, c in s.top(i, 3))
                contributions = {v: _f(c) for v, c in zip(self.tags.variables, row, strict=True)}
                transitions.append(AlarmTransition("raised", self.name, when, statistic, *stats,
                                                   top, contributions))  # fmt: skip
                self.state = replace(state, active=True, quiet=0, raised_us=t_us)
            elif state.quiet:
                self.state = replace(state, quiet=0)
            return
        if not state.active:
            return
        if state.quiet + 1 < self.clear_after:
            self.state = replace(state, quiet=state.quiet + 1)
            return
        raised = (
            None if state.raised_us is None else _EPOCH + dt.timedelta(microseconds=state.raised_us)
        )
        transitions.append(AlarmTransition("cleared", self.name, when, "", *stats,
                                           raised_at=raised))  # fmt: skip
        self.state = replace(state, active=False, quiet=0, raised_us=None)
