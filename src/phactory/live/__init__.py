"""The live plant seen with the twin's eyes: its event log from wherever its events are
kept (the historian, the batch record), its KPIs by the twin's KPI code, and virtual
commissioning against the twin."""

from phactory.lazy import exports

__getattr__, __dir__ = exports(
    __name__,
    {
        "LiveKpis": "kpis",
        "live_kpis": "kpis",
        "window_kpis": "kpis",
        "events_from_historian": "sources",
        "events_from_record": "sources",
    },
)
