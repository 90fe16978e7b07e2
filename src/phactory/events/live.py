"""The live plant's event log, built incrementally from :class:`PlantEvent` records.

The twin writes an :class:`~phactory.events.EventLog` at the end of a run; the live plant
never ends. :class:`LiveEventLog` takes the plant's events one at a time, as they arrive
(over MQTT, from the historian, or in process during virtual commissioning), in any
order and with repeats, and gives at any moment the event log of a window ``[start,
end]`` with the same contract as the twin's: every unit's timeline tiles the window with
ISO 22400 states, point events and batches in hours from the window's start. The KPI
code (:mod:`phactory.kpi`) therefore computes the live plant's KPIs exactly as it
computes the twin's.

Rules
-----
- A unit is in the state of its last ``state`` event at or before a time; before its
  first one it is ``idle`` (no work: outside planned busy time).
- Events identified by ``(source, seq)`` (``seq >= 0``) are kept once: a replay after an
  outage changes nothing. Unnumbered events (``seq < 0``) are always kept.
- Events of the same time keep their arrival order (a state change and its batch event
  stamped in the same scan).
- A batch's row: ``release_h`` from ``batch_released``, ``start_h`` from
  ``batch_started``, ``end_h`` and the quantity (the event's ``value``) from
  ``batch_completed``, or ``batch_scrapped`` (quantity 0); its status is ``completed``,
  ``scrapped``, ``in_progress`` (started, not ended within the window) or
  ``not_started``. Times before the window are negative hours, as the twin never writes
  but the KPI code accepts (a batch started before the window and completed in it
  counts as completed in it, as in the twin).
"""

from __future__ import annotations

import bisect
import datetime as dt
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, cast

import pandas as pd

from phactory.events.log import BATCH_COLUMNS, EVENT_COLUMNS, TIMELINE_COLUMNS, EventLog
from phactory.events.plant_event import PlantEvent
from phactory.events.states import STATES

__all__ = ["LiveEventLog", "to_plant_events"]

_HOUR_S = 3600.0


def _aware(t: dt.datetime, what: str) -> dt.datetime:
    if t.tzinfo is None or t.utcoffset() is None:
        raise ValueError(f"{what}: {t.isoformat()} has no time zone")
    return t


@dataclass(slots=True)
class _UnitStates:
    """One unit's state changes in time order: parallel lists (bisect on ``keys``)."""

    keys: list[tuple[dt.datetime, float]] = field(default_factory=list)
    events: list[PlantEvent] = field(default_factory=list)

    def add(self, key: tuple[dt.datetime, float], event: PlantEvent) -> None:
        i = bisect.bisect_right(self.keys, key)
        self.keys.insert(i, key)
        self.events.insert(i, event)


