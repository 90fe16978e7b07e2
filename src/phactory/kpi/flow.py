"""Flow KPIs: cycle time, lead time, vein-to-vein time, WIP and on-time delivery.

Definitions (times in hours from the run's epoch):

- cycle time of a completed batch = ``end_h - start_h`` (first step start to release
  of the last step);
- lead time = ``end_h - release_h`` (order release to completion); for autologous
  therapies the per-patient lead time is the *vein-to-vein* time (apheresis/release to
  product ready), ``max(end_h) - min(release_h)`` over the patient's completed batches;
- distributions are reported as mean, median (p50) and 90th percentile (p90) over the
  batches completed within the horizon; ``nan`` when there are none;
- WIP = time-average number of batches in progress,
  ``sum_b |[start_b, end_b] ∩ [0, H]| / H`` over started batches, with ``end_b = H``
  for batches still in progress; scrapped batches count until scrapped. With every
  batch starting and ending inside the horizon this satisfies Little's law
  ``WIP = λ W`` exactly, ``λ`` = batches per hour, ``W`` = mean cycle time [1]_;
  ``wip_released`` is the same from release instead of start, and also counts
  released batches that have not started;
- on-time delivery = orders on time / orders due within the horizon. An order is due
  if its due time ``due_h <= H``; it is on time if at least ``n`` of its batches
  completed by ``due_h``, ``n`` being the number of batches the order asks for (from the
  site plan, else the number of its batches in the log). Scrapped batches that are not
  replaced therefore make an order late.

References
----------
.. [1] J. D. C. Little, "A proof for the queuing formula: L = λW", Operations Research
   9(3):383-387, 1961.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import pandas as pd

__all__ = ["batch_times", "distribution", "on_time_delivery", "vein_to_vein", "wip"]

_TOL = 1e-9


def batch_times(batches: pd.DataFrame, horizon_h: float) -> pd.DataFrame:
    """Per-batch table with ``cycle_time_h`` and ``lead_time_h`` (``nan`` unless completed)."""
    b = batches.copy()
    for c in ("release_h", "start_h", "end_h", "due_h", "quantity"):
        b[c] = pd.to_numeric(b[c], errors="coerce").astype(float)
    done = (b["status"] == "completed") & (b["end_h"] <= horizon_h + _TOL)
    b["completed"] = done.to_numpy(dtype=bool)
    b["cycle_time_h"] = (b["end_h"] - b["start_h"]).where(done)
    b["lead_time_h"] = (b["end_h"] - b["release_h"]).where(done)
    b["on_time"] = (b["end_h"] <= b["due_h"] + _TOL).where(done & b["due_h"].notna())
    return b


def distribution(values: pd.Series | np.ndarray, prefix: str) -> dict[str, float]:
    """Mean, p50 and p90 of ``values`` as ``{prefix}_h, {prefix}_p50_h, {prefix}_p90_h``."""
    v = np.asarray(values, dtype=float)
    v = v[~np.isnan(v)]
    if v.size == 0:
        return {f"{prefix}_h": math.nan, f"{prefix}_p50_h": math.nan, f"{prefix}_p90_h": math.nan}
    p50, p90 = np.percentile(v, [50.0, 90.0])
    return {
        f"{prefix}_h": float(v.mean()),
        f"{prefix}_p50_h": float(p50),
        f"{prefix}_p90_h": float(p90),
    }


def vein_to_vein(times: pd.DataFrame) -> np.ndarray:
    """Vein-to-vein time per patient [h]: first release to last completion."""
    b = times[times["completed"] & times["patient"].notna() & (times["patient"] != "")]
    if b.empty:
        return np.array([], dtype=float)
    g = b.groupby("patient")
    return (g["end_h"].max() - g["release_h"].min()).to_numpy(dtype=float)


def wip(batches: pd.DataFrame, horizon_h: float, since: str = "start_h") -> float:
    """Time-average number of batches in progress over ``[0, H]`` [batch].

    Parameters
    ----------
    batches
        The batches table.
    horizon_h
        Length of the run [h].
    since
        ``"start_h"`` (WIP on the shop floor) or ``"release_h"`` (released WIP).
    """
    if horizon_h <= 0:
        return math.nan
    active = batches if since == "release_h" else batches[batches["status"] != "not_started"]
    a = pd.to_numeric(active[since], errors="coerce").to_numpy(dtype=float)
    e = pd.to_numeric(active["end_h"], errors="coerce").to_numpy(dtype=float)
    e = np.where(np.isnan(e), horizon_h, e)
    ok = ~np.isnan(a)
    span = np.clip(e[ok], 0.0, horizon_h) - np.clip(a[ok], 0.0, horizon_h)
    return float(np.maximum(span, 0.0).sum() / horizon_h)


def on_time_delivery(
    batches: pd.DataFrame,
    horizon_h: float,
    required: Mapping[str, int] | None = None,
) -> tuple[float, pd.DataFrame]:
    """On-time delivery over the orders due within the horizon.

    Parameters
    ----------
    batches
        The batches table.
    horizon_h
        Length of the run [h].
    required
        Batches each order asks for, by order id; default the order's batches in the log.

    Returns
    -------
    (float, pandas.DataFrame)
        The on-time fraction (``nan`` if no order is due) and one row per order:
        ``order, due_h, batches, required, completed_by_due, completed_h, due, on_time``.
    """
    b = batches.copy()
    b["order"] = b["order"].astype(object).where(b["order"].notna(), b["batch"])
    for c in ("end_h", "due_h"):
        b[c] = pd.to_numeric(b[c], errors="coerce").astype(float)
    done = (b["status"] == "completed") & (b["end_h"] <= horizon_h + _TOL)
    due = b.groupby("order", sort=False)["due_h"].transform("max")
    b["by_due"] = (done & (b["end_h"] <= due + _TOL)).astype(int)
    b["done_end"] = b["end_h"].where(done)
    g = b.groupby("order", sort=False)
    orders = pd.DataFrame(
        {
            "due_h": g["due_h"].max(),
            "batches": g["batch"].nunique(),
            "completed_by_due": g["by_due"].sum(),
            "completed_h": g["done_end"].max(),
        }
    )
    orders.index = orders.index.astype(str)
    req = orders["batches"].astype(float)
    if required:
        req = pd.Series(
            orders.index.map(lambda o: required.get(o, math.nan)), index=orders.index, dtype=float
        ).fillna(req)
    orders["required"] = req.astype(int)
    orders["due"] = (orders["due_h"] <= horizon_h + _TOL).to_numpy(dtype=bool)
    orders["on_time"] = orders["due"] & (orders["completed_by_due"] >= orders["required"])
    orders = orders.rename_axis("order").reset_index()
    n_due = int(orders["due"].sum())
    otd = float(orders["on_time"].sum() / n_due) if n_due else math.nan
    return otd, orders
