"""Benchmark of predictive maintenance (RUL and reliability fitting) on generated data; prints JSON.

RUL (``phactory.monitor.rul``): C-MAPSS-shaped run-to-failure data with known truth
(``phactory.monitor.datasets.degradation``), one and six operating regimes, several seeds;
for the gradient-boosted model and its ridge baseline (same features, same conformal
intervals): RMSE, MAE and NASA score of the RUL at the last row of held-out test units
against their true (uncapped) RUL, the coverage and mean width of the 90% intervals, fit
and predict times. The six-regime case also runs without regime normalisation.

Reliability (``phactory.monitor.reliability``): maintenance records drawn again and again
from a known Weibull (shape 1.8, scale 1,000 h) with preventive maintenance censoring; the
bias and spread of the fitted shape and MTBF, how often the 95% intervals hold the truth,
how often AIC picks the Weibull; and the same for exponential truth (how often AIC picks
the exponential). Small and large record sets.

Scikit-learn and BLAS run on one thread (timings on shared machines are otherwise
dominated by OpenMP threads spinning). Run: ``.venv/bin/python benchmarks/monitoring_rul.py
[--quick]``.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import statistics
import time
from typing import Any

import numpy as np

CONFIDENCE = 0.95


def _rul_case(
    n_regimes: int, seed: int, n_train: int, n_test: int, settings: bool
) -> dict[str, Any]:
    from phactory.monitor.datasets.degradation import degradation_data
    from phactory.monitor.rul import RulModel
    from phactory.monitor.rul.evaluation import score_predictions
    from phactory.monitor.rul.units import table_from_frame

    data = degradation_data(n_train=n_train, n_test=n_test, n_regimes=n_regimes, seed=seed)
    train = table_from_frame(data.train, ("unit", "cycle"))
    test = table_from_frame(data.test, ("unit", "cycle"))
    truth = data.test_rul["rul"].to_numpy(dtype=float)
    cols = ("setting_1", "setting_2", "setting_3") if settings else ()
    out: dict[str, Any] = {"train_rows": train.n_rows, "test_units": n_test}
    for method in ("gbm", "linear"):
        t0 = time.perf_counter()
        model = RulModel(method=method, seed=seed, settings=cols).fit(train, "unit", "cycle")
        t1 = time.perf_counter()
        preds = model.predict(test, "unit", "cycle")
        t2 = time.perf_counter()
        s = score_predictions(
            np.array([p.rul for p in preds]),
            np.array([p.lower for p in preds]),
            np.array([p.upper for p in preds]),
            truth,
        )
        out[method] = {
            "rmse": round(s.rmse, 3),
            "mae": round(s.mae, 3),
            "nasa_score": round(s.nasa_score, 1),
            "coverage_90": round(s.coverage, 4),
            "mean_width": round(s.width, 2),
            "fit_s": round(t1 - t0, 3),
            "predict_ms_per_unit": round(1000 * (t2 - t1) / n_test, 3),
            "regimes": None if model.regimes_ is None else model.regimes_.k,
        }
    return out


def _summary(cases: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for method in ("gbm", "linear"):
        rows = [c[method] for c in cases]
        out[method] = {
            k: round(statistics.fmean(r[k] for r in rows), 4)
            for k in ("rmse", "mae", "nasa_score", "coverage_90", "mean_width", "fit_s")
        }
    out["gbm_rmse_below_linear"] = sum(c["gbm"]["rmse"] < c["linear"]["rmse"] for c in cases)
    out["cases"] = len(cases)
    # Coverage pooled over every held-out unit of every case, with its binomial sd.
    n = sum(c["test_units"] for c in cases)
    cov = sum(c["gbm"]["coverage_90"] * c["test_units"] for c in cases) / n
    out["gbm_pooled_coverage_90"] = {
        "value": round(cov, 4),
        "units": n,
        "binomial_sd": round(math.sqrt(0.09 / n), 4),
    }
    return out


def rul_benchmark(quick: bool) -> dict[str, Any]:
    seeds = (0,) if quick else (0, 1, 2, 3)
    n_train, n_test = (60, 100) if quick else (100, 250)
    result: dict[str, Any] = {
        "n_train_units": n_train,
        "n_test_units": n_test,
        "seeds": list(seeds),
    }
    for name, regimes, settings in (
        ("one_regime", 1, False),
        ("six_regimes", 6, True),
        ("six_regimes_not_normalised", 6, False),
    ):
        if quick and name == "six_regimes_not_normalised":
            continue
        cases = [_rul_case(regimes, s, n_train, n_test, settings) for s in seeds]
        result[name] = {"summary": _summary(cases), "per_seed": cases}
    return result


def _reliability_runs(
    shape: float, scale: float, n_machines: int, reps: int, pm_h: float
) -> dict[str, Any]:
    from phactory.errors import InvalidError
    from phactory.monitor.datasets.degradation import MaintenanceTruth, maintenance_records
    from phactory.monitor.reliability import fit_reliability

    truth = MaintenanceTruth(
        shape=shape, scale_h=scale, mttr_h=5.0, mttr_sd_h=3.0, pm_interval_h=pm_h
    )
    mtbf = truth.mtbf_h
    shapes, mtbfs, hit_shape, hit_scale, hit_mtbf, weibull_chosen = [], [], 0, 0, 0, 0
    failures, censored, seconds, refused = [], [], [], 0
    for rep in range(reps):
        rec = maintenance_records(
            truth, n_machines=n_machines, horizon_h=10 * scale, seed=1000 + rep
        )
        hours = rec["hours"].to_numpy(dtype=float)
        failed = (rec["event"] == "failure").to_numpy()
        t0 = time.perf_counter()
        try:
            fit = fit_reliability(
                hours, failed, rec["repair_h"].to_numpy(dtype=float), confidence=CONFIDENCE
            )
        except InvalidError:
            refused += 1
            continue
        seconds.append(time.perf_counter() - t0)
        w = fit.weibull
        if w is None or w.shape_ci is None:
            refused += 1
            continue
        failures.append(fit.n_failures)
        censored.append(fit.n_censored)
        shapes.append(w.shape)
        mtbfs.append(w.mtbf_h)
        hit_shape += w.shape_ci[0] <= shape <= w.shape_ci[1]
        hit_scale += w.scale_ci[0] <= scale <= w.scale_ci[1]
        hit_mtbf += w.mtbf_ci[0] <= mtbf <= w.mtbf_ci[1]
        weibull_chosen += fit.model == "weibull"
    n = len(shapes)
    return {
        "truth": {"shape": shape, "scale_h": scale, "mtbf_h": round(mtbf, 3)},
        "machines": n_machines,
        "repetitions": reps,
        "fitted": n,
        "refused": refused,
        "mean_failures": round(statistics.fmean(failures), 1) if n else None,
        "mean_censored": round(statistics.fmean(censored), 1) if n else None,
        "shape_mean": round(statistics.fmean(shapes), 4) if n else None,
        "shape_rel_rmse": round(
            math.sqrt(statistics.fmean([(s / shape - 1) ** 2 for s in shapes])), 4
        )
        if n
        else None,
        "mtbf_mean_h": round(statistics.fmean(mtbfs), 2) if n else None,
        "mtbf_rel_rmse": round(math.sqrt(statistics.fmean([(m / mtbf - 1) ** 2 for m in mtbfs])), 4)
        if n
        else None,
        f"ci{int(CONFIDENCE * 100)}_coverage": {
            "shape": round(hit_shape / n, 4) if n else None,
            "scale": round(hit_scale / n, 4) if n else None,
            "mtbf": round(hit_mtbf / n, 4) if n else None,
            "binomial_sd": round(math.sqrt(CONFIDENCE * (1 - CONFIDENCE) / n), 4) if n else None,
        },
        "aic_chose_weibull": round(weibull_chosen / n, 4) if n else None,
        "fit_ms_mean": round(1000 * statistics.fmean(seconds), 3) if seconds else None,
    }


def reliability_benchmark(quick: bool) -> dict[str, Any]:
    reps = 40 if quick else 400
    return {
        "weibull_30_machines": _reliability_runs(1.8, 1000.0, 30, reps, 800.0),
        "weibull_3_machines": _reliability_runs(1.8, 1000.0, 3, reps, 800.0),
        "exponential_30_machines": _reliability_runs(1.0, 1000.0, 30, reps, 800.0),
    }


def run(quick: bool = False) -> dict[str, Any]:
    """The whole benchmark as a dict (``quick``: one seed, fewer repetitions)."""
    import sklearn.ensemble  # noqa: F401  (thread limits apply to the libraries loaded)
    from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

    started = time.perf_counter()
    with threadpool_limits(limits=1):
        out: dict[str, Any] = {
            "benchmark": "monitoring_rul",
            "quick": quick,
            "python": platform.python_version(),
            "threads": 1,
            "rul": rul_benchmark(quick),
            "reliability": reliability_benchmark(quick),
        }
    out["wall_s"] = round(time.perf_counter() - started, 1)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="one seed, fewer repetitions")
    args = parser.parse_args()
    print(json.dumps(run(quick=args.quick), indent=2))


if __name__ == "__main__":
    main()
