"""The job worker: a child process that simulates and schedules, away from the server.

The server's job runner (:mod:`phactory.app.services.jobs`) keeps one long-lived worker
process per job slot and talks to it over a :func:`multiprocessing.Pipe`:

* server -> worker: ``("job", kind, payload)``, ``"cancel"``, ``None`` (stop);
* worker -> server: ``("progress", fraction, message)``, then exactly one of
  ``("done", output)``, ``("failed", message)`` or ``("cancelled", None)``.

The worker never touches the database: the server writes progress, results and the event
log, so that one process owns every run record and an in-memory database works too.
Heavy imports (SimPy, pandas, SciPy, OR-Tools, Plotly) happen here, in the child, and
CPU-bound work never holds the server's interpreter lock.

Cancellation is cooperative: the progress callback, called after each replication,
checks for ``"cancel"``. A job that does not answer within a grace period (a long
CP-SAT solve) is ended by terminating the worker, which the runner then replaces.
"""

from __future__ import annotations

import threading
import time
from multiprocessing.connection import Connection
from typing import Any

from phactory.jsonio import json_safe

__all__ = ["Cancelled", "schedule_job", "simulate_job", "worker_main"]


class Cancelled(Exception):
    """Raised inside a job when the server asked to cancel it."""


class _Channel:
    """The worker's end of the pipe: progress messages and the cancel check."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.lock = threading.Lock()
        self.cancelled = False

    def send(self, message: Any) -> None:
        with self.lock:
            self.conn.send(message)

    def progress(self, fraction: float, message: str = "") -> None:
        self.check()
        self.send(("progress", max(0.0, min(1.0, float(fraction))), message))

    def check(self) -> None:
        """Raise :class:`Cancelled` if the server sent ``"cancel"``."""
        while not self.cancelled and self.conn.poll():
            if self.conn.recv() == "cancel":
                self.cancelled = True
        if self.cancelled:
            raise Cancelled()


def _figures(results: list[Any]) -> dict[str, Any]:
    """The dashboard's Plotly figures (the HTML report's), as plain JSON."""
    from phactory.report import figures as f

    builders = {
        "throughput": f.throughput_figure,
        "oee": f.oee_figure,
        "loss_tree": f.loss_tree_figure,
        "labour": f.labour_figure,
        "energy": f.energy_figure,
        "time_model": f.time_model_figure,
        "bottleneck": f.bottleneck_figure,
    }
    out: dict[str, Any] = {}
    for name, build in builders.items():
        try:
            out[name] = json_safe(build(results).to_plotly_json())
        except Exception as exc:  # a figure that cannot be drawn must not fail the run
            out[name] = {"error": f"{type(exc).__name__}: {exc}"}
    return out


def simulate_job(payload: dict[str, Any], channel: Any) -> dict[str, Any]:
    """Run a simulation study, one replication at a time (progress and cancel between).

    Replication ``i`` uses the seed of :func:`phactory.twin.replication_seeds`, so the
    results equal ``phactory simulate`` / :func:`phactory.study.run_study` with the same
    site, days, replications and seed.

    Returns
    -------
    dict
        ``results`` (:class:`phactory.study.SimulationResults` as JSON: KPI summary with
        CIs, per-unit KPIs, per-replication site KPIs and seeds), ``artifacts`` (figures)
        and ``events`` (the event log of replication 1).
    """
    from phactory.kpi import compute
    from phactory.model import Site
    from phactory.study import SimulationStudy
    from phactory.study.persist import event_rows
    from phactory.twin import Twin, replication_seeds
    from phactory.twin.validate import check_runnable, horizon_hours

    t0 = time.perf_counter()
    site = Site.model_validate(payload["site"])
    days = payload.get("days")
    n = int(payload.get("replications", 1))
    seed = int(payload.get("seed", 0))
    dispatch = str(payload.get("dispatch", "fifo"))
    horizon_hours(site, days)
    check_runnable(site)
    channel.progress(0.02, "starting")
    logs = []
    results = []
    for i, s in enumerate(replication_seeds(seed, n)):
        log = Twin(site, seed=s, days=days, dispatch=dispatch).run()
        logs.append(log)
        results.append(compute(log, site))
        channel.progress(0.02 + 0.83 * (i + 1) / n, f"replication {i + 1} of {n} done")
    study = SimulationStudy(
        site,
        logs[0].horizon_h / 24.0,
        n,
        seed,
        logs,
        results,
        time.perf_counter() - t0,
        name=str(payload.get("name", "")),
        dispatch=dispatch,
    )
    channel.progress(0.88, "summarising")
    summary = study.to_results()
    figures = _figures(results)
    channel.progress(0.93, "saving")
    return {
        "results": json_safe(summary),
        "artifacts": {"figures": figures},
        "events": json_safe(event_rows(logs[0])),
    }


def _solver() -> Any:
    """The scheduler's ``solve`` function; ``ImportError`` if this install has none."""
    import importlib

    module = importlib.import_module("phactory.schedule")
    solve = getattr(module, "solve", None)
    if solve is None:
        module = importlib.import_module("phactory.schedule.solver")
        solve = getattr(module, "solve", None)
    if solve is None:
        raise ImportError("phactory.schedule has no solve()")
    return solve


