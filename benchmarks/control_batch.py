"""Benchmark: one full example batch on soft controllers in simulated time; prints JSON.

Issue 14's bar: the wall time of one full example batch on controllers in simulated time
(<= 60 s). The batch is ``cov-seasonal-process`` of ``examples/mrna-vaccine`` (the
fastest full example batch on controllers; ``--site``/``--recipe`` choose another), run
as ``phactory batch run --on-controllers`` runs it: the site's controllers and virtual
plant in this process (:class:`phactory.connect.virtual.VirtualControllers`), served over
OPC UA on 127.0.0.1 (Basic256Sha256 SignAndEncrypt, a one-time operator account), the
batch engine driving every automatic phase through
:class:`phactory.connect.phase_driver.ControllerDrivers` and a simulated operator doing
the manual phases, on a fresh SQLite record.

Printed (one JSON object):

- ``wall_s``: from starting the controllers to the batch Complete (the bar), split into
  ``start_s`` (build the controllers, start the OPC UA server, log the engine in, check
  the batch against them) and ``run_s`` (the batch, phase after phase);
- ``plant_time_h``: simulated plant time at the end [h] (every automatic phase's run);
  ``plant_busy_s``: wall time spent advancing the plant; ``scans``: controller scans;
- ``steps``, ``automatic_steps``, ``phases_on_controllers`` (drivers made),
  ``samples`` (values recorded from the controllers' reports), ``deviations``;
- ``cpus`` and ``load_1m`` (before and after): the machines are shared.

Usage: ``python benchmarks/control_batch.py [--site PATH] [--recipe ID] [--seed N]``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]

PEOPLE = {
    "sup": ("Sam Supervisor", "supervisor", "sup-pass-1"),
    "op1": ("Olive Operator", "operator", "op1-pass-1"),
    "op2": ("Otto Operator", "operator", "op2-pass-1"),
}


def _load() -> float:
    return os.getloadavg()[0]


def run(site_path: Path, recipe_id: str, seed: int) -> dict[str, Any]:
    """Run one batch on the controllers; the measurements."""
    from phactory.app.services.batches import BatchService
    from phactory.batch import ControlRecipe
    from phactory.connect.virtual import VirtualControllers
    from phactory.model import load_site
    from phactory.records import default_hasher

    site = load_site(site_path)
    load_before = _load()
    with tempfile.TemporaryDirectory() as tmp:
        db = f"sqlite:///{Path(tmp) / 'batch.db'}"
        options: dict[str, Any] = {
            "group_commit": False,
            "run_in_threads": False,
            "time_scale": "inf",
            "hasher": default_hasher(fast=True),
        }
        with BatchService(db, **options) as service:  # people, and the batch started
            service.records.accounts.bootstrap_admin("admin", "Ada Admin", "admin-pass-1")
            admin = service.login("admin", "admin-pass-1")
            for user_id, (name, role, password) in PEOPLE.items():
                service.accounts.create(
                    admin, user_id, name, role, password, skills=tuple(site.skills)
                )
            sup = service.login("sup", PEOPLE["sup"][2])
            info = service.create(
                sup, site, recipe_id, batch_id="BENCH-0001", seed=seed, start=True
            )
        with BatchService(db, **options) as service:  # as `phactory batch run` runs it
            recipe = ControlRecipe.model_validate(service.batch(info.batch_id).control_recipe)
            operator = service.simulated_operator(
                ("op1", PEOPLE["op1"][2]), ("op2", PEOPLE["op2"][2])
            )
            virtual = VirtualControllers(site_path, seed=recipe.seed, pki_dir=Path(tmp) / "pki")
            t0 = time.perf_counter()
            with virtual as drivers:
                drivers.check(recipe)
                service.use_driver(drivers)
                t1 = time.perf_counter()
                final = service.run(info.batch_id, operator=operator)
                t2 = time.perf_counter()
                stats = virtual.stats()
                made = drivers.made
            record = service.records.batches.record(info.batch_id)
    steps = record.steps
    return {
        "site": site.id,
        "recipe": recipe_id,
        "batch_id": info.batch_id,
        "seed": seed,
        "state": final.state.value,
        "steps": len(steps),
        "steps_complete": sum(s.state == "Complete" for s in steps),
        "automatic_steps": sum(s.kind == "automatic" for s in steps),
        "phases_on_controllers": made,
        "samples": sum(e.kind == "value" for e in record.entries),
        "deviations": len(record.deviations),
        "wall_s": round(t2 - t0, 2),
        "start_s": round(t1 - t0, 2),
        "run_s": round(t2 - t1, 2),
        "plant_time_h": round(float(stats["plant_time_h"]), 2),
        "plant_busy_s": round(float(stats["plant_busy_s"]), 2),
        "scans": stats["scans"],
        "bar_wall_s": 60.0,
        "cpus": os.cpu_count(),
        "load_1m_before": round(load_before, 2),
        "load_1m_after": round(_load(), 2),
    }


def main(argv: list[str] | None = None) -> int:
    """Parse the arguments, run, print JSON."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--site", type=Path, default=ROOT / "examples" / "mrna-vaccine")
    parser.add_argument("--recipe", default="cov-seasonal-process")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    print(json.dumps(run(args.site, args.recipe, args.seed), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
