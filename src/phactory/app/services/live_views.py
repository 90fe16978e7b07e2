"""What the Live page and ``/api/v1/live`` show of the running plant: the typed results of
:class:`phactory.app.services.live.LiveService`, and the small rules that make them.

* :class:`UnitLive` in :class:`CellLive` in :class:`AreaLive` in :class:`PlantLayout`:
  every unit of the site on its ISA-95 place (IEC 62264-1 §5.2: area > process cell >
  unit), with its ISO 22400-2 equipment state (:mod:`phactory.events.states`), since
  when, and the batch, unit procedure and phase it works on.
* :class:`BatchLive`: a running batch and its current step (ISA-88).
* :class:`Alarm`: something that needs someone now (an open deviation of a running batch,
  a controller's fault, a unit that is down).
* :class:`TrendTag`: a historian tag that can be trended.

:class:`UnitTracker` keeps each unit's current state from the plant events as they arrive:
the state of the unit's latest ``state`` event (by event time; an event older than the
latest one, a late replay, is history and leaves the current state as it is), and since
when the unit is in that state (the time of the first of the consecutive latest events
that carry it: a new phase in the same state does not reset it).
"""

from __future__ import annotations

import bisect
import datetime as dt
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, Literal

if TYPE_CHECKING:
    import pandas as pd

    from phactory.events.plant_event import PlantEvent

__all__ = [
    "GRID_POINTS",
    "RAW_WINDOW",
    "STATE_MEANINGS",
    "Alarm",
    "AlarmKind",
    "AreaLive",
    "BatchLive",
    "CellLive",
    "LiveKpiView",
    "LiveSnapshot",
    "PlantLayout",
    "Severity",
    "Trend",
    "TrendBuffer",
    "TrendTag",
    "UnitLive",
    "UnitTracker",
    "trend_step",
]

#: What each ISO 22400 equipment state means, for legends and tooltips.
STATE_MEANINGS: Final[dict[str, str]] = {
    "producing": "a phase of a batch is running (APT)",
    "setup": "product changeover (setup time)",
    "cleaning": "CIP / SIP or change-out (setup time)",
    "waiting_labour": "a phase waits for a qualified person (delay)",
    "waiting_upstream": "claimed by a batch that waits for a step, material or utility",
    "blocked": "done on the unit but cannot move on (delay)",
    "down": "unplanned breakdown or repair (delay)",
    "planned_down": "planned maintenance (outside planned busy time)",
    "idle": "no work (outside planned busy time)",
}

#: Windows up to this long are trended from raw samples; longer ones on a grid.
RAW_WINDOW: Final = dt.timedelta(minutes=15)
#: Points per tag of a trend on a grid (about).
GRID_POINTS: Final = 600

AlarmKind = Literal["deviation", "controller_fault", "equipment_down", "monitor"]
Severity = Literal["critical", "major", "minor"]


@dataclass(frozen=True, slots=True)
class UnitLive:
    """A unit now: its ISO 22400 state, since when, and the work it does.

    ``since`` is ``None`` for a unit that never reported (shown ``idle``); ``batch``,
    ``procedure`` (the ISA-88 unit procedure) and ``phase`` are ``""`` where none.
    """

    id: str
    name: str
    area: str
    cell: str
    state: str
    since: dt.datetime | None
    batch: str
    procedure: str
    phase: str


@dataclass(frozen=True, slots=True)
class CellLive:
    """A process cell and its units, in the site's order."""

    id: str
    name: str
    units: tuple[UnitLive, ...]


@dataclass(frozen=True, slots=True)
class AreaLive:
    """An area and its process cells, in the site's order."""

    id: str
    name: str
    cells: tuple[CellLive, ...]


@dataclass(frozen=True, slots=True)
class PlantLayout:
    """Every unit of a site on its place, with its state now.

    Attributes
    ----------
    site_id, site_name, timezone
        The site (its IANA time zone, in which the page shows times).
    areas
        Areas > process cells > units.
    events
        Plant events in the live event log.
    last_event_at
        Time of the latest plant event taken (``None``: none yet).
    sources
        Where events come from: ``historian`` (what the MQTT subscriber stored) and
        ``batch record`` (batches run by this server).
    problems
        Sources that cannot be read now, and why (the rest is shown as last read).
    """

    site_id: str
    site_name: str
    timezone: str
    areas: tuple[AreaLive, ...]
    events: int
    last_event_at: dt.datetime | None
    sources: tuple[str, ...]
    problems: tuple[str, ...]

    @property
    def units(self) -> tuple[UnitLive, ...]:
        """Every unit, area by area and cell by cell."""
        return tuple(u for a in self.areas for c in a.cells for u in c.units)


