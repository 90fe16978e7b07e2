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

from phactory.model import ShiftPattern, Site
from phactory.model.timebase import (
    holiday_intervals,
    merge_intervals,
    shift_windows,
    subtract_intervals,
)

__all__ = [
    "holiday_intervals",
    "merge_intervals",
    "staffed_intervals",
    "subtract_intervals",
]


def staffed_intervals(
    site: Site,
    pattern: ShiftPattern,
    horizon_h: float,
    *,
    works_holidays: bool = True,
) -> list[tuple[float, float]]:
    """Staffed stretches of ``pattern`` on the run clock [h from epoch], merged.

    See :func:`phactory.model.timebase.shift_windows`; touching shifts are joined, so a
    24/7 pattern is one stretch.
    """
    windows = shift_windows(site, pattern, horizon_h, works_holidays=works_holidays)
    return merge_intervals((a, b) for a, b, _ in windows)
