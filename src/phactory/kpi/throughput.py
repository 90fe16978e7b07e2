"""Throughput: batches completed and scrapped, per day and per week.

A batch counts when its end time ``end_h`` lies in ``[0, H]``: completed batches with
status ``completed``, scrapped ones with status ``scrapped`` (the time of the scrap
decision). Throughput per day is ``batches_completed / (H / 24)`` and per week
``batches_completed / (H / 168)``, so a partial last day or week is pro rata.
"""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pandas as pd

__all__ = ["batch_counts", "daily_throughput"]

_TOL = 1e-9


def _ended(batches: pd.DataFrame, status: str, horizon_h: float) -> pd.DataFrame:
    end = pd.to_numeric(batches["end_h"], errors="coerce")
    mask = (batches["status"] == status) & end.notna() & (end <= horizon_h + _TOL)
    return batches.loc[mask.to_numpy(dtype=bool)]


def batch_counts(batches: pd.DataFrame, horizon_h: float) -> dict[str, float]:
    """Counts and rates of batches over the horizon.

    Returns
    -------
    dict
        ``batches_completed, batches_scrapped, batches_started, batches_in_progress,
        batch_success_rate, throughput_per_day [batch/d], throughput_per_week
        [batch/wk], quantity_per_day [batch-size unit/d], quantity_per_week``.
    """
    done = _ended(batches, "completed", horizon_h)
    scrapped = _ended(batches, "scrapped", horizon_h)
    start = pd.to_numeric(batches["start_h"], errors="coerce")
    started = int(((start <= horizon_h + _TOL) & (batches["status"] != "not_started")).sum())
    n_done, n_scrap = len(done), len(scrapped)
    days = horizon_h / 24.0
    qty = float(pd.to_numeric(done["quantity"], errors="coerce").fillna(0.0).sum())
    return {
        "batches_completed": float(n_done),
        "batches_scrapped": float(n_scrap),
        "batches_started": float(started),
        "batches_in_progress": float((batches["status"] == "in_progress").sum()),
        "batch_success_rate": n_done / (n_done + n_scrap) if n_done + n_scrap else math.nan,
        "throughput_per_day": n_done / days if days > 0 else math.nan,
        "throughput_per_week": n_done / (horizon_h / 168.0) if horizon_h > 0 else math.nan,
        "quantity_per_day": qty / days if days > 0 else math.nan,
        "quantity_per_week": qty / (horizon_h / 168.0) if horizon_h > 0 else math.nan,
    }


def daily_throughput(
    batches: pd.DataFrame, horizon_h: float, epoch: dt.datetime | None = None
) -> pd.DataFrame:
    """Batches started, completed and scrapped, and good quantity, per day.

    Parameters
    ----------
    batches
        The batches table of an event log.
    horizon_h
        Length of the run [h].
    epoch
        Aware datetime of hour 0; adds a ``date`` column when given.

    Returns
    -------
    pandas.DataFrame
        One row per day ``d`` covering ``[24 d, 24 (d + 1))`` h: ``day, start_h,
        [date,] batches_started, batches_completed, batches_scrapped, quantity,
        cumulative_completed``.
    """
    n_days = max(1, math.ceil(horizon_h / 24.0 - _TOL))

    def per_day(times: pd.Series, weights: pd.Series | None = None) -> np.ndarray:
        t = pd.to_numeric(times, errors="coerce").to_numpy(dtype=float)
        ok = ~np.isnan(t) & (t >= 0) & (t <= horizon_h + _TOL)
        idx = np.minimum((t[ok] // 24.0).astype(int), n_days - 1)
        w = None if weights is None else weights.to_numpy(dtype=float)[ok]
        return np.bincount(idx, weights=w, minlength=n_days).astype(float)

    done = _ended(batches, "completed", horizon_h)
    scrapped = _ended(batches, "scrapped", horizon_h)
    started = batches[batches["status"] != "not_started"]
    qty = pd.to_numeric(done["quantity"], errors="coerce").fillna(0.0)
    out = pd.DataFrame({"day": np.arange(n_days), "start_h": np.arange(n_days) * 24.0})
    if epoch is not None:
        out["date"] = [epoch + dt.timedelta(days=int(d)) for d in out["day"]]
    out["batches_started"] = per_day(started["start_h"])
    out["batches_completed"] = per_day(done["end_h"])
    out["batches_scrapped"] = per_day(scrapped["end_h"])
    out["quantity"] = per_day(done["end_h"], qty)
    out["cumulative_completed"] = out["batches_completed"].cumsum()
    return out
