"""Benchmark of the PAT soft sensors on generated Raman-like spectra; prints JSON.

Data: :func:`phactory.monitor.datasets.spectra.spectra_example` (glucose, lactate, titre
in a dominant medium background, with multiplicative scatter, offset and slope per
spectrum, an interferent and noise; seeded). For every preprocessing pipeline: the
components chosen by cross-validation, RMSECV and RMSEP per response [g/L], and the share
of spectra flagged out of the applicability domain on an in-domain test set (the measured
false-flag rate, target 1%) and on out-of-domain spectra per kind (a new band, a strong
fluorescence baseline); the same rate with the Jackson-Mudholkar SPE limit from the
calibration residuals, which the model does not use (see ``softsensor/domain.py``); fit
time; prediction throughput (a batch of spectra, and one spectrum at a time through the
stream); a wide calibration (80 spectra x 701 wavelengths, the size of the corn NIR set)
and the time to read its CSV.

Run: ``.venv/bin/python benchmarks/monitoring_softsensor.py [--quick]``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

PIPELINES = ("none", "snv", "msc", "sg1", "sg2", "snv,sg1", "msc,sg1", "autoscale")
QUICK_PIPELINES = ("none", "snv", "snv,sg1")


def _pipeline(spec: str, seeds: list[int], n_test: int, n_outside: int) -> dict[str, Any]:
    import numpy as np

    from phactory.monitor.datasets.spectra import spectra_example
    from phactory.monitor.softsensor import SoftSensor

    runs = []
    for seed in seeds:
        ex = spectra_example(seed=seed, n_test=n_test, n_outside=n_outside)
        t = time.perf_counter()
        m = SoftSensor(preprocess=spec).fit(
            ex.train.x, ex.train.y, x_names=ex.train.x_names, y_names=ex.train.y_names
        )
        fit_s = time.perf_counter() - t
        test, out = m.predict(ex.test.x), m.predict(ex.outside.x)
        kinds = np.array(ex.outside.kind)
        runs.append(
            {
                "components": dict(zip(m.y_names_, m.components_, strict=True)),
                "domain_components": m.domain_.n_components,
                "rmsecv": m.rmsecv_,
                "rmsep": np.sqrt(np.mean((test.y - ex.test.y) ** 2, axis=0)),
                "flag_in": 1 - float(test.in_domain.mean()),
                "flag_in_jm": float(
                    np.mean(
                        (test.t2 > m.t2_limit_)
                        | (test.spe > (m.domain_.spe_limit_jm or m.spe_limit_))
                    )
                ),
                "flag_out": {
                    k: 1 - float(out.in_domain[kinds == k].mean())
                    for k in ("contaminant", "baseline")
                },
                "fit_s": fit_s,
                "names": m.y_names_,
            }
        )
    names = runs[0]["names"]

    def mean_of(key: str) -> dict[str, float]:
        return {n: round(float(np.mean([r[key][k] for r in runs])), 4) for k, n in enumerate(names)}

    return {
        "components_first_seed": runs[0]["components"],
        "domain_components_first_seed": runs[0]["domain_components"],
        "rmsecv": mean_of("rmsecv"),
        "rmsep": mean_of("rmsep"),
        "flag_rate_in_domain": round(statistics.fmean(r["flag_in"] for r in runs), 4),
        "flag_rate_in_domain_per_seed": [round(r["flag_in"], 4) for r in runs],
        "flag_rate_in_domain_jm_limit": round(statistics.fmean(r["flag_in_jm"] for r in runs), 4),
        "flag_rate_outside": {
            k: round(statistics.fmean(r["flag_out"][k] for r in runs), 4)
            for k in ("contaminant", "baseline")
        },
        "fit_seconds_median": round(statistics.median(r["fit_s"] for r in runs), 3),
    }


def _throughput(n_batch: int, n_stream: int) -> dict[str, float]:
    import numpy as np

    from phactory.monitor.datasets.spectra import spectra_example
    from phactory.monitor.softsensor import SoftSensor, SoftSensorStream

    ex = spectra_example(seed=0, n_test=500)
    m = SoftSensor(preprocess="snv,sg1").fit(
        ex.train.x, ex.train.y, x_names=ex.train.x_names, y_names=ex.train.y_names
    )
    x = np.tile(ex.test.x, (n_batch // len(ex.test.x) + 1, 1))[:n_batch]
    m.predict(x[:10])
    t = time.perf_counter()
    m.predict(x)
    batch = n_batch / (time.perf_counter() - t)
    stream = SoftSensorStream(m, {r: f"bio1/{r}" for r in m.y_names_})
    t = time.perf_counter()
    for i in range(n_stream):
        stream.update(ex.test.x[i % len(ex.test.x)], float(i))
    single = n_stream / (time.perf_counter() - t)
    return {
        "variables": len(m.x_names_),
        "batch_spectra_per_s": round(batch),
        "stream_spectra_per_s": round(single),
    }


def _wide() -> dict[str, Any]:
    from phactory.monitor.datasets.spectra import spectra_example
    from phactory.monitor.softsensor import SoftSensor
    from phactory.monitor.table import read_table

    ex = spectra_example(seed=1, n_train=80, n_test=10, n_outside=2, n_wavelengths=701)
    with tempfile.TemporaryDirectory() as tmp:
        ex.write(tmp)
        t = time.perf_counter()
        table = read_table(Path(tmp) / "x_train.csv", named=["sample"])
        read_s = time.perf_counter() - t
    t = time.perf_counter()
    m = SoftSensor(preprocess="snv,sg1").fit(
        table.values, ex.train.y, x_names=table.variables, y_names=ex.train.y_names
    )
    return {
        "samples": 80,
        "variables": len(table.variables),
        "csv_read_seconds": round(read_s, 3),
        "fit_seconds": round(time.perf_counter() - t, 3),
        "components": dict(zip(m.y_names_, m.components_, strict=True)),
    }


def run(quick: bool = False) -> dict[str, Any]:
    """The benchmark as a JSON-ready dict (``quick``: fewer pipelines, seeds and spectra)."""
    seeds = [0] if quick else [0, 1, 2]
    n_test, n_outside = (200, 40) if quick else (1000, 200)
    pipelines = QUICK_PIPELINES if quick else PIPELINES
    out: dict[str, Any] = {
        "machine": {
            "cpus": os.cpu_count(),
            "python": sys.version.split()[0],
            "platform": platform.platform(),
        },
        "settings": {
            "n_train": 60,
            "n_test": n_test,
            "n_outside": n_outside,
            "seeds": seeds,
            "target_far": 0.01,
            "cv": "random, 10 folds x 3 repeats, one-standard-error rule",
        },
        "pipelines": {p: _pipeline(p, seeds, n_test, n_outside) for p in pipelines},
        "throughput": _throughput(2_000 if quick else 20_000, 200 if quick else 2_000),
        "wide": _wide(),
    }
    raw = out["pipelines"]["none"]["rmsep"]
    best = min(pipelines[1:], key=lambda p: sum(out["pipelines"][p]["rmsep"].values()))
    out["summary"] = {
        "best_pipeline": best,
        "rmsep_ratio_best_vs_none": {
            r: round(out["pipelines"][best]["rmsep"][r] / raw[r], 3) for r in raw
        },
    }
    out["bars"] = {
        "preprocessing_lowers_rmsep": all(out["pipelines"][best]["rmsep"][r] < raw[r] for r in raw),
        "outside_flagged_ge_95pct_snv_sg1": min(
            out["pipelines"]["snv,sg1"]["flag_rate_outside"].values()
        )
        >= 0.95,
        "in_domain_flag_rate_le_3pct": all(
            v["flag_rate_in_domain"] <= 0.03 for v in out["pipelines"].values()
        ),
    }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer pipelines and spectra")
    args = parser.parse_args()
    print(json.dumps(run(quick=args.quick), indent=2))


if __name__ == "__main__":
    main()
