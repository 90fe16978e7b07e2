"""Shifting bottleneck detection by the active-period method (Roser et al.).

A unit is *active* while it is ``producing``, in ``setup`` or ``cleaning``, ``down``
or ``waiting_labour`` — states in which the unit itself holds up the flow. It is
*inactive* while ``waiting_upstream`` or ``blocked`` (it waits for other units), and
while ``idle`` or ``planned_down``. An *active period* is a maximal interval of
consecutive active states of one unit.

At every moment the *momentary bottleneck* is the unit whose current active period is
the longest [1]_. Following [2]_, consecutive momentary bottlenecks form a sequence of
bottleneck episodes; where the active period of one episode's unit overlaps the active
period of the previous or next episode's unit, both units are *shifting* bottlenecks;
the rest of the time an episode's unit is the *sole* bottleneck. The shares reported
are those times divided by the horizon; a unit's total bottleneck share is
``sole + shifting``, and the units are ranked by it. Shifting time counts for both
units involved, so total shares may sum to more than one.

Interchangeable units of one equipment class are analysed as one pool, active only
while all of its units are active (:func:`pool_periods`): parallel capacity that is not
all in use cannot be what holds up the flow.

Periods cut off by the horizon are taken as they are (an edge effect of any finite
window). Ties in active-period length go to the unit listed first in the log.

References
----------
.. [1] C. Roser, M. Nakano, M. Tanaka, "A practical bottleneck detection method",
   Proc. 2001 Winter Simulation Conference, 949-953, 2001.
.. [2] C. Roser, M. Nakano, M. Tanaka, "Shifting bottleneck detection", Proc. 2002
   Winter Simulation Conference, 1079-1086, 2002.
"""

from __future__ import annotations

from typing import Final

import numpy as np
import pandas as pd

from phactory.model import Site

__all__ = ["ACTIVE_STATES", "active_periods", "pool_periods", "shifting_bottleneck", "unit_pools"]

#: States in which a unit is active in the sense of Roser et al.
ACTIVE_STATES: Final[frozenset[str]] = frozenset(
    {"producing", "setup", "cleaning", "down", "waiting_labour"}
)

_COLUMNS = [
    "unit",
    "sole_share",
    "shifting_share",
    "bottleneck_share",
    "momentary_share",
    "active_share",
    "mean_active_period_h",
    "sole_h",
    "shifting_h",
    "momentary_h",
]


def active_periods(timeline: pd.DataFrame) -> pd.DataFrame:
    """Maximal active periods of every unit.

    Parameters
    ----------
    timeline
        A timeline (``unit, state, start_h, end_h``), already clipped to the horizon.

    Returns
    -------
    pandas.DataFrame
        ``unit, start_h, end_h, length_h`` sorted by unit and start.
    """
    tl = timeline.loc[
        timeline["end_h"] > timeline["start_h"], ["unit", "state", "start_h", "end_h"]
    ]
    tl = tl.sort_values(["unit", "start_h"], kind="stable")
    unit = tl["unit"].astype(str).to_numpy()
    start = tl["start_h"].to_numpy(dtype=float)
    end = tl["end_h"].to_numpy(dtype=float)
    active = tl["state"].isin(ACTIVE_STATES).to_numpy(dtype=bool)
    if unit.size == 0:
        return pd.DataFrame({"unit": [], "start_h": [], "end_h": [], "length_h": []})
    new = np.ones(unit.size, dtype=bool)
    new[1:] = (
        (unit[1:] != unit[:-1])
        | (active[1:] != active[:-1])
        | (np.abs(start[1:] - end[:-1]) > 1e-9)
    )
    run = np.cumsum(new) - 1
    runs = pd.DataFrame(
        {"run": run, "unit": unit, "start_h": start, "end_h": end, "active": active}
    )
    runs = runs[runs["active"]]
    g = runs.groupby("run", sort=True)
    out = pd.DataFrame(
        {"unit": g["unit"].first(), "start_h": g["start_h"].min(), "end_h": g["end_h"].max()}
    ).reset_index(drop=True)
    out["length_h"] = out["end_h"] - out["start_h"]
    return out