class LiveEventLog:
    """The event log of a live plant, assembled from its :class:`PlantEvent` records.

    Parameters
    ----------
    units
        Every unit of the site (units that never report still appear, idle).
    site_id
        The site's id, carried into the event logs made.
    """

    def __init__(self, units: Sequence[str], *, site_id: str = "") -> None:
        self.units = list(units)
        self.site_id = site_id
        self._states: dict[str, _UnitStates] = {u: _UnitStates() for u in self.units}
        self._point_keys: list[tuple[dt.datetime, float]] = []
        self._points: list[tuple[tuple[dt.datetime, float], PlantEvent]] = []
        self._seen: set[tuple[str, int]] = set()
        self._arrival = 0

    def __len__(self) -> int:
        return sum(len(s.events) for s in self._states.values()) + len(self._points)

    def add(self, event: PlantEvent) -> bool:
        """Take one event; return False if it was a repeat (same source and seq) and so
        changed nothing.

        Raises
        ------
        ValueError
            For a naive time, a ``state`` event of an unknown unit or with a state that
            is not an ISO 22400 state.
        """
        _aware(event.t, f"event {event.kind!r} of unit {event.unit!r}")
        if event.seq >= 0:
            ident = (event.source, event.seq)
            if ident in self._seen:
                return False
            self._seen.add(ident)
        self._arrival += 1
        key = (event.t, float(self._arrival))
        if event.kind == "state":
            if event.state not in STATES:
                raise ValueError(
                    f"event at {event.t.isoformat()} of unit {event.unit!r}: "
                    f"{event.state!r} is not an ISO 22400 state ({', '.join(STATES)})"
                )
            unit = self._states.get(event.unit)
            if unit is None:
                raise ValueError(
                    f"state event at {event.t.isoformat()}: unknown unit {event.unit!r}"
                )
            unit.add(key, event)
        else:
            i = bisect.bisect_right(self._point_keys, key)
            self._point_keys.insert(i, key)
            self._points.insert(i, (key, event))
        return True

    def extend(self, events: Iterable[PlantEvent]) -> int:
        """Take many events; return how many were new."""
        return sum(self.add(e) for e in events)

    def state_at(self, unit: str, t: dt.datetime) -> str:
        """The unit's state at ``t`` (``idle`` before its first state event)."""
        states = self._states[unit]
        i = bisect.bisect_right(states.keys, (_aware(t, "time"), math.inf))
        return states.events[i - 1].state if i else "idle"

    def span(self) -> tuple[dt.datetime, dt.datetime] | None:
        """The times of the first and the last event taken, if any."""
        times = [s.keys[0][0] for s in self._states.values() if s.keys]
        times += [s.keys[-1][0] for s in self._states.values() if s.keys]
        if self._points:
            times += [self._points[0][0][0], self._points[-1][0][0]]
        return (min(times), max(times)) if times else None

    def snapshot(self, start: dt.datetime, end: dt.datetime) -> EventLog:
        """The event log of ``[start, end]``: hours from ``start``, which is its epoch.

        Raises
        ------
        ValueError
            If a time is naive or ``end`` is not after ``start``.
        """
        _aware(start, "window start")
        _aware(end, "window end")
        if end <= start:
            raise ValueError(
                f"window end {end.isoformat()} is not after its start {start.isoformat()}"
            )
        horizon_h = (end - start).total_seconds() / _HOUR_S

        def hours(t: dt.datetime) -> float:
            return (t - start).total_seconds() / _HOUR_S

        timeline: list[dict[str, object]] = []
        for unit in self.units:
            timeline.extend(self._unit_timeline(unit, start, end, hours, horizon_h))
        points = [e for (t, _), e in self._points if start <= t <= end]
        events = [
            {
                "t_h": hours(e.t),
                "kind": e.kind,
                "unit": e.unit,
                **{f: getattr(e, f) for f in _CONTEXT},
                "value": math.nan if e.value is None else e.value,
                "detail": e.detail,
            }
            for e in points
        ]
        return EventLog(
            horizon_h=horizon_h,
            units=list(self.units),
            timeline=pd.DataFrame(timeline, columns=TIMELINE_COLUMNS),
            events=pd.DataFrame(events, columns=EVENT_COLUMNS),
            batches=pd.DataFrame(self._batch_rows(end, hours), columns=BATCH_COLUMNS),
            epoch=start,
            site_id=self.site_id,
        )

    def _unit_timeline(
        self,
        unit: str,
        start: dt.datetime,
        end: dt.datetime,
        hours: Callable[[dt.datetime], float],
        horizon_h: float,
    ) -> list[dict[str, object]]:
        states = self._states[unit]
        first = bisect.bisect_right(states.keys, (start, math.inf))
        current = states.events[first - 1] if first else None
        rows: list[dict[str, object]] = []
        t0 = 0.0
        for key, event in zip(states.keys[first:], states.events[first:], strict=True):
            if key[0] > end:
                break
            t = hours(key[0])
            if t > t0:
                rows.append(_row(unit, current, t0, t))
                t0 = t
            current = event
        rows.append(_row(unit, current, t0, horizon_h))
        return rows

    def _batch_rows(
        self, end: dt.datetime, hours: Callable[[dt.datetime], float]
    ) -> list[dict[str, object]]:
        rows: dict[str, dict[str, object]] = {}
        for (t, _), e in self._points:
            if t > end or not e.batch:
                continue
            row = rows.setdefault(
                e.batch,
                {
                    "batch": e.batch,
                    "order": e.order,
                    "product": e.product,
                    "recipe": "",
                    "patient": "",
                    "release_h": math.nan,
                    "start_h": math.nan,
                    "end_h": math.nan,
                    "due_h": math.nan,
                    "status": "not_started",
                    "quantity": 0.0,
                },
            )
            h = hours(t)
            if e.kind == "batch_released":
                row["release_h"] = h
            elif e.kind == "batch_started":
                row["start_h"] = h
                if row["status"] == "not_started":
                    row["status"] = "in_progress"
            elif e.kind == "batch_completed":
                row["end_h"] = h
                row["status"] = "completed"
                row["quantity"] = 0.0 if e.value is None else float(e.value)
            elif e.kind == "batch_scrapped":
                row["end_h"] = h
                row["status"] = "scrapped"
                row["quantity"] = 0.0
        return list(rows.values())


