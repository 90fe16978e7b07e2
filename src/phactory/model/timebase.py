"""Placing the weekly shift patterns and the calendar on the run clock.

Every engine counts time in elapsed hours from :attr:`Site.epoch` (see
:meth:`Site.to_hours`). Shift patterns are written in local wall-clock time, week by
week; this module lays them onto the run clock once, in one way, for the twin (which
staffs them) and the KPIs (which measure utilisation against them), so the two agree
to the second. A 06:00 shift starts at 06:00 local on both sides of a daylight-saving
change and lasts its nominal length; a team that does not work holidays is off from
local midnight to midnight.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable

from phactory.model.people import ShiftPattern
from phactory.model.site import Site

__all__ = [
    "JOIN_TOL",
    "holiday_intervals",
    "maintenance_windows",
    "merge_intervals",
    "shift_windows",
    "subtract_intervals",
]

#: Intervals closer than this [h] are joined: a late shift starting when the early one
#: ends is one staffed stretch, not two with a zero-length gap between them.
JOIN_TOL = 1e-9

Interval = tuple[float, float]


def merge_intervals(spans: Iterable[Interval]) -> list[Interval]:
    """Sort and join overlapping or touching intervals ``(start, end)`` [h]."""
    out: list[Interval] = []
    for a, b in sorted(spans):
        if b <= a:
            continue
        if out and a <= out[-1][1] + JOIN_TOL:
            if b > out[-1][1]:
                out[-1] = (out[-1][0], b)
        else:
            out.append((a, b))
    return out


def subtract_intervals(spans: list[Interval], holes: list[Interval]) -> list[Interval]:
    """``spans`` minus ``holes``; both sorted and disjoint [h]."""
    return [(a, b) for a, b, _ in _subtract_named([(a, b, "") for a, b in spans], holes)]


def _subtract_named(
    spans: list[tuple[float, float, str]], holes: list[Interval]
) -> list[tuple[float, float, str]]:
    if not holes:
        return list(spans)
    out: list[tuple[float, float, str]] = []
    j = 0
    for a, b, name in spans:
        cur = a
        while j < len(holes) and holes[j][1] <= cur:
            j += 1
        k = j
        while k < len(holes) and holes[k][0] < b:
            h0, h1 = holes[k]
            if h0 > cur:
                out.append((cur, h0, name))
            cur = max(cur, h1)
            k += 1
        if cur < b:
            out.append((cur, b, name))
    return out


def holiday_intervals(site: Site) -> list[Interval]:
    """Holidays as local midnight-to-midnight intervals in run hours."""
    return merge_intervals(
        (site.to_hours(h.date), site.to_hours(h.date + dt.timedelta(days=1)))
        for h in site.calendar.holidays
    )


def shift_windows(
    site: Site,
    pattern: ShiftPattern,
    horizon_h: float,
    *,
    works_holidays: bool = True,
) -> list[tuple[float, float, str]]:
    """Staffed windows ``(start_h, end_h, shift)`` of ``pattern`` on the run clock.

    Parameters
    ----------
    site
        Supplies the epoch, timezone and holidays.
    pattern
        The weekly shift pattern; its windows are hours from Monday 00:00 local time.
    horizon_h
        Run length [h]; windows are produced from a week before 0 to a week beyond the
        horizon, so that a shift running over either end has its true start and end.
    works_holidays
        If false, holidays are cut out of the windows.

    Returns
    -------
    list of (float, float, str)
        Windows sorted by start, not merged (touching shifts stay separate so that
        each keeps its name); use :func:`merge_intervals` for staffed stretches.
    """
    key = ("shift_windows", pattern, float(horizon_h), works_holidays)
    known = site.memo.get(key)
    if known is None:
        known = site.memo[key] = _shift_windows(site, pattern, horizon_h, works_holidays)
    return list(known)


def _shift_windows(
    site: Site, pattern: ShiftPattern, horizon_h: float, works_holidays: bool
) -> list[tuple[float, float, str]]:
    weekly = pattern.weekly_windows()
    if not weekly:
        return []
    local_epoch = site.epoch.astimezone(site.zone)
    monday = local_epoch.date() - dt.timedelta(days=local_epoch.weekday())
    weeks = math.ceil((horizon_h + 24.0) / 168.0) + 2
    out: list[tuple[float, float, str]] = []
    for k in range(-1, weeks):
        base = dt.datetime.combine(monday + dt.timedelta(weeks=k), dt.time())
        for a, b, name in weekly:
            # Naive wall-clock start made aware in the site zone: DST moves it correctly.
            start = site.to_hours(base + dt.timedelta(hours=a))
            out.append((start, start + (b - a), name))
    out.sort()
    if not works_holidays:
        out = _subtract_named(out, holiday_intervals(site))
    limit = horizon_h + 168.0
    return [(a, b, n) for a, b, n in out if b > -168.0 and a < limit]


def maintenance_windows(site: Site, until_h: float) -> dict[str, list[tuple[float, float, str]]]:
    """Planned maintenance per unit as merged ``(start_h, end_h, reason)`` on the run clock.

    Recurring windows repeat every ``every`` from their start (also backwards, so that a
    window that began before hour 0 still covers its remainder); windows overlapping
    ``[0, until_h]`` are kept; overlapping windows of a unit are merged, keeping the
    first reason.
    """
    raw: dict[str, list[tuple[float, float, str]]] = {}
    for w in site.calendar.maintenance:
        first = site.to_hours(w.start)
        starts = [first]
        if w.every is not None:
            k = max(0, math.floor((-first - w.duration) / w.every))
            starts = []
            while first + k * w.every < until_h:
                starts.append(first + k * w.every)
                k += 1
        for a in starts:
            b = a + w.duration
            if b > 0.0 and a < until_h:
                for u in w.units:
                    raw.setdefault(u, []).append((a, b, w.reason))
    out: dict[str, list[tuple[float, float, str]]] = {}
    for unit, spans in raw.items():
        merged: list[tuple[float, float, str]] = []
        for a, b, why in sorted(spans, key=lambda s: (s[0], s[1])):
            if merged and a <= merged[-1][1]:
                pa, pb, pwhy = merged[-1]
                merged[-1] = (pa, max(pb, b), pwhy)
            else:
                merged.append((a, b, why))
        out[unit] = merged
    return out
