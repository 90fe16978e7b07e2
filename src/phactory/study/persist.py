"""Saving a simulation study to the store: the site version, a run, and its event log."""

from __future__ import annotations

import math
from typing import Any

from phactory.events import EventLog
from phactory.store import Store
from phactory.study.simulation import SimulationStudy

__all__ = ["event_rows", "save_study"]


def _clean(v: Any) -> Any:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return None
    if hasattr(v, "item"):  # numpy scalars
        return _clean(v.item())
    return v


def event_rows(log: EventLog) -> list[dict[str, Any]]:
    """The log as store events: point events, then one ``state`` event per interval."""
    rows: list[dict[str, Any]] = []
    for rec in log.events.to_dict("records"):
        payload = {
            k: _clean(rec[k])
            for k in ("order", "product", "procedure", "phase", "value", "detail")
            if _clean(rec.get(k)) is not None
        }
        rows.append(
            {
                "t_h": float(rec["t_h"]),
                "kind": str(rec["kind"]),
                "unit": _clean(rec["unit"]),
                "batch": _clean(rec["batch"]),
                "payload": payload,
            }
        )
    for rec in log.timeline.to_dict("records"):
        payload = {
            k: _clean(rec[k])
            for k in ("state", "end_h", "order", "product", "procedure", "phase")
            if _clean(rec.get(k)) is not None
        }
        rows.append(
            {
                "t_h": float(rec["start_h"]),
                "kind": "state",
                "unit": _clean(rec["unit"]),
                "batch": _clean(rec["batch"]),
                "payload": payload,
            }
        )
    return rows


def save_study(store: Store, study: SimulationStudy, *, created_by: str | None = None) -> str:
    """Store the study's site version, a finished ``simulate`` run with its KPI summary,
    and the event log of the first replication. Returns the run id."""
    version = store.save_site(study.site, created_by=created_by)
    run = store.create_run(
        "simulate",
        site_id=version.site_id,
        site_version=version.version,
        params={"days": study.days, "replications": study.replications, "seed": study.seed},
        created_by=created_by,
    )
    store.start_run(run.id)
    store.append_events(run.id, event_rows(study.logs[0]))
    summary = study.to_dict()
    store.finish_run(run.id, results=_json_safe(summary))
    return str(run.id)


def _json_safe(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_json_safe(v) for v in obj]
    return _clean(obj)