#: The batch context an event and a timeline row carry.
_CONTEXT = ("batch", "order", "product", "procedure", "phase")


def _row(unit: str, event: PlantEvent | None, start_h: float, end_h: float) -> dict[str, object]:
    """A timeline row of ``unit`` in the state of ``event`` (idle, no batch: none)."""
    row: dict[str, object] = {
        "unit": unit,
        "state": "idle" if event is None else event.state,
        "start_h": start_h,
        "end_h": end_h,
    }
    row.update({f: "" if event is None else getattr(event, f) for f in _CONTEXT})
    return row


def to_plant_events(log: EventLog, *, source: str = "twin") -> list[PlantEvent]:
    """The :class:`PlantEvent` records a plant would have sent to produce ``log``: a
    ``state`` event at the start of every timeline interval, every point event, and a
    ``batch_released`` / ``batch_started`` event per batch that the log has times for
    (numbered from 0 in time order).

    With this, a twin's run can be replayed as a live plant (demonstrations, tests of
    the live path), and ``LiveEventLog`` over its events gives back the same timeline.

    Raises
    ------
    ValueError
        If the log has no epoch.
    """
    if log.epoch is None:
        raise ValueError("the event log has no epoch: its hours cannot be placed in time")
    epoch = log.epoch

    def at(h: object) -> dt.datetime:
        return epoch + dt.timedelta(hours=_float(h))

    # Rank within one instant: a unit's state before the batch events, and those before
    # the phase events they open.
    out: list[tuple[int, PlantEvent]] = []
    for r in log.timeline.itertuples(index=False):
        event = _event(at(r.start_h), "state", r, unit=str(r.unit), state=str(r.state))
        out.append((0, event))
    for r in log.batches.itertuples(index=False):
        for kind, h in (("batch_released", r.release_h), ("batch_started", r.start_h)):
            if _number(h) is not None:
                out.append((1, _event(at(h), kind, r)))
    for r in log.events.itertuples(index=False):
        if r.kind not in ("batch_released", "batch_started"):
            event = _event(
                at(r.t_h), str(r.kind), r, unit=_text(r.unit), value=_number(r.value),
                detail=_text(r.detail),
            )  # fmt: skip
            out.append((2, event))
    out.sort(key=lambda x: (x[1].t, x[0]))
    return [replace(e, source=source, seq=i) for i, (_, e) in enumerate(out)]


def _event(
    t: dt.datetime,
    kind: str,
    row: Any,
    *,
    unit: str = "",
    state: str = "",
    value: float | None = None,
    detail: str = "",
) -> PlantEvent:
    """An event with the batch context of an event-log row (a frame's named tuple)."""
    return PlantEvent(
        t=t,
        kind=kind,
        unit=unit,
        state=state,
        batch=_text(row.batch),
        order=_text(row.order),
        product=_text(row.product),
        procedure=_text(getattr(row, "procedure", "")),
        phase=_text(getattr(row, "phase", "")),
        value=value,
        detail=detail,
    )


def _number(v: object) -> float | None:
    """A cell as a number; None where empty (None or NaN)."""
    if v is None:
        return None
    x = float(cast(float, v))
    return None if math.isnan(x) else x


def _float(v: object) -> float:
    return float(cast(float, v))


def _text(v: object) -> str:
    return "" if v is None or (isinstance(v, float) and math.isnan(v)) else str(v)