def unit_pools(site: Site | None, units: list[str]) -> dict[str, str]:
    """``unit -> pool``: interchangeable units of one equipment class form a pool.

    Roser's method compares stations; six QC slots working in parallel are one station
    with spare capacity while any slot is free, not six bottlenecks with long active
    periods. A unit alone in its class is its own pool.
    """
    if site is None:
        return {u: u for u in units}
    by_class: dict[str, list[str]] = {}
    for u in units:
        cls = site.units[u].equipment_class if u in site.units else u
        by_class.setdefault(cls, []).append(u)
    return {
        u: (cls if len(members) > 1 else u) for cls, members in by_class.items() for u in members
    }


def pool_periods(periods: pd.DataFrame, pools: dict[str, str]) -> pd.DataFrame:
    """Active periods of pools: a pool is active while *all* of its units are active.

    Parameters
    ----------
    periods
        Output of :func:`active_periods` (per unit).
    pools
        ``unit -> pool`` (see :func:`unit_pools`).

    Returns
    -------
    pandas.DataFrame
        ``unit, start_h, end_h, length_h`` with ``unit`` the pool name.
    """
    size: dict[str, int] = {}
    for pool in pools.values():
        size[pool] = size.get(pool, 0) + 1
    frames = []
    p = periods.assign(pool=periods["unit"].map(pools))
    for key, group in p.groupby("pool", sort=False):
        pool = str(key)
        n = size[pool]
        if n == 1:
            frames.append(group[["start_h", "end_h"]].assign(unit=str(pool)))
            continue
        # Sweep line: count active members; the pool is active where the count is n.
        t = np.concatenate([group["start_h"].to_numpy(float), group["end_h"].to_numpy(float)])
        d = np.concatenate([np.ones(len(group)), -np.ones(len(group))])
        order = np.lexsort((d, t))  # ends before starts at equal times
        t, d = t[order], d[order]
        count = np.cumsum(d)
        full = count >= n
        starts = t[:-1][full[:-1]]
        ends = t[1:][full[:-1]]
        keep = ends > starts
        frames.append(
            pd.DataFrame({"start_h": starts[keep], "end_h": ends[keep], "unit": str(pool)})
        )
    if not frames:
        return pd.DataFrame({"unit": [], "start_h": [], "end_h": [], "length_h": []})
    out = pd.concat(frames, ignore_index=True)[["unit", "start_h", "end_h"]]
    out = out.sort_values(["unit", "start_h"], kind="stable").reset_index(drop=True)
    out["length_h"] = out["end_h"] - out["start_h"]
    return out


