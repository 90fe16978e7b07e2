"""Benchmark of the process twins; prints JSON.

For every process model: wall time per simulation (median at the default parameters, and mean
over a Latin-hypercube sample of the CPP ranges), and a surrogate fitted over the CPPs with its
k-fold cross-validated and held-out R^2 and its speed-up (batch of 10,000 predictions, and a
single-row call); and the valid domain: how many runs of a Latin-hypercube sample over every
declared parameter at once (150, seed 0) simulate (bar: all; the contract says the declared
bounds are the valid domain). Run: ``.venv/bin/python benchmarks/process.py [--quick]``.
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

MODELS = ("ivt", "lyophilisation", "solvent_swap", "solvent_swap_thf_toluene", "cho_fed_batch")


def _simulation_times(name: str, repeats: int) -> dict[str, float]:
    from phactory.process import get_model
    from phactory.process.sampling import bounds_of, space_filling

    model = get_model(name)
    model.simulate()  # warm-up: imports, first-call caches of numpy/scipy
    runs = []
    for _ in range(repeats):
        t = time.perf_counter()
        model.simulate()
        runs.append(time.perf_counter() - t)
    cpps = model.cpp_names()
    sample = space_filling(bounds_of(model, cpps), repeats, seed=0)
    spread = []
    for row in sample:
        t = time.perf_counter()
        model.simulate(dict(zip(cpps, row.tolist(), strict=True)))
        spread.append(time.perf_counter() - t)
    return {
        "default_median_ms": 1e3 * statistics.median(runs),
        "cpp_range_mean_ms": 1e3 * statistics.fmean(spread),
        "cpp_range_max_ms": 1e3 * max(spread),
    }


def _valid_domain(name: str, n: int) -> dict[str, Any]:
    from phactory.process import SimulationError, get_model
    from phactory.process.sampling import bounds_of, space_filling

    model = get_model(name)
    names = model.parameter_names()
    sample = space_filling(bounds_of(model, names), n, seed=0)
    errors: dict[str, int] = {}
    t = time.perf_counter()
    for row in sample:
        try:
            model.simulate(dict(zip(names, row.tolist(), strict=True)))
        except SimulationError as exc:
            key = str(exc).split(":")[1].strip()[:60] if ":" in str(exc) else str(exc)[:60]
            errors[key] = errors.get(key, 0) + 1
    return {
        "runs": n,
        "succeeded": n - sum(errors.values()),
        "errors": errors,
        "mean_ms": 1e3 * (time.perf_counter() - t) / n,
    }


def _surrogate(name: str, n_samples: int, n_test: int, workers: int) -> dict[str, Any]:
    from phactory.process import fit_surrogate, get_model

    t = time.perf_counter()
    sur = fit_surrogate(
        get_model(name),
        n_samples=n_samples,
        n_test=n_test,
        kind="auto",
        folds=5,
        seed=0,
        workers=workers,
    )
    rep = sur.report
    assert rep is not None
    return {
        "kind": rep.kind,
        "degree": rep.degree,
        "inputs": rep.inputs,
        "n_train": rep.n_train,
        "n_test": rep.n_test,
        "cv_r2": rep.cv_r2,
        "held_out_r2": rep.test_r2,
        "min_held_out_r2": rep.min_test_r2,
        "simulation_ms": 1e3 * rep.simulation_time,
        "prediction_us_batch": 1e6 * rep.prediction_time,
        "prediction_us_single_call": 1e6 * rep.single_prediction_time,
        "speedup_batch": rep.speedup,
        "speedup_single_call": rep.single_speedup,
        "fit_s": rep.fit_time,
        "total_s": time.perf_counter() - t,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small samples (smoke run)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    n_train, n_test, repeats = (120, 40, 5) if args.quick else (500, 200, 20)
    out: dict[str, Any] = {
        "machine": {
            "cpus": os.cpu_count(),
            "python": sys.version.split()[0],
            "platform": platform.platform(),
        },
        "settings": {"n_train": n_train, "n_test": n_test, "workers": args.workers},
        "simulation": {},
        "valid_domain": {},
        "surrogate": {},
    }
    for name in MODELS:
        out["simulation"][name] = _simulation_times(name, repeats)
    for name in MODELS:
        out["valid_domain"][name] = _valid_domain(name, 40 if args.quick else 150)
    for name in MODELS:
        out["surrogate"][name] = _surrogate(name, n_train, n_test, args.workers)
    bars = {
        "ivt_sim_le_50ms": out["simulation"]["ivt"]["default_median_ms"] <= 50,
        "lyophilisation_sim_le_50ms": out["simulation"]["lyophilisation"]["default_median_ms"]
        <= 50,
        "valid_domain_all_runs_succeed": {
            n: d["succeeded"] == d["runs"] for n, d in out["valid_domain"].items()
        },
        "surrogate_speedup_ge_1000x_batch": {
            n: s["speedup_batch"] >= 1000 for n, s in out["surrogate"].items()
        },
        "surrogate_held_out_r2_ge_0.99": {
            n: s["min_held_out_r2"] >= 0.99 for n, s in out["surrogate"].items()
        },
    }
    out["bars"] = bars
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
