"""Benchmark of multivariate statistical process monitoring (MSPC); prints JSON.

Data: the generated continuous process of :mod:`phactory.monitor.datasets.continuous`
(process seed 0: 30 process variables, 5 AR(1) latents, 2 quality variables), a
training run (seed 1, 3,000 rows), a normal calibration run (seed 2, 10,000 rows) on
which every method's limits are set so that its alarm rate is 1 %, a fresh normal run
(seed 3, 20,000 rows) on which that false-alarm rate is measured again, and for each
fault kind ``runs`` faulty runs (seeds 100 + 10 k + r, 1,500 rows, the fault from row
300 on).

For each method and fault kind: the detection rate (share of faulty rows alarmed) at the
empirical 1 % false-alarm rate, and the detection delay (rows from the fault start to the
first alarm; median over runs), against static PCA as the baseline. Methods: ``pca``,
``dpca`` (2 lags), ``pls`` (on the 2 quality variables), ``innovation`` (VAR(2)
innovations, EWMA 0.1) and two ablations that separate the model from the smoothing:
``pca+ewma`` (static PCA with the same EWMA) and ``innovation-raw`` (no EWMA).

The same methods on the virtual plant (:mod:`phactory.monitor.datasets.plant`: a
bioreactor on hold, tags every 60 s, four injected equipment and sensor faults, one run
each). Scoring throughput: samples/s of ``MspcModel.score`` (statistics, limits, rule
and contributions) on 200,000 rows of a 50-variable process, median of 5 runs, for each
method.

Run: ``.venv/bin/python benchmarks/monitoring_mspc.py [--quick]``.
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

#: name -> (method, options)
METHODS: dict[str, tuple[str, dict[str, Any]]] = {
    "pca": ("pca", {}),
    "dpca": ("dpca", {}),
    "pls": ("pls", {}),
    "innovation": ("innovation", {}),
    "pca+ewma": ("pca", {"ewma": 0.1}),
    "innovation-raw": ("innovation", {"ewma": 1.0}),
}
TARGET_FAR = 0.01
FAULT_START = 300


def _detection(quick: bool) -> dict[str, Any]:
    import numpy as np

    from phactory.monitor.datasets.continuous import FAULT_KINDS, ContinuousProcess, Fault
    from phactory.monitor.mspc import MspcModel

    runs = 2 if quick else 5
    n_train, n_cal, n_fresh, n_fault = (
        (2000, 5000, 10000, 1000) if quick else (3000, 10000, 20000, 1500)
    )
    process = ContinuousProcess.make(n_variables=30, seed=0)
    names, quality = list(process.names), list(process.quality_names)
    train = process.simulate(n_train, seed=1)[0]
    cal = process.simulate(n_cal, seed=2)[0][names].to_numpy()
    fresh = process.simulate(n_fresh, seed=3)[0][names].to_numpy()
    faulty = {
        kind: [
            (process.simulate(n_fault, seed=100 + 10 * k + r, fault=Fault(kind, FAULT_START))[0])
            for r in range(runs)
        ]
        for k, kind in enumerate(FAULT_KINDS)
    }
    out: dict[str, Any] = {}
    for label, (method, options) in METHODS.items():
        kw: dict[str, Any] = dict(options)
        Y = None
        if method == "pls":
            kw["y_variables"] = quality
            Y = train[quality].to_numpy()
        t = time.perf_counter()
        model = MspcModel(method, target_far=TARGET_FAR, **kw).fit(
            train[names].to_numpy(), names, X_val=cal, Y=Y
        )
        fit_s = time.perf_counter() - t
        s = model.score(fresh)
        ok = np.isfinite(s.t2)
        row: dict[str, Any] = {
            "components": model.n_components_,
            "fit_s": round(fit_s, 3),
            "far_calibration": model.far_validation_,
            "far_calibration_nominal_limits": model.far_validation_nominal_,
            "far_fresh": float(s.alarm[ok].mean()),
            "faults": {},
        }
        for kind, frames in faulty.items():
            rates, delays = [], []
            for frame in frames:
                alarm = model.score(frame[names].to_numpy()).alarm[FAULT_START:]
                rates.append(float(alarm.mean()))
                first = np.flatnonzero(alarm)
                delays.append(int(first[0]) if first.size else None)
            found = [d for d in delays if d is not None]
            row["faults"][kind] = {
                "detection_rate": round(statistics.fmean(rates), 4),
                "delay_median": statistics.median(found) if found else None,
                "runs_detected": len(found),
            }
        out[label] = row
    base = out["pca"]["faults"]
    for row in out.values():
        for kind, f in row["faults"].items():
            f["vs_pca"] = round(f["detection_rate"] - base[kind]["detection_rate"], 4)
    return {
        "data": {
            "generator": "phactory.monitor.datasets.continuous",
            "process_seed": 0,
            "variables": len(names),
            "train_rows_seed": [n_train, 1],
            "calibration_rows_seed": [n_cal, 2],
            "fresh_normal_rows_seed": [n_fresh, 3],
            "fault_runs": runs,
            "fault_rows": n_fault,
            "fault_start_row": FAULT_START,
            "fault_seeds": "100 + 10 * kind index + run",
        },
        "target_far": TARGET_FAR,
        "methods": out,
    }


#: Faults injected into the virtual plant (kind, tag below the unit, parameters).
PLANT_FAULTS: list[tuple[str, str, dict[str, float]]] = [
    ("sensor_bias", "TCU/TT", {"bias": 0.3}),
    ("sensor_drift", "PH", {"rate": 0.05}),
    ("fouling", "TCU/TCU", {"loss": 0.5, "ramp_h": 2.0}),
    ("heater_failure", "TCU/TCU", {}),
]


def _plant() -> dict[str, Any]:
    """The same methods on the virtual plant's tag trends (one bioreactor on hold)."""
    import numpy as np

    from phactory.monitor.datasets.plant import PlantFault, plant_run
    from phactory.monitor.mspc import MspcModel

    train, cal = plant_run(12.0, seed=1), plant_run(24.0, seed=2)
    names = [c for c in train.data.columns if c != "time"]
    runs = {
        kind: plant_run(12.0, seed=3, fault=PlantFault(kind, tag, 4.0, params))
        for kind, tag, params in PLANT_FAULTS
    }
    out: dict[str, Any] = {}
    for label, (method, options) in METHODS.items():
        if method == "pls":
            continue
        model = MspcModel(method, target_far=TARGET_FAR, **options).fit(
            train.data[names].to_numpy(), names, X_val=cal.data[names].to_numpy()
        )
        row: dict[str, Any] = {"components": model.n_components_, "faults": {}}
        for kind, run in runs.items():
            assert run.start_row is not None
            s = model.score(run.data[list(model.variables_)].to_numpy())
            alarm = s.alarm[run.start_row :]
            first = np.flatnonzero(alarm)
            blamed = [s.top(int(i), 1)[0][0] for i in first + run.start_row]
            top = max(set(blamed), key=blamed.count) if blamed else None
            row["faults"][kind] = {
                "detection_rate": round(float(alarm.mean()), 4),
                "delay": int(first[0]) if first.size else None,
                "false_alarms_before": round(float(s.alarm[: run.start_row].mean()), 4),
                "most_blamed": top,
            }
        out[label] = row
    return {
        "data": {
            "generator": "phactory.monitor.datasets.plant (synthetic bioreactor on hold)",
            "period_s": 60,
            "train_h_seed": [12, 1],
            "calibration_h_seed": [24, 2],
            "fault_runs_h_seed": [12, 3],
            "fault_at_h": 4.0,
            "faults": [{"kind": k, "tag": t, "params": p} for k, t, p in PLANT_FAULTS],
            "variables": len(names),
        },
        "methods": out,
    }


