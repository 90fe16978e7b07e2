"""Staffed time: shift windows and holidays turned into intervals of run hours.

A team is on duty during its shift pattern's weekly windows, except on holidays unless
it works them. The twin needs those windows as sorted, disjoint intervals in hours from
the run's epoch (the plan start), computed once per run so that the labour model asks
"is the team on shift now, and until when?" with a cursor rather than a clock process
that ticks every hour.

Weekly windows are wall-clock times in the site's timezone; each one is placed on its
calendar week in local time and then converted to run hours, so a daylight-saving change
moves the window's absolute start as it does on the shop floor.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable

from phactory.model import ShiftPattern, Site

__all__ = [
    "holiday_intervals",
    "merge_intervals",
    "run_hours",
    "staffed_intervals",
    "subtract_intervals",
]

#: Intervals closer than this [h] are joined: a late shift starting when the early one
#: ends is one staffed stretch, not two with a zero-length gap between them.
JOIN_TOL = 1e-9


def run_hours(site: Site, moment: dt.datetime | dt.date) -> float:
    """Elapsed hours from the site's epoch to ``moment`` (dates: local midnight).

    Unlike ``Site.to_hours`` (which subtracts two datetimes of the same zone, and Python
    then ignores their UTC offsets), this counts real elapsed time across a daylight-
    saving change, as a simulation clock must: both ends are converted to UTC first.
    """
    utc = dt.UTC
    elapsed = site.aware(moment).astimezone(utc) - site.epoch.astimezone(utc)
    return elapsed.total_seconds() / 3600.0


def merge_intervals(spans: Iterable[tuple[float, float]]) -> list[tuple[float, float]]:
    """Sort and join overlapping or touching intervals ``(start, end)`` [h]."""
    out: list[tuple[float, float]] = []
    for a, b in sorted(spans):
        if b <= a:
            continue
        if out and a <= out[-1][1] + JOIN_TOL:
            if b > out[-1][1]:
                out[-1] = (out[-1][0], b)
        else:
            out.append((a, b))
    return out


def subtract_intervals(
    spans: list[tuple[float, float]], holes: list[tuple[float, float]]
) -> list[tuple[float, float]]:
    """``spans`` minus ``holes``; both sorted and disjoint [h]."""
    if not holes:
        return list(spans)
    out: list[tuple[float, float]] = []
    j = 0
    for a, b in spans:
        cur = a
        while j < len(holes) and holes[j][1] <= cur:
            j += 1
        k = j
        while k < len(holes) and holes[k][0] < b:
            h0, h1 = holes[k]
            if h0 > cur:
                out.append((cur, h0))
            cur = max(cur, h1)
            k += 1
        if cur < b:
            out.append((cur, b))
    return out


def holiday_intervals(site: Site) -> list[tuple[float, float]]:
    """Holidays as local midnight-to-midnight intervals in run hours."""
    spans = []
    for h in site.calendar.holidays:
        start = run_hours(site, h.date)
        end = run_hours(site, h.date + dt.timedelta(days=1))
        spans.append((start, end))
    return merge_intervals(spans)


def staffed_intervals(
    site: Site,
    pattern: ShiftPattern,
    horizon_h: float,
    *,
    works_holidays: bool = True,
) -> list[tuple[float, float]]:
    """Staffed intervals of ``pattern`` covering ``[0, horizon_h]`` [h from epoch].

    Parameters
    ----------
    site
        Supplies the epoch, timezone and holidays.
    pattern
        The weekly shift pattern; its windows are hours from Monday 00:00 local time.
    horizon_h
        Run length [h]; windows are produced a week beyond it so that a shift running
        over the end of the run has a proper end.
    works_holidays
        If false, holidays are cut out of the windows.

    Returns
    -------
    list of (float, float)
        Sorted, disjoint, merged intervals; touching shifts are joined.
    """
    weekly = pattern.weekly_windows()
    if not weekly:
        return []
    local_epoch = site.epoch.astimezone(site.zone)
    monday = local_epoch.date() - dt.timedelta(days=local_epoch.weekday())
    weeks = math.ceil((horizon_h + 24.0) / 168.0) + 2
    spans: list[tuple[float, float]] = []
    for k in range(-1, weeks):
        base = dt.datetime.combine(monday + dt.timedelta(weeks=k), dt.time())
        for a, b, _name in weekly:
            # Naive wall-clock start, made aware in the site zone: a 06:00 shift starts at
            # 06:00 local on both sides of a daylight-saving change.
            start = run_hours(site, base + dt.timedelta(hours=a))
            spans.append((start, start + (b - a)))
    merged = merge_intervals(spans)
    if not works_holidays:
        merged = subtract_intervals(merged, holiday_intervals(site))
    limit = horizon_h + 168.0
    return [(a, b) for a, b in merged if b > -168.0 and a < limit]