@dataclass(frozen=True, slots=True)
class BatchLive:
    """A running batch and its current step.

    Attributes
    ----------
    state
        The batch's ISA-88 state.
    step
        The step in flight, or the next to run (``unit_procedure/operation/phase``);
        ``None`` when none is left.
    step_state, step_unit, step_elapsed_h
        Its ISA-88 state, the unit it runs on (``""``: not allocated yet) and how long
        it has run [h].
    steps_done, steps_total
        Steps complete, and all steps.
    waiting_for
        What the batch waits for, for people (a command, a work instruction, a unit),
        ``None`` while it runs.
    hold_reason
        Why it is held, if it is.
    """

    batch_id: str
    product: str
    recipe_id: str
    order_id: str | None
    state: str
    created_at: dt.datetime
    step: str | None
    step_state: str | None
    step_unit: str
    step_elapsed_h: float | None
    steps_done: int
    steps_total: int
    waiting_for: str | None
    hold_reason: str | None


@dataclass(frozen=True, slots=True)
class Alarm:
    """An active alarm.

    Attributes
    ----------
    key
        Stable identity (``deviation:DEV-000001``, ``fault:BR-01``, ``down:BR-01``).
    kind
        ``deviation`` (open, of a running batch), ``controller_fault`` (a controller in
        its safe state), ``equipment_down`` (a unit in the ISO 22400 ``down`` state) or
        ``monitor`` (a deployed monitoring model's alarm, active and not shelved).
    severity
        ``critical``, ``major`` or ``minor``.
    source
        The batch or unit it is about.
    message
        What happened, in words.
    since
        When it was raised (``None``: not known).
    """

    key: str
    kind: AlarmKind
    severity: Severity
    source: str
    message: str
    since: dt.datetime | None


@dataclass(frozen=True, slots=True)
class TrendTag:
    """A historian tag that can be trended: its name (path in the unified namespace
    below ``phactory/v1/``), engineering unit and description."""

    name: str
    unit: str
    description: str


@dataclass(frozen=True, slots=True)
class Trend:
    """A trend read: ``frame`` (long: aware UTC ``time``, ``tag``, float ``value``) over
    ``[start, end)``, raw samples (``every`` ``None``; these also up to a window after
    ``end``, stamped ahead of the clock) or means every ``every``; ``tags`` the tags with
    their units."""

    start: dt.datetime
    end: dt.datetime
    every: dt.timedelta | None
    tags: tuple[TrendTag, ...]
    frame: pd.DataFrame


@dataclass(frozen=True, slots=True)
class LiveKpiView:
    """The live plant's site KPIs over a window (:func:`phactory.live.window_kpis`: the
    twin's KPI code on the live event log); ``nan`` where a KPI is undefined."""

    start: dt.datetime
    end: dt.datetime
    events: int
    kpis: Mapping[str, float]


@dataclass(frozen=True, slots=True)
class LiveSnapshot:
    """Everything the Live page shows but the trend, read at once.

    ``version`` grows whenever anything in it changed, so a reader that saw a version
    knows that nothing changed while it stays the same.
    """

    version: int
    layout: PlantLayout
    batches: tuple[BatchLive, ...]
    alarms: tuple[Alarm, ...]


@dataclass(frozen=True, slots=True)
class _Current:
    event: PlantEvent
    since: dt.datetime


