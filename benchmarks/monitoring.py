"""Monitoring (issue 16): the measurements of the issue in one JSON document.

Each part runs in a fresh interpreter, one after the other, on data generated from seeds
(``phactory.monitor.datasets``; nothing is downloaded):

``mspc``
    Detection rate per injected fault at an empirical 1 % false-alarm rate for each
    method against static PCA, detection delay, and scoring throughput of a 50-variable
    PCA model (goal >= 100,000 samples/s) (``benchmarks/monitoring_mspc.py``).
``batch``
    Batch evolution monitoring: detection per fault kind and delay by alignment (time,
    maturity, DTW), final-quality prediction against the mean (``monitoring_batch.py``).
``softsensor``
    Soft-sensor RMSEP with and without spectral preprocessing, applicability-domain
    flag rates (``monitoring_softsensor.py``).
``rul``
    Remaining useful life: RMSE, NASA score and interval coverage against a linear
    baseline; reliability fitting accuracy (``monitoring_rul.py``).
``live``
    A faulty sample in the historian -> alarm raised (and deviation opened): latency
    (``monitoring_live.py``).
``tep``
    The Tennessee Eastman process (``tep-studio``, the optional ``bench`` extra:
    ``pip install -e '.[bench]'``), IDV(1)-(20), through ``phactory monitor fit/score``
    (``monitoring_tep.py``; reports itself skipped without the simulator).

Usage::

    .venv/bin/python benchmarks/monitoring.py                 # every part
    .venv/bin/python benchmarks/monitoring.py --only mspc --quick

The machine's load average is recorded before and after each part.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
PARTS = ("mspc", "batch", "softsensor", "rul", "live", "tep")


def main() -> None:
    # The live benchmark's helpers: a script's JSON output in a fresh interpreter, and
    # the load average.
    sys.path.insert(0, str(HERE))
    from live import _load, _run

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", choices=PARTS, action="append")
    parser.add_argument("--quick", action="store_true", help="smaller data, for a smoke run")
    parser.add_argument("--timeout", type=float, default=1800.0, help="per part [s]")
    args = parser.parse_args()
    out: dict[str, Any] = {
        "benchmark": "monitoring",
        "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "quick": args.quick,
    }
    for part in args.only or PARTS:
        before, t0 = _load(), time.perf_counter()
        script = [str(HERE / f"monitoring_{part}.py")] + (["--quick"] if args.quick else [])
        result = _run(script, args.timeout)
        result["wall_s"] = round(time.perf_counter() - t0, 2)
        result["load_average"] = {"before": before, "after": _load()}
        out[part] = result
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