def schedule_job(payload: dict[str, Any], channel: Any) -> dict[str, Any]:
    """Schedule a site's plan with CP-SAT (:func:`phactory.schedule.solve`).

    Returns
    -------
    dict
        ``results`` (:class:`phactory.study.ScheduleResults` as JSON: status, objective,
        the schedule's KPIs) and ``artifacts`` (the operations table).
    """
    from phactory.model import Site
    from phactory.study.results import ScheduleResults

    try:
        solve = _solver()
    except ImportError as exc:
        raise RuntimeError(f"the scheduler is not available in this installation: {exc}") from exc
    site = Site.model_validate(payload["site"])
    limit = float(payload.get("time_limit_s", 30.0))
    options: dict[str, Any] = {"objective": str(payload.get("objective", "makespan"))}
    options["time_limit_s"] = limit
    if payload.get("days") is not None:
        options["days"] = float(payload["days"])
    if payload.get("duration_quantile") is not None:
        options["duration_quantile"] = float(payload["duration_quantile"])
    channel.progress(0.02, "building the model")
    t0 = time.monotonic()
    done = threading.Event()

    def tick() -> None:  # the solver has no progress callback: report elapsed time
        while not done.wait(1.0):
            fraction = min(0.9, 0.05 + 0.85 * (time.monotonic() - t0) / max(limit, 1.0))
            try:
                channel.send(("progress", fraction, "solving"))
            except OSError:
                return

    ticker = threading.Thread(target=tick, daemon=True)
    ticker.start()
    try:
        try:
            schedule = solve(site, **options)
        except TypeError:
            options.pop("days", None)
            schedule = solve(site, **options)
    finally:
        done.set()
    channel.check()
    summary = dict(schedule.summary()) if hasattr(schedule, "summary") else {}
    operations = schedule.to_frame() if hasattr(schedule, "to_frame") else schedule.operations
    epoch = getattr(schedule, "epoch", None)
    artifact = {
        "epoch": epoch.isoformat() if epoch is not None else None,
        "operations": operations.to_dict(orient="records"),
        "notes": list(getattr(schedule, "notes", []) or []),
        "explanation": getattr(schedule, "explanation", None),
    }
    summary["epoch"] = artifact["epoch"]
    results = ScheduleResults.model_validate(json_safe(summary))
    return {"results": json_safe(results), "artifacts": {"schedule": json_safe(artifact)}}


_JOBS = {"simulate": simulate_job, "schedule": schedule_job}


def _exit_with_parent() -> None:
    """End this process when the server dies (e.g. ``kill -9``), even mid-job."""
    import os

    parent = os.getppid()

    def watch() -> None:
        while True:
            time.sleep(1.0)
            if os.getppid() != parent:
                os._exit(3)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


#: Scheduling priority of workers: simulations yield the CPU to the server's requests.
WORKER_NICENESS = 10


def worker_main(conn: Connection) -> None:
    """Serve jobs from ``conn`` until ``None`` arrives or the pipe closes."""
    import contextlib
    import os

    with contextlib.suppress(AttributeError, OSError):  # not on this platform, or not allowed
        os.nice(WORKER_NICENESS)
    _exit_with_parent()
    channel = _Channel(conn)
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return
        if message is None:
            return
        if message == "cancel":  # for a job that already finished
            continue
        _, kind, payload = message
        channel.cancelled = False
        try:
            job = _JOBS[kind]
            output = job(payload, channel)
            channel.check()
            channel.send(("done", output))
        except Cancelled:
            channel.send(("cancelled", None))
        except Exception as exc:
            text = str(exc).strip() or type(exc).__name__
            channel.send(("failed", f"{type(exc).__name__}: {text}"[:4000]))
