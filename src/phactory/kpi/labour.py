"""Labour utilisation per team and shift.

Person-hours *on shift* of a team are its headcount times the hours of its shift
pattern's staffed windows (breaks excluded) that fall inside ``[0, H]``. Windows start
at their local wall-clock times, week after week from the Monday of the epoch's week,
converted to run hours as the rest of Phactory does (:meth:`phactory.model.Site.to_hours`).
A team that does not work holidays is off from local midnight to midnight of each
holiday of the site calendar.

Person-hours *assigned* come from the labour table of the event log: ``count x`` the
length of each assignment, split over the shift windows it overlaps. Utilisation of a
team in a shift = assigned person-hours inside that shift's windows / person-hours on
shift. The team row (``shift == "all"``) divides *all* its assigned person-hours,
including those outside any window (``off_shift_person_h``, e.g. overtime), by its
person-hours on shift; the site figure does the same over all teams. Utilisation is
``nan`` where no one was on shift.

References
----------
.. [1] ISO 22400-2:2014, time elements of personnel (planned and actual personnel
   work time) — here per team and shift rather than per person.
"""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pandas as pd

from phactory.kpi.oee import ratio
from phactory.model import Site
from phactory.model.timebase import shift_windows as placed_windows

__all__ = ["labour_table", "shift_windows", "site_labour_utilisation"]

_COLUMNS = [
    "team",
    "shift",
    "headcount",
    "shift_hours",
    "available_person_h",
    "assigned_person_h",
    "off_shift_person_h",
    "utilisation",
]


def shift_windows(
    site: Site, team: str, horizon_h: float, epoch: dt.datetime | None = None
) -> pd.DataFrame:
    """Staffed windows of ``team`` inside ``[0, H]`` in hours from ``epoch``.

    Each weekly window is placed on its calendar week at its local wall-clock start and
    converted to run hours with :meth:`phactory.model.Site.to_hours`, the time base of
    every engine (so the windows are those the twin staffs); it lasts its nominal length.
    A team that does not work holidays is off from local midnight to midnight of each
    holiday.

    Parameters
    ----------
    site
        The site (shift patterns, calendar, timezone).
    team
        Team id.
    horizon_h
        Length of the run [h].
    epoch
        Hour 0 of the run; default ``site.epoch``.

    Returns
    -------
    pandas.DataFrame
        ``start_h, end_h, shift`` sorted by start.
    """
    t = site.teams[team]
    offset = site.to_hours(epoch) if epoch is not None else 0.0
    windows = placed_windows(
        site,
        site.shift_patterns[t.shift_pattern],
        horizon_h + offset,
        works_holidays=t.works_holidays,
    )
    sa = np.array([w[0] for w in windows], dtype=float) - offset
    sb = np.array([w[1] for w in windows], dtype=float) - offset
    shift = np.array([w[2] for w in windows], dtype=object)
    sa_c = np.clip(sa, 0.0, horizon_h)
    sb_c = np.clip(sb, 0.0, horizon_h)
    keep = sb_c > sa_c
    out = pd.DataFrame({"start_h": sa_c[keep], "end_h": sb_c[keep], "shift": shift[keep]})
    return out.sort_values("start_h", kind="stable").reset_index(drop=True)


