"""Soft controllers (issue 14): the four measurements of the issue in one JSON document.

Each part runs in a fresh interpreter, one after the other, so that none inherits
another's threads, caches or garbage:

``st``
    ST statements executed per second by compiled Structured Text
    (``benchmarks/control_st.py``).
``jitter``
    Scan jitter of the generated 100-unit site (:func:`phactory.control.site.synthetic.
    synthetic_site`: 100 jacketed bioreactors, ~60 tags each, over 5,000 tags) running in
    real time at a 100 ms scan period for ``--seconds`` (60 by default). Every unit has a
    phase Running on its controller, so that every scan executes phase logic, PID loops
    and the virtual plant: half the units culture (temperature, pH and DO loops on the CHO
    model), the others heat up and hold. Reported per task and over all: scans, overruns,
    scan time (min, mean, max) and jitter (99th percentile of |actual start - nominal
    start|; the worst unit's and the median unit's). Goal: p99 <= 5 ms, no overrun.
``batch``
    Wall time of one full example batch on controllers and virtual plant in simulated time,
    through the batch engine and OPC UA (``benchmarks/control_batch.py``). Goal <= 60 s.
``opcua``
    Value changes per second delivered to one subscribed asyncua client by Phactory's OPC UA
    server, side by side with a bare asyncua server publishing as many variables
    (``benchmarks/opcua_throughput.py``). Goal >= 10,000/s and >= the bare server.

Usage::

    .venv/bin/python benchmarks/control.py                  # every part (~3 min)
    .venv/bin/python benchmarks/control.py --only jitter --seconds 60
    .venv/bin/python benchmarks/control.py --quick          # short runs, for a look

The machine's load average is recorded before and after each part: the figures are only
as good as the cores were idle.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
PARTS = ("st", "jitter", "batch", "opcua")
JITTER_GOAL_MS = 5.0


def _load() -> float:
    return round(os.getloadavg()[0], 2)


def _run_script(args: list[str], timeout_s: float) -> dict[str, Any]:
    """Run a benchmark script in a fresh interpreter; its JSON output (the last JSON
    document it printed)."""
    proc = subprocess.run(
        [sys.executable, *args],
        capture_output=True,
        text=True,
        timeout=timeout_s,
        cwd=HERE.parent,
    )
    if proc.returncode != 0:
        return {"error": f"exit {proc.returncode}: {proc.stderr.strip()[-2000:]}"}
    text = proc.stdout.strip()
    start = text.find("{")
    try:
        return dict(json.loads(text[start:]))
    except (ValueError, TypeError) as exc:
        return {"error": f"no JSON in the output ({exc}): {text[-500:]}"}


def jitter(seconds: float, units: int = 100) -> dict[str, Any]:
    """The scan-jitter part, run in this interpreter (see the module docstring)."""
    from phactory.batch.states import Command
    from phactory.control.site.plant import SitePlant
    from phactory.control.site.synthetic import synthetic_site

    t0 = time.perf_counter()
    plant = SitePlant(synthetic_site(units), seed=1, scan_period="100ms")
    build_s = time.perf_counter() - t0
    for k, unit in enumerate(plant.units()):
        if k % 2 == 0:
            plant.command(plant.phase_ref(unit, "culture"), Command.START)
        else:
            plant.command(plant.phase_ref(unit, "heat-up"), Command.START)
    plant.run(realtime=True)
    try:
        time.sleep(seconds)
    finally:
        plant.stop()
    stats = list(plant.scan_stats())
    running = sum(
        1 for ref in plant.phases() if plant.phase_state(ref).value in ("Running", "Complete")
    )
    plant.close()
    p99 = [s.jitter_p99_s * 1e3 for s in stats]
    worst = max(p99)
    overruns = sum(s.overruns for s in stats)
    scans = sum(s.scans for s in stats)
    return {
        "units": units,
        "tags": len(plant.tags()),
        "period_ms": 100,
        "seconds": seconds,
        "build_s": round(build_s, 2),
        "phases_running_or_done": running,
        "scans": scans,
        "scans_expected": round(units * seconds / 0.1),
        "overruns": overruns,
        "scan_ms": {
            "min": round(min(s.min_s for s in stats) * 1e3, 3),
            "mean": round(statistics.fmean(s.mean_s for s in stats) * 1e3, 3),
            "max": round(max(s.max_s for s in stats) * 1e3, 3),
        },
        "jitter_p99_ms": {
            "worst_unit": round(worst, 3),
            "median_unit": round(statistics.median(p99), 3),
        },
        "goal_ms": JITTER_GOAL_MS,
        "goal_met": worst <= JITTER_GOAL_MS and overruns == 0,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=PARTS, action="append", help="run only this part")
    parser.add_argument("--seconds", type=float, default=60.0, help="jitter run [s]")
    parser.add_argument("--quick", action="store_true", help="short runs (not the goal's)")
    parser.add_argument("--part-jitter", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.part_jitter:
        print(json.dumps(jitter(args.seconds)))
        return
    parts = args.only or list(PARTS)
    seconds = 10.0 if args.quick else args.seconds
    out: dict[str, Any] = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "quick": args.quick,
    }
    for part in parts:
        before = _load()
        t0 = time.perf_counter()
        if part == "st":
            result = _run_script([str(HERE / "control_st.py")], 600)
        elif part == "jitter":
            result = _run_script(
                [__file__, "--part-jitter", "--seconds", str(seconds)], seconds + 600
            )
        elif part == "batch":
            result = _run_script([str(HERE / "control_batch.py")], 900)
        else:
            extra = ["--seconds", "5", "--warmup", "2"] if args.quick else []
            result = _run_script([str(HERE / "opcua_throughput.py"), *extra], 900)
        result["load_average_1min"] = {"before": before, "after": _load()}
        result["part_wall_s"] = round(time.perf_counter() - t0, 1)
        out[part] = result
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
