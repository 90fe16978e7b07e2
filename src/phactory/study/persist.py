"""Saving a simulation study to the store: the site version, a run, and its event log."""

from __future__ import annotations

import math
from typing import Any

from phactory.events import EventLog
from phactory.jsonio import json_safe
from phactory.store import Store
from phactory.study.simulation import SimulationStudy

__all__ = ["event_rows", "save_study"]


def _present(v: Any) -> bool:
    # Missing in an event-log frame: None, NaN, or pandas' NA (whose truth is undefined).
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return False
    try:
        return not bool(v != v)
    except TypeError:
        return False


def _value(v: Any) -> Any:
    return json_safe(v) if _present(v) else None


def event_rows(log: EventLog) -> list[dict[str, Any]]:
    """The log as store events: point events, then one ``state`` event per interval."""
    rows: list[dict[str, Any]] = []
    for rec in log.events.to_dict("records"):
        payload = {
            k: v
            for k in ("order", "product", "procedure", "phase", "value", "detail")
            if (v := _value(rec.get(k))) is not None
        }
        rows.append(
            {
                "t_h": float(rec["t_h"]),
                "kind": str(rec["kind"]),
                "unit": _value(rec["unit"]),
                "batch": _value(rec["batch"]),
                "payload": payload,
            }
        )
    for rec in log.timeline.to_dict("records"):
        payload = {
            k: v
            for k in ("state", "end_h", "order", "product", "procedure", "phase")
            if (v := _value(rec.get(k))) is not None
        }
        rows.append(
            {
                "t_h": float(rec["start_h"]),
                "kind": "state",
                "unit": _value(rec["unit"]),
                "batch": _value(rec["batch"]),
                "payload": payload,
            }
        )
    return rows


def save_study(
    store: Store,
    study: SimulationStudy,
    *,
    created_by: str | None = None,
    schedule: str | None = None,
) -> str:
    """Store the study's site version, a finished ``simulate`` run with its results
    (:class:`phactory.study.results.SimulationResults`), and the event log of the first
    replication, all in one transaction. Returns the run id.

    Parameters
    ----------
    schedule
        The schedule file the study executed as the plan of record, if any (recorded in
        the run's parameters and results).
    """
    params: dict[str, Any] = {
        "name": study.name or study.site.id,
        "days": study.days,
        "replications": study.replications,
        "seed": study.seed,
        "dispatch": study.dispatch,
    }
    if schedule is not None:
        params["schedule"] = schedule
    events = event_rows(study.logs[0])
    results = study.to_results(schedule=schedule)
    # One transaction: a failure leaves no half-saved run behind.
    with store.transaction() as (tx, _):
        version = tx.save_site(study.site, created_by=created_by)
        run = tx.create_run(
            "simulate",
            site_id=version.site_id,
            site_version=version.version,
            params=params,
            created_by=created_by,
        )
        tx.start_run(run.id)
        tx.append_events(run.id, events)
        tx.finish_run(run.id, results=results)
    return str(run.id)
