"""Calendars on the scheduler's integer time grain: staffed time, maintenance, headcount.

Times are hours from ``site.epoch`` (the plan start), as everywhere in Phactory. Where
shifts and holidays fall is decided in one place, :mod:`phactory.model.timebase` (the
placement the twin and the KPIs use: weekly shift windows in local wall-clock time,
holidays from local midnight to midnight); this module only clips those windows to the
calendar's length and rounds them to the grain.

The CP-SAT model works on an integer time grain (:class:`Grain`). Processing times are
rounded *up* to the grain, staffed windows are rounded *inwards* (start up, end down) and
unavailable windows *outwards*, so that a schedule that is feasible on the grain is
feasible in continuous time.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

from phactory.model import Site, Team
from phactory.model.timebase import maintenance_windows, merge_intervals, shift_windows

__all__ = [
    "Grain",
    "capacity_profile",
    "longest_stretch",
    "maintenance_intervals",
    "staffed_intervals",
    "staffed_steps",
]


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


def staffed_intervals(site: Site, team: Team, until_h: float) -> list[tuple[float, float]]:
    """Intervals in which ``team`` is on duty, clipped to ``[0, until_h]`` [h].

    The windows of the team's shift pattern as :func:`phactory.model.timebase.shift_windows`
    places them (breaks split shifts; holidays removed unless the team works them),
    touching ones joined. An unknown shift pattern means the team is never on duty.
    """
    pattern = site.shift_patterns.get(team.shift_pattern)
    if pattern is None:
        return []
    windows = shift_windows(site, pattern, until_h, works_holidays=team.works_holidays)
    merged = merge_intervals((a, b) for a, b, _ in windows)
    return [(max(a, 0.0), min(b, until_h)) for a, b in merged if b > 0.0 and a < until_h]


def staffed_steps(site: Site, team: Team, grain: Grain, until_h: float) -> list[tuple[int, int]]:
    """The team's staffed intervals on the grain, rounded inwards [grain steps].

    Over ``[0, until_h]`` rounded up to the grain; an interval shorter than a step
    after rounding is dropped, so every step of the result is fully staffed.
    """
    spans = staffed_intervals(site, team, grain.h(grain.up(until_h)))
    return [(grain.up(a), grain.down(b)) for a, b in spans if grain.down(b) > grain.up(a)]


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
        out[unit] = merge_intervals(
            [(a, b + (extend if b - a >= (hold or 0.0) else 0.0)) for a, b, _ in spans]
        )
    return out
