"""The twin executing a schedule as the plan of record.

The scheduler (CP-SAT) and the twin (SimPy) are siblings that never import each other;
:func:`execute_schedule` joins them: replications of the twin follow a schedule (its
units, its sequence, never starting early) under stochastic durations and failures, and
report adherence: start delays per operation and due dates missed, and the KPIs of the
replications as a :class:`~phactory.study.SimulationStudy` (for reports, event-log
exports and saving the run, as for any simulation).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from phactory.model import Site
from phactory.schedule import Schedule
from phactory.study.simulation import SimulationStudy

__all__ = ["Adherence", "execute_schedule"]


@dataclass
class Adherence:
    """How replications of the twin kept to a schedule."""

    operations: pd.DataFrame  # per operation: mean and p90 start delay, share delayed
    orders: pd.DataFrame  # per order: due, share of replications not complete by then
    summary: dict[str, float]
    study: SimulationStudy  # the replications' KPIs; the event log of the first kept


def execute_schedule(
    site: Site,
    schedule: Schedule,
    replications: int = 5,
    seed: int = 0,
    *,
    days: float | None = None,
    processes: int | None = None,
    cluster: Any = None,
    name: str = "",
) -> Adherence:
    """Run the twin with ``schedule`` as the plan of record; report adherence.

    Parameters
    ----------
    processes, cluster
        Where replications run (see :func:`phactory.twin.replicate`).
    name
        The study's name (default the site id).

    Raises
    ------
    phactory.twin.TwinError
        If the plan cannot be simulated.
    """
    from phactory.kpi import compute
    from phactory.twin import Assignment, adherence, replicate
    from phactory.twin.validate import horizon_hours

    t0 = time.perf_counter()
    plan = [
        Assignment(a.batch, a.procedure, a.unit, a.planned_start) for a in schedule.assignments()
    ]
    logs = replicate(
        site, replications, seed, processes=processes, cluster=cluster, days=days, schedule=plan
    )
    study = SimulationStudy(
        site,
        horizon_hours(site, days) / 24.0,
        replications,
        seed,
        logs[:1],
        [compute(log, site) for log in logs],
        time.perf_counter() - t0,
        name=name,
    )
    delays = pd.concat([adherence(log).assign(rep=i) for i, log in enumerate(logs)])
    ops = (
        delays.groupby(["batch", "procedure", "unit"], sort=False)["delay_h"]
        .agg(
            mean_delay_h="mean",
            p90_delay_h=lambda s: float(np.percentile(s, 90)),
            delayed_share=lambda s: float((s > 1e-6).mean()),
        )
        .reset_index()
    )
    due = {o.id: site.to_hours(o.due) for o in site.orders if o.due is not None}
    late_rows = []
    for oid, due_h in due.items():
        ends = []
        for log in logs:
            b = log.batches[log.batches["order"] == oid]
            done = b[b["status"] == "completed"]
            ends.append(float(done["end_h"].max()) if len(done) == len(b) and len(b) else np.inf)
        late_rows.append(
            {
                "order": oid,
                "due_h": due_h,
                "late_share": float(np.mean([e > due_h + 1e-6 for e in ends])),
            }
        )
    orders = pd.DataFrame(late_rows, columns=["order", "due_h", "late_share"])
    summary = {
        "operations": float(len(ops)),
        "mean_start_delay_h": float(delays["delay_h"].mean()) if len(delays) else 0.0,
        "p90_start_delay_h": float(np.percentile(delays["delay_h"], 90)) if len(delays) else 0.0,
        "share_delayed": float((delays["delay_h"] > 1e-6).mean()) if len(delays) else 0.0,
        "orders_late_expected": float(orders["late_share"].sum()) if len(orders) else 0.0,
        "batches_scrapped_mean": float(
            np.mean([(log.batches["status"] == "scrapped").sum() for log in logs])
        ),
    }
    return Adherence(ops, orders, summary, study)