def _overlap(
    a0: np.ndarray, a1: np.ndarray, b0: np.ndarray, b1: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    lo = np.maximum(a0, b0)
    hi = np.minimum(a1, b1)
    return lo, np.maximum(hi, lo)


def shifting_bottleneck(periods: pd.DataFrame, units: list[str], horizon_h: float) -> pd.DataFrame:
    """Sole and shifting bottleneck shares of every unit.

    Parameters
    ----------
    periods
        Output of :func:`active_periods`.
    units
        All units, in the order used to break ties.
    horizon_h
        Length of the run [h].

    Returns
    -------
    pandas.DataFrame
        One row per unit, sorted by ``bottleneck_share`` (descending): ``unit,
        sole_share, shifting_share, bottleneck_share, momentary_share, active_share,
        mean_active_period_h, sole_h, shifting_h, momentary_h``; shares are fractions of
        the horizon, times in hours.
    """
    n_units = len(units)
    sole = np.zeros(n_units)
    shifting = np.zeros(n_units)
    momentary = np.zeros(n_units)
    pos = {u: i for i, u in enumerate(units)}
    p = periods[periods["unit"].isin(pos)].reset_index(drop=True)
    p_unit = p["unit"].map(pos).to_numpy(dtype=int)
    ps = p["start_h"].to_numpy(dtype=float)
    pe = p["end_h"].to_numpy(dtype=float)
    plen = pe - ps

    if len(p) and horizon_h > 0:
        bounds = np.unique(np.concatenate([[0.0, horizon_h], ps, pe]))
        bounds = bounds[(bounds >= 0.0) & (bounds <= horizon_h)]
        mid = (bounds[:-1] + bounds[1:]) / 2.0
        width = np.diff(bounds)
        best_len = np.full(mid.size, -1.0)
        best_pid = np.full(mid.size, -1, dtype=int)
        for j in range(n_units):
            idx = np.flatnonzero(p_unit == j)  # periods of unit j, sorted by start
            if idx.size == 0:
                continue
            k = np.searchsorted(ps[idx], mid, side="right") - 1
            kk = np.clip(k, 0, idx.size - 1)
            pid = idx[kk]
            on = (k >= 0) & (mid < pe[pid])
            length = np.where(on, plen[pid], -1.0)
            better = length > best_len  # strict: ties stay with the earlier unit
            best_len = np.where(better, length, best_len)
            best_pid = np.where(better, pid, best_pid)

        has = best_pid >= 0
        np.add.at(momentary, p_unit[best_pid[has]], width[has])
        # Bottleneck episodes: runs of the same momentary-bottleneck period.
        seq_pid = best_pid[has]
        seq_lo = bounds[:-1][has]
        seq_hi = bounds[1:][has]
        if seq_pid.size:
            first = np.ones(seq_pid.size, dtype=bool)
            first[1:] = seq_pid[1:] != seq_pid[:-1]
            ep = np.cumsum(first) - 1
            e_pid = seq_pid[first]
            e_lo = seq_lo[first]
            e_hi = np.zeros(e_pid.size)
            np.maximum.at(e_hi, ep, seq_hi)
            e_unit = p_unit[e_pid]
            e_ps, e_pe = ps[e_pid], pe[e_pid]
            n = e_pid.size
            # Overlap with the previous (o1) and next (o2) episode's active period.
            o1_lo, o1_hi = np.zeros(n), np.zeros(n)
            o2_lo, o2_hi = np.zeros(n), np.zeros(n)
            if n > 1:
                lo, hi = _overlap(e_ps[1:], e_pe[1:], e_ps[:-1], e_pe[:-1])
                o1_lo[1:], o1_hi[1:] = lo, hi
                o2_lo[:-1], o2_hi[:-1] = lo, hi
            o12_lo, o12_hi = _overlap(o1_lo, o1_hi, o2_lo, o2_hi)
            shift_h = (o1_hi - o1_lo) + (o2_hi - o2_lo) - (o12_hi - o12_lo)
            # Part of the episode's momentary span [e_lo, e_hi] that is shifting.
            m1_lo, m1_hi = _overlap(e_lo, e_hi, o1_lo, o1_hi)
            m2_lo, m2_hi = _overlap(e_lo, e_hi, o2_lo, o2_hi)
            m12_lo, m12_hi = _overlap(e_lo, e_hi, o12_lo, o12_hi)
            in_shift = (m1_hi - m1_lo) + (m2_hi - m2_lo) - (m12_hi - m12_lo)
            np.add.at(shifting, e_unit, shift_h)
            np.add.at(sole, e_unit, np.maximum((e_hi - e_lo) - in_shift, 0.0))

    active_h = np.bincount(p_unit, weights=plen, minlength=n_units) if len(p) else np.zeros(n_units)
    count = np.bincount(p_unit, minlength=n_units) if len(p) else np.zeros(n_units)
    h = horizon_h if horizon_h > 0 else np.nan
    out = pd.DataFrame(
        {
            "unit": units,
            "sole_share": sole / h,
            "shifting_share": shifting / h,
            "bottleneck_share": (sole + shifting) / h,
            "momentary_share": momentary / h,
            "active_share": active_h / h,
            "mean_active_period_h": np.divide(
                active_h, count, out=np.full(n_units, np.nan), where=count > 0
            ),
            "sole_h": sole,
            "shifting_h": shifting,
            "momentary_h": momentary,
        }
    )
    out = out.sort_values(["bottleneck_share", "sole_share"], ascending=False, kind="stable")
    return out.reset_index(drop=True)[_COLUMNS]