def _merge(start: np.ndarray, end: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Union of intervals as sorted disjoint intervals."""
    if start.size == 0:
        return start, end
    order = np.argsort(start, kind="stable")
    s, e = start[order], end[order]
    reach = np.maximum.accumulate(e)
    new = np.ones(s.size, dtype=bool)
    new[1:] = s[1:] > reach[:-1]
    group = np.cumsum(new) - 1
    ms = s[new]
    me = np.zeros(ms.size)
    np.maximum.at(me, group, e)
    return ms, me


def _covered(ws: np.ndarray, we: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Measure of ``[0, t] ∩ windows`` for disjoint sorted windows ``[ws, we]``."""
    if ws.size == 0:
        return np.zeros_like(t, dtype=float)
    cum = np.concatenate([[0.0], np.cumsum(we - ws)])
    k = np.searchsorted(ws, t, side="right") - 1
    kk = np.clip(k, 0, ws.size - 1)
    inside = np.clip(t - ws[kk], 0.0, we[kk] - ws[kk])
    return np.where(k < 0, 0.0, cum[kk] + inside)


def labour_table(
    labour: pd.DataFrame,
    site: Site | None,
    horizon_h: float,
    epoch: dt.datetime | None = None,
) -> pd.DataFrame:
    """Person-hours on shift, assigned, and utilisation per team and shift.

    Parameters
    ----------
    labour
        The labour table of an event log (``team, count, start_h, end_h`` used).
    site
        The site (teams, shift patterns); without it only assigned hours are known.
    horizon_h
        Length of the run [h].
    epoch
        Aware datetime of hour 0; default ``site.epoch``.

    Returns
    -------
    pandas.DataFrame
        ``team, shift, headcount, shift_hours [h], available_person_h,
        assigned_person_h, off_shift_person_h, utilisation``; one row per team and
        shift, then one ``shift == "all"`` row per team.
    """
    lab = labour.copy()
    lab["team"] = lab["team"].astype(str)
    s = pd.to_numeric(lab["start_h"], errors="coerce").to_numpy(dtype=float)
    e = pd.to_numeric(lab["end_h"], errors="coerce").to_numpy(dtype=float)
    s = np.clip(np.nan_to_num(s, nan=0.0), 0.0, horizon_h)
    e = np.clip(np.nan_to_num(e, nan=0.0), 0.0, horizon_h)
    count = pd.to_numeric(lab["count"], errors="coerce").fillna(1.0).to_numpy(dtype=float)
    lab = lab.assign(s=s, e=np.maximum(e, s), n=count)

    teams = list(site.teams) if site is not None else []
    teams += [t for t in pd.unique(lab["team"]) if t not in teams]
    rows: list[dict[str, object]] = []
    for team in teams:
        mine = lab[lab["team"] == team]
        ms, me, mn = (mine[c].to_numpy(dtype=float) for c in ("s", "e", "n"))
        total = float((mn * (me - ms)).sum())
        known = site is not None and team in site.teams
        headcount = float(site.teams[team].headcount) if site is not None and known else math.nan
        available_all = 0.0
        if known:
            assert site is not None
            wins = shift_windows(site, team, horizon_h, epoch)
            for shift, w in wins.groupby("shift", sort=False):
                ws, we = _merge(
                    w["start_h"].to_numpy(dtype=float), w["end_h"].to_numpy(dtype=float)
                )
                hours = float((we - ws).sum())
                assigned = float((mn * (_covered(ws, we, me) - _covered(ws, we, ms))).sum())
                available = headcount * hours
                available_all += available
                rows.append(
                    {
                        "team": team,
                        "shift": str(shift),
                        "headcount": headcount,
                        "shift_hours": hours,
                        "available_person_h": available,
                        "assigned_person_h": assigned,
                        "off_shift_person_h": 0.0,
                    }
                )
            us, ue = _merge(
                wins["start_h"].to_numpy(dtype=float), wins["end_h"].to_numpy(dtype=float)
            )
            on_shift = float((mn * (_covered(us, ue, me) - _covered(us, ue, ms))).sum())
            hours_all = float((ue - us).sum())
        else:
            on_shift, hours_all = 0.0, 0.0
        rows.append(
            {
                "team": team,
                "shift": "all",
                "headcount": headcount,
                "shift_hours": hours_all,
                "available_person_h": available_all,
                "assigned_person_h": total,
                "off_shift_person_h": total - on_shift,
            }
        )
    out = pd.DataFrame(rows, columns=_COLUMNS[:-1])
    out["utilisation"] = ratio(out["assigned_person_h"], out["available_person_h"])
    return out[_COLUMNS]


def site_labour_utilisation(table: pd.DataFrame) -> float:
    """All assigned person-hours over all person-hours on shift, over every team."""
    teams = table[(table["shift"] == "all") & (table["available_person_h"] > 0)]
    return float(ratio(teams["assigned_person_h"].sum(), teams["available_person_h"].sum()))
