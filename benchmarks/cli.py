"""Start-up time of the ``phactory`` command, against a bare Python start.

Prints JSON: for each command the wall time [s] of the fastest of ``--repeat`` runs (5 by
default), the CPU time (user + system) of the cheapest run, and every run's wall time.
Run it with the virtual environment's Python (``.venv/bin/python benchmarks/cli.py``): it
runs the ``phactory`` script next to that interpreter, from the repository root, as a
user types it. The minimum is the figure to quote: other jobs on a shared machine only
ever add time (the load average is reported before and after).

Commands measured:

* ``python -c pass``: the interpreter alone, the floor of any command;
* ``phactory --help``: registering every command, no command run;
* ``phactory validate examples/mab-biologics``: the model, YAML and units (pint);
* ``phactory process simulate ivt --json``: one process model run; it needs NumPy and
  ``scipy.integrate`` (not pandas, since 2026-12-07); ``import numpy, pandas,
  scipy.integrate`` stays measured for comparison with earlier results.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def _commands() -> dict[str, list[str]]:
    phactory = str(BIN / "phactory")
    return {
        "python -c pass": [sys.executable, "-c", "pass"],
        "phactory --help": [phactory, "--help"],
        "phactory validate examples/mab-biologics": [
            phactory,
            "validate",
            "examples/mab-biologics",
        ],
        "phactory process simulate ivt --json": [phactory, "process", "simulate", "ivt", "--json"],
        "import numpy, pandas, scipy.integrate": [
            sys.executable,
            "-c",
            "import numpy, pandas, scipy.integrate",
        ],
    }


def _once(argv: list[str]) -> tuple[float, float]:
    """Wall and CPU (user + system, of the child) time of one run [s]."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run(argv, cwd=ROOT, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def measure(repeat: int) -> dict[str, Any]:
    """Time every command ``repeat`` times, interleaved so that load spells hit all."""
    commands = _commands()
    walls: dict[str, list[float]] = {name: [] for name in commands}
    cpus: dict[str, list[float]] = {name: [] for name in commands}
    for argv in commands.values():  # one warm-up each: file caches, pint's cache
        _once(argv)
    load_before = os.getloadavg()
    for _ in range(repeat):
        for name, argv in commands.items():
            wall, cpu = _once(argv)
            walls[name].append(wall)
            cpus[name].append(cpu)
    load_after = os.getloadavg()
    base = min(walls["python -c pass"])
    return {
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "load_average_before": [round(x, 2) for x in load_before],
            "load_average_after": [round(x, 2) for x in load_after],
        },
        "repeat": repeat,
        "commands": {
            name: {
                "wall_min_s": round(min(walls[name]), 4),
                "cpu_min_s": round(min(cpus[name]), 4),
                "over_python_s": round(min(walls[name]) - base, 4),
                "wall_s": [round(w, 4) for w in walls[name]],
            }
            for name in commands
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="runs per command (default 5)")
    parser.add_argument("--out", type=Path, help="also write the JSON to this file")
    args = parser.parse_args()
    if not (BIN / "phactory").exists():
        sys.exit(f"no phactory script next to {sys.executable}: run with the venv's python")
    text = json.dumps(measure(args.repeat), indent=2)
    print(text)
    if args.out is not None:
        args.out.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