def _throughput(quick: bool) -> dict[str, Any]:
    from phactory.monitor.datasets.continuous import ContinuousProcess
    from phactory.monitor.mspc import MspcModel

    rows = 100_000 if quick else 200_000
    repeats = 3 if quick else 5
    process = ContinuousProcess.make(n_variables=50, n_latent=8, seed=0)
    names = list(process.names)
    train = process.simulate(5000, seed=1)[0][names].to_numpy()
    data = process.simulate(rows, seed=2)[0][names].to_numpy()
    out: dict[str, Any] = {"variables": 50, "rows": rows, "repeats": repeats}
    for label, (method, options) in METHODS.items():
        if method == "pls":
            continue
        model = MspcModel(method, **options).fit(train, names)
        model.score(data[:1000])  # warm-up
        times = []
        for _ in range(repeats):
            t = time.perf_counter()
            model.score(data)
            times.append(time.perf_counter() - t)
        out[label] = {
            "components": model.n_components_,
            "samples_per_s": round(rows / statistics.median(times)),
        }
    return out


def run(quick: bool = False) -> dict[str, Any]:
    """The MSPC benchmark (see the module docstring)."""
    t = time.perf_counter()
    result = {
        "benchmark": "monitoring_mspc",
        "quick": quick,
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
        "detection": _detection(quick),
        "plant": _plant(),
        "throughput": _throughput(quick),
    }
    result["wall_s"] = round(time.perf_counter() - t, 1)
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer and shorter runs")
    args = parser.parse_args()
    json.dump(run(quick=args.quick), sys.stdout, indent=2)
    sys.stdout.write("\n")