class UnitTracker:
    """Each unit's current state from its ``state`` events (see the module docstring).

    Parameters
    ----------
    units
        The site's unit ids; ``state`` events of other units are not taken.
    """

    def __init__(self, units: Iterable[str]) -> None:
        self.units = frozenset(units)
        self._current: dict[str, _Current] = {}

    def take(self, event: PlantEvent) -> None:
        """Take an event (``state`` events of the site's units count; others are ignored)."""
        if event.kind != "state" or event.unit not in self.units:
            return
        now = self._current.get(event.unit)
        if now is not None and event.t < now.event.t:
            return  # history: a late event does not change the present
        since = now.since if now is not None and now.event.state == event.state else event.t
        self._current[event.unit] = _Current(event, since)

    def unit(self, unit_id: str, name: str, area: str, cell: str) -> UnitLive:
        """The unit now (``idle``, since unknown, if it never reported)."""
        now = self._current.get(unit_id)
        if now is None:
            return UnitLive(unit_id, name, area, cell, "idle", None, "", "", "")
        e = now.event
        return UnitLive(
            unit_id, name, area, cell, e.state, now.since, e.batch, e.procedure, e.phase
        )

    def states(self) -> Mapping[str, str]:
        """Unit -> current state, for the units that reported."""
        return {u: c.event.state for u, c in self._current.items()}

    def since(self, unit_id: str) -> dt.datetime | None:
        """Since when the unit is in its current state (``None``: never reported)."""
        now = self._current.get(unit_id)
        return None if now is None else now.since


def trend_step(window: dt.timedelta) -> dt.timedelta | None:
    """The grid step of a trend over ``window``: ``None`` (raw samples) up to
    :data:`RAW_WINDOW`, else about :data:`GRID_POINTS` steps of whole seconds."""
    if window <= RAW_WINDOW:
        return None
    return dt.timedelta(seconds=max(1, math.ceil(window.total_seconds() / GRID_POINTS)))


class TrendBuffer:
    """The points of a trend on show: extended by what comes later, cut to its window.

    A raw trend (:func:`trend_step` ``None``) is extended: :meth:`since` says from when
    to read (the earliest of the tags' latest points), :meth:`merge` keeps each tag's
    points after its latest one and drops those older than the window. A trend on a grid
    is read whole each time and replaced.

    Parameters
    ----------
    tags
        The tags, in the order shown.
    window
        How far back from now the trend goes.
    """

    def __init__(self, tags: Sequence[str], window: dt.timedelta) -> None:
        self.tags = tuple(dict.fromkeys(tags))
        self.window = window
        self.step = trend_step(window)
        self.times: dict[str, list[dt.datetime]] = {t: [] for t in self.tags}
        self.values: dict[str, list[float]] = {t: [] for t in self.tags}

    @property
    def points(self) -> int:
        """Points held, all tags together."""
        return sum(len(v) for v in self.times.values())

    def since(self) -> dt.datetime | None:
        """From when to read for :meth:`merge` (``None``: the whole window)."""
        if self.step is not None:
            return None
        last = [ts[-1] for ts in self.times.values() if ts]
        return min(last) if last else None

    def end(self, now: dt.datetime) -> dt.datetime:
        """Where the window ends: ``now``, or the latest point if it is later (a plant run
        faster than real time stamps ahead of the clock)."""
        last = [ts[-1] for ts in self.times.values() if ts]
        return max([now, *last])

    def merge(self, frame: pd.DataFrame, now: dt.datetime) -> bool:
        """Take a trend read (:meth:`phactory.app.services.live.LiveService.trend`) and
        cut to the window ending at :meth:`end`; whether anything shown changed."""
        changed = False
        if self.step is not None:
            fresh_t: dict[str, list[dt.datetime]] = {t: [] for t in self.tags}
            fresh_v: dict[str, list[float]] = {t: [] for t in self.tags}
            for tag, group in frame.groupby("tag", sort=False):
                if tag in fresh_t:
                    fresh_t[str(tag)] = [x.to_pydatetime() for x in group["time"]]
                    fresh_v[str(tag)] = [float(v) for v in group["value"]]
            changed = fresh_t != self.times or fresh_v != self.values
            self.times, self.values = fresh_t, fresh_v
            return changed
        for tag, group in frame.groupby("tag", sort=False):
            times, values = self.times.get(str(tag)), self.values.get(str(tag))
            if times is None or values is None:
                continue
            for t, v in zip(group["time"], group["value"], strict=True):
                moment = t.to_pydatetime()
                if not times or moment > times[-1]:
                    times.append(moment)
                    values.append(float(v))
                    changed = True
        start = self.end(now) - self.window
        for tag, times in self.times.items():
            cut = bisect.bisect_left(times, start)
            if cut:
                del times[:cut]
                del self.values[tag][:cut]
                changed = True
        return changed
