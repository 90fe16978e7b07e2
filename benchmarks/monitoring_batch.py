"""Batch evolution monitoring benchmark (issue 16, scope item 2); prints JSON.

Data (``phactory.monitor.datasets.batches``, seeded): fed-batch CHO batches of unequal
duration sampled every 0.5 h; a training set of good batches, fresh good batches, and
fresh faulty batches of each kind (temperature, feed, drift, bias) with their start time.

For each alignment (time, maturity on the integral of viable cells, DTW) and evolution
model (``pls``, SIMCA's; ``pca`` of the deviations from the mean trajectory):

* ``nominal``: at the model's own limits (target 1 % of rows), the share of rows of the
  fresh good batches over a limit, as complete batches and as running ones (their first
  half, on the reference's clock); the share of good batches with any alarm and with a
  batch-level alarm.
* ``detection``: at an **empirical** 1 % false-alarm rate, i.e. thresholds set on the
  fresh good batches rather than taken from the nominal limits, on the row statistic
  ``r = max(T2 / T2 limit, SPE / SPE limit)``: per observation (rows after the fault's
  start over the 99th percentile of good rows), per batch (batches whose largest ``r``
  exceeds the 99th percentile of the good batches' largest ``r``: at most 1 % of good
  batches ever alarm), the detection delay [h] from the fault's start to the first row
  over that per-batch threshold (median over the batches detected), and the batch-level
  model (``max(T2 / limit, SPE / limit)`` of the whole batch over the good batches' 99th
  percentile).
* ``quality``: RMSEP of the final titer [g/L] and aggregates [%] of the fresh good
  batches, from the whole trajectory and from its first half, against predicting the
  training mean.
* ``timing``: fit [s] and scoring [rows/s, batches/s].

Run: ``.venv/bin/python benchmarks/monitoring_batch.py [--quick]``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from typing import Any

import numpy as np

ALIGNMENTS = ("time", "maturity:ivcd", "dtw")
METHODS = ("pls", "pca")


def _ratio(s: Any) -> np.ndarray:
    r: np.ndarray = np.maximum(s.t2 / s.t2_limit, s.spe / s.spe_limit)
    return r


def _level_ratio(s: Any) -> float:
    return float(max(s.batch_t2 / s.batch_t2_limit, s.batch_spe / s.batch_spe_limit))


def _one(align: str, method: str, data: dict[str, Any]) -> dict[str, Any]:
    from phactory.monitor.batch import BatchModel
    from phactory.monitor.datasets.batches import QUALITY

    train, good, faulty = data["train"], data["good"], data["faulty"]
    t = time.perf_counter()
    model = BatchModel(align=align, method=method, quality=QUALITY).fit(
        train.batches, train.quality
    )
    fit_s = time.perf_counter() - t
    t = time.perf_counter()
    good_scores = [model.score(b, complete=True) for b in good.batches]
    score_s = time.perf_counter() - t
    n_rows = sum(b.n_rows for b in good.batches)
    halves = [model.score(b.head(b.n_rows // 2), complete=False) for b in good.batches]
    fault_scores = [model.score(b, complete=True) for b in faulty.batches]

    good_rows = np.concatenate([_ratio(s) for s in good_scores])
    thr_row = float(np.quantile(good_rows, 0.99, method="higher"))
    thr_batch = float(np.quantile([_ratio(s).max() for s in good_scores], 0.99, method="higher"))
    thr_level = float(np.quantile([_level_ratio(s) for s in good_scores], 0.99, method="higher"))
    per_kind: dict[str, dict[str, list[float]]] = {}
    for fault, s in zip(faulty.faults, fault_scores, strict=True):
        k = per_kind.setdefault(
            fault.kind, {"rows": [], "batches": [], "delay": [], "level": [], "blame": []}
        )
        r = _ratio(s)
        after = s.time >= fault.start_h
        k["rows"].append(float(np.mean(r[after] > thr_row)))
        k["batches"].append(float(r.max() > thr_batch))
        hits = np.flatnonzero(after & (r > thr_batch))
        if hits.size:
            k["delay"].append(float(s.time[hits[0]] - fault.start_h))
        k["level"].append(float(_level_ratio(s) > thr_level))
        alarmed = np.flatnonzero(after & s.alarm)
        if alarmed.size:
            top = [s.top(int(i), 1)[0][0] for i in alarmed]
            k["blame"].append(float(np.mean(np.array(top) == fault.variable)))
    detection = {
        kind: {
            "per_observation": round(statistics.fmean(v["rows"]), 3),
            "per_batch": round(statistics.fmean(v["batches"]), 3),
            "delay_h_median": round(statistics.median(v["delay"]), 1) if v["delay"] else None,
            "batch_level": round(statistics.fmean(v["level"]), 3),
            "contributions_top1_correct": (
                round(statistics.fmean(v["blame"]), 3) if v["blame"] else None
            ),
        }
        for kind, v in per_kind.items()
    }
    q_true = good.quality
    q_full = np.array([[s.quality[n] for n in QUALITY] for s in good_scores])
    q_half = np.array([[s.quality[n] for n in QUALITY] for s in halves])
    mean = train.quality.mean(axis=0)

    def rmse(pred: np.ndarray) -> list[float]:
        return [round(float(v), 4) for v in np.sqrt(np.mean((pred - q_true) ** 2, axis=0))]

    return {
        "components": model.n_components_,
        "nominal": {
            "target_far": model.target_far,
            "far_rows_complete": round(float(np.mean(good_rows > 1.0)), 4),
            "far_rows_running_first_half": round(
                float(np.mean(np.concatenate([s.alarm for s in halves]))), 4
            ),
            "far_rows_cross_validated": round(model.far_, 4),
            "good_batches_with_any_alarm": round(
                float(np.mean([s.alarm.any() for s in good_scores])), 3
            ),
            "good_batches_batch_level_alarm": round(
                float(np.mean([bool(s.batch_alarm) for s in good_scores])), 3
            ),
        },
        "detection_at_empirical_1pct": detection,
        "quality_rmsep": {
            "names": list(QUALITY),
            "complete": rmse(q_full),
            "first_half": rmse(q_half),
            "mean_predictor": rmse(np.tile(mean, (len(good.batches), 1))),
        },
        "timing": {
            "fit_s": round(fit_s, 2),
            "score_rows_per_s": round(n_rows / score_s),
            "score_batches_per_s": round(len(good.batches) / score_s, 1),
        },
    }


def run(quick: bool = False) -> dict[str, Any]:
    """The batch monitoring benchmark (see the module docstring)."""
    from phactory.monitor.datasets.batches import FAULT_KINDS, fed_batch_runs

    t0 = time.perf_counter()
    n_train, n_good, n_each = (12, 15, 3) if quick else (30, 100, 10)
    interval = 1.0 if quick else 0.5
    t = time.perf_counter()
    data = {
        "train": fed_batch_runs(n_train, seed=100, interval_h=interval),
        "good": fed_batch_runs(n_good, seed=101, interval_h=interval, prefix="G"),
        "faulty": fed_batch_runs(
            0,
            faults=[k for k in FAULT_KINDS for _ in range(n_each)],
            seed=102,
            interval_h=interval,
            prefix="F",
        ),
    }
    generate_s = time.perf_counter() - t
    results = {
        f"{align}/{method}": _one(align, method, data)
        for align in ALIGNMENTS
        for method in (METHODS if not quick else ("pls",))
    }
    durations = [b.duration for b in data["train"].batches]
    return {
        "benchmark": "monitoring_batch",
        "quick": quick,
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
        "data": {
            "train_batches": n_train,
            "fresh_good_batches": n_good,
            "faulty_batches_per_kind": n_each,
            "sampling_h": interval,
            "train_duration_h": [min(durations), max(durations)],
            "generate_s": round(generate_s, 2),
        },
        "results": results,
        "wall_s": round(time.perf_counter() - t0, 1),
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer and shorter runs")
    args = parser.parse_args()
    json.dump(run(quick=args.quick), sys.stdout, indent=2)
    sys.stdout.write("\n")
