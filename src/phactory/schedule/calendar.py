"""Calendars for the scheduler: staffed time of teams, maintenance windows, the time grain.

Times here are hours from ``site.epoch`` (the plan start), as everywhere in Phactory.
Weekly shift windows are wall-clock times in the site's timezone: each is placed on its
calendar week in local time and converted to plan hours, so that a daylight-saving change
moves a shift's absolute start as it does on the shop floor. Holidays (local midnight to
midnight) are cut out of the staffed time of teams that do not work them.

The CP-SAT model works on an integer time grain (:class:`Grain`). Processing times are
rounded *up* to the grain, staffed windows are rounded *inwards* (start up, end down) and
unavailable windows *outwards*, so that a schedule that is feasible on the grain is
feasible in continuous time.
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from phactory.model import Site, Team
from phactory.model.timebase import maintenance_windows

__all__ = [
    "Grain",
    "capacity_profile",
    "holiday_intervals",
    "longest_stretch",
    "maintenance_intervals",
    "merge_spans",
    "staffed_intervals",
]

_EPS = 1e-9


@dataclass(frozen=True, slots=True)
class Grain:
    """The integer time grain of the model [h per step] (default 0.25 h = 15 min)."""

    hours: float = 0.25

    def __post_init__(self) -> None:
        if not self.hours > 0:
            raise ValueError("the time grain must be positive")

    def up(self, h: float) -> int:
        """Steps covering ``h`` hours (rounded up)."""
        return math.ceil(h / self.hours - 1e-6)

    def down(self, h: float) -> int:
        """Steps inside ``h`` hours (rounded down)."""
        return math.floor(h / self.hours + 1e-6)

    def nearest(self, h: float) -> int:
        """Steps nearest to ``h`` hours."""
        return round(h / self.hours)

    def h(self, steps: int) -> float:
        """Hours of ``steps`` grain steps."""
        return steps * self.hours


def merge_spans(spans: Iterable[tuple[float, float]]) -> list[tuple[float, float]]:
    """Sort and join overlapping or touching intervals ``(start, end)`` [h]."""
    out: list[tuple[float, float]] = []
    for a, b in sorted(spans):
        if b <= a:
            continue
        if out and a <= out[-1][1] + _EPS:
            if b > out[-1][1]:
                out[-1] = (out[-1][0], b)
        else:
            out.append((a, b))
    return out


def _subtract(
    spans: Sequence[tuple[float, float]], holes: Sequence[tuple[float, float]]
) -> list[tuple[float, float]]:
    out: list[tuple[float, float]] = []
    for a, b in spans:
        pieces = [(a, b)]
        for h0, h1 in holes:
            nxt: list[tuple[float, float]] = []
            for p0, p1 in pieces:
                if h1 <= p0 or h0 >= p1:
                    nxt.append((p0, p1))
                    continue
                if h0 > p0:
                    nxt.append((p0, h0))
                if h1 < p1:
                    nxt.append((h1, p1))
            pieces = nxt
        out.extend(pieces)
    return out


def holiday_intervals(site: Site) -> list[tuple[float, float]]:
    """Holidays as local midnight-to-midnight intervals [h from epoch]."""
    return merge_spans(
        (site.to_hours(h.date), site.to_hours(h.date + dt.timedelta(days=1)))
        for h in site.calendar.holidays
    )


def staffed_intervals(site: Site, team: Team, until_h: float) -> list[tuple[float, float]]:
    """Intervals in which ``team`` is on duty, clipped to ``[0, until_h]`` [h].

    Breaks split shifts; touching shifts are joined; holidays are removed unless the team
    works them. An unknown shift pattern means the team is never on duty.
    """
    pattern = site.shift_patterns.get(team.shift_pattern)
    if pattern is None:
        return []
    weekly = pattern.weekly_windows()
    local_epoch = site.epoch.astimezone(site.zone)
    monday = local_epoch.date() - dt.timedelta(days=local_epoch.weekday())
    weeks = math.ceil((until_h + 48.0) / 168.0) + 1
    spans: list[tuple[float, float]] = []
    for k in range(-1, weeks):
        base = dt.datetime.combine(monday + dt.timedelta(weeks=k), dt.time())
        for a, b, _name in weekly:
            start = site.to_hours(base + dt.timedelta(hours=a))
            spans.append((start, start + (b - a)))
    merged = merge_spans(spans)
    if not team.works_holidays:
        merged = _subtract(merged, holiday_intervals(site))
    return [(max(a, 0.0), min(b, until_h)) for a, b in merged if b > 0.0 and a < until_h]


def capacity_profile(
    crews: Sequence[tuple[Sequence[tuple[float, float]], int]], until_h: float
) -> list[tuple[float, float, int]]:
    """Piecewise-constant headcount of several crews over ``[0, until_h]``.

    Parameters
    ----------
    crews
        ``(staffed intervals [h], headcount)`` per crew.
    until_h
        End of the profile [h].

    Returns
    -------
    list of (float, float, int)
        Consecutive pieces ``(start_h, end_h, people)`` tiling ``[0, until_h]``; neighbours
        with the same headcount are joined.
    """
    deltas: dict[float, int] = {0.0: 0, until_h: 0}
    for spans, head in crews:
        for a, b in spans:
            deltas[a] = deltas.get(a, 0) + head
            deltas[b] = deltas.get(b, 0) - head
    times = sorted(deltas)
    out: list[tuple[float, float, int]] = []
    level = 0
    for t0, t1 in itertools.pairwise(times):
        level += deltas[t0]
        if t1 <= t0:
            continue
        if out and out[-1][2] == level:
            out[-1] = (out[-1][0], t1, level)
        else:
            out.append((t0, t1, level))
    return out


def longest_stretch(profile: Sequence[tuple[float, float, int]], need: int) -> float:
    """Longest continuous time with at least ``need`` people [h]; ``inf`` if always."""
    best = 0.0
    run_start: float | None = None
    for a, b, cap in profile:
        if cap >= need:
            if run_start is None:
                run_start = a
            best = max(best, b - run_start)
        else:
            run_start = None
    if profile and all(cap >= need for _, _, cap in profile):
        return math.inf
    return best


def maintenance_intervals(site: Site, until_h: float) -> dict[str, list[tuple[float, float]]]:
    """Planned maintenance windows per unit over ``[0, until_h]`` [h], recurring ones expanded.

    A unit whose class keeps a clean hold comes out of a window at least as long as that
    hold no longer clean: the window is extended by the class's cleaning, which the twin
    performs before the unit's next use.
    """
    out: dict[str, list[tuple[float, float]]] = {}
    for unit, spans in maintenance_windows(site, until_h).items():
        cls = (
            site.equipment_classes[site.units[unit].equipment_class] if unit in site.units else None
        )
        extend = 0.0
        hold = cls.cleaning.clean_hold if cls is not None else None
        if cls is not None and hold is not None:
            extend = cls.cleaning.duration
        out[unit] = merge_spans(
            [(a, b + (extend if b - a >= (hold or 0.0) else 0.0)) for a, b, _ in spans]
        )
    return out
