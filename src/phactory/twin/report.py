"""Small read-outs of a twin's event log that belong to the twin itself."""

from __future__ import annotations

import pandas as pd

from phactory.events import EventLog

__all__ = ["adherence"]


def adherence(log: EventLog) -> pd.DataFrame:
    """Schedule adherence of a run that executed a plan of record.

    Returns
    -------
    pandas.DataFrame
        One row per scheduled unit procedure that started: ``batch, procedure, unit,
        planned_start_h, start_h, delay_h`` where ``delay_h`` = actual minus planned
        start of the first phase [h] (never negative: the twin does not start early).
    """
    ev = log.events
    started = ev[(ev["kind"] == "procedure_started") & ev["value"].notna()]
    return pd.DataFrame(
        {
            "batch": started["batch"].to_numpy(),
            "procedure": started["procedure"].to_numpy(),
            "unit": started["unit"].to_numpy(),
            "planned_start_h": (started["t_h"] - started["value"]).to_numpy(),
            "start_h": started["t_h"].to_numpy(),
            "delay_h": started["value"].to_numpy(),
        }
    )
